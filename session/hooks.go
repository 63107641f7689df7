package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// Hooks: metrics, tracing and logging from outside the package.
//
// A Hook is any value given in Config.Hooks. At Dial, the session checks
// which of the hook interfaces below each one implements (CommandHook,
// PDUHook, ConnStateHook, LoginHook, SenseHook) and calls those methods, in the order
// of Config.Hooks; a hook may implement several. A session without hooks
// of a kind pays nothing for that kind: no clock reading, no call.
//
// Hooks run on the session's own goroutines — the reader (commands, PDUs
// received), whoever writes a batch (PDUs sent), the supervisor
// (connection states, reconnect logins, commands failed by a reconnect),
// the caller of Dial (first logins) or of Wait (a command cancelled before
// it was sent) — while the session waits for them, sometimes holding its
// locks. A hook must be quick, safe
// for concurrent use, and must not call the session synchronously (no
// Execute, Wait, Close, Logout from inside a hook): that would deadlock or
// stall every command of the session. Hand anything slow to another
// goroutine.

// Hook is a value given in Config.Hooks. The interface is empty: what the
// session calls depends on which hook interfaces (CommandHook, PDUHook,
// ConnStateHook, LoginHook, SenseHook) the value implements. Dial fails for a hook
// that implements none of them.
type Hook any

// CommandHook is told of every SCSI command issued through the session
// once it has ended: with a status, an error, or by its context.
type CommandHook interface {
	OnCommandDone(CommandEvent)
}

// PDUHook is told of every PDU header sent and received, login included.
// The header is the session's buffer: valid only during the call, not to
// be modified. Data segments (which can carry CHAP secrets' responses) are
// never shown.
type PDUHook interface {
	OnPDU(sent bool, header *pdu.BHS)
}

// ConnStateHook is told of each change of the connection's state during
// recovery: lost, reconnecting, reinstated, gave up. It receives what
// Config.OnStateChange receives (OnStateChange is the same hook as a
// function, called before the ConnStateHooks).
type ConnStateHook interface {
	OnConnState(StateChange)
}

// LoginHook is told of every login attempt: the first ones, at Dial (one
// per portal when the target redirects), and those of the recovery.
type LoginHook interface {
	OnLogin(LoginEvent)
}

// CommandEvent describes a SCSI command that ended.
type CommandEvent struct {
	Op  scsi.OpCode // the CDB's operation code
	LUN scsi.LUN
	LBA int64 // the first block addressed by Read, Write, ReadAt, WriteAt; -1 otherwise
	Dir Direction
	// Expected is the byte count the command was to move; Transferred what
	// it moved by the target's account when it ended with GOOD (0 for
	// another status or an error).
	Expected    int
	Transferred int
	// Latency runs from Execute to the end: waits at the command window
	// and for a new connection (a command sent again) included.
	Latency time.Duration
	// Status is the SCSI status, scsi.StatusNone when the command ended
	// without one (then Err says why).
	Status scsi.Status
	// Sense is the sense data of a CHECK CONDITION: the session's buffer,
	// valid only during the call.
	Sense []byte
	// Err is why the command ended without a status: the session closed,
	// the connection was lost with a command that could not be sent again
	// (ErrMayHaveExecuted), a protocol error, a Reject, its context. It is
	// nil when the target answered, whatever the status: a status other
	// than GOOD is in Status. Outcome sums both up.
	Err error
}

// Outcome classifies how the command ended in a short, stable word, for a
// metric's label: "ok" (GOOD or CONDITION MET); a status other than GOOD
// ("check_condition", "busy", "reservation_conflict", "task_set_full",
// "task_aborted", "status_other"); or an error: "cancelled" and "timeout"
// (its context ended before it was sent), "aborted" (its context ended
// after it was sent: ABORT TASK), "not_replayed" (ErrMayHaveExecuted),
// "lun_reset", "session_closed", "protocol", "rejected", "digest", "error".
func (e CommandEvent) Outcome() string {
	if e.Err == nil {
		switch e.Status {
		case scsi.StatusGood, scsi.StatusConditionMet:
			return "ok"
		case scsi.StatusCheckCondition:
			return "check_condition"
		case scsi.StatusBusy:
			return "busy"
		case scsi.StatusReservationConflict:
			return "reservation_conflict"
		case scsi.StatusTaskSetFull:
			return "task_set_full"
		case scsi.StatusTaskAborted:
			return "task_aborted"
		}
		return "status_other"
	}
	var pe *ProtocolError
	var re *RejectError
	switch err := e.Err; {
	case errors.Is(err, errAborted):
		return "aborted"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrMayHaveExecuted):
		return "not_replayed"
	case errors.Is(err, ErrLUNReset):
		return "lun_reset"
	case errors.Is(err, ErrSessionClosed):
		return "session_closed"
	case errors.As(err, &pe):
		return "protocol"
	case errors.As(err, &re):
		return "rejected"
	case errors.Is(err, ErrDataDigest) || errors.Is(err, ErrHeaderDigest):
		return "digest"
	}
	return "error"
}

