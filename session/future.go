package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// ErrLUNReset is the error of commands that a LUN reset ended.
var ErrLUNReset = errors.New("iscsi: command ended by a LUN reset")

// TaskManagementError is a task management function the target did not
// complete.
type TaskManagementError struct {
	Function uint8
	Response uint8
}

var tmfResponses = map[uint8]string{
	pdu.TMRTaskDoesNotExist:     "task does not exist",
	pdu.TMRLUNDoesNotExist:      "LUN does not exist",
	pdu.TMRTaskStillAllegiant:   "task still allegiant",
	pdu.TMRReassignNotSupported: "task allegiance reassignment not supported",
	pdu.TMRFunctionNotSupported: "function not supported",
	pdu.TMRAuthorizationFailed:  "authorization failed",
	pdu.TMRFunctionRejected:     "function rejected",
}

func (e *TaskManagementError) Error() string {
	what, ok := tmfResponses[e.Response]
	if !ok {
		what = fmt.Sprintf("response %d", e.Response)
	}
	return fmt.Sprintf("iscsi: task management function %d: %s", e.Function, what)
}

// Result is the outcome of a command.
type Result struct {
	// Status is the SCSI status (SCSI commands).
	Status scsi.Status
	// Response is the iSCSI response code (SCSI Response, task management, logout).
	Response uint8
	// Residual is the byte count of an underflow (less data than expected
	// was transferred) or an overflow (the target had more).
	Residual  int
	Underflow bool
	Overflow  bool
}

