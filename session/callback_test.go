package session_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// once records the calls of a callback and fails the test on a second.
type once struct {
	t     *testing.T
	calls atomic.Int32
	res   session.Result
	err   error
	done  chan struct{}
}

func newOnce(t *testing.T) *once { return &once{t: t, done: make(chan struct{})} }

func (o *once) fn(r session.Result, err error) {
	if o.calls.Add(1) != 1 {
		o.t.Errorf("callback called again, with %v", err)
		return
	}
	o.res, o.err = r, err
	close(o.done)
}

func (o *once) wait() (session.Result, error) {
	o.t.Helper()
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
		o.t.Fatal("the callback was never called")
	}
	return o.res, o.err
}

// TestCallbackChains: 8 chains of commands, each issued from the callback
// of the one before (as libiscsi's event loop does), write a pattern with
// WriteFunc and read it back with ReadFunc; every byte arrives.
func TestCallbackChains(t *testing.T) {
	tg, s := dial(t, faketarget.Config{}, nil)
	const chains, steps, blocks = 8, 64, 4
	want := pattern(chains*steps*blocks*512, 9)
	got := make([]byte, len(want))
	for _, write := range []bool{true, false} {
		var wg sync.WaitGroup
		errs := make(chan error, chains)
		for c := range chains {
			wg.Add(1)
			var v iovector.Vector
			step := 0
			var issue func()
			issue = func() {
				lba := uint64((c*steps + step) * blocks)
				buf := got
				if write {
					buf = want
				}
				v.Set(buf[lba*512 : (lba+blocks)*512])
				done := func(_ session.Result, err error) {
					if err != nil {
						errs <- err
						wg.Done()
						return
					}
					if step++; step == steps {
						wg.Done()
						return
					}
					issue()
				}
				if write {
					s.WriteFunc(context.Background(), lba, blocks, &v, done)
				} else {
					s.ReadFunc(context.Background(), lba, blocks, &v, done)
				}
			}
			issue()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the chains read back other bytes than they wrote")
	}
	noViolations(t, tg)
}

// TestCallbackRefusedAtOnce: a command refused before it is sent calls its
// callback once, before the call returns, with the reason.
func TestCallbackRefusedAtOnce(t *testing.T) {
	_, s := dial(t, faketarget.Config{}, nil)
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	o := newOnce(t)
	s.ReadFunc(context.Background(), 0, 2, iovector.New(make([]byte, 512)), o.fn)
	if o.calls.Load() != 1 || !errors.Is(o.err, session.ErrVectorLength) {
		t.Fatalf("short vector: %d calls, %v", o.calls.Load(), o.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o = newOnce(t)
	s.ExecuteFunc(ctx, s.LUN(), scsi.TestUnitReady(), session.DirNone, nil, o.fn)
	if o.calls.Load() != 1 || !errors.Is(o.err, context.Canceled) {
		t.Fatalf("ended context: %d calls, %v", o.calls.Load(), o.err)
	}
	s.Close()
	o = newOnce(t)
	s.ReadFunc(context.Background(), 0, 1, iovector.New(make([]byte, 512)), o.fn)
	if _, err := o.wait(); !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("closed session: %v", err)
	}
}

// TestCallbackStatus: a CHECK CONDITION reaches the callback as a
// *scsi.StatusError, as Wait returns it.
func TestCallbackStatus(t *testing.T) {
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpRead10) && c.CDB[5] == 99 {
			_ = c.Peer.Status(c.ITT(), scsi.StatusCheckCondition, fixedSense(scsi.SenseMediumError, 0x1100))
			c.Done()
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	o := newOnce(t)
	s.ReadFunc(context.Background(), 99, 1, iovector.New(make([]byte, 512)), o.fn)
	res, err := o.wait()
	var se *scsi.StatusError
	if !errors.As(err, &se) || res.Status != scsi.StatusCheckCondition {
		t.Fatalf("callback got %+v, %v; want CHECK CONDITION", res, err)
	}
}

// TestCallbackCancelInFlight: a command whose context ends while the
// target holds it is aborted; its callback gets the context's error once,
// and not again when the abort is answered.
func TestCallbackCancelInFlight(t *testing.T) {
	w := newWithheld()
	aborted := make(chan struct{}, 1)
	cfg := faketarget.Config{Hooks: faketarget.Hooks{
		Command: w.hook(77),
		TaskMgmt: func(p *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
			if req.Function == pdu.TMFAbortTask {
				aborted <- struct{}{}
			}
			return faketarget.Proceed
		},
	}}
	_, s := dial(t, cfg, nil)
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := newOnce(t)
	s.ReadFunc(ctx, 77, 1, iovector.New(make([]byte, 512)), o.fn)
	<-w.got
	cancel()
	if _, err := o.wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("callback got %v, want context.Canceled", err)
	}
	select {
	case <-aborted:
	case <-time.After(10 * time.Second):
		t.Fatal("no ABORT TASK")
	}
	// The abort's answer has come by the time another command completes.
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	if n := o.calls.Load(); n != 1 {
		t.Fatalf("callback called %d times", n)
	}
}

// TestCallbackSessionEnds: commands in flight when the session closes get
// their callbacks called once, with an error that says so.
func TestCallbackSessionEnds(t *testing.T) {
	w := newWithheld()
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: w.hook(77)}}, nil)
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	o := newOnce(t)
	s.ReadFunc(context.Background(), 77, 1, iovector.New(make([]byte, 512)), o.fn)
	<-w.got
	s.Close()
	if _, err := o.wait(); !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("callback got %v, want ErrSessionClosed", err)
	}
}

// TestCallbackBeforeGeometry: ReadFunc on a unit whose geometry is not
// known yet (Dial returned right after login) reads it first, without
// blocking the caller.
func TestCallbackBeforeGeometry(t *testing.T) {
	_, s := dial(t, faketarget.Config{}, &session.Config{SkipTestUnitReady: true})
	got := fill(512, 0xFF)
	o := newOnce(t)
	s.ReadFunc(context.Background(), 3, 1, iovector.New(got), o.fn)
	if _, err := o.wait(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, 512)) {
		t.Fatal("the read did not fill the buffer")
	}
}

// TestCallbackAllocatesNothing: with a context that cannot end, a read
// and a write with a callback allocate nothing.
func TestCallbackAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	_, s := dial(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 1 << 20, Null: true}}}, nil)
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	v := iovector.New(buf[:1024], buf[1024:])
	ch := make(chan error, 1)
	done := func(_ session.Result, err error) { ch <- err }
	ctx := context.Background()
	read := func() {
		s.ReadFunc(ctx, 8, 8, v, done)
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	write := func() {
		s.WriteFunc(ctx, 8, 8, v, done)
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		read()
		write()
	}
	if n := testing.AllocsPerRun(500, read); n > 0 {
		t.Fatalf("a read with a callback allocated %v times", n)
	}
	if n := testing.AllocsPerRun(500, write); n > 0 {
		t.Fatalf("a write with a callback allocated %v times", n)
	}
}
