package multipath

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// The command core: a command is a chain of attempts, each issued on a
// path with the session's callback API and continued from the callback
// that ends it, so that no goroutine waits per command (as the session's
// own callbacks). A goroutine is started only to wait for a path when
// none is ready; a write watches its path's fence through a registration.

// command is one command of the Device and its attempts so far. Commands
// are pooled (commands): one is put back when nothing can touch it any
// more, which refs counts.
type command struct {
	d   *Device
	ctx context.Context
	// deadline, when set, bounds the command as well as ctx: each attempt
	// carries it (see bound).
	deadline time.Time
	cdb      []byte
	size     int64 // the bytes it moves, for the ServiceTime selector
	// op sends the command on a unit; nil for a READ or WRITE of the
	// block API, which send uses lba, blocks, v and write for (no closure).
	op       func(context.Context, *session.LogicalUnit, session.Done)
	lba      uint64
	blocks   uint32
	v        *iovector.Vector
	write    bool
	done     session.Done
	readOnly bool
	// block: a command of the block API (Read, Write, ReadAt, ...), whose
	// unit attentions are not the caller's business (uaAgain).
	block bool
	moved int
	uas   int // unit attentions sent again after (uaAgain)
	first try // the first attempt: most commands have no other

	// refs counts who may still touch the command: the command itself
	// until done has been called (finish), each attempt's session
	// callback until the session has called it (a fenced attempt's comes
	// late), each fence that watches one of its attempts, issue while it
	// runs, and run's caller until it has read the outcome.
	refs atomic.Int32
	// What run waits with: deliver (made once, as deliverFn) stores the
	// outcome and wakes run.
	wake      chan struct{}
	res       session.Result
	err       error
	deliverFn session.Done
	vec       iovector.Vector // the buffer of a ReadAt or WriteAt chunk
}

// commands pools the commands, with what they keep between uses (the
// channel run waits on, the callbacks made once, a vector's capacity), so
// that a READ or WRITE of the block API allocates nothing of its own.
var commands sync.Pool

// newCommand takes a command from the pool: op nil means a READ or WRITE
// whose lba, blocks, v and write the caller sets.
func (d *Device) newCommand(ctx context.Context, cdb []byte, size int64, op func(context.Context, *session.LogicalUnit, session.Done)) *command {
	c, _ := commands.Get().(*command)
	if c == nil {
		c = &command{wake: make(chan struct{}, 1)}
		c.deliverFn = c.deliver
		c.first.endFn = c.first.ended
	}
	c.d, c.ctx, c.cdb, c.size, c.op = d, ctx, cdb, size, op
	c.readOnly, c.block = session.ReadOnly(cdb), blockOp(cdb)
	c.refs.Store(1)
	return c
}

// release drops one reference; the last puts the command back in the pool.
func (c *command) release() {
	if n := c.refs.Add(-1); n > 0 {
		return
	} else if n < 0 {
		panic("multipath: command released once too often")
	}
	c.d, c.ctx, c.cdb, c.op, c.v, c.done = nil, nil, nil, nil, nil, nil
	c.size, c.lba, c.blocks, c.write, c.moved, c.uas = 0, 0, 0, false, 0, 0
	c.deadline = time.Time{}
	c.res, c.err = session.Result{}, nil
	c.vec.Reset()
	c.first.c, c.first.p, c.first.a, c.first.timer = nil, nil, nil, nil
	c.first.state.Store(0)
	commands.Put(c)
}

// finish calls done with the outcome and drops the command's own
// reference: the caller must not touch c afterwards.
func (c *command) finish(res session.Result, err error) {
	c.done(res, err)
	c.release()
}

// run sends the command (see start) and waits for its outcome.
func (c *command) run() (session.Result, error) {
	c.refs.Add(1) // run's, until it has read the outcome
	c.done = c.deliverFn
	c.start()
	<-c.wake
	res, err := c.res, c.err
	c.release()
	return res, err
}

func (c *command) deliver(res session.Result, err error) {
	c.res, c.err = res, err
	c.wake <- struct{}{}
}

