package faketarget

import (
	"testing"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// TestViolationsOfNegotiatedLimits plants initiator bugs that ignore what
// the login settled and checks that each is recorded.
func TestViolationsOfNegotiatedLimits(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		lie  func(p *keys.Params)
		want string
	}{
		{"immediate data beyond FirstBurstLength",
			Config{FirstBurstLength: 512, MaxRecvDataSegmentLength: 8192},
			func(p *keys.Params) { p.FirstBurstLength = 4096 }, "immediate data exceed FirstBurstLength 512"},
		{"unsolicited data beyond FirstBurstLength",
			Config{FirstBurstLength: 1024, ImmediateData: keys.Some(false)},
			func(p *keys.Params) { p.FirstBurstLength = 4096 }, "exceed FirstBurstLength 1024"},
		{"unsolicited data with InitialR2T=Yes",
			Config{InitialR2T: keys.Some(true), ImmediateData: keys.Some(false)},
			func(p *keys.Params) { p.InitialR2T = false }, "InitialR2T=Yes"},
		{"immediate data with ImmediateData=No",
			Config{ImmediateData: keys.Some(false)},
			func(p *keys.Params) { p.ImmediateData = true }, "ImmediateData=No"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.LUNs = disk(64)
			tg := Start(t, cfg)
			i := dialIni(t, tg)
			if err := i.login(loginOpts{}); err != nil {
				t.Fatal(err)
			}
			tt.lie(&i.params)
			if _, err := i.do(wireLUN(1), scsi.Write10(0, 8, 0), nil, make([]byte, 8*512)); err != nil {
				t.Fatal(err)
			}
			wantViolation(t, tg, tt.want)
		})
	}
}

func TestViolationAbortTaskNotImmediate(t *testing.T) {
	tg, nc := Pipe(t, Config{LUNs: disk(8)})
	i := newIni(t, nc)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	m, _, err := i.roundTrip(&pdu.TaskMgmtRequest{Function: pdu.TMFAbortTask, LUN: wireLUN(1), ITT: 77,
		ReferencedTaskTag: 5, CmdSN: i.cmdSN, ExpStatSN: i.expSN}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rsp, ok := m.(*pdu.TaskMgmtResponse); !ok || rsp.Response != pdu.TMRTaskDoesNotExist {
		t.Errorf("got %#v, want TASK DOES NOT EXIST", m)
	}
	wantViolation(t, tg, "without the Immediate bit")
}

func TestViolationCommandWindow(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(8), QueueDepth: 1, Hooks: Hooks{Command: func(c *Command) Verdict {
		c.Peer.SetMaxCmdSN(c.Peer.ExpCmdSN() - 1) // close the window in the response
		return Proceed
	}}})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second command ignores the closed window
		if _, err := i.do(wireLUN(1), scsi.TestUnitReady(), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantViolation(t, tg, "beyond the MaxCmdSN")
}

func TestViolationUnknownITT(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(64)})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	i.dout = pdu.DataOut{Final: true, ITT: 0xdead, TTT: 0x4242, ExpStatSN: i.expSN}
	if err := i.c.WritePDU(&i.dout, nil, make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	// The target goes on: the next command is answered.
	if st, err := i.do(wireLUN(1), scsi.TestUnitReady(), nil, nil); err != nil || st.status != scsi.StatusGood {
		t.Fatalf("TEST UNIT READY: %+v %v", st, err)
	}
	wantViolation(t, tg, "Data-Out for unknown ITT 0xdead")
}

func TestStartIPv6(t *testing.T) {
	tg := StartIPv6(t, Config{LUNs: disk(8)})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	if err := i.logout(); err != nil {
		t.Fatal(err)
	}
	noViolations(t, tg)
}
