package faketarget

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

func TestHookWithholdThenAbort(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(64), Hooks: Hooks{
		Command: func(c *Command) Verdict {
			if scsi.OpCode(c.CDB[0]) == scsi.OpRead10 {
				return Handled // never answered
			}
			return Proceed
		},
	}})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	i.itt++
	read := &pdu.SCSICommand{Final: true, Read: true, LUN: wireLUN(1), ITT: i.itt, CmdSN: i.cmdSN, ExpStatSN: i.expSN,
		ExpectedDataTransferLength: 512, CDB: scsi.Read10(0, 1, 0).Array()}
	if err := i.c.WritePDU(read, nil, nil); err != nil {
		t.Fatal(err)
	}
	i.cmdSN++
	abort := func(refCmdSN uint32) uint8 {
		t.Helper()
		i.itt++
		m, _, err := i.roundTrip(&pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFAbortTask, LUN: wireLUN(1), ITT: i.itt,
			ReferencedTaskTag: read.ITT, CmdSN: i.cmdSN, ExpStatSN: i.expSN, RefCmdSN: refCmdSN}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rsp, ok := m.(*pdu.TaskMgmtResponse)
		if !ok {
			t.Fatalf("got %T", m)
		}
		i.expSN = rsp.StatSN + 1
		return rsp.Response
	}
	if r := abort(read.CmdSN + 1); r != pdu.TMRFunctionComplete {
		t.Errorf("first ABORT TASK: response %d, want FUNCTION COMPLETE", r)
	}
	if r := abort(read.CmdSN); r != pdu.TMRTaskDoesNotExist {
		t.Errorf("second ABORT TASK: response %d, want TASK DOES NOT EXIST", r)
	}
	wantViolation(t, tg, "RefCmdSN")
	if got := len(tg.Violations()); got != 1 {
		t.Errorf("violations %q, want the RefCmdSN one only", tg.Violations())
	}
}

func TestHookLyingDataIn(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(64), Hooks: Hooks{
		Command: func(c *Command) Verdict {
			data, _ := c.Data()
			defer c.Done()
			// Data beyond the expected length: the initiator must refuse it.
			_ = c.Peer.Reply(&pdu.DataIn{Final: true, HasStatus: true, ITT: c.ITT(), TTT: pdu.ReservedITT,
				BufferOffset: c.Req.ExpectedDataTransferLength}, data)
			return Handled
		},
	}})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	_, err := i.do(wireLUN(1), scsi.Read10(0, 1, 0), make([]byte, 512), nil)
	if err == nil || !strings.Contains(err.Error(), "bad Data-In") {
		t.Fatalf("READ with a lying Data-In: %v", err)
	}
}

func TestHookLoginAnswers(t *testing.T) {
	tests := []struct {
		name string
		edit func(x *LoginExchange)
	}{
		{"digest never offered", func(x *LoginExchange) { x.Set(keys.KeyHeaderDigest, keys.CRC32C) }},
		{"key answered twice", func(x *LoginExchange) { x.Add(keys.KeyMaxBurstLength, "4096") }},
		{"value above a minimum offer", func(x *LoginExchange) { x.Set(keys.KeyMaxBurstLength, "16777215") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, nc := Pipe(t, Config{Hooks: Hooks{Login: func(x *LoginExchange) Verdict {
				if x.Request.CSG == pdu.StageOperational {
					tt.edit(x)
				}
				return Proceed
			}}})
			offer := keys.DefaultOffer()
			offer.HeaderDigest = []string{keys.None}
			err := newIni(t, nc).login(loginOpts{offer: offer, offerSet: true})
			if !errors.Is(err, keys.ErrProtocol) {
				t.Fatalf("login: %v, want a keys.ErrProtocol", err)
			}
		})
	}
}