func (c *command) bound() bound { return bound{c.ctx, c.deadline} }

// send issues the command on u with the session's callback API.
func (c *command) send(ctx context.Context, u *session.LogicalUnit, done session.Done) {
	switch {
	case c.op != nil:
		c.op(ctx, u, done)
	case c.write:
		u.WriteFunc(ctx, c.lba, c.blocks, c.v, done)
	default:
		u.ReadFunc(ctx, c.lba, c.blocks, c.v, done)
	}
}

// maxUAs bounds how many unit attentions in a row the Device absorbs for a
// command of the block API, beyond the one the session absorbs itself.
const maxUAs = 4

// blockOp reports whether cdb is one of the block API's stand-ins
// (cdbRead, cdbWrite: one byte, where a real CDB has at least six).
func blockOp(cdb []byte) bool { return len(cdb) == 1 }

// try is one attempt of a command on a path. Its outcome is decided once,
// by the first of the session's callback and the path's fence (state).
type try struct {
	c     *command
	endFn session.Done // ended, made once
	p     *path
	a     *attempt
	timer *time.Timer
	state atomic.Int32 // 0 in flight, 1 decided
}

// start sends one command (op, whose CDB is cdb, for the replay rules,
// moving size bytes) on
// a path, and again on another when its path fails, and calls done once
// with the outcome:
//   - a command that did not execute (its error does not match
//     session.ErrMayHaveExecuted: not sent, or only reading) is sent again
//     at once;
//   - a command that may have executed is sent again only when the
//     session's rules say repeating it is safe (session.SafeToRepeat) and
//     the failed path's copy is fenced: ended by the target (ABORT TASK,
//     a LUN reset, the reinstatement of the path's session); otherwise
//     its error (matching session.ErrMayHaveExecuted) is returned;
//   - a transport-class CHECK CONDITION (transportSense) sends a command
//     safe to repeat again; any other status is the command's outcome.
//
// done runs on the goroutine that ended the last attempt: usually the one
// reading a path's connection (session.Done's rules apply), or the caller's
// when the command fails at once.
func (d *Device) start(ctx context.Context, cdb []byte, size int64, op func(context.Context, *session.LogicalUnit, session.Done), done session.Done) {
	c := d.newCommand(ctx, cdb, size, op)
	c.done = done
	c.start()
}

// start is Device.start for a command taken from the pool.
func (c *command) start() {
	select {
	case <-c.d.closed:
		c.finish(session.Result{}, ErrClosed)
		return
	default:
	}
	c.next()
}

// next sends the command on a ready path, or waits for one on a goroutine.
func (c *command) next() {
	for {
		pk := c.d.picker.Load()
		p := pk.pick(c.size)
		if p == nil {
			if pk.allDown {
				c.finish(session.Result{}, fmt.Errorf("%w: the session of every path ended", ErrNoPath))
				return
			}
			go c.wait()
			return
		}
		if c.issue(p) {
			return
		}
		// It left PathReady between the pick and now.
	}
}

// wait waits for a ready path (bounded by the command's context and the
// Device's Close) and sends the command there.
func (c *command) wait() {
	ctx, cancel := c.bound().context()
	defer cancel()
	for {
		p, err := c.d.pathFor(ctx, c.size)
		if err != nil {
			c.finish(session.Result{}, err)
			return
		}
		if c.issue(p) {
			return
		}
	}
}

