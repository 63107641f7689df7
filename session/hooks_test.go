package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// recorder implements every hook interface and keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	cmds     []session.CommandEvent
	logins   []session.LoginEvent
	states   []session.StateChange
	sent     []pdu.Opcode
	received []pdu.Opcode
}

func (r *recorder) OnCommandDone(ev session.CommandEvent) {
	ev.Sense = append([]byte(nil), ev.Sense...) // valid during the call only
	r.mu.Lock()
	r.cmds = append(r.cmds, ev)
	r.mu.Unlock()
}

func (r *recorder) OnPDU(sent bool, h *pdu.BHS) {
	r.mu.Lock()
	if sent {
		r.sent = append(r.sent, h.Opcode())
	} else {
		r.received = append(r.received, h.Opcode())
	}
	r.mu.Unlock()
}

func (r *recorder) OnConnState(ev session.StateChange) {
	r.mu.Lock()
	r.states = append(r.states, ev)
	r.mu.Unlock()
}

func (r *recorder) OnLogin(ev session.LoginEvent) {
	r.mu.Lock()
	r.logins = append(r.logins, ev)
	r.mu.Unlock()
}

// commands returns the events whose Outcome is outcome.
func (r *recorder) commands(outcome string) []session.CommandEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []session.CommandEvent
	for _, ev := range r.cmds {
		if ev.Outcome() == outcome {
			out = append(out, ev)
		}
	}
	return out
}

func count(ops []pdu.Opcode, op pdu.Opcode) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

// TestHooksSeeCommandsPDUsAndLogin: one hook implementing every interface
// sees the login, each PDU header, and each command with its opcode, LUN,
// LBA, bytes, status and sense; Stats agrees with it.
func TestHooksSeeCommandsPDUsAndLogin(t *testing.T) {
	var rec recorder
	tg, s := dial(t, faketarget.Config{}, &session.Config{Hooks: []session.Hook{&rec}})
	ctx := ctxT(t)
	buf := pattern(4096, 7)
	f := s.Write(ctx, 8, 8, iovector.New(buf))
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	f = s.Read(ctx, 8, 8, iovector.New(make([]byte, 4096)))
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	// Beyond the end of the 4096-block LUN: CHECK CONDITION.
	f = s.Execute(ctx, s.LUN(), scsi.Read16(1<<20, 1, 0), session.DirRead, iovector.New(make([]byte, 512)))
	var se *scsi.StatusError
	if _, err := f.Wait(); !errors.As(err, &se) {
		t.Fatalf("read beyond the end: %v", err)
	}

	rec.mu.Lock()
	logins, sent, received, ncmds := append([]session.LoginEvent(nil), rec.logins...), rec.sent, rec.received, len(rec.cmds)
	rec.mu.Unlock()
	if len(logins) != 1 {
		t.Fatalf("%d login events, want 1: %+v", len(logins), logins)
	}
	if l := logins[0]; l.Outcome() != "ok" || l.Err != nil || l.Reconnect || l.Attempt != 0 || l.Portal != tg.Addr() || l.Target != tgtName {
		t.Fatalf("login event %+v", l)
	}
	if len(sent) == 0 || sent[0] != pdu.OpLoginReq || count(received, pdu.OpLoginResp) == 0 {
		t.Fatalf("PDUs sent %v, received %v: the login is missing", sent, received)
	}
	if count(sent, pdu.OpSCSICommand) != ncmds {
		t.Fatalf("%d SCSI Command PDUs sent, %d command events", count(sent, pdu.OpSCSICommand), ncmds)
	}

	var w, r *session.CommandEvent
	ok := rec.commands("ok")
	for i := range ok {
		switch ev := &ok[i]; {
		case ev.Dir == session.DirWrite && ev.LBA == 8:
			w = ev
		case ev.Dir == session.DirRead && ev.LBA == 8:
			r = ev
		}
	}
	if w == nil || r == nil {
		t.Fatalf("no event for the write or the read: %+v", ok)
	}
	for _, ev := range []*session.CommandEvent{w, r} {
		if ev.Expected != 4096 || ev.Transferred != 4096 || ev.Status != scsi.StatusGood || ev.Err != nil || ev.LUN != s.LUN() || ev.Latency <= 0 {
			t.Fatalf("event %+v", *ev)
		}
	}
	if !strings.HasPrefix(w.Op.String(), "WRITE") || !strings.HasPrefix(r.Op.String(), "READ") {
		t.Fatalf("ops %v and %v", w.Op, r.Op)
	}
	cc := rec.commands("check_condition")
	if len(cc) != 1 || cc[0].Op != scsi.OpRead16 || cc[0].Status != scsi.StatusCheckCondition || cc[0].Transferred != 0 {
		t.Fatalf("check condition events %+v", cc)
	}
	if sd, err := scsi.ParseSense(cc[0].Sense); err != nil || sd.Key != scsi.SenseIllegalRequest {
		t.Fatalf("sense %x: %+v, %v", cc[0].Sense, sd, err)
	}

	st := s.Stats()
	if st.Commands != uint64(ncmds) || st.CommandErrors != 1 || st.BytesWritten != 4096 || st.BytesRead < 4096 || st.WindowStalls != 0 {
		t.Fatalf("stats %+v, %d command events", st, ncmds)
	}
}

