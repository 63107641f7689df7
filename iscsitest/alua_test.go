package iscsitest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func senseOf(err error) (scsi.SenseKey, scsi.ASC, bool) {
	var se *scsi.StatusError
	if !errors.As(err, &se) || se.Sense == nil {
		return 0, 0, false
	}
	return se.Sense.Key, se.Sense.ASC, true
}

// TestPortGroups: two groups of ports, what each port reports, commands
// refused by state, the unit attention of a change, the counters.
func TestPortGroups(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512),
		iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 2),
		iscsitest.WithPortGroup(7, scsi.ALUAStandby, 1))
	defer srv.Close()
	ports := srv.Ports()
	if len(ports) != 3 || ports[0].ID != 1 || ports[1].Group != 1 || ports[2].ID != 3 || ports[2].Group != 7 {
		t.Fatalf("Ports() = %+v", ports)
	}
	if ports[0].Addr != srv.Addr() || ports[0].URL(1) != srv.URL() || ports[1].Addr == ports[0].Addr {
		t.Fatalf("port addresses %+v, server %s", ports, srv.Addr())
	}
	ctx := context.Background()
	var sess []*session.Session
	for _, p := range ports {
		sess = append(sess, dial(t, p.URL(1), nil))
	}
	for i, s := range sess {
		u := s.DefaultUnit()
		if tpgt := s.Params().TargetPortalGroupTag; tpgt != ports[i].ID {
			t.Errorf("port %d: login reported portal group tag %d", ports[i].ID, tpgt)
		}
		inq, err := u.Inquiry(ctx)
		if err != nil || inq.TPGS != 1 {
			t.Errorf("port %d: standard INQUIRY TPGS %d, %v; want 1 (implicit ALUA)", ports[i].ID, inq.TPGS, err)
		}
		di, err := u.DeviceIdentification(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var rel, group uint16
		for _, d := range di.Designators {
			if d.Association != scsi.AssocTargetPort {
				continue
			}
			n, _ := d.Number()
			switch d.Type {
			case scsi.DesignatorRelativeTargetPort:
				rel = n
			case scsi.DesignatorTargetPortGroup:
				group = n
			}
		}
		if rel != ports[i].ID || group != ports[i].Group {
			t.Errorf("port %d: VPD 0x83 says relative port %d, group %d; want %d, %d", ports[i].ID, rel, group, ports[i].ID, ports[i].Group)
		}
		tpgs, err := u.ReportTargetPortGroups(ctx)
		if err != nil {
			t.Fatalf("port %d: RTPG: %v", ports[i].ID, err)
		}
		if len(tpgs.Groups) != 2 || tpgs.Groups[0].ID != 1 || tpgs.Groups[0].State != scsi.ALUAActiveOptimized ||
			len(tpgs.Groups[0].Ports) != 2 || tpgs.Groups[1].ID != 7 || tpgs.Groups[1].State != scsi.ALUAStandby ||
			len(tpgs.Groups[1].Ports) != 1 || tpgs.Groups[1].Ports[0] != 3 || !tpgs.Groups[1].SSup || !tpgs.Extended {
			t.Errorf("port %d: RTPG %+v", ports[i].ID, tpgs)
		}
	}
	buf := make([]byte, 512)
	if _, err := sess[0].ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	_, err := sess[2].ReadAt(buf, 0)
	if k, asc, _ := senseOf(err); k != scsi.SenseNotReady || asc != scsi.ASCNotReadyTargetPortStandby {
		t.Fatalf("READ through the standby port: %v, want NOT READY, TARGET PORT IN STANDBY STATE", err)
	}

	// A change: every nexus gets the unit attention once, then the new
	// state rules.
	for _, tc := range []struct {
		state scsi.ALUAState
		asc   scsi.ASC
	}{
		{scsi.ALUAUnavailable, scsi.ASCNotReadyTargetPortUnavail},
		{scsi.ALUATransitioning, scsi.ASCNotReadyTargetPortTransit},
		{scsi.ALUAActiveNonOptimized, 0},
	} {
		srv.SetPortGroupState(7, tc.state)
		for i, s := range sess {
			err := s.DefaultUnit().TestUnitReady(ctx)
			if k, asc, _ := senseOf(err); k != scsi.SenseUnitAttention || asc != scsi.ASCAsymmetricAccessChanged {
				t.Fatalf("%v: first command through port %d: %v, want ASYMMETRIC ACCESS STATE CHANGED", tc.state, ports[i].ID, err)
			}
		}
		_, err := sess[2].ReadAt(buf, 0)
		if k, asc, _ := senseOf(err); tc.asc == 0 && err != nil || tc.asc != 0 && (k != scsi.SenseNotReady || asc != tc.asc) {
			t.Fatalf("READ through port 3 in %v: %v, want %v", tc.state, err, tc.asc)
		}
		if err := sess[0].DefaultUnit().TestUnitReady(ctx); err != nil {
			t.Fatalf("port 1 after the unit attention: %v", err)
		}
	}
	if _, err := sess[2].WriteAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	srv.SetPortGroupState(7, scsi.ALUAActiveNonOptimized) // no change, no unit attention
	if err := sess[2].DefaultUnit().TestUnitReady(ctx); err != nil {
		t.Fatal(err)
	}
	st := srv.PortStats(3)
	if st.Reads != 1 || st.Writes != 1 || st.Refused < 4 || st.Commands < 12 {
		// Refused: the TEST UNIT READY at login and what ReadAt sent
		// first (READ CAPACITY) in standby, unavailable and
		// transitioning; the READ came in active/non-optimized.
		t.Errorf("port 3 stats %+v, want 1 read, 1 write, at least 4 refused", st)
	}
	if st := srv.PortStats(2); st.Reads != 0 || st.Writes != 0 || st.Refused != 0 {
		t.Errorf("port 2 stats %+v", st)
	}
	if st := srv.PortStats(9); st != (iscsitest.PortStats{}) {
		t.Errorf("unknown port stats %+v", st)
	}
	targets, err := session.Discover(ctx, srv.PortalURL(), nil)
	if err != nil || len(targets) != 1 || len(targets[0].Portals) != 3 {
		t.Errorf("SendTargets: %+v, %v; want the 3 portals", targets, err)
	}
	noViolations(t, srv)
}