// LoginEvent describes one login attempt: connecting and logging in. A
// reconnect logs in with the session's old TSIH first; a target that no
// longer has the session refuses that (one failed event) and the session
// is reinstated by a second login of the same Attempt.
type LoginEvent struct {
	Portal string // host:port
	Target string // "" for a discovery session
	// Reconnect is set for the logins of the recovery (Attempt counts
	// them from 1 since the loss); the logins of Dial have Attempt 0.
	Reconnect bool
	Attempt   int
	Duration  time.Duration
	// Redirect is the portal the target sent us to instead, if it did.
	Redirect string
	// Err is nil when the session logged in; a *LoginError for a refusal.
	Err error
}

// Outcome is "ok", "redirected" or "failed".
func (e LoginEvent) Outcome() string {
	switch {
	case e.Redirect != "":
		return "redirected"
	case e.Err != nil:
		return "failed"
	}
	return "ok"
}

// hookSet holds Config.Hooks sorted by kind, built once at Dial.
type hookSet struct {
	command []CommandHook
	pdu     []PDUHook
	state   []ConnStateHook
	login   []LoginHook
	sense   []SenseHook
}

// newHookSet sorts hooks by the interfaces they implement.
func newHookSet(hooks []Hook) (hookSet, error) {
	var hs hookSet
	for i, h := range hooks {
		found := false
		if c, ok := h.(CommandHook); ok {
			hs.command, found = append(hs.command, c), true
		}
		if p, ok := h.(PDUHook); ok {
			hs.pdu, found = append(hs.pdu, p), true
		}
		if c, ok := h.(ConnStateHook); ok {
			hs.state, found = append(hs.state, c), true
		}
		if l, ok := h.(LoginHook); ok {
			hs.login, found = append(hs.login, l), true
		}
		if sh, ok := h.(SenseHook); ok {
			hs.sense, found = append(hs.sense, sh), true
		}
		if !found {
			return hs, fmt.Errorf("iscsi: Config.Hooks[%d] (%T) implements no hook interface (CommandHook, PDUHook, ConnStateHook, LoginHook, SenseHook)", i, h)
		}
	}
	return hs, nil
}

// trace is the connection's PDU trace: the debug log and the PDU hooks.
func (s *Session) trace(sent bool, h *pdu.BHS) {
	if s.cfg.TracePDUs {
		s.tracePDU(sent, h)
	}
	for _, p := range s.hooks.pdu {
		p.OnPDU(sent, h)
	}
}

// wantTrace reports whether connections need the trace.
func (s *Session) wantTrace() bool { return s.cfg.TracePDUs || len(s.hooks.pdu) > 0 }

// loginDone reports a login attempt to the login hooks.
func (s *Session) loginDone(portal string, start time.Time, attempt int, redirect string, err error) {
	if len(s.hooks.login) == 0 {
		return
	}
	ev := LoginEvent{Portal: portal, Target: s.target, Reconnect: attempt > 0, Attempt: attempt,
		Duration: time.Since(start), Redirect: redirect, Err: err}
	for _, h := range s.hooks.login {
		h.OnLogin(ev)
	}
}

// commandDone counts a SCSI command that ended with err (nil: a status
// arrived) and tells the command hooks. Called by whoever ends t, before
// its waiter may recycle it. It allocates nothing.
func (s *Session) commandDone(t *task, err error) {
	st := &s.stats
	st.commands.Add(1)
	status := scsi.Status(t.status)
	transferred := 0
	if err != nil {
		status = scsi.StatusNone
		st.commandErrors.Add(1)
	} else if !status.OK() {
		st.commandErrors.Add(1)
	} else {
		transferred = int(t.expLen)
		if t.underflow {
			transferred -= int(min(t.residual, t.expLen))
		}
		if t.read {
			st.bytesRead.Add(uint64(transferred))
		} else if t.write {
			st.bytesWritten.Add(uint64(transferred))
		}
	}
	if len(s.hooks.command) == 0 {
		return
	}
	ev := CommandEvent{Op: scsi.OpCode(t.cdb[0]), LUN: scsi.LUN(t.lun), LBA: t.lba, Expected: int(t.expLen),
		Transferred: transferred, Status: status, Err: err}
	switch {
	case t.read:
		ev.Dir = DirRead
	case t.write:
		ev.Dir = DirWrite
	}
	if !t.start.IsZero() {
		ev.Latency = time.Since(t.start)
	}
	if err == nil && t.senseLen > 0 {
		ev.Sense = t.senseBuf[:t.senseLen]
	}
	for _, h := range s.hooks.command {
		h.OnCommandDone(ev)
	}
}
