package session

import (
	"context"
	"sync"
	"time"

	"sync/atomic"

	"github.com/iscsi-go/iscsi/internal/conn"
)

// The read role: who reads the connection. The reader goroutine reads
// while commands are in flight. When it has completed the last one and
// nothing more is buffered, it parks and leaves the role free: the next
// caller that waits for its command (Future.Wait) reads the connection
// itself, completing its own command (and any other answered meanwhile) on
// its own goroutine. At queue depth one a command then costs no goroutine
// hand-off and no thread wake-up. The caller hands the role back to the
// reader goroutine when it leaves with other commands still in flight.
const (
	rdLoop   uint32 = iota // the reader goroutine reads
	rdFree                 // nobody: the reader goroutine is parked, nothing was in flight
	rdCaller               // a caller in Wait reads
)

// readRole is Session.rd.
type readRole struct {
	mu    sync.Mutex    // guards the moves of state and the fields below
	state atomic.Uint32 // rd* constant; loaded without mu for a fast check
	wake  chan struct{} // buffered 1: hands the role back to the parked reader goroutine
	// The connection the parked reader goroutine reads, set when it parks.
	c     *conn.Conn
	epoch uint32
	dead  chan struct{}
	// timer bounds a park (linger); the reader goroutine's.
	timer *time.Timer
}

// linger is how long the parked reader goroutine leaves the read role
// free: then it reads again (unless a caller reads), so that what the
// target sends unasked (an asynchronous message, a ping, the connection's
// end) waits no longer than this while no command is in flight. A caller
// reading keeps the role, and the reader goroutine keeps waiting.
var linger = 5 * time.Millisecond // a variable for tests

// park is called by the reader goroutine of epoch when nothing is buffered
// after a PDU that completed a command. With no task in flight, it leaves
// the read role free, and takes it back when handed it or after linger.
// It returns false when the connection is dead: the reader goroutine then
// ends.
func (s *Session) park(epoch uint32, c *conn.Conn, dead chan struct{}) bool {
	rd := &s.rd
	if !s.tasks.empty() {
		return true
	}
	rd.mu.Lock()
	rd.c, rd.epoch, rd.dead = c, epoch, dead
	rd.state.Store(rdFree)
	rd.mu.Unlock()
	// Look again, now that the role is free: a command registered just
	// before may have found the role taken and waits for us.
	if !s.tasks.empty() {
		rd.mu.Lock()
		if rd.state.Load() == rdFree {
			rd.state.Store(rdLoop)
			rd.mu.Unlock()
			return true
		}
		rd.mu.Unlock() // a caller took it: it reads
	}
	if rd.timer == nil {
		rd.timer = time.NewTimer(linger)
	} else {
		rd.timer.Reset(linger)
	}
	defer rd.timer.Stop()
	gone := false
	for {
		expired := false
		if gone {
			rd.mu.Lock()
			if rd.state.Load() != rdCaller {
				rd.state.Store(rdLoop)
				rd.mu.Unlock()
				return false
			}
			rd.mu.Unlock()
			<-rd.wake // a caller reads: it hands the role back when its read fails
		} else {
			select {
			case <-rd.wake:
			case <-rd.timer.C:
				expired = true
			case <-dead:
				gone = true
			case <-s.closing:
				gone = true
			}
		}
		rd.mu.Lock()
		if rd.state.Load() == rdCaller {
			rd.mu.Unlock()
			if expired {
				rd.timer.Reset(linger)
			}
			continue
		}
		rd.state.Store(rdLoop)
		rd.mu.Unlock()
		return !gone
	}
}

// ensureReader hands a free read role back to the reader goroutine: for a
// command nobody will read for in Wait (an abort, a keepalive, a Future
// watched through Done).
func (s *Session) ensureReader() {
	rd := &s.rd
	if rd.state.Load() != rdFree {
		return
	}
	rd.mu.Lock()
	if rd.state.Load() == rdFree {
		s.giveBack()
	}
	rd.mu.Unlock()
}

// pollInterval bounds how long a caller reading for its command goes
// without looking at its context: a context that has no deadline, or a
// later one, is checked at least this often.
const pollInterval = 10 * time.Millisecond

// readFor reads the connection for the waiter of t until t completes or
// ctx ends, if the read role is free; otherwise it returns at once. A
// read that fails loses the connection: the supervisor completes t then.
func (s *Session) readFor(t *task, ctx context.Context) {
	rd := &s.rd
	if rd.state.Load() != rdFree || t.state.Load() == stateDone {
		return
	}
	rd.mu.Lock()
	if rd.state.Load() != rdFree {
		rd.mu.Unlock()
		return
	}
	rd.state.Store(rdCaller)
	c, epoch, dead := rd.c, rd.epoch, rd.dead
	rd.mu.Unlock()
	// Whether ctx can end, found without ctx.Done when it has a deadline
	// (a context makes its Done channel on first use: an allocation per
	// command); ctx.Err below tells what a poll of Done would.
	_, canEnd := ctx.Deadline()
	canEnd = canEnd || ctx.Done() != nil
loop:
	for t.state.Load() != stateDone {
		if canEnd {
			if ctx.Err() != nil {
				break loop
			}
			bound(c, ctx)
		}
		switch s.readOne(epoch, c) {
		case readFailed:
			break loop
		case readExpired:
			if !canEnd {
				// A wait deadline another caller left behind: no bound for us.
				c.SetWaitDeadline(time.Time{})
			}
		}
	}
	rd.mu.Lock()
	if closed(dead) || closed(s.closing) || c.ReadBuffered() > 0 {
		// The reader goroutine ends, or has PDUs to read.
		s.giveBack()
		rd.mu.Unlock()
		return
	}
	rd.state.Store(rdFree)
	rd.mu.Unlock()
	// Look again, now that the role is free: another caller's command,
	// registered meanwhile, may have found the role taken; its waiter
	// waits for the reader goroutine then.
	if !s.tasks.empty() {
		s.ensureReader()
	}
}

// bound makes sure a wait deadline no later than ctx's deadline and
// pollInterval from now is in force on c. One still in force is kept: it
// costs nothing to keep, and a timer update to move.
func bound(c *conn.Conn, ctx context.Context) {
	now := time.Now()
	until := now.Add(pollInterval)
	if d, ok := ctx.Deadline(); ok && d.Before(until) {
		until = d
	}
	if cur := c.WaitDeadline(); !cur.IsZero() && cur.After(now) && !cur.After(until) {
		return
	}
	c.SetWaitDeadline(until)
}

// closed reports whether ch is closed.
func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// giveBack hands the role to the parked reader goroutine. Called with rd.mu held.
func (s *Session) giveBack() {
	s.rd.state.Store(rdLoop)
	select {
	case s.rd.wake <- struct{}{}:
	default:
	}
}
