package blockstream

import (
	"context"
	"errors"
	"testing"
	"time"
)

var (
	errTimeout = errors.New("test: command timeout")
	errBusy    = errors.New("test: busy")
)

// fakeSender is a Sender whose commands end when waited for: at once, or,
// for those of hang, when their context ends, with its cause. It records
// what it was sent.
type fakeSender struct {
	t       *testing.T
	hang    func(c *Command) bool  // nil: none hangs
	fail    func(c *Command) error // the error of an attempt; nil: none fails
	retries int                    // how many times Retry calls again
	sent    []sent                 // every Send, in order (up to cap)
	ctxs    []context.Context      // the context of every Send (up to cap)
	sends   int
	retried int
}

// sent is a command as it was sent.
type sent struct {
	lba    uint64
	blocks uint32
	write  bool
	n      int64 // bytes of its vector
}

// fakeFuture is what fakeSender.Send returns.
type fakeFuture struct {
	ctx  context.Context
	hang bool
	err  error
}

func (s *fakeSender) Send(ctx context.Context, c *Command) fakeFuture {
	s.sends++
	if len(s.sent) < cap(s.sent) {
		s.sent = append(s.sent, sent{c.LBA, c.Blocks, c.Write, c.Vec.Len()})
		s.ctxs = append(s.ctxs, ctx)
	}
	if ctx.Err() != nil {
		s.t.Errorf("command %d sent with an ended context: %v", s.sends, context.Cause(ctx))
	}
	f := fakeFuture{ctx: ctx, hang: s.hang != nil && s.hang(c)}
	if s.fail != nil {
		f.err = s.fail(c)
	}
	return f
}

func (s *fakeSender) Wait(f fakeFuture, _ *Command) error {
	if f.hang {
		<-f.ctx.Done()
		return context.Cause(f.ctx)
	}
	return f.err
}

func (s *fakeSender) Retry(_ context.Context, err error, again func() error) error {
	s.retried++
	for range s.retries {
		if err = again(); err == nil {
			break
		}
	}
	return err
}

const pipeBS = 512

func newTestPipe(ctx context.Context, s *fakeSender, depth int, write bool, timeout time.Duration) *CommandPipe[fakeFuture] {
	return NewCommandPipe[fakeFuture](ctx, s, PipeConfig{Depth: depth, Write: write, BlockSize: pipeBS, Timeout: timeout, Cause: errTimeout})
}

// Commands are waited for in the order issued, through the slots in turn,
// and sent as whole blocks at the right LBA.
func TestCommandPipeOrder(t *testing.T) {
	for _, write := range []bool{false, true} {
		s := &fakeSender{t: t, sent: make([]sent, 0, 16)}
		p := newTestPipe(context.Background(), s, 3, write, time.Hour)
		buf := make([]byte, 17*pipeBS)
		var issued, waited int
		for waited < 16 {
			for issued < 16 && !p.Full() {
				if p.Next() != issued%3 {
					t.Fatalf("Next %d for command %d of a pipe of 3", p.Next(), issued)
				}
				n := (issued%2 + 1) * pipeBS // commands of one and two blocks
				p.Issue(int64(issued*pipeBS), buf[issued*pipeBS:issued*pipeBS+n])
				issued++
			}
			if p.Len() != min(3, issued-waited) {
				t.Fatalf("Len %d with %d issued and %d waited for", p.Len(), issued, waited)
			}
			slot, off, n, err := p.Wait()
			if err != nil || slot != waited%3 || off != int64(waited*pipeBS) || n != int64((waited%2+1)*pipeBS) {
				t.Fatalf("Wait of command %d: slot %d, off %d, n %d, %v", waited, slot, off, n, err)
			}
			waited++
		}
		p.Close()
		for i, c := range s.sent {
			if c.lba != uint64(i) || c.blocks != uint32(i%2+1) || c.write != write || c.n != int64(c.blocks)*pipeBS {
				t.Fatalf("command %d sent as %+v", i, c)
			}
		}
		if s.sends != 16 || s.retried != 0 {
			t.Fatalf("%d sends, %d retries; want 16 and none", s.sends, s.retried)
		}
	}
}

