package session

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
)

// BulkDepth is how many READ or WRITE commands of up to MaxTransfer bytes a
// ReadAt or WriteAt larger than MaxTransfer, a Reader and a Writer keep in
// flight at once. Eight 1 MiB commands are 8 MiB in flight, what a 10 Gb/s
// link carries in 6.7 ms: enough for the round trips of a LAN. Over
// loopback (docs/BENCHMARKS.md, "Bulk I/O") eight double a large read of
// 64 KiB commands; with 1 MiB commands the copy is CPU-bound there and the
// depth changes nothing. Each command holds one place of the target's
// command window.
const BulkDepth = 8

// pipe keeps up to len(slots) READ or WRITE commands of one unit in flight,
// all issued from one goroutine and waited for in the order issued, the way
// a hand-written copy with that many goroutines would, without the
// goroutines. Each command is bounded by Config.CommandTimeout through its
// slot's reusable context, so a command in steady state allocates nothing.
// A pipe is used by one goroutine at a time.
type pipe struct {
	u      *LogicalUnit
	ctx    context.Context // the pipe's: its cancel ends every command
	cancel context.CancelFunc
	write  bool
	slots  []pipeSlot
	head   int // slots[head] is the oldest command in flight
	n      int // commands in flight
}

// pipeSlot is one command of a pipe and the context that bounds it.
type pipeSlot struct {
	p      *pipe
	vec    iovector.Vector
	f      Future
	lba    uint64
	blocks uint32
	off    int64 // the command's first byte on the LUN

	// ctx is a child of the pipe's context, reused from command to command
	// until it ends; timer cancels it once deadline has passed.
	ctx      context.Context
	cancel   context.CancelCauseFunc
	timer    *time.Timer
	mu       sync.Mutex
	deadline time.Time // zero when no command is armed
}

func (u *LogicalUnit) newPipe(ctx context.Context, depth int, write bool) *pipe {
	p := &pipe{u: u, write: write, slots: make([]pipeSlot, depth)}
	p.ctx, p.cancel = context.WithCancel(ctx)
	for i := range p.slots {
		s := &p.slots[i]
		s.p = p
		s.ctx, s.cancel = context.WithCancelCause(p.ctx)
		s.timer = time.AfterFunc(time.Hour, s.fire)
		s.timer.Stop()
	}
	return p
}

// full says whether depth commands are in flight.
func (p *pipe) full() bool { return p.n == len(p.slots) }

// next returns the index of the slot the next issue uses.
func (p *pipe) next() int { return (p.head + p.n) % len(p.slots) }

// issue sends a READ or WRITE of blocks blocks at lba over buf, which
// starts at byte off of the LUN, on the next slot. The pipe must not be
// full; buf must not be touched until the command is waited for.
func (p *pipe) issue(lba uint64, blocks uint32, off int64, buf []byte) {
	s := &p.slots[p.next()]
	p.n++
	s.vec.Set(buf)
	s.lba, s.blocks, s.off = lba, blocks, off
	s.f = p.u.rw(s.arm(), lba, blocks, &s.vec, p.write)
}

// wait waits for the oldest command in flight, retrying it as
// LogicalUnit.retry does, and returns its slot index. An error is an
// *OpError whose Offset is the command's first byte when the session gave
// one, else what the command failed with (a context's error).
func (p *pipe) wait() (int, error) {
	i := p.head
	s := &p.slots[i]
	p.head = (p.head + 1) % len(p.slots)
	p.n--
	res, err := s.f.Wait()
	err = p.u.shortTransfer(res, s.disarm(err), s.lba, p.write)
	if err != nil && p.ctx.Err() == nil {
		first := true
		err = p.u.retry(p.ctx, func() error {
			if first {
				first = false
				return err
			}
			f := p.u.rw(s.arm(), s.lba, s.blocks, &s.vec, p.write)
			res, err := f.Wait()
			return p.u.shortTransfer(res, s.disarm(err), s.lba, p.write)
		})
	}
	if err != nil {
		var oe *OpError
		if errors.As(err, &oe) {
			oe.Offset = s.off
		}
	}
	return i, err
}

// drain waits for every command in flight and returns the first error.
func (p *pipe) drain() error {
	var first error
	for p.n > 0 {
		if _, err := p.wait(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// close cancels what is in flight, waits for it and releases the slots.
func (p *pipe) close() {
	p.cancel()
	_ = p.drain()
	for i := range p.slots {
		p.slots[i].timer.Stop()
		p.slots[i].cancel(nil)
	}
}

// arm starts the slot's command timeout and returns the context of the
// command.
func (s *pipeSlot) arm() context.Context {
	d := s.p.u.s.cfg.CommandTimeout
	s.mu.Lock()
	s.deadline = time.Now().Add(d)
	s.mu.Unlock()
	s.timer.Reset(d)
	return s.ctx
}

// fire is the timer's: it cancels the armed command once its deadline has
// passed (a timer left from an earlier command of the slot finds a later
// deadline, or none, and does nothing). It cancels under mu, so that
// disarm sees either nothing or an ended context.
func (s *pipeSlot) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
		s.cancel(s.p.u.s.timeoutCause)
	}
}

// disarm stops the slot's timeout once its command is waited for, and
// gives the slot a new context if the old one ended. A command the timer
// cancelled has an error matching ErrCommandTimeout and
// context.DeadlineExceeded (the cause the timer gave its context).
func (s *pipeSlot) disarm(err error) error {
	s.timer.Stop()
	s.mu.Lock()
	s.deadline = time.Time{}
	if s.ctx.Err() != nil && s.p.ctx.Err() == nil {
		s.cancel(nil)
		s.ctx, s.cancel = context.WithCancelCause(s.p.ctx)
	}
	s.mu.Unlock()
	return err
}