// TestHooksWindowStallsAndCancel: with a window of one command held by
// the target, the commands issued behind it wait at the window and are
// counted once each; one cancelled while it waits is "cancelled", the held
// one cancelled in flight is "aborted".
func TestHooksWindowStallsAndCancel(t *testing.T) {
	var hold atomic.Bool
	held := make(chan *faketarget.Command, 1)
	cfg := faketarget.Config{QueueDepth: 1, Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if hold.Load() && c.CDB[0] == byte(scsi.OpTestUnitReady) && hold.CompareAndSwap(true, false) {
			held <- c
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	var rec recorder
	_, s := dial(t, cfg, &session.Config{Hooks: []session.Hook{&rec}})
	ctx := ctxT(t)
	before := s.Stats()

	hold.Store(true)
	heldCtx, cancelHeld := context.WithCancel(ctx)
	first := s.Execute(heldCtx, s.LUN(), scsi.TestUnitReady(), session.DirNone, nil)
	<-held // in flight at the target: the window is closed
	const behind = 7
	var fs []session.Future
	for range behind {
		fs = append(fs, s.Execute(ctx, s.LUN(), scsi.TestUnitReady(), session.DirNone, nil))
	}
	waitCtx, cancelWait := context.WithCancel(ctx)
	waiting := s.Execute(waitCtx, s.LUN(), scsi.TestUnitReady(), session.DirNone, nil)
	cancelWait()
	if _, err := waiting.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("a command cancelled at the window: %v", err)
	}
	cancelHeld() // ABORT TASK: the target answers it, the window opens
	if _, err := first.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("the held command: %v", err)
	}
	for _, f := range fs {
		if _, err := f.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// The aborted command ends when the target answers the abort, which
	// may come after its caller returned.
	deadline := ctxT(t)
	for len(rec.commands("aborted")) == 0 {
		select {
		case <-deadline.Done():
			t.Fatal("no event for the aborted command")
		default:
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if got := st.WindowStalls - before.WindowStalls; got != behind {
		t.Fatalf("WindowStalls grew by %d, want %d", got, behind)
	}
	if c := rec.commands("cancelled"); len(c) != 1 || c[0].Err == nil || c[0].Status != scsi.StatusNone {
		t.Fatalf("cancelled events %+v", c)
	}
	if got := st.Commands - before.Commands; got != behind+2 {
		t.Fatalf("Commands grew by %d, want %d", got, behind+2)
	}
	if got := st.CommandErrors - before.CommandErrors; got != 2 {
		t.Fatalf("CommandErrors grew by %d, want 2", got)
	}
}

// TestHooksSeeRecovery: a lost connection shows as connection states
// (to the hook and to Config.OnStateChange alike) and as a reconnect login.
func TestHooksSeeRecovery(t *testing.T) {
	var cut atomic.Bool
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if (c.CDB[0] == byte(scsi.OpRead10) || c.CDB[0] == byte(scsi.OpRead16)) && cut.CompareAndSwap(false, true) {
			c.Peer.Close()
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	var rec recorder
	var log stateLog
	_, s := dial(t, cfg, &session.Config{Hooks: []session.Hook{&rec}, OnStateChange: log.record})
	ctx := ctxT(t)
	f := s.Read(ctx, 100, 1, iovector.New(make([]byte, 512)))
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	// The supervisor reports the reinstatement once it has sent the
	// commands again: the read may end first.
	for deadline := ctxT(t); log.count(session.StateReinstated) == 0; {
		select {
		case <-deadline.Done():
			t.Fatal("no reinstatement reported")
		case <-time.After(time.Millisecond):
		}
	}
	rec.mu.Lock()
	states := append([]session.StateChange(nil), rec.states...)
	logins := append([]session.LoginEvent(nil), rec.logins...)
	rec.mu.Unlock()
	var got []session.ConnState
	for _, ev := range states {
		got = append(got, ev.State)
	}
	want := []session.ConnState{session.StateLost, session.StateReconnecting, session.StateReinstated}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("states %v, want %v", got, want)
	}
	if log.count(session.StateReinstated) != 1 {
		t.Fatal("Config.OnStateChange was not called alongside the hook")
	}
	if len(logins) != 2 || !logins[1].Reconnect || logins[1].Attempt != 1 || logins[1].Err != nil {
		t.Fatalf("logins %+v", logins)
	}
	if st := s.Stats(); st.Reconnects != 1 || st.Replayed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestHooksMustImplementOne: a hook that implements no hook interface (a
// misspelt method) is refused at Dial, before connecting.
func TestHooksMustImplementOne(t *testing.T) {
	type notAHook struct{ OnCommand func() }
	_, err := session.Dial(ctxT(t), "iscsi://127.0.0.1:1/iqn.x/1", &session.Config{Hooks: []session.Hook{notAHook{}}})
	if err == nil || !strings.Contains(err.Error(), "Hooks[0]") {
		t.Fatalf("Dial = %v", err)
	}
}

type noopHook struct{ n atomic.Uint64 }

func (h *noopHook) OnCommandDone(ev session.CommandEvent) { h.n.Add(uint64(ev.Transferred)) }
func (h *noopHook) OnPDU(bool, *pdu.BHS)                  {}

// TestSteadyStateWithHooksAllocatesNothing: a CommandHook and a PDUHook
// cost no allocation per command.
func TestSteadyStateWithHooksAllocatesNothing(t *testing.T) {
	var h noopHook
	assertSteadyStateAllocs(t, &session.Config{Hooks: []session.Hook{&h}})
	if h.n.Load() == 0 {
		t.Fatal("the hook was not called")
	}
}