func TestPortGroupBadOptions(t *testing.T) {
	for _, opts := range [][]iscsitest.Option{
		{iscsitest.WithPortGroup(1, scsi.ALUAOffline, 1)},
		{iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 0)},
		{iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1), iscsitest.WithPortGroup(1, scsi.ALUAStandby, 1)},
		{iscsitest.WithExplicitALUA()},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewServer with bad port groups did not panic")
				}
			}()
			iscsitest.NewServer(opts...).Close()
		}()
	}
	srv := iscsitest.NewServer(iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1))
	defer srv.Close()
	for _, fn := range []func(){
		func() { srv.SetPortGroupState(2, scsi.ALUAStandby) },
		func() { srv.SetPortGroupState(1, scsi.ALUALBADependent) },
		func() { srv.SetPortGroupPreferred(2, true) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("bad SetPortGroupState or SetPortGroupPreferred did not panic")
				}
			}()
			fn()
		}()
	}
}

// SetPortGroupPreferred sets the PREF bit of one group in REPORT TARGET
// PORT GROUPS and clears it, without a unit attention.
func TestPortGroupPreferred(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512),
		iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1),
		iscsitest.WithPortGroup(2, scsi.ALUAActiveOptimized, 1))
	defer srv.Close()
	u := dial(t, srv.URL(), nil).DefaultUnit()
	ctx := context.Background()
	prefs := func() [2]bool {
		t.Helper()
		tpgs, err := u.ReportTargetPortGroups(ctx)
		if err != nil || len(tpgs.Groups) != 2 {
			t.Fatalf("RTPG %+v, %v", tpgs, err)
		}
		return [2]bool{tpgs.Groups[0].Pref, tpgs.Groups[1].Pref}
	}
	if got := prefs(); got != [2]bool{} {
		t.Fatalf("PREF bits %v before any was set", got)
	}
	srv.SetPortGroupPreferred(2, true)
	if got := prefs(); got != [2]bool{false, true} {
		t.Fatalf("PREF bits %v, want group 2's only", got)
	}
	if err := u.TestUnitReady(ctx); err != nil {
		t.Fatalf("TEST UNIT READY after a change of PREF: %v, want no unit attention", err)
	}
	srv.SetPortGroupPreferred(2, false)
	if got := prefs(); got != [2]bool{} {
		t.Fatalf("PREF bits %v after clearing", got)
	}
}

