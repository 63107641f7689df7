package session_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
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

// The fence (issue 23): a command that may change the medium, given up by
// its caller, returns only once the target has ended it, so that nothing
// of it executes after the call returned; a read returns at once.

// holdAt withholds the commands with one of ops whose LBA's low byte is lba
// (READ or WRITE 10 and 16), and hands them to got.
func holdAt(got chan<- *faketarget.Command, lba byte, ops ...scsi.OpCode) func(c *faketarget.Command) faketarget.Verdict {
	return func(c *faketarget.Command) faketarget.Verdict {
		for _, op := range ops {
			if c.CDB[0] != byte(op) {
				continue
			}
			low := c.CDB[9] // READ(16), WRITE(16)
			if op == scsi.OpRead10 || op == scsi.OpWrite10 {
				low = c.CDB[5]
			}
			if low == lba {
				cc := *c
				cc.CDB = append([]byte(nil), c.CDB...)
				got <- &cc
				return faketarget.Handled
			}
		}
		return faketarget.Proceed
	}
}

var writes = []scsi.OpCode{scsi.OpWrite10, scsi.OpWrite16}
var reads = []scsi.OpCode{scsi.OpRead10, scsi.OpRead16}

// abortHeld holds the ABORT TASK requests: the test answers them.
type abortHeld struct {
	got chan heldTMF
}

type heldTMF struct {
	p   *faketarget.Peer
	req pdu.TaskMgmtRequest
}

func newAbortHeld() *abortHeld { return &abortHeld{got: make(chan heldTMF, 8)} }

func (a *abortHeld) hook(p *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
	if req.Function != pdu.TMFAbortTask {
		return faketarget.Proceed
	}
	a.got <- heldTMF{p, *req}
	return faketarget.Handled
}

func (h heldTMF) answer(t *testing.T, response uint8) {
	t.Helper()
	if err := h.p.Reply(&pdu.TaskMgmtResponse{ITT: h.req.ITT, Response: response}, nil); err != nil {
		t.Fatal(err)
	}
}

// abortRig dials a scripted target over a pipe that withholds the
// commands ops at LBA 7 (on held) and the ABORT TASK requests (on aborts),
// and reads the geometry first.
func abortRig(t *testing.T, ops ...scsi.OpCode) (chan *faketarget.Command, *abortHeld, *session.Session) {
	t.Helper()
	held := make(chan *faketarget.Command, 4)
	aborts := newAbortHeld()
	_, s := dialPipe(t, faketarget.Config{Hooks: faketarget.Hooks{Command: holdAt(held, 7, ops...), TaskMgmt: aborts.hook}}, nil)
	if _, err := s.Geometry(context.Background()); err != nil {
		t.Fatal(err)
	}
	return held, aborts, s
}

type waited struct {
	res session.Result
	err error
}

func waitIn(f session.Future) <-chan waited {
	ch := make(chan waited, 1)
	go func() {
		res, err := f.Wait()
		ch <- waited{res, err}
	}()
	return ch
}

func notYet(t *testing.T, what string, ch <-chan waited) {
	t.Helper()
	select {
	case w := <-ch:
		t.Fatalf("%s returned before the target ended the command: %v", what, w.err)
	default:
	}
}

// TestCancelledWriteWaitsForAbort: a cancelled WRITE's Wait returns only
// once the target answered the ABORT TASK, with an error matching the
// context's, ErrMayHaveExecuted and ErrAborted.
func TestCancelledWriteWaitsForAbort(t *testing.T) { synctest.Test(t, testCancelledWriteWaitsForAbort) }

