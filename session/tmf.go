package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/pdu"
)

// Task management (RFC 7143 §11.5): ABORT TASK for one command, ABORT
// TASK SET, CLEAR TASK SET, CLEAR ACA and LOGICAL UNIT RESET for a LUN,
// TARGET WARM RESET and TARGET COLD RESET for the whole target. When the
// target completes a function, the commands of ours it ended (those of the
// LUN, or of every LUN for a target reset, sent before the request) end
// too: their Futures' Wait returns an error that says which function ended
// them, and the target sends nothing more for them.

var (
	// ErrAborted is what a command ended by task management fails with
	// (Session.Abort, AbortTaskSet, ClearTaskSet, a target reset): errors.Is
	// matches it. Commands ended by a LUN reset match ErrLUNReset.
	ErrAborted = errAborted
	// ErrTargetReset: the command was ended by a TARGET WARM RESET or
	// TARGET COLD RESET. Such errors match ErrAborted too.
	ErrTargetReset = errors.New("iscsi: command ended by a target reset")
)

// tmfNames are the names of the task management functions.
var tmfNames = [...]string{
	pdu.TMFAbortTask:        "ABORT TASK",
	pdu.TMFAbortTaskSet:     "ABORT TASK SET",
	pdu.TMFClearACA:         "CLEAR ACA",
	pdu.TMFClearTaskSet:     "CLEAR TASK SET",
	pdu.TMFLogicalUnitReset: "LOGICAL UNIT RESET",
	pdu.TMFTargetWarmReset:  "TARGET WARM RESET",
	pdu.TMFTargetColdReset:  "TARGET COLD RESET",
	pdu.TMFTaskReassign:     "TASK REASSIGN",
}

// TMFName names task management function fn ("ABORT TASK SET").
func TMFName(fn uint8) string {
	if int(fn) < len(tmfNames) && tmfNames[fn] != "" {
		return tmfNames[fn]
	}
	return fmt.Sprintf("function %d", fn)
}

// endedError is the error of a command that task management function fn ended.
type endedError struct{ fn uint8 }

// reinstatement is not a task management function: it stands for the
// session reinstatement that ended the tasks of a lost connection.
const reinstatement = 0xff

func (e *endedError) Error() string {
	if e.fn == reinstatement {
		return "iscsi: command ended by the reinstatement of the session after a lost connection"
	}
	return "iscsi: command ended by " + TMFName(e.fn)
}

func (e *endedError) Is(target error) bool {
	switch target {
	case ErrAborted:
		return true
	case ErrTargetReset:
		return e.fn == pdu.TMFTargetWarmReset || e.fn == pdu.TMFTargetColdReset
	}
	return false
}

// endedBy is the error of task v, ended on the target by task management
// (err): a command that may change the medium may have executed in part,
// which the error says unless v was abandoned (finish says it then).
func endedBy(v *task, err error) error {
	if v.fence && v.state.Load() == stateSent {
		return &InFlightError{Why: err}
	}
	return err
}

// Ended errors, one per function, so that ending a task allocates nothing.
var (
	errEndedAbortTaskSet = &endedError{pdu.TMFAbortTaskSet}
	errEndedClearTaskSet = &endedError{pdu.TMFClearTaskSet}
	errEndedWarmReset    = &endedError{pdu.TMFTargetWarmReset}
	errEndedColdReset    = &endedError{pdu.TMFTargetColdReset}
)

// onTMFEffects completes the tasks that the task management request t,
// completed by the target with response, ended. Called by the reader
// (onTMFDone) for requests without a victim, before t itself completes.
func (s *Session) onTMFEffects(t *task, response uint8) {
	if t.tmf == pdu.TMFAbortTask {
		// Session.Abort (or failAndAbort, whose task is gone already). The
		// target sends nothing more for the task after either answer
		// (RFC 7143 §11.6.1); its status, had it come, came first.
		if response != pdu.TMRFunctionComplete && response != pdu.TMRTaskDoesNotExist {
			return
		}
		v, _ := s.tasks.lookup(t.refITT)
		if v != nil && v.kind == kindSCSI && v.cmdSN == t.refCmdSN {
			if st := v.state.Load(); st == stateSent || st == stateAbandoned {
				s.complete(v, endedBy(v, errAborted))
			}
		}
		return
	}
	if response != pdu.TMRFunctionComplete {
		return
	}
	var err error
	all := false
	switch t.tmf {
	case pdu.TMFAbortTaskSet:
		err = errEndedAbortTaskSet
	case pdu.TMFClearTaskSet:
		err = errEndedClearTaskSet
	case pdu.TMFLogicalUnitReset:
		err = ErrLUNReset
	case pdu.TMFTargetWarmReset:
		err, all = errEndedWarmReset, true
	case pdu.TMFTargetColdReset:
		err, all = errEndedColdReset, true
	default:
		return // CLEAR ACA ends no task
	}
	// Every command of the LUN (of the target) sent before the request
	// ended there without a status.
	var victims []*task
	s.tasks.each(func(v *task) {
		st := v.state.Load()
		if v.kind == kindSCSI && (all || v.lun == t.lun) && (st == stateSent || st == stateAbandoned) && pdu.SNLess(v.cmdSN, t.cmdSN) {
			victims = append(victims, v)
		}
	})
	for _, v := range victims {
		s.complete(v, endedBy(v, err))
	}
	if t.escalated != nil {
		s.complete(t.escalated, err) // the ABORT TASK nobody answered (escalate)
	}
	switch {
	case all:
		s.unitsMu.Lock()
		units := make([]*LogicalUnit, 0, len(s.units))
		for _, u := range s.units {
			units = append(units, u)
		}
		s.unitsMu.Unlock()
		for _, u := range units {
			u.forget()
		}
	case t.tmf == pdu.TMFLogicalUnitReset:
		s.geometryChanged(t.lun)
	}
}

