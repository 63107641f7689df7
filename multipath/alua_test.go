package multipath_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// aluaPaths starts one target with two port groups, group 1 (port 1) in
// state a and group 2 (port 2) in state b, and dials a Device over both
// ports: path 0 is port 1, path 1 port 2.
func aluaPaths(t *testing.T, a, b scsi.ALUAState, cfg *multipath.Config) (*multipath.Device, *iscsitest.Server) {
	t.Helper()
	srv := aluaServer(t, a, b)
	return dialPorts(t, srv, cfg), srv
}

// aluaServer starts one target with two port groups, group 1 (port 1) in
// state a and group 2 (port 2) in state b, and more options.
func aluaServer(t *testing.T, a, b scsi.ALUAState, opts ...iscsitest.Option) *iscsitest.Server {
	t.Helper()
	opts = append([]iscsitest.Option{iscsitest.WithLUN(lunSize, bs),
		iscsitest.WithPortGroup(1, a, 1), iscsitest.WithPortGroup(2, b, 1)}, opts...)
	srv := iscsitest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// dialPorts dials a Device over the first two ports of srv (path 0 is
// port 1, path 1 port 2), without path checker unless cfg sets one.
func dialPorts(t *testing.T, srv *iscsitest.Server, cfg *multipath.Config) *multipath.Device {
	t.Helper()
	if cfg == nil {
		cfg = &multipath.Config{}
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = -1
	}
	ports := srv.Ports()
	d, err := multipath.Dial(testCtx(t), []string{ports[0].URL(1), ports[1].URL(1)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func turs(t *testing.T, d *multipath.Device, n int) [2]uint64 {
	t.Helper()
	before := commands(d)
	for range n {
		if err := d.TestUnitReady(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	after := commands(d)
	return [2]uint64{after[0] - before[0], after[1] - before[1]}
}

func expectALUA(t *testing.T, d *multipath.Device, path int, group uint16, state scsi.ALUAState) {
	t.Helper()
	waitFor(t, fmt.Sprintf("path %d in group %d %v", path, group, state), func() bool {
		a := d.Stats().Paths[path].ALUA
		return a.Known && a.Group == group && a.State == state && a.RelativePort == uint16(path+1)
	})
}

// Optimized paths carry the I/O, whatever the selector; non-optimized
// ones only when no optimized path is left; a change of states (the unit
// attention) moves the I/O at once, a command that met it included.
func TestALUASelection(t *testing.T) {
	changes := make(chan multipath.PathChange, 64)
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAActiveNonOptimized,
		&multipath.Config{Selector: multipath.RoundRobin, OnPathChange: func(c multipath.PathChange) { changes <- c }})
	st := d.Stats()
	if !st.ALUA || st.ALUAReads == 0 {
		t.Fatalf("stats %+v: the target's ALUA not seen", st)
	}
	expectALUA(t, d, 0, 1, scsi.ALUAActiveOptimized)
	expectALUA(t, d, 1, 2, scsi.ALUAActiveNonOptimized)
	if got := turs(t, d, 10); got != [2]uint64{10, 0} {
		t.Fatalf("round robin over an optimized and a non-optimized path: %v, want all on the optimized one", got)
	}

	// The groups swap: the next command meets the unit attention on
	// path 0; the Device reads the states again and sends it on path 1.
	srv.SetPortGroupState(1, scsi.ALUAActiveNonOptimized)
	srv.SetPortGroupState(2, scsi.ALUAActiveOptimized)
	data := bytes.Repeat([]byte{0x3c}, bs)
	if _, err := d.Call(testCtx(t), scsi.Write16(5, 1, 0), session.DirWrite, iovector.New(data)); err != nil {
		t.Fatalf("WRITE(16) through Call after the states changed: %v", err)
	}
	if !bytes.Equal(srv.Contents(1)[5*bs:6*bs], data) {
		t.Fatal("the write did not land")
	}
	if srv.PortStats(2).Writes == 0 {
		// (It may meet port 2's own unit attention first: then it is
		// sent there twice.)
		t.Fatalf("port 2 stats %+v: the write went elsewhere", srv.PortStats(2))
	}
	expectALUA(t, d, 0, 1, scsi.ALUAActiveNonOptimized)
	expectALUA(t, d, 1, 2, scsi.ALUAActiveOptimized)
	if got := turs(t, d, 10); got != [2]uint64{0, 10} {
		t.Fatalf("after the swap: %v, want all on path 1", got)
	}

	// No optimized path left: the non-optimized ones share the I/O.
	srv.SetPortGroupState(2, scsi.ALUAStandby)
	srv.SetPortGroupState(1, scsi.ALUAActiveNonOptimized)
	if err := d.TestUnitReady(testCtx(t)); err != nil { // meets a unit attention or the standby port
		t.Fatal(err)
	}
	expectALUA(t, d, 1, 2, scsi.ALUAStandby)
	if got := turs(t, d, 10); got != [2]uint64{10, 0} {
		t.Fatalf("with path 1 standby: %v, want all on path 0", got)
	}
	saw := false
	for len(changes) > 0 {
		c := <-changes
		saw = saw || c.Path == 1 && c.State == multipath.PathReady && c.ALUA.State == scsi.ALUAStandby
	}
	if !saw {
		t.Error("OnPathChange was not told that path 1 became standby")
	}
	noViolations(t, srv)
}

func noViolations(t *testing.T, srv *iscsitest.Server) {
	t.Helper()
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %v", v)
	}
}

// A standby path carries nothing: no READ, no WRITE, not even the path
// checker's TEST UNIT READY (only the one of its session's login), under
// concurrent I/O with every byte checked.
func TestALUAStandbyNeverUsed(t *testing.T) {
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAStandby,
		&multipath.Config{CheckInterval: 10 * time.Millisecond})
	expectALUA(t, d, 1, 2, scsi.ALUAStandby)
	ioRun(t, d, srv, 8, 40, nil)
	waitFor(t, "a few checks", func() bool { return d.Stats().ALUAReads >= 3 })
	if st := srv.PortStats(2); st.Reads != 0 || st.Writes != 0 || st.Refused != 1 {
		t.Fatalf("standby port: %+v, want no READ or WRITE, and only the login's TEST UNIT READY refused", st)
	}
	if st := srv.PortStats(1); st.Reads == 0 || st.Writes == 0 || st.Refused != 0 {
		t.Fatalf("optimized port: %+v", st)
	}
	noViolations(t, srv)
}

// ioRun runs workers goroutines of unaligned WriteAt and ReadAt, each in a
// region of its own, ops calls each, checking every byte read and, at the
// end, the target's copy; between is called once, when half the calls are
// done (while the others run).
func ioRun(t *testing.T, d *multipath.Device, srv *iscsitest.Server, workers, ops int, between func()) {
	t.Helper()
	const region = lunSize / 16
	var wg sync.WaitGroup
	var done atomic.Int64
	half := make(chan struct{})
	var once sync.Once
	errs := make(chan error, workers)
	want := make([][]byte, workers)
	for w := range workers {
		want[w] = make([]byte, region)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			base := int64(w) * region
			for range ops {
				n := 1 + r.IntN(3*bs)
				off := r.IntN(region - n)
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(r.Uint32())
				}
				if _, err := d.WriteAt(p, base+int64(off)); err != nil {
					errs <- fmt.Errorf("WriteAt: %w", err)
					return
				}
				copy(want[w][off:], p)
				got := make([]byte, n)
				if _, err := d.ReadAt(got, base+int64(off)); err != nil {
					errs <- fmt.Errorf("ReadAt: %w", err)
					return
				}
				if !bytes.Equal(got, p) {
					errs <- fmt.Errorf("worker %d: ReadAt at %d returned other bytes than written", w, base+int64(off))
					return
				}
				if done.Add(1) == int64(workers*ops/2) {
					once.Do(func() { close(half) })
				}
			}
		}()
	}
	if between != nil {
		select {
		case <-half:
			between()
		case err := <-errs:
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := srv.Contents(1)
	for w := range workers {
		if !bytes.Equal(c[int64(w)*region:int64(w+1)*region], want[w]) {
			t.Fatalf("the target holds other bytes than worker %d wrote", w)
		}
	}
}

// The optimized group goes through transitioning to standby while 8
// goroutines read and write, and the non-optimized one becomes optimized:
// no error, no wrong byte, and the I/O moves to the other port.
func TestALUAStateChangeUnderIO(t *testing.T) {
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAActiveNonOptimized, nil)
	var before iscsitest.PortStats
	ioRun(t, d, srv, 8, 60, func() {
		srv.SetPortGroupState(1, scsi.ALUATransitioning)
		srv.SetPortGroupState(2, scsi.ALUAActiveOptimized)
		waitFor(t, "the Device to read the new states", func() bool {
			return d.Stats().Paths[0].ALUA.State == scsi.ALUATransitioning
		})
		srv.SetPortGroupState(1, scsi.ALUAStandby)
		before = srv.PortStats(1)
	})
	expectALUA(t, d, 0, 1, scsi.ALUAStandby)
	expectALUA(t, d, 1, 2, scsi.ALUAActiveOptimized)
	after := srv.PortStats(1)
	// Commands already sent to port 1 when it became standby may still
	// arrive; the other half of the run is all on port 2.
	if p2 := srv.PortStats(2); p2.Writes == 0 || p2.Reads == 0 {
		t.Fatalf("port 2 carried no I/O: %+v", p2)
	}
	if after.Reads+after.Writes-before.Reads-before.Writes > 8 {
		t.Fatalf("port 1 received %d READs and WRITEs in standby (at most one per worker in flight)",
			after.Reads+after.Writes-before.Reads-before.Writes)
	}
	st := d.Stats()
	t.Logf("refused and sent again: path 0 %d, path 1 %d; state reads %d; port 1 %+v, port 2 %+v",
		st.Paths[0].Refused, st.Paths[1].Refused, st.ALUAReads, srv.PortStats(1), srv.PortStats(2))
	noViolations(t, srv)
}

// Every port unavailable: a command waits Config.ALUATimeout, then fails
// with a *NoActivePathError (ErrNoPath); a command waiting when a group
// becomes active again goes through.
func TestALUAAllUnavailable(t *testing.T) {
	const timeout = 300 * time.Millisecond
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAStandby, &multipath.Config{ALUATimeout: timeout})
	srv.SetPortGroupState(1, scsi.ALUAUnavailable)
	ctx := testCtx(t)
	start := time.Now()
	_, err := d.ReadAtContext(ctx, make([]byte, bs), 0)
	waited := time.Since(start)
	var na *multipath.NoActivePathError
	if !errors.As(err, &na) || !errors.Is(err, multipath.ErrNoPath) {
		t.Fatalf("read with every port unavailable or standby: %v, want *NoActivePathError", err)
	}
	if na.Waited < timeout || waited < timeout || ctx.Err() != nil {
		t.Fatalf("gave up after %v (error says %v), want the ALUA timeout of %v", waited, na.Waited, timeout)
	}
	if len(na.Paths) != 2 || na.Paths[0].State != scsi.ALUAUnavailable || na.Paths[1].State != scsi.ALUAStandby {
		t.Fatalf("error names %+v", na.Paths)
	}
	t.Log(err)
	if st := srv.PortStats(2); st.Reads != 0 {
		t.Fatalf("standby port: %+v", st)
	}

	d2, srv2 := aluaPaths(t, scsi.ALUAUnavailable, scsi.ALUAStandby, &multipath.Config{ALUATimeout: time.Minute})
	f := d2.Read(ctx, 0, 1, iovector.New(make([]byte, bs)))
	waitFor(t, "the states read", func() bool { return d2.Stats().Paths[0].ALUA.State == scsi.ALUAUnavailable })
	srv2.SetPortGroupState(2, scsi.ALUAActiveNonOptimized)
	if _, err := f.Wait(); err != nil {
		t.Fatalf("read waiting when group 2 became active: %v", err)
	}
	// The read may come twice: the group's change arms a unit attention
	// (ASYMMETRIC ACCESS STATE CHANGED) on the connection, which the read
	// takes if it comes before the path checker's next command, and the
	// session sends it again.
	if st := srv2.PortStats(2); st.Reads < 1 || st.Reads > 2 {
		t.Fatalf("port 2: %+v, want the read (once, or twice after a unit attention)", st)
	}
}

// A target that reports TPGS but refuses REPORT TARGET PORT GROUPS keeps
// every path equal.
func TestALUARefusedRTPG(t *testing.T) {
	srv := aluaServer(t, scsi.ALUAActiveOptimized, scsi.ALUAActiveOptimized)
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpMaintenanceIn), Action: iscsitest.Respond,
		Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode)})
	d := dialPorts(t, srv, &multipath.Config{Selector: multipath.RoundRobin})
	if st := d.Stats(); st.ALUA || st.Paths[0].ALUA.Known {
		t.Fatalf("stats %+v: ALUA on although RTPG was refused", st)
	}
	if got := turs(t, d, 10); got != [2]uint64{5, 5} {
		t.Fatalf("round robin without ALUA: %v, want 5 and 5", got)
	}
}