func TestHookTMFNeverAnswered(t *testing.T) {
	_, nc := Pipe(t, Config{LUNs: disk(8), Hooks: Hooks{
		TaskMgmt: func(p *Peer, req *pdu.TaskMgmtRequest) Verdict { return Handled },
	}})
	i := newIni(t, nc)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	tmf := &pdu.TaskMgmtRequest{Immediate: true, Function: pdu.TMFLogicalUnitReset, LUN: wireLUN(1), ITT: 50,
		ReferencedTaskTag: pdu.ReservedITT, CmdSN: i.cmdSN, ExpStatSN: i.expSN}
	if err := i.c.WritePDU(tmf, nil, nil); err != nil {
		t.Fatal(err)
	}
	m, d, err := i.roundTrip(&pdu.NOPOut{ITT: 51, TTT: pdu.ReservedITT, CmdSN: i.cmdSN, ExpStatSN: i.expSN}, []byte("ping"))
	if err != nil {
		t.Fatal(err)
	}
	if nop, ok := m.(*pdu.NOPIn); !ok || nop.ITT != 51 || string(d) != "ping" {
		t.Fatalf("got %#v %q, want the NOP-In echo (and no TMF response)", m, d)
	}
}

func TestScriptClosesWindow(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(8), Script: func(p *Peer) error {
		hdr, _, _, err := p.Recv()
		if err != nil {
			return err
		}
		var cmd pdu.SCSICommand
		if err := cmd.Decode(hdr); err != nil {
			return err
		}
		p.SetMaxCmdSN(p.ExpCmdSN() - 1) // window closed
		if err := p.Status(cmd.ITT, scsi.StatusBusy, nil); err != nil {
			return err
		}
		ttt, err := p.Ping([]byte("are you there"))
		if err != nil {
			return err
		}
		hdr, _, data, err := p.Recv()
		if err != nil {
			return err
		}
		var nop pdu.NOPOut
		if err := nop.Decode(hdr); err != nil || nop.TTT != ttt || !bytes.Equal(data, []byte("are you there")) {
			return errors.New("bad ping answer")
		}
		// A command beyond the closed window is a violation.
		_, _, _, err = p.Recv()
		return err
	}})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	i.itt++
	cmdSN := i.cmdSN
	m, _, err := i.roundTrip(&pdu.SCSICommand{Final: true, LUN: wireLUN(1), ITT: i.itt, CmdSN: i.cmdSN, ExpStatSN: i.expSN,
		CDB: scsi.TestUnitReady().Array()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	i.cmdSN++
	rsp, ok := m.(*pdu.SCSIResponse)
	if !ok || rsp.Status != uint8(scsi.StatusBusy) || rsp.ExpCmdSN != cmdSN+1 || rsp.MaxCmdSN != cmdSN {
		t.Fatalf("got %#v, want BUSY with ExpCmdSN %d MaxCmdSN %d", m, cmdSN+1, cmdSN)
	}
	i.expSN = rsp.StatSN + 1
	h, _, err := i.c.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	var ping pdu.NOPIn
	if err := ping.Decode(h); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, i.c.DataLen())
	if err := i.c.ReadData(data); err != nil {
		t.Fatal(err)
	}
	if err := i.c.WritePDU(&pdu.NOPOut{Immediate: true, ITT: pdu.ReservedITT, TTT: ping.TTT, CmdSN: i.cmdSN, ExpStatSN: i.expSN}, nil, data); err != nil {
		t.Fatal(err)
	}
	// The window is closed (MaxCmdSN = cmdSN) but the first window was 32
	// wide: CmdSN cmdSN+40 is beyond anything advertised.
	if err := i.c.WritePDU(&pdu.SCSICommand{Final: true, ITT: 99, CmdSN: cmdSN + 40, ExpStatSN: i.expSN}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// The script returns and the target closes: wait for EOF.
	if _, _, err := i.c.ReadHeader(); err == nil {
		t.Fatal("connection still open")
	}
	wantViolation(t, tg, "want ExpCmdSN")
}

func TestNOPOutEcho(t *testing.T) {
	tg, nc := Pipe(t, Config{})
	i := newIni(t, nc)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	for k, payload := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("ping"), 1000)} {
		i.itt++
		m, d, err := i.roundTrip(&pdu.NOPOut{ITT: i.itt, TTT: pdu.ReservedITT, CmdSN: i.cmdSN, ExpStatSN: i.expSN}, payload)
		if err != nil {
			t.Fatal(err)
		}
		i.cmdSN++
		nop, ok := m.(*pdu.NOPIn)
		if !ok || nop.ITT != i.itt || nop.TTT != pdu.ReservedITT || !bytes.Equal(d, payload) {
			t.Fatalf("ping %d: got %#v %q", k, m, d)
		}
		i.expSN = nop.StatSN + 1
	}
	noViolations(t, tg)
}