// Abort aborts the command of f on the target (ABORT TASK) and returns once
// the target has answered. The command then ends: f's Wait (which the
// caller must still call) returns an error matching ErrAborted, unless the
// command had completed first, in which case Wait returns its result and
// Abort returns nil. A command not sent yet is taken out of the queue
// without a word to the target. Abort of a Future already waited for, or
// of one that failed before it was issued, does nothing.
func (s *Session) Abort(ctx context.Context, f Future) error {
	t := f.t
	if t == nil || f.s != s {
		return nil
	}
	s.wmu.Lock()
	t.mu.Lock()
	if t.gen.Load()&^1 != f.gen || t.completed || t.kind != kindSCSI {
		t.mu.Unlock()
		s.wmu.Unlock()
		return nil
	}
	if t.state.CompareAndSwap(stateQueued, stateDone) {
		// Never sent: out of the queue; the caller's Wait gets ErrAborted.
		t.mu.Unlock()
		s.unqueue(t)
		s.wmu.Unlock()
		s.finish(t, errAborted, false)
		return nil
	}
	st := t.state.Load()
	itt, cmdSN, lun := t.itt.Load(), t.cmdSN, t.lun
	t.mu.Unlock()
	s.wmu.Unlock()
	if st != stateSent {
		return nil // done, or abandoned (and aborted) by its waiter
	}
	tm := s.getTask()
	tm.kind, tm.immediate = kindTMF, true
	tm.tmf, tm.refITT, tm.refCmdSN, tm.lun = pdu.TMFAbortTask, itt, cmdSN, lun
	res, err := s.submit(ctx, tm).Wait()
	if err != nil {
		return err
	}
	switch res.Response {
	case pdu.TMRFunctionComplete, pdu.TMRTaskDoesNotExist:
		return nil
	}
	return &TaskManagementError{Function: pdu.TMFAbortTask, Response: res.Response}
}

// AbortTaskSet aborts every command of this session on the unit (ABORT
// TASK SET). They fail with an error matching ErrAborted.
func (u *LogicalUnit) AbortTaskSet(ctx context.Context) error {
	return u.s.taskManagement(ctx, pdu.TMFAbortTaskSet, uint64(u.lun))
}

// ClearTaskSet aborts every command on the unit, of every initiator (CLEAR
// TASK SET). Ours fail with an error matching ErrAborted.
func (u *LogicalUnit) ClearTaskSet(ctx context.Context) error {
	return u.s.taskManagement(ctx, pdu.TMFClearTaskSet, uint64(u.lun))
}

// ClearACA clears an auto contingent allegiance condition of the unit
// (CLEAR ACA).
func (u *LogicalUnit) ClearACA(ctx context.Context) error {
	return u.s.taskManagement(ctx, pdu.TMFClearACA, uint64(u.lun))
}

// TargetWarmReset resets the target (TARGET WARM RESET): every command of
// every LUN ends (with an error matching ErrTargetReset) and the cached
// geometries are dropped. The session stays.
func (s *Session) TargetWarmReset(ctx context.Context) error {
	return s.taskManagement(ctx, pdu.TMFTargetWarmReset, 0)
}

// TargetColdReset is TargetWarmReset that also resets the target's
// transport: the target closes every connection after it answers. The
// session reconnects as after any lost connection (or ends, with
// Config.DisableRecovery).
func (s *Session) TargetColdReset(ctx context.Context) error {
	return s.taskManagement(ctx, pdu.TMFTargetColdReset, 0)
}