// The path checker meets the unit attention of a change on idle paths and
// a refusal on a path that became standby: neither takes a path out of
// service, and the states are read again.
func TestALUACheckerKeepsPaths(t *testing.T) {
	var mu sync.Mutex
	var failed []multipath.PathChange
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAActiveNonOptimized, &multipath.Config{
		CheckInterval: 10 * time.Millisecond,
		OnPathChange: func(c multipath.PathChange) {
			if c.State != multipath.PathReady {
				mu.Lock()
				failed = append(failed, c)
				mu.Unlock()
			}
		},
	})
	srv.SetPortGroupState(1, scsi.ALUAStandby)
	srv.SetPortGroupState(2, scsi.ALUAActiveOptimized)
	expectALUA(t, d, 0, 1, scsi.ALUAStandby)
	expectALUA(t, d, 1, 2, scsi.ALUAActiveOptimized)
	reads := d.Stats().ALUAReads
	waitFor(t, "more checks", func() bool { return d.Stats().ALUAReads >= reads+3 })
	if got := turs(t, d, 4); got != [2]uint64{0, 4} {
		t.Fatalf("commands per path %v, want all on path 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		t.Fatalf("paths taken out of service: %+v", failed)
	}
}

// The sessions of an optimized and a standby path both lose their
// connection: both log in again (the standby one through its port, whose
// TEST UNIT READY answers NOT READY), keep their ALUA states, and the I/O
// goes on through the optimized one.
func TestALUARecovery(t *testing.T) {
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAStandby, nil)
	expectALUA(t, d, 1, 2, scsi.ALUAStandby)
	before := srv.Connections()
	srv.CloseClientConnections()
	waitFor(t, "both paths back", func() bool {
		st := d.Stats()
		return srv.Connections() >= before+2 && st.Paths[0].State == multipath.PathReady && st.Paths[1].State == multipath.PathReady &&
			st.Paths[0].Session.Reconnects > 0 && st.Paths[1].Session.Reconnects > 0
	})
	ioRun(t, d, srv, 4, 10, nil)
	expectALUA(t, d, 0, 1, scsi.ALUAActiveOptimized)
	expectALUA(t, d, 1, 2, scsi.ALUAStandby)
	if st := srv.PortStats(2); st.Reads != 0 || st.Writes != 0 {
		t.Fatalf("standby port: %+v", st)
	}
}

