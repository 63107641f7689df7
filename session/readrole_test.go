package session_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/session"
)

// waitRole waits until the session's read role is want.
func waitRole(t *testing.T, s *session.Session, want uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for session.ReadRole(s) != want {
		if time.Now().After(deadline) {
			t.Fatalf("read role %d, want %d", session.ReadRole(s), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// parkedSession dials the fake target and runs one command, after which
// the reader goroutine parks with the read role free (and, with linger
// set to an hour, stays parked).
func parkedSession(t *testing.T, cfg faketarget.Config, scfg *session.Config) (*faketarget.Target, *session.Session) {
	t.Helper()
	t.Cleanup(session.SetLinger(time.Hour))
	tg, s := dial(t, cfg, scfg)
	buf := make([]byte, 512)
	if _, err := s.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	waitRole(t, s, session.RoleFree)
	return tg, s
}

// TestWaiterReadsForItself: with nothing else in flight, the caller that
// waits reads the connection itself (the read role), gets its data, and
// leaves the role free again; commands in a row keep doing so.
func TestWaiterReadsForItself(t *testing.T) {
	tg, s := parkedSession(t, faketarget.Config{}, nil)
	want := pattern(4096, 7)
	if _, err := s.WriteAt(want, 8*512); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		got := make([]byte, 4096)
		if _, err := s.Read(ctxT(t), 8, 8, iovector.New(got)).Wait(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d: wrong data", i)
		}
		if r := session.ReadRole(s); r != session.RoleFree {
			t.Fatalf("after read %d the read role is %d, want free (the caller read for itself and left it)", i, r)
		}
	}
	noViolations(t, tg)
}

// TestCancelWhileReadingForItself: a caller that reads the connection for
// its own command still sees its context end (a context without a
// deadline, and one with): Wait returns the context's error, ABORT TASK
// goes out, and the session carries on.
func TestCancelWhileReadingForItself(t *testing.T) {
	for _, withDeadline := range []bool{false, true} {
		t.Run(map[bool]string{false: "cancel", true: "deadline"}[withDeadline], func(t *testing.T) {
			w := newWithheld()
			var aborts atomic.Int32
			cfg := faketarget.Config{Hooks: faketarget.Hooks{
				Command: w.hook(77),
				TaskMgmt: func(p *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
					if req.Function == pdu.TMFAbortTask {
						aborts.Add(1)
					}
					return faketarget.Proceed
				},
			}}
			_, s := parkedSession(t, cfg, nil)
			var ctx context.Context
			var cancel context.CancelFunc
			if withDeadline {
				ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
			} else {
				ctx, cancel = context.WithCancel(context.Background())
			}
			defer cancel()
			f := s.Read(ctx, 77, 1, iovector.New(make([]byte, 512)))
			errc := make(chan error, 1)
			go func() {
				_, err := f.Wait()
				errc <- err
			}()
			<-w.got
			waitRole(t, s, session.RoleCaller)
			if !withDeadline {
				cancel()
			}
			select {
			case err := <-errc:
				if !errors.Is(err, ctx.Err()) || ctx.Err() == nil {
					t.Fatalf("Wait = %v, want %v", err, ctx.Err())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Wait did not return after its context ended")
			}
			// The session still works, and the abort went out.
			if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
				t.Fatal(err)
			}
			if aborts.Load() != 1 {
				t.Fatalf("%d ABORT TASK, want 1", aborts.Load())
			}
		})
	}
}

// TestDoneWakesTheParkedReader: a Future watched only through Done, while
// the reader goroutine is parked, still completes: nobody reads for it in
// Wait, so the reader goroutine takes the read role back at once (linger
// is an hour here).
func TestDoneWakesTheParkedReader(t *testing.T) {
	_, s := parkedSession(t, faketarget.Config{}, nil)
	f := s.Read(ctxT(t), 0, 1, iovector.New(make([]byte, 512)))
	select {
	case <-f.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a Future watched through Done never completed while the reader was parked")
	}
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestParkedReaderLingers: the parked reader goroutine takes the read role
// back after the linger, so that what the target sends unasked is read
// while no command is in flight.
func TestParkedReaderLingers(t *testing.T) {
	t.Cleanup(session.SetLinger(time.Millisecond))
	_, s := dial(t, faketarget.Config{}, nil)
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	waitRole(t, s, session.RoleLoop)
}

// TestLostWhileReadingForItself: the connection breaks while a caller
// reads for its command; the session reconnects and the command, sent
// again, completes with its data.
func TestLostWhileReadingForItself(t *testing.T) {
	var cut atomic.Bool
	held := make(chan *faketarget.Peer, 1)
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == 0x28 && c.CDB[5] == 77 && cut.CompareAndSwap(false, true) {
			held <- c.Peer
			return faketarget.Handled // never answered on this connection
		}
		return faketarget.Proceed
	}}}
	_, s := parkedSession(t, cfg, nil)
	want := pattern(512, 3)
	if _, err := s.WriteAt(want, 77*512); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 512)
	f := s.Read(ctxT(t), 77, 1, iovector.New(got))
	errc := make(chan error, 1)
	go func() {
		_, err := f.Wait()
		errc <- err
	}()
	p := <-held
	waitRole(t, s, session.RoleCaller)
	_ = p.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Wait did not return after the connection broke")
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the command sent again read other bytes")
	}
	if st := s.Stats(); st.Reconnects != 1 {
		t.Fatalf("%d reconnects, want 1", st.Reconnects)
	}
}

// TestStaleWaitDeadline: a caller with a context leaves a wait deadline on
// the connection; once it has passed, a caller without a deadline that
// reads for itself must not take it for its own (it once spun on it).
func TestStaleWaitDeadline(t *testing.T) {
	_, s := parkedSession(t, faketarget.Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Read(ctx, 0, 1, iovector.New(make([]byte, 512))).Wait(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the wait deadline (10 ms) passes
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(context.Background(), 0, 1, iovector.New(make([]byte, 512))).Wait()
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Wait without a deadline never completed after a stale wait deadline")
	}
}

// TestSilentTargetWhileReadingForItself: the target stops answering while
// a caller with a context that never ends reads for its command. The
// keepalive (the writer goroutine's) still notices, the connection is
// replaced, and the command, sent again, completes with its data.
func TestSilentTargetWhileReadingForItself(t *testing.T) {
	t.Cleanup(session.SetLinger(time.Hour))
	want := pattern(512, 5)
	data := make([]byte, 64*512)
	copy(data[3*512:], want)
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: []faketarget.LUN{{Number: 1, Blocks: 64, Data: data}}})
	s, c0 := dialThroughProxy(t, tg)
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	waitRole(t, s, session.RoleFree)
	c0.Down().Stall(0) // the target's answers stop coming
	got := make([]byte, 512)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(context.Background(), 3, 1, iovector.New(got)).Wait()
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a caller reading for itself hung on a silent target")
	}
	if !bytes.Equal(got, want) {
		t.Fatal("wrong bytes after the keepalive's reconnect")
	}
	if st := s.Stats(); st.Keepalives == 0 || st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}
