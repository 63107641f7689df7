package blockstream

import (
	"context"
	"sync"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
)

// Command is one READ or WRITE of a CommandPipe, as its Sender sees it.
type Command struct {
	LBA    uint64
	Blocks uint32
	Write  bool
	Vec    iovector.Vector // the command's bytes
}

// Sender is what a CommandPipe sends its commands through, and what
// differs between a session's LogicalUnit and a multipath Device. F is
// the future of one command. The pipe calls it from its own goroutine.
type Sender[F any] interface {
	// Send sends c, bounded by ctx, and returns its future.
	Send(ctx context.Context, c *Command) F
	// Wait waits for f, of c, and returns its error: a command that moved
	// fewer bytes than c asked for failed too.
	Wait(f F, c *Command) error
	// Retry is given the error of a command while the pipe's context has
	// not ended, and returns the command's final error; each call of again
	// sends the command again, bounded by a fresh timeout, and waits for
	// it.
	Retry(ctx context.Context, err error, again func() error) error
}

// PipeConfig is the shape of a CommandPipe.
type PipeConfig struct {
	Depth     int           // commands in flight at most
	Write     bool          // WRITEs, else READs
	BlockSize int64         // bytes per block
	Timeout   time.Duration // bounds each command (a Config.CommandTimeout)
	Cause     error         // the cause of a command context the timeout ended
}

// CommandPipe keeps up to Depth READ or WRITE commands of one device in
// flight, all issued from one goroutine and waited for in the order
// issued, the way a hand-written copy with that many goroutines would,
// without the goroutines. Each command is bounded by the Timeout through
// its slot's reusable context, so a command in steady state allocates
// nothing here. It implements Pipe; a CommandPipe is used by one goroutine
// at a time.
type CommandPipe[F any] struct {
	snd    Sender[F]
	cfg    PipeConfig
	ctx    context.Context // the pipe's: its cancel ends every command
	cancel context.CancelFunc
	slots  []pipeSlot[F]
	head   int // slots[head] is the oldest command in flight
	n      int // commands in flight
}

// pipeSlot is one command of a pipe and the context that bounds it.
type pipeSlot[F any] struct {
	p   *CommandPipe[F]
	c   Command
	f   F
	off int64 // the command's first byte on the device

	// ctx is a child of the pipe's context, reused from command to command
	// until it ends; timer cancels it once deadline has passed.
	ctx      context.Context
	cancel   context.CancelCauseFunc
	timer    *time.Timer
	mu       sync.Mutex
	deadline time.Time // zero when no command is armed
}

// NewCommandPipe returns a pipe of cfg.Depth commands sent through snd,
// all of which ctx ends.
func NewCommandPipe[F any](ctx context.Context, snd Sender[F], cfg PipeConfig) *CommandPipe[F] {
	p := &CommandPipe[F]{snd: snd, cfg: cfg, slots: make([]pipeSlot[F], cfg.Depth)}
	p.ctx, p.cancel = context.WithCancel(ctx)
	for i := range p.slots {
		s := &p.slots[i]
		s.p = p
		s.c.Write = cfg.Write
		s.ctx, s.cancel = context.WithCancelCause(p.ctx)
		s.timer = time.AfterFunc(time.Hour, s.fire)
		s.timer.Stop()
	}
	return p
}

// Len returns how many commands are in flight.
func (p *CommandPipe[F]) Len() int { return p.n }

// Full says whether Depth commands are in flight.
func (p *CommandPipe[F]) Full() bool { return p.n == len(p.slots) }

// Next returns the slot the next Issue uses.
func (p *CommandPipe[F]) Next() int { return (p.head + p.n) % len(p.slots) }

// Issue sends a READ or WRITE of b, whole blocks, at the block-aligned
// byte off, on the next slot. The pipe must not be full; b must not be
// touched until the command is waited for.
func (p *CommandPipe[F]) Issue(off int64, b []byte) {
	s := &p.slots[p.Next()]
	p.n++
	s.c.Vec.Set(b)
	bs := p.cfg.BlockSize
	s.c.LBA, s.c.Blocks, s.off = uint64(off/bs), uint32(int64(len(b))/bs), off
	s.f = p.snd.Send(s.arm(), &s.c)
}

// Wait waits for the oldest command in flight, retrying it as the
// Sender's Retry says, and returns its slot, byte offset and length, and
// the Sender's error (not yet saying the offset).
func (p *CommandPipe[F]) Wait() (slot int, off, n int64, err error) {
	i := p.head
	s := &p.slots[i]
	p.head = (p.head + 1) % len(p.slots)
	p.n--
	err = s.disarm(p.snd.Wait(s.f, &s.c))
	if err != nil && p.ctx.Err() == nil {
		err = p.snd.Retry(p.ctx, err, func() error {
			f := p.snd.Send(s.arm(), &s.c)
			return s.disarm(p.snd.Wait(f, &s.c))
		})
	}
	return i, s.off, s.c.Vec.Len(), err
}

// Cancel ends every command in flight; each is still to be waited for.
func (p *CommandPipe[F]) Cancel() { p.cancel() }

// Close cancels what is in flight, waits for it and releases the slots.
func (p *CommandPipe[F]) Close() {
	p.cancel()
	for p.n > 0 {
		_, _, _, _ = p.Wait()
	}
	for i := range p.slots {
		p.slots[i].timer.Stop()
		p.slots[i].cancel(nil)
	}
}

// arm starts the slot's command timeout and returns the context of the
// command.
func (s *pipeSlot[F]) arm() context.Context {
	d := s.p.cfg.Timeout
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
func (s *pipeSlot[F]) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
		s.cancel(s.p.cfg.Cause)
	}
}

// disarm stops the slot's timeout once its command is waited for, and
// gives the slot a new context if the old one ended. A command the timer
// cancelled failed with an error its Sender made of the cause.
func (s *pipeSlot[F]) disarm(err error) error {
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
