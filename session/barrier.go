package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
)

// A session reinstatement (a login with the ISID of a session the target
// still has) ends the old session's tasks, RFC 7143 §6.3.5, but a target
// may answer the login while a task it had already started is still
// executing: tgtd closes the old connection and forgets the task, while
// its backing-store thread goes on writing. A WRITE lost with its
// connection can so land after the new session's writes to the same
// blocks (integration/stale_task_linux_test.go shows it).
//
// The barrier is SAM's answer: a command with the ORDERED task attribute
// does not start until every older task in the logical unit's task set
// has ended, and in the usual model (task set type 000b in the Control
// mode page) there is one task set for all I_T nexuses, the old session's
// included. A TEST UNIT READY sent ORDERED, and its status received, prove
// that nothing sent before it on that LUN is still executing. The session
// sends one on every LUN where a lost connection left a command that may
// change the medium, before anything else goes to that LUN and before the
// callers of those commands learn their fate; Dial sends one on the URL's
// LUN when Config.ISID asks for reinstatement.

// barrier sends TEST UNIT READY with the ORDERED task attribute to lun and
// waits for its status. Any status the logical unit gives after running
// it ends the barrier (a unit attention, NOT READY); BUSY, TASK SET FULL
// and ACA ACTIVE mean it did not run: it is sent again until ctx ends.
// priority sends it ahead of the commands held during a reconnect.
func (s *Session) barrier(ctx context.Context, lun scsi.LUN, priority bool) error {
	backoff := time.Millisecond
	var refused error // the last BUSY-like answer, for the error if ctx ends
	for {
		t := s.commandTask(lun, scsi.TestUnitReady(), DirNone, nil, priority)
		t.ordered = true
		_, err := s.submit(ctx, t).Wait()
		var se *scsi.StatusError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &se) && (scsi.IsRetryable(err) || se.Status == scsi.StatusACAActive):
			refused = err // it did not run: send it again
		case errors.As(err, &se):
			return nil // it ran: every older task has ended
		case refused != nil && ctx.Err() != nil:
			return s.barrierGaveUp(ctx, lun, refused)
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return s.barrierGaveUp(ctx, lun, refused)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// barrierGaveUp is the error of a barrier the target kept refusing until
// ctx ended: both the context's end and the last refusal.
func (s *Session) barrierGaveUp(ctx context.Context, lun scsi.LUN, refused error) error {
	return &OpError{Op: "TEST UNIT READY (ORDERED)", Portal: s.portal, Target: s.target, LUN: lun, LBA: -1, Offset: -1,
		Err: fmt.Errorf("%w (the target refused it until then: %w)", ctxErr(ctx), refused)}
}

// staleLUNs returns the LUNs on which commands that may change the medium
// were sent on a connection older than the current one and have not ended.
func (s *Session) staleLUNs() []scsi.LUN {
	epoch := s.epoch.Load()
	var luns []scsi.LUN
	s.tasks.each(func(t *task) {
		if t.kind != kindSCSI || !t.fence || t.epoch == epoch {
			return
		}
		if st := t.state.Load(); st != stateSent && st != stateAbandoned {
			return
		}
		for _, l := range luns {
			if l == scsi.LUN(t.lun) {
				return
			}
		}
		luns = append(luns, scsi.LUN(t.lun))
	})
	return luns
}

// Barrier returns once every command that the target had accepted for
// this LUN before it has ended: this session's, those of an earlier
// session with the same ISID, and (in the usual one task set per logical
// unit) other initiators'. It sends TEST UNIT READY with the ORDERED task
// attribute (SAM-5) and waits for its status; a unit attention or NOT
// READY answer still ends the barrier and returns nil. Commands sent
// while it waits may run before or after it.
//
// The session uses it itself after a lost connection and at Dial with
// Config.ISID set (docs/RELIABILITY.md); call it on the other LUNs a
// closed session wrote to, after dialing its successor with the old
// ISID, to be sure none of its writes lands after the new session's. A
// target whose Control mode page says one task set per I_T nexus (TST
// 001b), or that ignores task attributes, does not order other nexuses'
// commands after it.
func (u *LogicalUnit) Barrier(ctx context.Context) error {
	return u.s.barrier(ctx, u.lun, false)
}