func TestHookFailAfterTransfer(t *testing.T) {
	sense := FixedSense(scsi.SenseMediumError, scsi.ASCWriteError)
	old := bytes.Repeat([]byte{0xaa}, 1024*512)
	tg := Start(t, Config{LUNs: []LUN{{Number: 1, Blocks: 1024, Data: bytes.Clone(old)}}, Hooks: Hooks{
		Command: func(c *Command) Verdict {
			c.Fail(scsi.StatusCheckCondition, sense)
			return Proceed
		},
	}})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	// Immediate data, unsolicited Data-Out and R2Ts: all taken, none stored.
	out := bytes.Repeat([]byte("failwrite"), 300*512/9+1)[:300*512]
	st, err := i.do(wireLUN(1), scsi.Write10(0, 300, 0), nil, out)
	if err != nil {
		t.Fatal(err)
	}
	if st.status != scsi.StatusCheckCondition || i.r2ts == 0 {
		t.Errorf("WRITE: status %v after %d R2Ts, want CHECK CONDITION after R2Ts", st.status, i.r2ts)
	}
	if s, err := i.senseOf(); err != nil || s.Key != scsi.SenseMediumError || s.ASC != scsi.ASCWriteError {
		t.Errorf("sense %+v, %v", s, err)
	}
	if !bytes.Equal(tg.LUNData(1), old) {
		t.Error("a failed WRITE stored data")
	}
	in := make([]byte, 4096)
	st, err = i.do(wireLUN(1), scsi.Read10(0, 8, 0), in, nil)
	if err != nil || st.status != scsi.StatusCheckCondition || !bytes.Equal(in, make([]byte, len(in))) {
		t.Errorf("READ: %+v, %v; want CHECK CONDITION, no data", st, err)
	}
	noViolations(t, tg)
}

func TestHookReceived(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []pdu.Opcode
	)
	tg := Start(t, Config{LUNs: disk(8), Hooks: Hooks{
		Received: func(p *Peer, h *pdu.BHS) Verdict {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, h.Opcode())
			if len(seen) == 2 {
				return Handled // drop the second PDU
			}
			if len(seen) == 3 {
				return Close
			}
			return Proceed
		},
	}})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	if st, err := i.do(wireLUN(1), scsi.TestUnitReady(), nil, nil); err != nil || st.status != scsi.StatusGood {
		t.Fatalf("first command: %+v, %v", st, err)
	}
	// The second is dropped, the third closes the connection: the
	// initiator sees no answer to either.
	i.itt++
	if err := i.c.WritePDU(&pdu.SCSICommand{Final: true, LUN: wireLUN(1), ITT: i.itt, CmdSN: i.cmdSN, ExpStatSN: i.expSN,
		CDB: scsi.TestUnitReady().Array()}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := i.do(wireLUN(1), scsi.TestUnitReady(), nil, nil); err == nil {
		t.Fatal("an answer came after Received returned Close")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] != pdu.OpSCSICommand {
		t.Errorf("Received saw %v", seen)
	}
}