// issue sends the command on p; false when p is no longer ready.
func (c *command) issue(p *path) bool {
	actx, a, u, ok := p.begin(c.bound(), c.size)
	if !ok {
		return false
	}
	t := &c.first
	if t.c != nil {
		t = new(try)
		t.endFn = t.ended
	}
	t.c, t.p, t.a = c, p, a
	if pt := c.d.cfg.PathTimeout; pt > 0 {
		t.timer = time.AfterFunc(pt, func() { a.cancel(errPathTimeout) })
	}
	// One reference for the session's callback, one for this function:
	// the callback may end the command before send returns.
	c.refs.Add(2)
	c.send(actx, u, t.endFn)
	if !c.readOnly {
		// A read is given back by its session as soon as it is
		// cancelled: it waits for that, so that its buffer is never
		// written after done. A command that may write is given up as
		// soon as the target ended it through another path (fenceThrough).
		switch {
		case !a.fence.watch(t):
			t.fenced() // fenced already
		case t.state.Load() != 0:
			// Ended already (perhaps before send returned).
			if a.fence.unwatch(t) {
				c.release()
			}
		}
	}
	c.release()
	return true
}

// ended is the session's callback of the attempt.
func (t *try) ended(res session.Result, err error) {
	c := t.c
	if !t.state.CompareAndSwap(0, 1) {
		c.release()
		return // given up after a fence: see fenced
	}
	if !c.readOnly && t.a.fence.unwatch(t) {
		c.release() // the fence's: the session's is still held
	}
	t.decide(res, err)
	c.release()
}

// fenced runs when the attempt's path was fenced through another portal:
// the target ended its commands, so the attempt stops waiting for the
// lost session, which reports it only after its own reconnect or its end
// (that late callback is ignored). The lost connection's reader and writer
// were gone before the session reported the loss, and a session never
// sends a cancelled command again: nothing touches the command's buffers
// any more.
func (t *try) fenced() {
	if !t.state.CompareAndSwap(0, 1) {
		return
	}
	t.decide(session.Result{}, &FencedError{Portal: t.a.portal})
}

// decide applies the replay rules to the attempt's outcome: the command
// ends, or goes on another path.
func (t *try) decide(res session.Result, err error) {
	c, p := t.c, t.p
	if t.timer != nil {
		t.timer.Stop()
	}
	cause := t.a.cause()
	p.end(t.a, err)
	if err == nil || c.bound().ended() {
		c.finish(res, err)
		return
	}
	if c.d.alua.on.Load() && c.moved < maxFailovers {
		// Not executed: the port's state refused it, or its state
		// changed. Send it again, whatever it is, where the states (read
		// again) allow.
		if st, ok := aluaRefusal(err); ok {
			p.refusedBy(st)
			p.refused.Add(1)
			c.d.kickALUA()
			c.moved++
			c.next()
			return
		}
		if aluaChanged(err) {
			// Reading the states waits for REPORT TARGET PORT GROUPS:
			// not on the session's goroutine, which must not block.
			c.moved++
			go func() {
				ctx, cancel := c.bound().context()
				c.d.refreshALUA(ctx, time.Now())
				cancel()
				select {
				case <-c.d.closed:
					c.finish(session.Result{}, ErrClosed)
				default:
					c.next()
				}
			}()
			return
		}
	}
	if c.block && scsi.IsUnitAttention(err) && c.uas < maxUAs {
		// A unit attention means the command did not execute. The
		// session sent it once more already; several paths make more
		// of them (a LUN reset that a failed path's connection delivers
		// late raises one on every I_T nexus), so send it again.
		c.uas++
		c.next()
		return
	}
	closed := errors.Is(err, session.ErrSessionClosed)
	var status *scsi.StatusError
	if errors.As(err, &status) {
		if !transportSense(status) || !session.SafeToRepeat(c.cdb) || c.moved >= maxFailovers {
			c.finish(res, err) // the command's own outcome: the target answered it
			return
		}
	} else if cause != errPathFailed && cause != errPathTimeout && !closed {
		c.finish(res, err)
		return
	}
	if closed {
		p.transition(0, PathDown, err)
	}
	if cause == errPathTimeout {
		c.d.failSlow(p, c.d.cfg.PathTimeout)
	}
	if errors.Is(err, session.ErrMayHaveExecuted) && !(fenced(err) && session.SafeToRepeat(c.cdb)) || c.moved >= maxFailovers {
		c.finish(res, err)
		return
	}
	c.moved++
	p.failovers.Add(1)
	c.d.failovers.Add(1)
	c.next()
}
