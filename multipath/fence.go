package multipath

import (
	"context"

	"github.com/iscsi-go/iscsi/session"
)

// FencedError is the outcome of a command that was in flight on a path
// whose connection was lost, after the Device ended the path's session on
// the target by logging in with its ISID through another portal of the
// same target portal group (a session reinstatement, RFC 7143 §6.3.5: the
// target ends the old session's tasks at the login, and session.Dial's
// barrier waits for any it was still executing). Nothing of the command
// executes after that; it may have executed before. It matches session.ErrMayHaveExecuted and session.ErrAborted.
// The Device sends such a command again when it is safe to repeat; only
// the others return it.
type FencedError struct {
	Portal string // the lost path's portal
}

func (e *FencedError) Error() string {
	return "multipath: the command was in flight on " + e.Portal + " when its connection was lost; the target ended it (session reinstated through another portal): it may have executed"
}

// Is matches session.ErrMayHaveExecuted and session.ErrAborted.
func (e *FencedError) Is(target error) bool {
	return target == session.ErrMayHaveExecuted || target == session.ErrAborted
}

// background runs fn on a goroutine that Close waits for, unless the
// Device is closing.
func (d *Device) background(fn func()) {
	d.bgMu.Lock()
	defer d.bgMu.Unlock()
	if d.closing {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		fn()
	}()
}

// fenceThrough ends, on the target, the commands that p's session of
// generation gen had sent when its connection was lost, without waiting
// for that session to log in again (DefaultTime2Wait, 2 s on tgtd, and
// longer while the path is down): it logs in through a ready (else a
// failed) path of the same target portal group with p's ISID (the same I_T nexus, so the
// target reinstates p's session and ends its tasks; Dial's barrier waits
// for those the target was still executing),
// logs out, and closes f, which releases the commands waiting for their
// fate on p (FencedError) so that they are sent again elsewhere.
//
// Without such a path (a single path, portals of different groups, or a
// target that does not report its portal group tag), nothing is done: the
// commands wait for p's own reinstatement, which fences them as well.
// p's session then finds its TSIH gone and logs in as a new session.
func (d *Device) fenceThrough(p *path, gen uint64, f *fence) {
	p.mu.Lock()
	isid, tpgt, same := p.isid, p.tpgt, p.gen == gen
	p.mu.Unlock()
	if !same || tpgt < 0 {
		return
	}
	// Through a ready path of the group, or else a failed one: its
	// session is connected, only its TEST UNIT READY failed or a command
	// timed out (PathTimeout), and the fence is a login of its own.
	var via *path
	for _, q := range d.paths {
		q.mu.Lock()
		st, ok := q.state, q != p && q.tpgt == tpgt
		q.mu.Unlock()
		if ok && st == PathReady {
			via = q
			break
		}
		if ok && st == PathFailed && via == nil {
			via = q
		}
	}
	if via == nil {
		return
	}
	var sc session.Config
	if d.cfg.Session != nil {
		sc = *d.cfg.Session
	}
	sc.ISID = isid
	sc.SkipTestUnitReady = true
	sc.DisableRecovery = true
	sc.NOPInterval = -1
	sc.OnStateChange = nil
	sc.Hooks = nil
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.CheckTimeout)
	defer cancel()
	s, err := session.Dial(ctx, via.url, &sc)
	if err != nil {
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		return // the commands wait for p's own reinstatement
	}
	// The login answered: the old session's tasks are ended. Count it
	// before close, which sends the commands on (and so may end them).
	p.mu.Lock()
	p.fenced++
	p.mu.Unlock()
	f.close()
	s.Logout(ctx)
	s.Close()
}