// A command that outlives the timeout ends with the cause; its slot gets
// a fresh context, and the next command through it runs.
func TestCommandPipeTimeout(t *testing.T) {
	s := &fakeSender{t: t, sent: make([]sent, 0, 8), ctxs: make([]context.Context, 0, 8)}
	s.hang = func(c *Command) bool { return c.LBA == 1 }
	p := newTestPipe(context.Background(), s, 2, false, 10*time.Millisecond)
	defer p.Close()
	buf := make([]byte, 4*pipeBS)
	p.Issue(0, buf[:pipeBS])
	p.Issue(pipeBS, buf[pipeBS:2*pipeBS])
	if _, _, _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	p.Issue(2*pipeBS, buf[2*pipeBS:3*pipeBS])
	if _, off, _, err := p.Wait(); off != pipeBS || err != errTimeout {
		t.Fatalf("the hanging command at %d: %v, want %v", off, err, errTimeout)
	}
	p.Issue(3*pipeBS, buf[3*pipeBS:]) // slot 1 again
	for range 2 {
		if _, off, _, err := p.Wait(); err != nil {
			t.Fatalf("command at %d after the timeout: %v", off, err)
		}
	}
	if s.ctxs[1] == s.ctxs[3] || s.ctxs[0] != s.ctxs[2] {
		t.Fatal("slot 1 kept its ended context, or slot 0 did not keep its live one")
	}
	if s.retried != 1 {
		t.Fatalf("Retry called %d times, want once (for the timed out command)", s.retried)
	}
}

// Cancel ends every command in flight, which then is not retried; Close
// ends the slots' contexts. The pipe's context does what Cancel does.
func TestCommandPipeCancel(t *testing.T) {
	for _, viaCtx := range []bool{false, true} {
		s := &fakeSender{t: t, sent: make([]sent, 0, 8), ctxs: make([]context.Context, 0, 8)}
		s.hang = func(*Command) bool { return true }
		ctx, cancel := context.WithCancel(context.Background())
		p := newTestPipe(ctx, s, 4, true, time.Hour)
		buf := make([]byte, 4*pipeBS)
		for i := range 4 {
			p.Issue(int64(i*pipeBS), buf[i*pipeBS:(i+1)*pipeBS])
		}
		if viaCtx {
			cancel()
		} else {
			p.Cancel()
		}
		for i := range 4 {
			if _, off, _, err := p.Wait(); off != int64(i*pipeBS) || !errors.Is(err, context.Canceled) {
				t.Fatalf("command %d: at %d, %v; want context.Canceled", i, off, err)
			}
		}
		if s.retried != 0 {
			t.Fatalf("Retry called %d times after Cancel", s.retried)
		}
		p.Close()
		for i := range 4 {
			if p.slots[i].ctx.Err() == nil {
				t.Fatalf("slot %d's context lives on after Close", i)
			}
		}
		cancel()
	}
	// Close cancels what is in flight and waits for it.
	s := &fakeSender{t: t, hang: func(*Command) bool { return true }}
	p := newTestPipe(context.Background(), s, 2, false, time.Hour)
	p.Issue(0, make([]byte, pipeBS))
	p.Close()
	if p.Len() != 0 {
		t.Fatalf("Close left %d commands in flight", p.Len())
	}
}

// A failed command goes to Retry, whose again sends it once more, on a
// live context.
func TestCommandPipeRetry(t *testing.T) {
	s := &fakeSender{t: t, retries: 3, sent: make([]sent, 0, 8)}
	s.fail = func(c *Command) error {
		if c.LBA == 2 && s.sends <= 5 { // the third command's first two attempts
			return errBusy
		}
		return nil
	}
	p := newTestPipe(context.Background(), s, 4, false, time.Hour)
	defer p.Close()
	buf := make([]byte, 4*pipeBS)
	for i := range 4 {
		p.Issue(int64(i*pipeBS), buf[i*pipeBS:(i+1)*pipeBS])
	}
	for i := range 4 {
		if _, off, _, err := p.Wait(); off != int64(i*pipeBS) || err != nil {
			t.Fatalf("command %d: at %d, %v", i, off, err)
		}
	}
	if s.sends != 6 || s.retried != 1 || s.sent[4].lba != 2 || s.sent[5].lba != 2 {
		t.Fatalf("%d sends (%+v), %d Retry calls; want the command at LBA 2 sent twice more", s.sends, s.sent, s.retried)
	}
	s.retries = 0
	s.fail = func(*Command) error { return errBusy }
	p.Issue(0, buf[:pipeBS])
	if _, _, _, err := p.Wait(); err != errBusy {
		t.Fatalf("%v, want the error Retry gave up with", err)
	}
}

// In steady state a command allocates nothing in the pipe.
func TestCommandPipeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not those of a real build")
	}
	s := &fakeSender{t: t}
	p := newTestPipe(context.Background(), s, 4, false, time.Hour)
	defer p.Close()
	buf := make([]byte, 4*pipeBS)
	one := func() {
		if p.Full() {
			if _, _, _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		i := p.Next()
		p.Issue(int64(i*pipeBS), buf[i*pipeBS:(i+1)*pipeBS])
	}
	for range 8 {
		one()
	}
	if n := testing.AllocsPerRun(100, one); n != 0 {
		t.Errorf("a command allocated %v times", n)
	}
}