// Future is a command in flight. Wait for it once, from one goroutine; do not
// copy a Future after its first use. The zero Future is not valid.
//
// A Future allocates nothing: its internal state is recycled when Wait
// returns, which is why a Future must not be used after Wait except to call
// Wait again (which returns the same result).
type Future struct {
	s   *Session
	t   *task
	ctx context.Context
	res Result
	err error
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Done returns a channel closed when the command has completed. A caller
// that selects on Done and on its context must still call Wait when the
// context ends: Wait is what returns ctx.Err(), aborts the command on the
// target and guarantees its buffers are no longer touched.
func (f *Future) Done() <-chan struct{} {
	t := f.t
	if t == nil {
		return closedChan
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.completed {
		return closedChan
	}
	if t.doneCh == nil {
		t.doneCh = make(chan struct{})
	}
	return t.doneCh
}

// Wait waits for the command and returns its result. A SCSI status other than
// GOOD is a *scsi.StatusError. If the context given when the command was
// issued ends first, Wait returns its error at once, and the command is
// aborted on the target (ABORT TASK) if it had been sent; the caller's
// buffers are no longer touched once Wait returns.
func (f *Future) Wait() (Result, error) {
	t := f.t
	if t == nil {
		return f.res, f.err
	}
	f.t = nil
	select {
	case <-t.done:
	case <-f.ctx.Done():
		f.s.abandon(t)
		f.err = f.ctx.Err()
		return f.res, f.err
	}
	if t.wrefs.Load() != 0 {
		// A target that answered before taking all the data: let the
		// writer finish with the caller's buffers first.
		f.s.waitWrites(t)
	}
	f.res, f.err = t.result()
	putTask(t)
	return f.res, f.err
}

func (t *task) result() (Result, error) {
	r := Result{Status: scsi.Status(t.status), Response: t.response, Residual: int(t.residual),
		Underflow: t.underflow, Overflow: t.overflow}
	if t.err != nil {
		return r, t.err
	}
	if t.kind == kindSCSI && !r.Status.OK() {
		sense := append([]byte(nil), t.senseBuf[:t.senseLen]...)
		return r, scsi.NewStatusError(r.Status, sense)
	}
	return r, nil
}

// submit registers t and hands it to the writer.
func (s *Session) submit(ctx context.Context, t *task) Future {
	if err := ctx.Err(); err != nil {
		putTask(t)
		return Future{err: err}
	}
	if err := s.tasks.add(t); err != nil {
		putTask(t)
		return Future{err: err}
	}
	kind := wCommand
	if t.immediate {
		kind = wImmediate
	}
	// If the session is closing, the janitor fails every registered task,
	// this one included.
	s.push(wreq{kind: kind, t: t}, false)
	return Future{s: s, t: t, ctx: ctx}
}

// complete ends t with err, exactly once, and wakes its waiter.
func (s *Session) complete(t *task, err error) {
	for {
		st := t.state.Load()
		if st == stateDone {
			return
		}
		if t.state.CompareAndSwap(st, stateDone) {
			break
		}
	}
	t.err = err
	s.tasks.release(t)
	t.mu.Lock()
	t.completed = true
	if t.doneCh != nil {
		close(t.doneCh)
	}
	t.mu.Unlock()
	t.done <- struct{}{}
}

// abandon is called when a waiter's context ended. After it returns, no
// goroutine of the session touches the task's buffers again. A task already
// sent is aborted on the target; its ITT stays reserved until the target
// answers the abort (or the task's own status arrives).
func (s *Session) abandon(t *task) {
	t.abandoned.Store(true)
	if t.state.CompareAndSwap(stateQueued, stateDone) {
		// Never sent: the writer will skip it, and no CmdSN was used.
		s.tasks.release(t)
		return
	}
	s.lockIO(t)
	itt, cmdSN, lun := t.itt.Load(), t.cmdSN.Load(), t.lun
	t.ioMu.Unlock()
	s.waitWrites(t)
	if t.state.Load() == stateDone || t.kind != kindSCSI {
		return
	}
	s.background(func() { s.abortTask(t, itt, cmdSN, lun) })
}

// lockIO takes t's I/O lock. The reader holds it for one PDU and the writer
// for one flush; if either is stuck that long on a stalled target, the
// connection is dropped, which unsticks them.
func (s *Session) lockIO(t *task) {
	deadline := time.Now().Add(s.cfg.AbortTimeout)
	for !t.ioMu.TryLock() {
		if time.Now().After(deadline) {
			s.fail(errors.New("connection stalled while a cancelled command was in transfer"))
			t.ioMu.Lock()
			return
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// background runs fn in a goroutine that Close and Logout wait for. Once
// they have started waiting, nothing new is started: the session is ending
// and its janitor fails what fn would have handled.
func (s *Session) background(fn func()) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn()
	}()
}

// waitBackground stops new background work and waits for what runs.
func (s *Session) waitBackground() {
	s.bgMu.Lock()
	s.bgClosed = true
	s.bgMu.Unlock()
	s.bg.Wait()
}

// waitWrites waits until no batch being written reads t's buffers. A write
// blocked that long on a stalled target is ended by the write deadline.
func (s *Session) waitWrites(t *task) {
	if t.wrefs.Load() == 0 {
		return
	}
	deadline := time.Now().Add(2 * s.cfg.AbortTimeout)
	for t.wrefs.Load() != 0 {
		if time.Now().After(deadline) {
			s.fail(errors.New("connection stalled while sending a cancelled command's data"))
			<-s.done
			return
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// failAndAbort fails t now (with t.failErr) and aborts it on the target,
// which still thinks it alive. Called by the reader.
func (s *Session) failAndAbort(t *task) {
	itt, cmdSN, lun := t.itt.Load(), t.cmdSN.Load(), t.lun
	s.complete(t, t.failErr)
	s.background(func() { s.abortTask(nil, itt, cmdSN, lun) })
}

// abortTask sends ABORT TASK for itt and waits for the answer, bounded by
// AbortTimeout; an abort never answered drops the connection. t, if not nil,
// is the abandoned task whose ITT is released once the target has answered.
func (s *Session) abortTask(t *task, itt, cmdSN uint32, lun uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AbortTimeout)
	defer cancel()
	tm := getTask()
	tm.kind, tm.immediate = kindTMF, true
	tm.tmf, tm.refITT, tm.refCmdSN, tm.lun = pdu.TMFAbortTask, itt, cmdSN, lun
	f := s.submit(ctx, tm)
	res, err := f.Wait()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		s.fail(fmt.Errorf("ABORT TASK for ITT %#x not answered within %v", itt, s.cfg.AbortTimeout))
		return
	case err != nil:
		return // the session is closing; the janitor fails t
	}
	switch res.Response {
	case pdu.TMRFunctionComplete, pdu.TMRTaskDoesNotExist:
		if t != nil {
			s.complete(t, context.Canceled)
		}
	default:
		s.log.Warn("iscsi: ABORT TASK refused", "itt", fmt.Sprintf("%#x", itt), "response", res.Response)
		if t != nil {
			s.complete(t, context.Canceled)
		}
	}
}

// Ping sends a NOP-Out and waits for the target's NOP-In.
func (s *Session) Ping(ctx context.Context) error {
	t := getTask()
	t.kind, t.immediate, t.lun = kindNOP, true, s.lun
	f := s.submit(ctx, t)
	_, err := f.Wait()
	return err
}

// LUNReset resets the session's LUN (LOGICAL UNIT RESET). Every command of
// that LUN in flight ends with ErrLUNReset.
func (s *Session) LUNReset(ctx context.Context) error {
	t := getTask()
	t.kind, t.immediate = kindTMF, true
	t.tmf, t.lun, t.refITT = pdu.TMFLogicalUnitReset, s.lun, pdu.ReservedITT
	f := s.submit(ctx, t)
	res, err := f.Wait()
	if err != nil {
		return err
	}
	if res.Response != pdu.TMRFunctionComplete {
		return &TaskManagementError{Function: pdu.TMFLogicalUnitReset, Response: res.Response}
	}
	var victims []*task
	s.tasks.each(func(v *task) {
		if v.kind == kindSCSI && v.lun == s.lun && v.state.Load() == stateSent {
			victims = append(victims, v)
		}
	})
	for _, v := range victims {
		s.lockIO(v)
		s.complete(v, ErrLUNReset)
		v.ioMu.Unlock()
	}
	s.disk.invalidate()
	return nil
}

// logoutOnRequest answers an Asynchronous Message asking for logout: wait
// up to the given seconds for in-flight work, then log out.
func (s *Session) logoutOnRequest(seconds uint16) {
	limit := time.Duration(seconds) * time.Second
	if limit <= 0 || limit > s.cfg.AbortTimeout {
		limit = s.cfg.AbortTimeout
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		busy := false
		s.tasks.each(func(t *task) { busy = busy || t.kind == kindSCSI })
		if !busy {
			break
		}
		select {
		case <-s.closing:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AbortTimeout)
	defer cancel()
	t := getTask()
	t.kind, t.reason, t.immediate = kindLogout, pdu.LogoutCloseSession, true
	f := s.submit(ctx, t)
	_, _ = f.Wait()
	s.fail(ErrLoggedOut)
}