func testCancelledWriteWaitsForAbort(t *testing.T) {
	held, aborts, s := abortRig(t, writes...)
	ctx, cancel := context.WithCancel(context.Background())
	f := s.Write(ctx, 7, 1, iovector.New(fill(512, 1)))
	cmd := <-held
	ch := waitIn(f)
	cancel()
	abort := <-aborts.got
	if abort.req.ReferencedTaskTag != cmd.ITT() {
		t.Fatalf("ABORT TASK for ITT %#x, the write is %#x", abort.req.ReferencedTaskTag, cmd.ITT())
	}
	synctest.Wait()
	notYet(t, "a cancelled write", ch)
	cmd.Done() // the target ends the task: the abort's answer follows
	abort.answer(t, pdu.TMRFunctionComplete)
	w := <-ch
	if !errors.Is(w.err, context.Canceled) || !errors.Is(w.err, session.ErrMayHaveExecuted) || !errors.Is(w.err, session.ErrAborted) {
		t.Fatalf("Wait of a cancelled write: %v", w.err)
	}
	var oe *session.OpError
	var ie *session.InFlightError
	if !errors.As(w.err, &oe) || oe.LBA != 7 || !errors.As(w.err, &ie) {
		t.Fatalf("the error is not an *OpError of LBA 7 around an *InFlightError: %#v", w.err)
	}
	if w.res.Status != scsi.StatusNone {
		t.Fatalf("status %v", w.res.Status)
	}
}

// TestCancelledWriteStatusFirst: when the write's own status comes before
// the abort's answer, it decides: the write executed, Wait says so.
func TestCancelledWriteStatusFirst(t *testing.T) { synctest.Test(t, testCancelledWriteStatusFirst) }

func testCancelledWriteStatusFirst(t *testing.T) {
	held, aborts, s := abortRig(t, writes...)
	ctx, cancel := context.WithCancel(context.Background())
	f := s.Write(ctx, 7, 1, iovector.New(fill(512, 1)))
	cmd := <-held
	ch := waitIn(f)
	cancel()
	abort := <-aborts.got
	synctest.Wait()
	notYet(t, "a cancelled write", ch)
	if err := cmd.Respond(scsi.StatusGood, nil); err != nil {
		t.Fatal(err)
	}
	abort.answer(t, pdu.TMRTaskDoesNotExist)
	if w := <-ch; w.err != nil || w.res.Status != scsi.StatusGood {
		t.Fatalf("a write whose GOOD came before the abort's answer: %v %v", w.res.Status, w.err)
	}
}

// TestCancelledReadReturnsAtOnce: a read has nothing to land: its Wait
// returns the context's error without waiting for the abort's answer.
func TestCancelledReadReturnsAtOnce(t *testing.T) { synctest.Test(t, testCancelledReadReturnsAtOnce) }

func testCancelledReadReturnsAtOnce(t *testing.T) {
	held, aborts, s := abortRig(t, reads...)
	ctx, cancel := context.WithCancel(context.Background())
	f := s.Read(ctx, 7, 1, iovector.New(make([]byte, 512)))
	cmd := <-held
	ch := waitIn(f)
	cancel()
	abort := <-aborts.got
	w := <-ch // the abort is not answered yet
	if !errors.Is(w.err, context.Canceled) || errors.Is(w.err, session.ErrMayHaveExecuted) {
		t.Fatalf("Wait of a cancelled read: %v", w.err)
	}
	var oe *session.OpError
	if !errors.As(w.err, &oe) {
		t.Fatalf("a cancelled read's error is not an *OpError: %v", w.err)
	}
	cmd.Done()
	abort.answer(t, pdu.TMRFunctionComplete)
}

// TestCancelledWriteFuncWaitsForAbort: a WriteFunc callback whose context
// ends is called once, after the target answered the abort.
func TestCancelledWriteFuncWaitsForAbort(t *testing.T) {
	synctest.Test(t, testCancelledWriteFuncWaitsForAbort)
}

func testCancelledWriteFuncWaitsForAbort(t *testing.T) {
	held, aborts, s := abortRig(t, writes...)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	ch := make(chan waited, 2)
	s.WriteFunc(ctx, 7, 1, iovector.New(fill(512, 1)), func(res session.Result, err error) {
		calls.Add(1)
		ch <- waited{res, err}
	})
	cmd := <-held
	cancel()
	abort := <-aborts.got
	synctest.Wait()
	notYet(t, "a cancelled WriteFunc", ch)
	cmd.Done()
	abort.answer(t, pdu.TMRFunctionComplete)
	w := <-ch
	if !errors.Is(w.err, context.Canceled) || !errors.Is(w.err, session.ErrMayHaveExecuted) {
		t.Fatalf("callback of a cancelled write: %v", w.err)
	}
	synctest.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("callback called %d times", n)
	}
}

