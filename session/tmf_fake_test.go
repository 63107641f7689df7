package session_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func twoLUNs() []faketarget.LUN {
	return []faketarget.LUN{{Number: 1, Blocks: 4096}, {Number: 2, Blocks: 4096}}
}

// gotCommand waits for a command the hook withheld.
func gotCommand(t *testing.T, w *withheld) *faketarget.Command {
	t.Helper()
	select {
	case c := <-w.got:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the command never reached the target")
		return nil
	}
}

// pending fails the test if f has completed.
func pending(t *testing.T, what string, f session.Future) {
	t.Helper()
	select {
	case <-f.Done():
		_, err := f.Wait()
		t.Fatalf("%s ended: %v", what, err)
	default:
	}
}

// TestAbortFuture: Session.Abort sends ABORT TASK for the command of a
// Future in flight; the Future's Wait then says it was aborted; Abort of a
// Future that completed, or was waited for, does nothing.
func TestAbortFuture(t *testing.T) {
	w := newWithheld()
	var got atomic.Pointer[pdu.TaskMgmtRequest]
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{
		Command: w.hook(44),
		TaskMgmt: func(_ *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
			r := *req
			got.Store(&r)
			return faketarget.Proceed
		},
	}}, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	buf := fill(512, 0xAA)
	f := s.Read(ctx, 44, 1, iovector.New(buf))
	cmd := gotCommand(t, w)
	if err := s.Abort(ctx, f); err != nil {
		t.Fatal(err)
	}
	r := got.Load()
	if r == nil || r.Function != pdu.TMFAbortTask || r.ReferencedTaskTag != cmd.ITT() || r.RefCmdSN != cmd.Req.CmdSN || r.LUN != cmd.Req.LUN {
		t.Fatalf("ABORT TASK %+v for ITT %#x CmdSN %d", r, cmd.ITT(), cmd.Req.CmdSN)
	}
	_, err := f.Wait()
	if !errors.Is(err, session.ErrAborted) || errors.Is(err, session.ErrLUNReset) {
		t.Fatalf("Wait of an aborted read: %v", err)
	}
	var oe *session.OpError
	if !errors.As(err, &oe) || oe.LBA != 44 {
		t.Fatalf("the error does not say which command: %v", err)
	}
	if err := s.Abort(ctx, f); err != nil {
		t.Fatalf("Abort of a Future waited for: %v", err)
	}
	// A command that completed before Abort keeps its result.
	f = s.Read(ctx, 3, 1, iovector.New(buf))
	<-f.Done()
	got.Store(nil)
	if err := s.Abort(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(); err != nil {
		t.Fatalf("a read completed before Abort: %v", err)
	}
	if got.Load() != nil {
		t.Fatal("ABORT TASK sent for a command already complete")
	}
	if err := s.Abort(ctx, session.Future{}); err != nil {
		t.Fatalf("Abort of the zero Future: %v", err)
	}
	if _, err := s.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
}

// TestAbortQueued: a command still queued at a closed command window is
// taken out of the queue by Abort, without a CmdSN (the target checks
// there is no gap), and its Wait says it was aborted.
func TestAbortQueued(t *testing.T) { synctest.Test(t, testAbortQueued) }

