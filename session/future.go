package session

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// Result is the outcome of a command.
type Result struct {
	// Status is the SCSI status of a SCSI command. It is scsi.StatusNone
	// when the command ended without one (cancelled, session closed,
	// protocol error): a failed Wait never reports GOOD.
	Status scsi.Status
	// Response is the iSCSI response code (SCSI Response, task management, logout).
	Response uint8
	// Expected is the Expected Data Transfer Length of the command, in bytes.
	Expected int
	// Residual is the byte count of an underflow (less data than expected
	// was transferred) or an overflow (the target had more).
	Residual  int
	Underflow bool
	Overflow  bool
}

// Transferred returns the bytes the command moved: Expected less the
// residual of an underflow.
func (r Result) Transferred() int {
	if r.Underflow {
		return r.Expected - min(r.Residual, r.Expected)
	}
	return r.Expected
}

// Future is a command in flight, returned by Execute, Read, Write and the
// like. Wait for it once; Future is a small value that may be copied, but
// only the first Wait on any copy gets the result: a second Wait, or a Wait
// on another copy, returns ErrFutureReused at once. It never blocks and
// never sees another command's result, even though the state behind a
// Future is recycled (that is what makes a command allocate nothing).
//
// The zero Future is not valid: its Wait returns ErrFutureReused.
type Future struct {
	s    *Session
	t    *task
	gen  uint64
	ctx  context.Context
	fail *failure // the command failed before it was issued
}