// TestCancelledWriteEscalates: an ABORT TASK the target never answers is
// followed by a LOGICAL UNIT RESET; its answer ends the write, and Wait
// returns then (not before), matching ErrLUNReset and ErrMayHaveExecuted.
func TestCancelledWriteEscalates(t *testing.T) { synctest.Test(t, testCancelledWriteEscalates) }

func testCancelledWriteEscalates(t *testing.T) {
	held := make(chan *faketarget.Command, 4)
	aborts := newAbortHeld()
	var resets atomic.Int32
	tmf := func(p *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
		if req.Function == pdu.TMFLogicalUnitReset {
			resets.Add(1)
			return faketarget.Proceed
		}
		return aborts.hook(p, req)
	}
	_, s := dialPipe(t, faketarget.Config{Hooks: faketarget.Hooks{Command: holdAt(held, 7, writes...), TaskMgmt: tmf}},
		&session.Config{AbortTimeout: 2 * time.Second})
	if _, err := s.Geometry(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := s.Write(ctx, 7, 1, iovector.New(fill(512, 1)))
	<-held
	ch := waitIn(f)
	cancel()
	<-aborts.got // never answered
	synctest.Wait()
	notYet(t, "a cancelled write whose abort is unanswered", ch)
	w := <-ch // the reset, after AbortTimeout
	if resets.Load() != 1 {
		t.Fatalf("%d LUN resets", resets.Load())
	}
	if !errors.Is(w.err, context.Canceled) || !errors.Is(w.err, session.ErrMayHaveExecuted) || !errors.Is(w.err, session.ErrLUNReset) {
		t.Fatalf("Wait of a cancelled write ended by a LUN reset: %v", w.err)
	}
}

// TestCloseWriteInFlight: Close fails a write in flight with an error
// matching ErrSessionClosed and ErrMayHaveExecuted (the target may still
// execute it), and a read in flight with ErrSessionClosed alone.
func TestCloseWriteInFlight(t *testing.T) { synctest.Test(t, testCloseWriteInFlight) }

func testCloseWriteInFlight(t *testing.T) {
	held := make(chan *faketarget.Command, 4)
	_, s := dialPipe(t, faketarget.Config{Hooks: faketarget.Hooks{Command: holdAt(held, 7, append(writes, reads...)...)}}, nil)
	if _, err := s.Geometry(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fw := s.Write(ctx, 7, 1, iovector.New(fill(512, 1)))
	<-held
	fr := s.Read(ctx, 7, 1, iovector.New(make([]byte, 512)))
	<-held
	s.Close()
	if _, err := fw.Wait(); !errors.Is(err, session.ErrSessionClosed) || !errors.Is(err, session.ErrMayHaveExecuted) {
		t.Fatalf("a write in flight at Close: %v", err)
	}
	if _, err := fr.Wait(); !errors.Is(err, session.ErrSessionClosed) || errors.Is(err, session.ErrMayHaveExecuted) {
		t.Fatalf("a read in flight at Close: %v", err)
	}
	// Never sent: it did not execute.
	if _, err := s.Write(ctx, 8, 1, iovector.New(fill(512, 1))).Wait(); !errors.Is(err, session.ErrSessionClosed) || errors.Is(err, session.ErrMayHaveExecuted) {
		t.Fatalf("a write after Close: %v", err)
	}
}

// TestLogoutWaitsForCommands: Logout sends its request only once the
// commands in flight have ended, so that nothing lands after it returns.
func TestLogoutWaitsForCommands(t *testing.T) { synctest.Test(t, testLogoutWaitsForCommands) }

func testLogoutWaitsForCommands(t *testing.T) {
	held := make(chan *faketarget.Command, 4)
	var logouts atomic.Int32
	_, s := dialPipe(t, faketarget.Config{Hooks: faketarget.Hooks{
		Command: holdAt(held, 7, writes...),
		Logout: func(*faketarget.Peer, *pdu.LogoutRequest) faketarget.Verdict {
			logouts.Add(1)
			return faketarget.Proceed
		},
	}}, nil)
	if _, err := s.Geometry(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := s.Write(context.Background(), 7, 1, iovector.New(fill(512, 1)))
	cmd := <-held
	done := make(chan error, 1)
	go func() { done <- s.Logout(context.Background()) }()
	synctest.Wait()
	if logouts.Load() != 0 {
		t.Fatal("logout sent with a write in flight")
	}
	if err := cmd.Respond(scsi.StatusGood, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(); err != nil {
		t.Fatalf("the write Logout waited for: %v", err)
	}
	if logouts.Load() != 1 {
		t.Fatalf("%d logouts", logouts.Load())
	}
}

// TestLogoutBoundedByContext: a command that never ends holds Logout only
// until its context ends; the command then fails as at Close.
func TestLogoutBoundedByContext(t *testing.T) { synctest.Test(t, testLogoutBoundedByContext) }

func testLogoutBoundedByContext(t *testing.T) {
	held := make(chan *faketarget.Command, 4)
	_, s := dialPipe(t, faketarget.Config{Hooks: faketarget.Hooks{Command: holdAt(held, 7, writes...)}}, nil)
	if _, err := s.Geometry(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := s.Write(context.Background(), 7, 1, iovector.New(fill(512, 1)))
	<-held
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.Logout(ctx)
	if _, err := f.Wait(); !errors.Is(err, session.ErrSessionClosed) || !errors.Is(err, session.ErrMayHaveExecuted) {
		t.Fatalf("a write still in flight when Logout's context ended: %v", err)
	}
}

// TestPartialWriteLockHonoursContext: a partial-block write waits for the
// lock of its block only, and only as long as its context lets it (it
// waited 7.7 s on an unrelated block of the same stripe before).
func TestPartialWriteLockHonoursContext(t *testing.T) {
	synctest.Test(t, testPartialWriteLockHonoursContext)
}

func testPartialWriteLockHonoursContext(t *testing.T) {
	held := make(chan *faketarget.Command, 4)
	_, s := dialPipe(t, faketarget.Config{Hooks: faketarget.Hooks{Command: holdAt(held, 0, reads...)}}, nil)
	ctx := context.Background()
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { // holds block 0's lock: its read of block 0 is never answered
		_, err := s.WriteAtContext(ctx, fill(100, 1), 0)
		first <- err
	}()
	<-held
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.WriteAtContext(short, fill(100, 2), 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a partial write of a locked block: %v", err)
	}
	// Block 64, once in the same stripe as block 0, is not locked.
	if _, err := s.WriteAtContext(ctx, fill(100, 3), 64*512+10); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := <-first; !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("the held partial write: %v", err)
	}
}

// TestBlockAPIRetriesUnitAttention: Read and ReadFunc send a command again
// once when its answer is a unit attention, as ReadAt does; Execute passes
// the unit attention through.
func TestBlockAPIRetriesUnitAttention(t *testing.T) {
	var arm atomic.Int32
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if (c.CDB[0] == byte(scsi.OpRead10) || c.CDB[0] == byte(scsi.OpRead16)) && arm.Add(-1) >= 0 {
			c.Fail(scsi.StatusCheckCondition, fixedSense(scsi.SenseUnitAttention, 0x2900))
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	arm.Store(1)
	if _, err := s.Read(ctx, 3, 1, iovector.New(make([]byte, 512))).Wait(); err != nil {
		t.Fatalf("Read after a unit attention: %v", err)
	}
	arm.Store(1)
	ch := make(chan error, 1)
	s.ReadFunc(ctx, 3, 1, iovector.New(make([]byte, 512)), func(_ session.Result, err error) { ch <- err })
	if err := <-ch; err != nil {
		t.Fatalf("ReadFunc after a unit attention: %v", err)
	}
	arm.Store(2) // twice in a row: the second is the caller's
	if _, err := s.Read(ctx, 3, 1, iovector.New(make([]byte, 512))).Wait(); !scsi.IsUnitAttention(err) {
		t.Fatalf("Read after two unit attentions: %v", err)
	}
	arm.Store(1)
	if _, err := s.Execute(ctx, s.LUN(), scsi.Read(3, 1, 0), session.DirRead, iovector.New(make([]byte, 512))).Wait(); !scsi.IsUnitAttention(err) {
		t.Fatalf("Execute of a READ answered with a unit attention: %v", err)
	}
}

// TestCommandTimeoutError: a command that ReadAt or WriteAt sent and that
// Config.CommandTimeout ended is an *OpError matching ErrCommandTimeout
// and context.DeadlineExceeded (and, for a write, ErrMayHaveExecuted).
func TestCommandTimeoutError(t *testing.T) { synctest.Test(t, testCommandTimeoutError) }

func testCommandTimeoutError(t *testing.T) {
	held := make(chan *faketarget.Command, 8)
	_, s := dialPipe(t, faketarget.Config{Hooks: faketarget.Hooks{Command: holdAt(held, 5, append(writes, reads...)...)}},
		&session.Config{CommandTimeout: time.Second})
	ctx := context.Background()
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := s.WriteAt(fill(512, 1), 5*512)
	var oe *session.OpError
	if !errors.Is(err, session.ErrCommandTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, session.ErrMayHaveExecuted) || !errors.As(err, &oe) {
		t.Fatalf("WriteAt past CommandTimeout: %v", err)
	}
	_, err = s.ReadAt(make([]byte, 512), 5*512)
	if !errors.Is(err, session.ErrCommandTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &oe) {
		t.Fatalf("ReadAt past CommandTimeout: %v", err)
	}
}

// TestFailedFutureWaitedTwice: a Future that failed before it was issued
// gives its error once, then ErrFutureReused, as any Future does.
func TestFailedFutureWaitedTwice(t *testing.T) {
	_, s := dial(t, faketarget.Config{}, nil)
	f := s.Execute(ctxT(t), s.LUN(), scsi.CDB{}, session.DirNone, nil)
	if _, err := f.Wait(); err == nil || errors.Is(err, session.ErrFutureReused) {
		t.Fatalf("first Wait of a refused command: %v", err)
	}
	if _, err := f.Wait(); !errors.Is(err, session.ErrFutureReused) {
		t.Fatalf("second Wait: %v", err)
	}
}

// TestAbandonedWritesNotReplayed: writes with short deadlines race
// connection cuts and the reconnects that follow. A write whose call
// returned an error that does not match ErrMayHaveExecuted never executed;
// and no write executes on the target after its call returned, replay or
// not.
func TestAbandonedWritesNotReplayed(t *testing.T) {
	var seq atomic.Int64 // orders events of the target and of the callers
	var mu sync.Mutex
	executed := map[uint64][]int64{} // write id → when the target executed it
	var cmds, cuts atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] != byte(scsi.OpWrite10) && c.CDB[0] != byte(scsi.OpWrite16) {
			return faketarget.Proceed
		}
		if n := cmds.Add(1); n%97 == 0 && cuts.Load() < 4 {
			cuts.Add(1)
			c.Peer.Close() // lost with the connection, not executed
			return faketarget.Handled
		}
		if len(c.ImmediateData) >= 8 {
			id := binary.BigEndian.Uint64(c.ImmediateData)
			mu.Lock()
			executed[id] = append(executed[id], seq.Add(1))
			mu.Unlock()
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		err error
		at  int64
	}
	const workers, rounds = 16, 60
	results := make([][]outcome, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 23))
			for r := 0; r < rounds && ctx.Err() == nil; r++ {
				buf := make([]byte, 512)
				binary.BigEndian.PutUint64(buf, uint64(w*rounds+r))
				d := time.Duration(rng.IntN(3000)) * time.Microsecond
				if rng.IntN(4) == 0 {
					d = 20 * time.Second // lives through a reconnect: sent again
				}
				wctx, cancel := context.WithTimeout(ctx, d)
				_, err := s.Write(wctx, uint64(100+w), 1, iovector.New(buf)).Wait()
				cancel()
				results[w] = append(results[w], outcome{err, seq.Add(1)})
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("the test ran out of time")
	}
	// Let anything still on its way land before looking.
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var failed, mayHave int
	for w, rs := range results {
		for r, o := range rs {
			id := uint64(w*rounds + r)
			ex := executed[id]
			if o.err == nil {
				if len(ex) == 0 {
					t.Errorf("write %d acknowledged, never executed", id)
				}
			} else {
				failed++
				if errors.Is(o.err, session.ErrMayHaveExecuted) {
					mayHave++
				} else if len(ex) > 0 {
					t.Errorf("write %d failed with %v, which does not match ErrMayHaveExecuted, yet it executed", id, o.err)
				}
			}
			for _, at := range ex {
				if at > o.at {
					t.Errorf("write %d executed after its call returned (%v)", id, o.err)
				}
			}
		}
	}
	if cuts.Load() == 0 || failed == 0 {
		t.Fatalf("nothing was tested: %d cuts, %d failed writes", cuts.Load(), failed)
	}
	if s.Stats().Replayed == 0 {
		t.Error("no write was sent again after a reconnect")
	}
	t.Logf("%d writes, %d failed (%d may have executed), %d cuts, stats %+v", workers*rounds, failed, mayHave, cuts.Load(), s.Stats())
}

// TestWriteAtFailureWithLaterInFlight: a WriteAt of several commands whose
// first fails with a CHECK CONDITION while the others are in flight says
// that bytes past the failure may have been written (the others executed).
func TestWriteAtFailureWithLaterInFlight(t *testing.T) {
	_, s := dial(t, faketarget.Config{MaxTransferLength: 8, LUNs: disk(4096), Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if (c.CDB[0] == byte(scsi.OpWrite10) || c.CDB[0] == byte(scsi.OpWrite16)) && c.CDB[5] == 0 && c.CDB[9] == 0 {
			c.Fail(scsi.StatusCheckCondition, fixedSense(scsi.SenseMediumError, 0x0c00))
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	g, err := s.Geometry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.MaxTransfer != 8*512 {
		t.Fatalf("MaxTransfer %d", g.MaxTransfer)
	}
	n, err := s.WriteAtContext(ctx, fill(64*512, 9), 0)
	var oe *session.OpError
	if n != 0 || !errors.Is(err, session.ErrMayHaveExecuted) || !errors.As(err, &oe) || oe.Offset != 0 {
		t.Fatalf("WriteAt failing at its first command: %d, %v", n, err)
	}
	var se *scsi.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("the failed command's status is lost: %v", err)
	}
}

// TestRecoveryChecksHeldRetried: after a cut, the target accepts the new
// login but never answers the identity check on it (tgtd did so after a
// stall, until the checks' 15 s timeout). The session gives that
// connection up after the checks' own short bound and logs in afresh; the
// read in flight completes. (With LoginTimeout 60 s as the bound of the
// checks, as before, the test's context would end first.)
func TestRecoveryChecksHeldRetried(t *testing.T) {
	var cut, hold atomic.Bool
	var held atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if (c.CDB[0] == byte(scsi.OpRead10) || c.CDB[0] == byte(scsi.OpRead16)) && cut.CompareAndSwap(true, false) {
			hold.Store(true)
			c.Peer.Close()
			return faketarget.Handled
		}
		if c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 == 1 && hold.CompareAndSwap(true, false) {
			held.Add(1)
			return faketarget.Handled // never answered
		}
		return faketarget.Proceed
	}}}
	var log stateLog
	_, s := dial(t, cfg, &session.Config{LoginTimeout: 60 * time.Second, OnStateChange: log.record})
	ctx := ctxT(t)
	if _, err := s.ReadAtContext(ctx, make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	cut.Store(true)
	if _, err := s.ReadAtContext(ctx, make([]byte, 512), 512); err != nil {
		t.Fatalf("a read across the cut and the held check: %v", err)
	}
	if held.Load() != 1 || s.Stats().Reconnects != 2 {
		t.Fatalf("%d checks held, stats %+v", held.Load(), s.Stats())
	}
	if n := log.count(session.StateReinstated); n != 1 {
		t.Fatalf("%d reinstatements: %+v", n, log.evs)
	}
}

// TestLogoutNotConnected: Logout of a session whose connection was lost
// and is being replaced (the target refuses the new logins) does not wait
// for anything: it closes the session and says why.
func TestLogoutNotConnected(t *testing.T) {
	var down atomic.Bool
	cfg := faketarget.Config{Hooks: faketarget.Hooks{
		Login: func(*faketarget.LoginExchange) faketarget.Verdict {
			if down.Load() {
				return faketarget.Close
			}
			return faketarget.Proceed
		},
		Command: func(c *faketarget.Command) faketarget.Verdict {
			if c.CDB[0] == byte(scsi.OpSynchronizeCache10) && down.CompareAndSwap(false, true) {
				c.Peer.Close()
				return faketarget.Handled
			}
			return faketarget.Proceed
		},
	}}
	lost := make(chan struct{}, 8)
	_, s := dial(t, cfg, &session.Config{OnStateChange: func(ev session.StateChange) {
		if ev.State == session.StateLost {
			lost <- struct{}{}
		}
	}})
	ctx := ctxT(t)
	f := s.Execute(ctx, s.LUN(), scsi.SynchronizeCache10(0, 0, false), session.DirNone, nil)
	<-lost
	if err := s.Logout(context.Background()); !errors.Is(err, session.ErrNotConnected) {
		t.Fatalf("Logout while reconnecting: %v", err)
	}
	if err := s.Err(); !errors.Is(err, session.ErrSessionClosed) || !errors.Is(err, session.ErrNotConnected) {
		t.Fatalf("the session after Logout: %v", err)
	}
	if _, err := f.Wait(); !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("the command lost with the connection: %v", err)
	}
}

// TestWriteFuncDeadlineRacesCompletion: WriteFunc callbacks whose
// deadlines race their writes' completion are each called exactly once,
// and the session goes on (the context's watch and the completion both
// used to wait for the write's buffers at once, and one of them forever).
func TestWriteFuncDeadlineRacesCompletion(t *testing.T) {
	_, s := dial(t, faketarget.Config{}, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	var calls [n]atomic.Int32
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		wg.Add(1)
		wctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(300))*time.Microsecond)
		s.WriteFunc(wctx, uint64(i%256), 1, iovector.New(make([]byte, 512)), func(_ session.Result, err error) {
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("write %d: %v", i, err)
			}
			if calls[i].Add(1) == 1 {
				wg.Done()
			}
			cancel()
		})
		if i%64 == 63 {
			wg.Wait() // keep the queue short
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("callbacks never called: the session is stuck")
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("the session after the races: %v", err)
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("callback %d called %d times", i, c)
		}
	}
}