// With WithExplicitALUA, SET TARGET PORT GROUPS changes the states: all
// the descriptors or none; the other connections get the unit attention,
// not the one the command came through.
func TestExplicitALUA(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithExplicitALUA(),
		iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1), iscsitest.WithPortGroup(2, scsi.ALUAStandby, 1))
	defer srv.Close()
	ports := srv.Ports()
	a, b := dial(t, ports[0].URL(1), nil).DefaultUnit(), dial(t, ports[1].URL(1), nil).DefaultUnit()
	ctx := context.Background()
	if inq, err := a.Inquiry(ctx); err != nil || inq.TPGS != 3 {
		t.Fatalf("standard INQUIRY TPGS %d, %v; want 3 (implicit and explicit)", inq.TPGS, err)
	}
	stpg := func(u *session.LogicalUnit, sets ...scsi.TargetPortGroupSet) error {
		param := scsi.AppendSetTargetPortGroups(nil, sets)
		_, err := u.Call(ctx, scsi.SetTargetPortGroups(uint32(len(param))), session.DirWrite, iovector.New(param))
		return err
	}
	states := func() [2]scsi.ALUAState {
		t.Helper()
		g, err := a.ReportTargetPortGroups(ctx)
		if err != nil || len(g.Groups) != 2 {
			t.Fatalf("RTPG %+v, %v", g, err)
		}
		return [2]scsi.ALUAState{g.Groups[0].State, g.Groups[1].State}
	}
	// Refused, all of it: a state one cannot ask for, a group unknown.
	for _, bad := range [][]scsi.TargetPortGroupSet{
		{{Group: 2, State: scsi.ALUAActiveOptimized}, {Group: 1, State: scsi.ALUATransitioning}},
		{{Group: 2, State: scsi.ALUAActiveOptimized}, {Group: 9, State: scsi.ALUAStandby}},
	} {
		if k, asc, _ := senseOf(stpg(a, bad...)); k != scsi.SenseIllegalRequest || asc != scsi.ASCInvalidFieldInParamList {
			t.Fatalf("STPG %+v: sense %v %v, want INVALID FIELD IN PARAMETER LIST", bad, k, asc)
		}
	}
	if got := states(); got != [2]scsi.ALUAState{scsi.ALUAActiveOptimized, scsi.ALUAStandby} {
		t.Fatalf("states %v after refused STPGs", got)
	}
	// Through the standby port (SPC-4 lets it through).
	if err := stpg(b, scsi.TargetPortGroupSet{Group: 1, State: scsi.ALUAStandby}, scsi.TargetPortGroupSet{Group: 2, State: scsi.ALUAActiveOptimized}); err != nil {
		t.Fatalf("STPG through port 2: %v", err)
	}
	if err := b.TestUnitReady(ctx); err != nil {
		t.Fatalf("port 2, which sent the STPG: %v, want no unit attention", err)
	}
	if k, asc, _ := senseOf(a.TestUnitReady(ctx)); k != scsi.SenseUnitAttention || asc != scsi.ASCAsymmetricAccessChanged {
		t.Fatalf("port 1: sense %v %v, want ASYMMETRIC ACCESS STATE CHANGED", k, asc)
	}
	if got := states(); got != [2]scsi.ALUAState{scsi.ALUAStandby, scsi.ALUAActiveOptimized} {
		t.Fatalf("states %v after the STPG, want standby and active/optimized", got)
	}
	// Without a parameter list: nothing to do.
	if _, err := a.Call(ctx, scsi.SetTargetPortGroups(0), session.DirNone, nil); err != nil {
		t.Fatalf("STPG without parameters: %v", err)
	}
	noViolations(t, srv)
}

// Without WithExplicitALUA, SET TARGET PORT GROUPS is an unknown command.
func TestImplicitALUARefusesSTPG(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1))
	defer srv.Close()
	u := dial(t, srv.URL(), nil).DefaultUnit()
	param := scsi.AppendSetTargetPortGroups(nil, []scsi.TargetPortGroupSet{{Group: 1, State: scsi.ALUAStandby}})
	_, err := u.Call(context.Background(), scsi.SetTargetPortGroups(uint32(len(param))), session.DirWrite, iovector.New(param))
	if k, asc, _ := senseOf(err); k != scsi.SenseIllegalRequest || asc != scsi.ASCInvalidOpcode {
		t.Fatalf("STPG: %v, want INVALID COMMAND OPERATION CODE", err)
	}
}