func testAbortQueued(t *testing.T) {
	var peer atomic.Pointer[faketarget.Peer]
	var arm atomic.Bool
	var tmfs atomic.Int32
	cfg := faketarget.Config{QueueDepth: 1, Hooks: faketarget.Hooks{
		Command: func(c *faketarget.Command) faketarget.Verdict {
			peer.Store(c.Peer)
			if c.CDB[0] == byte(scsi.OpTestUnitReady) && arm.CompareAndSwap(true, false) {
				c.Peer.SetMaxCmdSN(c.Req.CmdSN)
			}
			return faketarget.Proceed
		},
		TaskMgmt: func(*faketarget.Peer, *pdu.TaskMgmtRequest) faketarget.Verdict {
			tmfs.Add(1)
			return faketarget.Proceed
		},
	}}
	_, s := dialPipe(t, cfg, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	arm.Store(true)
	if err := s.DefaultUnit().TestUnitReady(ctx); err != nil {
		t.Fatal(err)
	}
	f := s.Read(ctx, 1, 1, iovector.New(make([]byte, 512)))
	synctest.Wait()
	pending(t, "a read at a closed window", f)
	if err := s.Abort(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(); !errors.Is(err, session.ErrAborted) {
		t.Fatalf("Wait of a queued read aborted: %v", err)
	}
	if tmfs.Load() != 0 {
		t.Fatal("ABORT TASK sent for a command never sent")
	}
	p := peer.Load()
	p.AutoMaxCmdSN()
	if err := p.Reply(&pdu.NOPIn{ITT: pdu.ReservedITT, TTT: pdu.ReservedITT}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatalf("read after the window opened: %v", err)
	}
}

// TestTaskSetFunctions: ABORT TASK SET and CLEAR TASK SET end the
// commands of their LUN sent before them, not those of another LUN; a LUN
// reset ends the other's.
func TestTaskSetFunctions(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   uint8
		run  func(*session.LogicalUnit) error
	}{
		{"ABORT TASK SET", pdu.TMFAbortTaskSet, func(u *session.LogicalUnit) error { return u.AbortTaskSet(ctxT(t)) }},
		{"CLEAR TASK SET", pdu.TMFClearTaskSet, func(u *session.LogicalUnit) error { return u.ClearTaskSet(ctxT(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWithheld()
			var fn atomic.Int32
			_, s := dial(t, faketarget.Config{LUNs: twoLUNs(), Hooks: faketarget.Hooks{
				Command: w.hook(44),
				TaskMgmt: func(_ *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
					fn.Store(int32(req.Function))
					return faketarget.Proceed
				},
			}}, nil)
			ctx := ctxT(t)
			u1 := s.DefaultUnit()
			u2, _ := s.LogicalUnit(2)
			var fs1 []session.Future
			for range 3 {
				fs1 = append(fs1, u1.Read(ctx, 44, 1, iovector.New(make([]byte, 512))))
				gotCommand(t, w)
			}
			f2 := u2.Read(ctx, 44, 1, iovector.New(make([]byte, 512)))
			gotCommand(t, w)
			if err := tc.run(u1); err != nil {
				t.Fatal(err)
			}
			if fn.Load() != int32(tc.fn) {
				t.Fatalf("the target got function %d", fn.Load())
			}
			for _, f := range fs1 {
				_, err := f.Wait()
				if !errors.Is(err, session.ErrAborted) || !strings.Contains(err.Error(), tc.name) {
					t.Fatalf("read of LUN 1 after %s: %v", tc.name, err)
				}
			}
			pending(t, "the read of LUN 2", f2)
			if err := u2.Reset(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := f2.Wait(); !errors.Is(err, session.ErrLUNReset) {
				t.Fatalf("read of LUN 2 after its reset: %v", err)
			}
			if _, err := u1.ReadAtContext(ctx, make([]byte, 512), 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTargetResets: TARGET WARM RESET and TARGET COLD RESET end the
// commands of every LUN and drop the cached geometry.
func TestTargetResets(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*session.Session) error
	}{
		{"TARGET WARM RESET", func(s *session.Session) error { return s.TargetWarmReset(ctxT(t)) }},
		{"TARGET COLD RESET", func(s *session.Session) error { return s.TargetColdReset(ctxT(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWithheld()
			var capacity atomic.Int32
			hook := w.hook(44)
			_, s := dial(t, faketarget.Config{LUNs: twoLUNs(), Hooks: faketarget.Hooks{
				Command: func(c *faketarget.Command) faketarget.Verdict {
					if c.CDB[0] == byte(scsi.OpServiceActionIn16) {
						capacity.Add(1)
					}
					return hook(c)
				},
			}}, nil)
			ctx := ctxT(t)
			u1 := s.DefaultUnit()
			u2, _ := s.LogicalUnit(2)
			if _, err := u2.Geometry(ctx); err != nil {
				t.Fatal(err)
			}
			f1 := u1.Read(ctx, 44, 1, iovector.New(make([]byte, 512)))
			gotCommand(t, w)
			f2 := u2.Read(ctx, 44, 1, iovector.New(make([]byte, 512)))
			gotCommand(t, w)
			before := capacity.Load()
			if err := tc.run(s); err != nil {
				t.Fatal(err)
			}
			for _, f := range []session.Future{f1, f2} {
				_, err := f.Wait()
				if !errors.Is(err, session.ErrTargetReset) || !errors.Is(err, session.ErrAborted) || !strings.Contains(err.Error(), tc.name) {
					t.Fatalf("read after %s: %v", tc.name, err)
				}
			}
			if _, err := u2.Geometry(ctx); err != nil {
				t.Fatal(err)
			}
			if capacity.Load() == before {
				t.Fatal("the geometry was not read again after the reset")
			}
		})
	}
}

// TestClearACA: CLEAR ACA ends no command; a target that does not support
// it is a TaskManagementError that names the function.
func TestClearACA(t *testing.T) {
	w := newWithheld()
	var support atomic.Bool
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{
		Command: w.hook(44),
		TaskMgmt: func(p *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
			if req.Function == pdu.TMFClearACA && support.Load() {
				_ = p.Reply(&pdu.TaskMgmtResponse{ITT: req.ITT, Response: pdu.TMRFunctionComplete}, nil)
				return faketarget.Handled
			}
			return faketarget.Proceed
		},
	}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	err := u.ClearACA(ctx)
	var tme *session.TaskManagementError
	if !errors.As(err, &tme) || tme.Function != pdu.TMFClearACA || tme.Response != pdu.TMRFunctionNotSupported || !strings.Contains(err.Error(), "CLEAR ACA") {
		t.Fatalf("CLEAR ACA refused: %v", err)
	}
	support.Store(true)
	f := u.Read(ctx, 44, 1, iovector.New(make([]byte, 512)))
	gotCommand(t, w)
	if err := u.ClearACA(ctx); err != nil {
		t.Fatal(err)
	}
	pending(t, "a read across CLEAR ACA", f)
	if err := u.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(); !errors.Is(err, session.ErrLUNReset) {
		t.Fatal(err)
	}
}

// TestAbortWriteAwaitingR2T: a WRITE whose data waits for R2Ts the target
// never sends is aborted; Wait says so, and the session writes on.
func TestAbortWriteAwaitingR2T(t *testing.T) {
	held := make(chan *faketarget.Command, 1)
	var once atomic.Bool
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if (c.CDB[0] == byte(scsi.OpWrite10) || c.CDB[0] == byte(scsi.OpWrite16)) && once.CompareAndSwap(false, true) {
			held <- c
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	if _, err := u.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	data := pattern(512*512, 1) // 256 KiB: beyond the first burst
	f := u.Write(ctx, 0, 512, iovector.New(data))
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the WRITE never reached the target")
	}
	if err := s.Abort(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(); !errors.Is(err, session.ErrAborted) {
		t.Fatalf("Wait of an aborted WRITE: %v", err)
	}
	if _, err := u.WriteAtContext(ctx, data[:4096], 0); err != nil {
		t.Fatalf("write after the abort: %v", err)
	}
}