// TestUnitAttentionResendMovesTheRightBytes: a READ and a WRITE of 64
// blocks (several Data-In and Data-Out PDUs) answered first with a unit
// attention are sent again and move exactly the caller's bytes.
func TestUnitAttentionResendMovesTheRightBytes(t *testing.T) {
	var arm atomic.Int32
	tg, s := dial(t, faketarget.Config{MaxRecvDataSegmentLength: 8192, Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch scsi.OpCode(c.CDB[0]) {
		case scsi.OpRead10, scsi.OpRead16, scsi.OpWrite10, scsi.OpWrite16:
			if arm.Add(-1) >= 0 {
				c.Fail(scsi.StatusCheckCondition, fixedSense(scsi.SenseUnitAttention, 0x2900))
			}
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	want := pattern(64*512, 7)
	arm.Store(1)
	if _, err := s.Write(ctx, 100, 64, iovector.New(want)).Wait(); err != nil {
		t.Fatalf("Write after a unit attention: %v", err)
	}
	if got := tg.LUNData(1)[100*512 : 164*512]; !bytes.Equal(got, want) {
		t.Fatal("the target holds other bytes than the resent WRITE's")
	}
	got := make([]byte, 64*512)
	arm.Store(1)
	if _, err := s.Read(ctx, 100, 64, iovector.New(got)).Wait(); err != nil {
		t.Fatalf("Read after a unit attention: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the resent READ filled other bytes")
	}
}