// failure is the error of a Future that failed before it was issued, and
// whether a Wait has had it.
type failure struct {
	err     error
	claimed atomic.Bool
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// failed returns a Future whose first Wait returns err.
func failed(err error) Future { return Future{fail: &failure{err: err}} }

// Done returns a channel closed when the command has completed (at once
// for a Future that was already waited for). A caller that selects on Done
// and on its context must still call Wait when the context ends: Wait is
// what returns ctx.Err(), aborts the command on the target and guarantees
// its buffers are no longer touched.
func (f Future) Done() <-chan struct{} {
	t := f.t
	if t == nil {
		return closedChan
	}
	t.mu.Lock()
	if t.gen.Load()&^1 != f.gen || t.completed {
		t.mu.Unlock()
		return closedChan
	}
	if t.doneCh == nil {
		t.doneCh = make(chan struct{})
	}
	ch := t.doneCh
	t.mu.Unlock()
	f.s.ensureReader() // nobody reads for a Future watched this way
	return ch
}

// Wait waits for the command and returns its result. A SCSI status other
// than GOOD is a *scsi.StatusError; the errors of SCSI commands are
// *OpError values that say which command, LUN and block.
//
// If the context given when the command was issued ends first, the
// command is aborted on the target (ABORT TASK) if it had been sent, and:
//
//   - a command never sent returns the context's error: it did not
//     execute and will not;
//   - a command that only reads (READ, INQUIRY, ...) returns the context's
//     error at once;
//   - any other command (a WRITE, UNMAP, ...) returns once the target has
//     ended it: with its own status if that came first (nil error for
//     GOOD: it executed), otherwise with an *InFlightError matching the
//     context's error and ErrMayHaveExecuted. The wait is bounded by
//     Config.AbortTimeout for the abort, as much again for the LOGICAL UNIT
//     RESET that follows an unanswered one, and then by the replacement of
//     the connection (a reinstated session ends the old tasks).
//
// So when Wait returns an error for a command that writes, either the
// command did not execute and will not, or the error matches
// ErrMayHaveExecuted; and nothing of it executes after Wait has returned,
// unless the session ended first (Close, or recovery giving up: then the
// error matches ErrSessionClosed and ErrMayHaveExecuted; see
// docs/RELIABILITY.md for the fence). Once Wait returns, the session no
// longer touches the command's buffers, whatever happened.
func (f Future) Wait() (Result, error) {
	t := f.t
	if t == nil {
		if f.fail == nil || f.fail.claimed.Swap(true) {
			return Result{Status: scsi.StatusNone}, ErrFutureReused
		}
		return Result{Status: scsi.StatusNone}, f.fail.err
	}
	if !t.gen.CompareAndSwap(f.gen, f.gen|1) {
		return Result{Status: scsi.StatusNone}, ErrFutureReused
	}
	f.s.readFor(t, f.ctx)
	if !tookDone(t) {
		select {
		case <-t.done:
		case <-f.ctx.Done():
			switch f.s.abandon(t, ctxErr(f.ctx)) {
			case abandonedUnsent:
				err := f.s.unsentErr(t, ctxErr(f.ctx))
				if t.kind == kindSCSI {
					f.s.commandDone(t, err)
				}
				f.s.putTask(t)
				return Result{Status: scsi.StatusNone}, err
			case abandonedInFlight:
				if !t.fence {
					// Nothing lands: its buffers are left alone from now on.
					return Result{Status: scsi.StatusNone}, f.s.opErr(t, t.why)
				}
			}
			<-t.done // completed meanwhile, or ended on the target (fenced)
		}
	}
	// A target may answer before it took all the data (or a session may
	// close while a batch is written): let the writer finish with the
	// caller's buffers first.
	f.s.waitIdle(t, 2*f.s.cfg.AbortTimeout)
	res, err := f.s.result(t)
	if !t.noPool {
		f.s.putTask(t)
	}
	return res, err
}

// tookDone takes t's completion token if it is there already. Wait asks
// it before ctx.Done: a context makes its Done channel on first use, an
// allocation that a command readFor read the answer of need not cost.
func tookDone(t *task) bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// unsentErr is the error of a task its caller took back before it was
// sent (again): the cause, unless it had been sent on a connection lost
// since, where it may have executed.
func (s *Session) unsentErr(t *task, cause error) error {
	if t.replays > 0 && t.fence {
		cause = &InFlightError{Why: cause, Ended: errReinstated}
	}
	return s.opErr(t, cause)
}

// opErr wraps err in an *OpError for a SCSI task.
func (s *Session) opErr(t *task, err error) error {
	if t.kind != kindSCSI {
		return err
	}
	return &OpError{Op: scsi.OpCode(t.cdb[0]).String(), Portal: s.portal, Target: s.target,
		LUN: scsi.LUN(t.lun), LBA: t.lba, Offset: -1, Err: err}
}

// waitText is Wait for a text request: it returns the gathered answer.
func (f Future) waitText() ([]byte, error) {
	t := f.t
	if t == nil || !t.gen.CompareAndSwap(f.gen, f.gen|1) {
		_, err := f.Wait()
		return nil, err
	}
	f.s.readFor(t, f.ctx)
	select {
	case <-t.done:
	case <-f.ctx.Done():
		switch f.s.abandon(t, ctxErr(f.ctx)) {
		case abandonedUnsent:
			f.s.putTask(t)
			return nil, ctxErr(f.ctx)
		case abandonedInFlight:
			return nil, ctxErr(f.ctx)
		}
		<-t.done
	}
	text, err := append([]byte(nil), t.text...), t.err
	if !t.noPool {
		f.s.putTask(t)
	}
	return text, err
}

// result builds the caller's view of a completed task. The errors of SCSI
// commands say which command, LUN and block.
func (s *Session) result(t *task) (Result, error) {
	r := Result{Status: scsi.Status(t.status), Response: t.response, Expected: int(t.expLen),
		Residual: int(t.residual), Underflow: t.underflow, Overflow: t.overflow}
	err := t.err
	if err == nil && t.kind == kindSCSI && !r.Status.OK() {
		sense := append([]byte(nil), t.senseBuf[:t.senseLen]...)
		err = scsi.NewStatusError(r.Status, sense)
	} else if err != nil {
		r.Status = scsi.StatusNone
	}
	if err != nil {
		err = s.opErr(t, err)
	}
	return r, err
}

// submit registers t and queues it for the wire.
func (s *Session) submit(ctx context.Context, t *task) Future {
	if ctx.Err() != nil {
		err := s.opErr(t, ctxErr(ctx))
		s.putTask(t)
		return failed(err)
	}
	if t.kind == kindSCSI && len(s.hooks.command) > 0 {
		t.start = time.Now() // before add: the janitor may end it from then on
	}
	if err := s.tasks.add(t); err != nil {
		err = s.opErr(t, err)
		s.putTask(t)
		return failed(err)
	}
	kind := wCommand
	if t.immediate {
		kind = wImmediate
	}
	f := Future{s: s, t: t, gen: t.gen.Load(), ctx: ctx}
	callback := t.fn != nil
	if callback {
		s.watch(ctx, t) // before the push: the task may complete from then on
	}
	// If the session is closing, the janitor fails every registered task,
	// this one included. A command issued from a callback, which runs on
	// the goroutine that reads, is not written there and then: the reader
	// writes it without waiting once its buffered PDUs are handled
	// (readerFlush), or the writer goroutine does.
	s.push(wreq{kind: kind, t: t}, s.inCallback.Load() > 0)
	if callback {
		// Nobody reads for it in Wait. (The task may be complete, and
		// reused, by now: it is not looked at again.)
		s.ensureReader()
	}
	return f
}

// complete ends t with err, exactly once, and wakes its waiter. Only the
// owner of t's phase calls it (see the state table in task.go).
func (s *Session) complete(t *task, err error) {
	for {
		st := t.state.Load()
		if st == stateDone {
			return
		}
		if t.state.CompareAndSwap(st, stateDone) {
			s.finish(t, err, st == stateAbandoned)
			return
		}
	}
}

// finish is the rest of complete, for a task whose move to done the caller
// made: its result is set, its ITT freed and its waiter woken (or its
// callback called, unless it was abandoned and only read: then the
// callback had its answer when its context ended).
//
// An abandoned task that changes the medium ends here, fenced: with its
// own answer if that is what ended it (err nil: its status decides),
// otherwise with an *InFlightError that says why it was abandoned and what
// ended it on the target.
func (s *Session) finish(t *task, err error, abandoned bool) {
	if t.stall != nil {
		t.stall.Stop()
	}
	if abandoned {
		t.noPool = true // an ABORT TASK may still name it
		switch {
		case !t.fence || err == nil:
			// Only read (its caller has left already), or its status came
			// first: that decides.
		case err == t.why: // a protocol error of the target, then its status
			err = &InFlightError{Why: err}
		default:
			err = &InFlightError{Why: t.why, Ended: err}
		}
	}
	t.err = err
	if t.kind == kindSCSI {
		s.commandDone(t, err)
	}
	s.tasks.release(t)
	if t.fn != nil {
		switch {
		case !abandoned:
			s.callback(t)
		case t.fence:
			s.lastParty(t) // the abandoner may still be at work
		}
		return
	}
	t.mu.Lock()
	t.completed = true
	if t.doneCh != nil {
		close(t.doneCh)
	}
	t.mu.Unlock()
	t.done <- struct{}{}
}

type abandonOutcome uint8

const (
	abandonedUnsent   abandonOutcome = iota // never sent: the caller owns the task again
	abandonedInFlight                       // sent: the session completes it later
	abandonedTooLate                        // it had completed: the result is there
)

// abandon is called when a waiter's context ended, why being its error.
// After it returns, no goroutine of the session touches the task's buffers
// again. A SCSI task already sent is aborted on the target; its ITT stays
// reserved until the target answers the abort (or the task's own status
// arrives), which completes it (finish).
func (s *Session) abandon(t *task, why error) abandonOutcome {
	s.wmu.Lock()
	if t.state.CompareAndSwap(stateQueued, stateDone) {
		// Never sent, and no CmdSN used: out of the window's queue, it is
		// the caller's again.
		s.unqueue(t)
		s.wmu.Unlock()
		s.tasks.release(t)
		return abandonedUnsent
	}
	s.wmu.Unlock()
	if t.state.Load() != stateSent {
		return abandonedTooLate
	}
	t.why = why // read by the completer once it sees abandoned
	if !t.state.CompareAndSwap(stateSent, stateAbandoned) {
		return abandonedTooLate
	}
	s.waitIdle(t, s.cfg.AbortTimeout)
	if t.kind == kindSCSI {
		s.abort(t, t.itt.Load(), t.cmdSN, t.lun, false)
	}
	return abandonedInFlight
}

// abort sends ABORT TASK for itt. victim, if not nil, is the abandoned
// task the reader completes when the target answers. An abort not answered
// within AbortTimeout drops the connection. Nobody waits for the abort: it
// is the reader's to complete, and the garbage collector's after that.
func (s *Session) abort(victim *task, itt, cmdSN uint32, lun uint64, fromReader bool) {
	tm := s.getTask()
	tm.kind, tm.immediate = kindTMF, true
	tm.tmf, tm.refITT, tm.refCmdSN, tm.lun = pdu.TMFAbortTask, itt, cmdSN, lun
	tm.victim = victim
	epoch := s.epoch.Load()
	// Set before add: the janitor may complete tm from then on.
	tm.stall = time.AfterFunc(s.cfg.AbortTimeout, func() {
		if tm.state.Load() != stateDone {
			s.escalate(epoch, tm, fmt.Errorf("ABORT TASK for ITT %#x not answered within %v", itt, s.cfg.AbortTimeout))
		}
	})
	if err := s.tasks.add(tm); err != nil {
		tm.stall.Stop()
		return // the session is closing; the janitor completes the victim
	}
	s.push(wreq{kind: wImmediate, t: tm}, fromReader)
	s.ensureReader()
}

// escalate is the next step for an ABORT TASK the target did not answer:
// a LOGICAL UNIT RESET of the task's LUN, itself bounded by AbortTimeout,
// after which the connection is given up (and replaced, with recovery).
// A reset that completes ends the unanswered abort and every command of
// the LUN sent before it.
func (s *Session) escalate(epoch uint32, abort *task, cause error) {
	s.log.Warn("iscsi: escalating to LOGICAL UNIT RESET", "lun", scsi.LUN(abort.lun), "err", cause)
	r := s.getTask()
	r.kind, r.immediate = kindTMF, true
	r.tmf, r.lun, r.refITT = pdu.TMFLogicalUnitReset, abort.lun, pdu.ReservedITT
	r.escalated = abort
	// Set before add: the janitor may complete r from then on.
	r.stall = time.AfterFunc(s.cfg.AbortTimeout, func() {
		if r.state.Load() != stateDone {
			s.lost(epoch, fmt.Errorf("%w; LOGICAL UNIT RESET not answered within %v either", cause, s.cfg.AbortTimeout))
		}
	})
	if err := s.tasks.add(r); err != nil {
		r.stall.Stop()
		return // the session is closing
	}
	s.push(wreq{kind: wImmediate, t: r}, false)
	s.ensureReader()
}

// failAndAbort fails t (with t.failErr) and aborts it on the target,
// which still thinks it alive. Called by the reader. A command that only
// reads fails at once; one that may change the medium is abandoned and
// fails when the target has ended it (finish), so that nothing of it
// executes after its caller has its error.
func (s *Session) failAndAbort(t *task) {
	itt, cmdSN, lun := t.itt.Load(), t.cmdSN, t.lun
	if t.kind == kindSCSI && t.fence {
		t.why = t.failErr
		if t.state.CompareAndSwap(stateSent, stateAbandoned) {
			// Nothing completes it before the reader, which is here, reads
			// the answer: the abandoner's part is done.
			t.parties.Add(1)
			s.abort(t, itt, cmdSN, lun, true)
			return
		}
	}
	s.complete(t, t.failErr)
	s.abort(nil, itt, cmdSN, lun, true)
}

// onTMFResponse completes a task management request and the tasks it
// ended. Called by the reader, the owner of every sent task.
func (s *Session) onTMFDone(t *task, response uint8) {
	t.response = response
	switch {
	case t.victim != nil:
		// The target answered the abort: it sends nothing more for the
		// victim (RFC 7143 §11.6.1), whose ITT is free again.
		if response != pdu.TMRFunctionComplete && response != pdu.TMRTaskDoesNotExist {
			s.log.Warn("iscsi: ABORT TASK refused", "itt", fmt.Sprintf("%#x", t.refITT), "response", response)
		}
		s.complete(t.victim, errAborted)
	default:
		// The commands the function ended (tmf.go).
		s.onTMFEffects(t, response)
	}
	s.complete(t, nil)
}

// Ping sends a NOP-Out and waits for the target's NOP-In.
func (s *Session) Ping(ctx context.Context) error {
	t := s.getTask()
	t.kind, t.immediate, t.lun = kindNOP, true, s.lun
	_, err := s.submit(ctx, t).Wait()
	return err
}

// taskManagement sends a task management function and waits for its answer.
func (s *Session) taskManagement(ctx context.Context, fn uint8, lun uint64) error {
	t := s.getTask()
	t.kind, t.immediate = kindTMF, true
	t.tmf, t.lun, t.refITT = fn, lun, pdu.ReservedITT
	res, err := s.submit(ctx, t).Wait()
	if err != nil {
		return err
	}
	if res.Response != pdu.TMRFunctionComplete {
		return &TaskManagementError{Function: fn, Response: res.Response}
	}
	return nil
}

// logoutOnRequest answers an Asynchronous Message asking for logout: wait
// up to the given seconds for the SCSI commands in flight, then log out.
// With recovery, the connection is logged out and replaced (the commands
// still in flight are sent again); without, the session ends.
func (s *Session) logoutOnRequest(seconds uint16) {
	limit := time.Duration(seconds) * time.Second
	if limit <= 0 || limit > s.cfg.AbortTimeout {
		limit = s.cfg.AbortTimeout
	}
	epoch := s.epoch.Load()
	timer := time.NewTimer(limit)
	select {
	case <-s.tasks.whenDrained():
	case <-timer.C:
	case <-s.closing:
		timer.Stop()
		return
	}
	timer.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AbortTimeout)
	defer cancel()
	t := s.getTask()
	t.kind, t.reason, t.immediate = kindLogout, pdu.LogoutCloseSession, true
	if !s.cfg.DisableRecovery {
		t.reason = pdu.LogoutCloseConnection
	}
	_, _ = s.submit(ctx, t).Wait()
	if s.cfg.DisableRecovery {
		s.fail(ErrLoggedOut)
		return
	}
	s.lost(epoch, errLogoutRequested)
}