// A reservation key registered while a path's port is unavailable is
// registered on that path when its group becomes active, before the path
// carries any I/O; here the first try fails, and the path carries nothing
// until the checker's second try succeeds. (iscsitest has no persistent
// reservations: a fault answers PERSISTENT RESERVE OUT with GOOD.)
func TestALUAPersistentReservationDeferred(t *testing.T) {
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAUnavailable, &multipath.Config{CheckInterval: 20 * time.Millisecond})
	const prOut = 0x5f
	var mu sync.Mutex
	var seen []scsi.OpCode // commands executed (not refused for a port's state), in order
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		mu.Lock()
		seen = append(seen, scsi.OpCode(cdb[0]))
		mu.Unlock()
		return false
	}})
	good := iscsitest.Fault{Match: iscsitest.Opcode(prOut), Action: iscsitest.Respond, Status: scsi.StatusGood}
	srv.Inject(good)
	ctx := testCtx(t)
	if err := d.PRRegisterAndIgnore(ctx, 0xabcdef); err != nil {
		t.Fatalf("registering with a path unavailable: %v", err)
	}
	if st := d.Stats(); st.Paths[0].PRPending || !st.Paths[1].PRPending {
		t.Fatalf("pending registrations %v %v, want path 1 only", st.Paths[0].PRPending, st.Paths[1].PRPending)
	}
	if st := srv.PortStats(2); st.Refused < 2 {
		t.Fatalf("port 2 %+v: the REGISTER was not refused there", st)
	}
	srv.ClearFaults()
	mu.Lock()
	seen = nil
	mu.Unlock()
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		mu.Lock()
		seen = append(seen, scsi.OpCode(cdb[0]))
		mu.Unlock()
		return false
	}})
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(prOut), Action: iscsitest.Respond, Count: 1,
		Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseHardwareError, 0x4400)})
	srv.Inject(good)
	srv.SetPortGroupState(1, scsi.ALUAStandby)
	srv.SetPortGroupState(2, scsi.ALUAActiveOptimized)
	for range 3 {
		if _, err := d.ReadAtContext(ctx, make([]byte, bs), 0); err != nil {
			t.Fatal(err)
		}
	}
	if st := d.Stats(); st.Paths[1].PRPending {
		t.Fatal("path 1 still waits for its registration")
	}
	mu.Lock()
	defer mu.Unlock()
	registers, firstRead := 0, -1
	for i, op := range seen {
		switch op {
		case prOut:
			registers++
		case scsi.OpRead10, scsi.OpRead16:
			if firstRead < 0 && registers < 2 {
				t.Fatalf("commands executed after the change %v: a READ before the REGISTER that succeeded", seen)
			}
			if firstRead < 0 {
				firstRead = i
			}
		}
	}
	if registers < 2 || firstRead < 0 {
		t.Fatalf("commands executed after the change %v: want a failed REGISTER, one that succeeded, then the READs", seen)
	}
}

// Of two active/optimized groups, the one with the PREF bit carries the
// I/O, whatever the selector; when its path fails, the other takes over.
// (Two servers with the same groups, so that one path can fail alone:
// path 0 is port 1 of the first, path 1 port 2 of the second.)
func TestALUAPreferredGroup(t *testing.T) {
	var srv [2]*iscsitest.Server
	for i := range srv {
		srv[i] = iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs),
			iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1), iscsitest.WithPortGroup(2, scsi.ALUAActiveOptimized, 1))
		t.Cleanup(srv[i].Close)
		srv[i].SetPortGroupPreferred(2, true)
	}
	changes := make(chan multipath.PathChange, 16)
	d, err := multipath.Dial(testCtx(t), []string{srv[0].Ports()[0].URL(1), srv[1].Ports()[1].URL(1)}, &multipath.Config{
		Selector:      multipath.RoundRobin,
		CheckInterval: -1,
		Session:       &session.Config{DisableRecovery: true},
		OnPathChange:  func(c multipath.PathChange) { changes <- c },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	expectALUA(t, d, 0, 1, scsi.ALUAActiveOptimized)
	expectALUA(t, d, 1, 2, scsi.ALUAActiveOptimized)
	if a := d.Stats().Paths; a[0].ALUA.Preferred || !a[1].ALUA.Preferred {
		t.Fatalf("PREF seen as %v and %v, want path 1's only", a[0].ALUA.Preferred, a[1].ALUA.Preferred)
	}
	if got := turs(t, d, 10); got != [2]uint64{0, 10} {
		t.Fatalf("round robin over two optimized paths, path 1's group preferred: %v, want all on path 1", got)
	}
	srv[1].CloseClientConnections()
	expectState(t, changes, 1, multipath.PathDown)
	if got := turs(t, d, 10); got != [2]uint64{10, 0} {
		t.Fatalf("with the preferred path down: %v, want all on path 0", got)
	}
}

// PREF orders groups within a state, never across states: a preferred
// non-optimized group gets nothing while an optimized one is there, and
// everything once both are non-optimized.
func TestALUAPreferredWithinState(t *testing.T) {
	srv := aluaServer(t, scsi.ALUAActiveOptimized, scsi.ALUAActiveNonOptimized)
	srv.SetPortGroupPreferred(2, true)
	d := dialPorts(t, srv, &multipath.Config{Selector: multipath.RoundRobin})
	expectALUA(t, d, 1, 2, scsi.ALUAActiveNonOptimized)
	if got := turs(t, d, 10); got != [2]uint64{10, 0} {
		t.Fatalf("optimized path 0, preferred non-optimized path 1: %v, want all on path 0", got)
	}
	srv.SetPortGroupState(1, scsi.ALUAActiveNonOptimized)
	if err := d.TestUnitReady(testCtx(t)); err != nil { // meets the unit attention: the states are read again
		t.Fatal(err)
	}
	expectALUA(t, d, 0, 1, scsi.ALUAActiveNonOptimized)
	if got := turs(t, d, 10); got != [2]uint64{0, 10} {
		t.Fatalf("both non-optimized, path 1's group preferred: %v, want all on path 1", got)
	}
	noViolations(t, srv)
}

// SetTargetPortGroups moves the I/O by an explicit transition: the states
// are read again before it returns, so the next command goes to the group
// made optimized. Refusals come back as the target's CHECK CONDITION.
func TestALUASetTargetPortGroups(t *testing.T) {
	srv := aluaServer(t, scsi.ALUAActiveOptimized, scsi.ALUAStandby, iscsitest.WithExplicitALUA())
	d := dialPorts(t, srv, &multipath.Config{Selector: multipath.RoundRobin})
	expectALUA(t, d, 1, 2, scsi.ALUAStandby)
	if got := turs(t, d, 4); got != [2]uint64{4, 0} {
		t.Fatalf("before the transition: %v, want all on path 0", got)
	}
	ctx := testCtx(t)
	if err := d.SetTargetPortGroups(ctx, scsi.TargetPortGroupSet{Group: 1, State: scsi.ALUAStandby},
		scsi.TargetPortGroupSet{Group: 2, State: scsi.ALUAActiveOptimized}); err != nil {
		t.Fatal(err)
	}
	// No wait: the states were read before SetTargetPortGroups returned.
	if st := d.Stats().Paths; st[0].ALUA.State != scsi.ALUAStandby || st[1].ALUA.State != scsi.ALUAActiveOptimized {
		t.Fatalf("after the transition: path 0 %v, path 1 %v", st[0].ALUA, st[1].ALUA)
	}
	if err := d.TestUnitReady(ctx); err != nil { // path 1 meets the unit attention of the change: the Device sends it again
		t.Fatal(err)
	}
	if got := turs(t, d, 10); got != [2]uint64{0, 10} {
		t.Fatalf("after the transition: %v, want all on path 1", got)
	}
	err := d.SetTargetPortGroups(ctx, scsi.TargetPortGroupSet{Group: 9, State: scsi.ALUAActiveOptimized})
	var se *scsi.StatusError
	if !errors.As(err, &se) || se.Sense == nil || se.Sense.Key != scsi.SenseIllegalRequest || se.Sense.ASC != scsi.ASCInvalidFieldInParamList {
		t.Fatalf("a transition of a group the target does not have: %v, want ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST", err)
	}
	noViolations(t, srv)
}

// A target with implicit ALUA only is sent no SET TARGET PORT GROUPS.
func TestALUASetTargetPortGroupsImplicitOnly(t *testing.T) {
	d, srv := aluaPaths(t, scsi.ALUAActiveOptimized, scsi.ALUAStandby, nil)
	var sent atomic.Int32
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		if scsi.OpCode(cdb[0]) == scsi.OpMaintenanceOut {
			sent.Add(1)
		}
		return false
	}})
	err := d.SetTargetPortGroups(testCtx(t), scsi.TargetPortGroupSet{Group: 2, State: scsi.ALUAActiveOptimized})
	if !errors.Is(err, multipath.ErrNoExplicitALUA) || sent.Load() != 0 {
		t.Fatalf("SetTargetPortGroups on an implicit-only target: %v, %d MAINTENANCE OUT sent; want ErrNoExplicitALUA and none", err, sent.Load())
	}
}
