package session_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestWriteSequences: immediate data, unsolicited Data-Out and R2T
// sequences under small limits; the target checks DataSN per sequence, F
// bits, TTT echo, offsets and lengths, and the data must land.
func TestWriteSequences(t *testing.T) {
	cases := []struct {
		name string
		cfg  faketarget.Config
		off  session.Config
	}{
		{"defaults", faketarget.Config{}, session.Config{}},
		{"small, unsolicited", faketarget.Config{MaxRecvDataSegmentLength: 1024, FirstBurstLength: 4096, MaxBurstLength: 8192, InitialR2T: keys.Some(false)}, session.Config{}},
		{"R2T only", faketarget.Config{MaxRecvDataSegmentLength: 512, FirstBurstLength: 4096, MaxBurstLength: 2048, InitialR2T: keys.Some(true), ImmediateData: keys.Some(false)}, session.Config{}},
		{"several outstanding R2T", faketarget.Config{MaxRecvDataSegmentLength: 2048, MaxBurstLength: 4096, MaxOutstandingR2T: 4, InitialR2T: keys.Some(true)},
			session.Config{Operational: keys.Offer{MaxOutstandingR2T: keys.Some[uint32](4)}}},
		{"digests, small Data-In", faketarget.Config{PreferCRC32C: true, SeparateStatus: true},
			session.Config{Operational: keys.Offer{MaxRecvDataSegmentLength: keys.Some[uint32](1024)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg, s := dial(t, c.cfg, &c.off)
			ctx := ctxT(t)
			data := pattern(70000, 3)
			if n, err := s.WriteAt(data, 1000); n != len(data) || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
			if got := tg.LUNData(1)[1000 : 1000+len(data)]; !bytes.Equal(got, data) {
				t.Fatal("the target stored other bytes")
			}
			got := make([]byte, len(data))
			if n, err := s.ReadAt(got, 1000); n != len(got) || err != nil {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("read back other bytes")
			}
			// A future write from a scattered vector.
			a, b := pattern(3*512, 9), pattern(5*512, 10)
			f := s.Write(ctx, 200, 8, iovector.New(a, b))
			if _, err := f.Wait(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tg.LUNData(1)[200*512:208*512], append(a, b...)) {
				t.Fatal("scattered write stored other bytes")
			}
			noViolations(t, tg)
		})
	}
}

// TestAbortTask: the target withholds a read's Data-In; the caller cancels;
// Wait returns ctx.Err() at once, ABORT TASK goes out with the right fields,
// late Data-In (before and after the abort's answer) never reaches the
// caller's buffer, and the session stays usable.
func TestAbortTask(t *testing.T) {
	w := newWithheld()
	var abort atomic.Pointer[pdu.TaskMgmtRequest]
	late := make(chan struct{})
	cfg := faketarget.Config{Hooks: faketarget.Hooks{
		Command: w.hook(77),
		TaskMgmt: func(p *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
			r := *req
			abort.Store(&r)
			// Late data while the ITT is still reserved …
			_ = p.Reply(&pdu.DataIn{ITT: req.ReferencedTaskTag, DataSN: 0, BufferOffset: 0}, fill(512, 0xEE))
			// … and after the abort's answer.
			go func() {
				defer close(late)
				time.Sleep(30 * time.Millisecond)
				_ = p.Reply(&pdu.DataIn{ITT: req.ReferencedTaskTag, DataSN: 1, BufferOffset: 512, Final: true, HasStatus: true}, fill(512, 0xEE))
			}()
			return faketarget.Proceed
		},
	}}
	// Late PDUs for a finished task are no violation of ours: the target
	// sends them on purpose.
	_, s := dial(t, cfg, nil)
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	buf := fill(1024, 0xAA)
	ctx, cancel := context.WithCancel(context.Background())
	f := s.Read(ctx, 77, 2, iovector.New(buf))
	var cmd *faketarget.Command
	select {
	case cmd = <-w.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the command never reached the target")
	}
	cancel()
	start := time.Now()
	if _, err := f.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Wait took %v after cancel", d)
	}
	select {
	case <-late:
	case <-time.After(5 * time.Second):
		t.Fatal("no ABORT TASK reached the target")
	}
	a := abort.Load()
	if a == nil || a.Function != pdu.TMFAbortTask || !a.Immediate || a.ReferencedTaskTag != cmd.ITT() || a.RefCmdSN != cmd.Req.CmdSN || a.LUN != cmd.Req.LUN {
		t.Fatalf("ABORT TASK %+v for command ITT %#x CmdSN %d", a, cmd.ITT(), cmd.Req.CmdSN)
	}
	if !bytes.Equal(buf, fill(1024, 0xAA)) {
		t.Fatal("late Data-In reached the caller's buffer")
	}
	// The session still works, and the slot reused for the next read takes
	// none of the late bytes.
	got := make([]byte, 1024)
	if n, err := s.ReadAt(got, 0); n != 1024 || err != nil {
		t.Fatalf("ReadAt after abort = %d, %v", n, err)
	}
	if bytes.Contains(got, fill(16, 0xEE)) {
		t.Fatal("late bytes in a later read")
	}
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// TestCancelQueuedLeavesNoGap: with the command window closed, commands
// queue; an immediate Ping still goes; a queued command cancelled never gets
// a CmdSN; when the window opens the rest go in order (the target checks
// CmdSN order and the window).
func TestCancelQueuedLeavesNoGap(t *testing.T) { synctest.Test(t, testCancelQueuedLeavesNoGap) }

func testCancelQueuedLeavesNoGap(t *testing.T) {
	var peer atomic.Pointer[faketarget.Peer]
	var arm atomic.Bool
	// A window of one command: MaxCmdSN only grows (RFC 7143 §4.2.2.1), so
	// a target closes the window by not extending it.
	cfg := faketarget.Config{QueueDepth: 1, Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		peer.Store(c.Peer)
		if c.CDB[0] == byte(scsi.OpTestUnitReady) && arm.CompareAndSwap(true, false) {
			c.Peer.SetMaxCmdSN(c.Req.CmdSN) // the response closes the window
		}
		return faketarget.Proceed
	}}}
	_, s := dialPipe(t, cfg, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	arm.Store(true)
	tur := s.Execute(ctx, s.LUN(), scsi.TestUnitReady(), session.DirNone, nil)
	if _, err := tur.Wait(); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 8)
	cctx, cancel := context.WithCancel(ctx)
	bufs := make([][]byte, 4)
	for i := range bufs {
		bufs[i] = make([]byte, 512)
		c := ctx
		if i == 1 {
			c = cctx
		}
		go func() {
			f := s.Read(c, uint64(i), 1, iovector.New(bufs[i]))
			_, err := f.Wait()
			results <- err
		}()
	}
	synctest.Wait() // every reader is parked at the closed window
	select {
	case err := <-results:
		t.Fatalf("a command completed with the window closed: %v", err)
	default:
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("an immediate ping must pass a closed window: %v", err)
	}
	cancel()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled queued read returned %v", err)
	}
	p := peer.Load()
	p.AutoMaxCmdSN()
	if err := p.Reply(&pdu.NOPIn{ITT: pdu.ReservedITT, TTT: pdu.ReservedITT}, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := <-results; err != nil {
			t.Fatalf("read after the window opened: %v", err)
		}
	}
}

// TestTargetProtocolViolations (without recovery): each lie fails its command with a clear
// error, never a panic, never bytes outside the buffer, never stale bytes
// passed off as data; the session survives the ones that concern one task.
func TestTargetProtocolViolations(t *testing.T) {
	type lie func(c *faketarget.Command, n int) error
	send := func(c *faketarget.Command, m *pdu.DataIn, data []byte) error {
		m.ITT = c.ITT()
		return c.Peer.Reply(m, data)
	}
	cases := []struct {
		name    string
		lie     lie
		wantErr func(error) bool
		fatal   bool // the session must end
	}{
		{"offset beyond the transfer", func(c *faketarget.Command, n int) error {
			return send(c, &pdu.DataIn{BufferOffset: uint32(n), Final: true, HasStatus: true}, fill(512, 1))
		}, isProto, false},
		{"data beyond the expected length", func(c *faketarget.Command, n int) error {
			return send(c, &pdu.DataIn{Final: true, HasStatus: true}, fill(n+512, 1))
		}, isProto, false},
		{"DataSN gap", func(c *faketarget.Command, n int) error {
			if err := send(c, &pdu.DataIn{DataSN: 0}, fill(n/2, 1)); err != nil {
				return err
			}
			return send(c, &pdu.DataIn{DataSN: 2, BufferOffset: uint32(n / 2), Final: true, HasStatus: true}, fill(n/2, 1))
		}, isProto, false},
		{"out of order offset", func(c *faketarget.Command, n int) error {
			if err := send(c, &pdu.DataIn{DataSN: 0, BufferOffset: uint32(n / 2)}, fill(n/2, 1)); err != nil {
				return err
			}
			return send(c, &pdu.DataIn{DataSN: 1, Final: true, HasStatus: true}, fill(n/2, 1))
		}, isProto, false},
		{"GOOD with half the data", func(c *faketarget.Command, n int) error {
			return send(c, &pdu.DataIn{Final: true, HasStatus: true}, fill(n/2, 1))
		}, isProto, false},
		{"status without data", func(c *faketarget.Command, n int) error {
			return c.Respond(scsi.StatusGood, nil)
		}, isProto, false},
		{"S bit without F bit", func(c *faketarget.Command, n int) error {
			return send(c, &pdu.DataIn{HasStatus: true}, fill(n, 1))
		}, isClosed, true},
		{"Reject", func(c *faketarget.Command, n int) error {
			return c.Reject(pdu.RejectInvalidPDUField)
		}, func(err error) bool { var r *session.RejectError; return errors.As(err, &r) }, false},
		{"CHECK CONDITION", func(c *faketarget.Command, n int) error {
			return c.Respond(scsi.StatusCheckCondition, faketarget.FixedSense(scsi.SenseMediumError, 0x1100))
		}, func(err error) bool {
			var se *scsi.StatusError
			return errors.As(err, &se) && se.Sense != nil && se.Sense.Key == scsi.SenseMediumError
		}, false},
		{"ITT never issued", func(c *faketarget.Command, n int) error {
			return c.Peer.Reply(&pdu.DataIn{ITT: 0x7ff0_0123, Final: true, HasStatus: true}, fill(512, 1))
		}, isClosed, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWithheld()
			cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: w.hook(55)}, OnViolation: func(string) {}}
			_, s := dial(t, cfg, &session.Config{DisableRecovery: true})
			ctx := ctxT(t)
			if _, err := s.Geometry(ctx); err != nil {
				t.Fatal(err)
			}
			buf := fill(4096+64, 0xAA)
			f := s.Read(ctx, 55, 8, iovector.New(buf[:4096]))
			cmd := <-w.got
			if err := c.lie(cmd, 4096); err != nil {
				t.Fatal(err)
			}
			cmd.Done()
			_, err := f.Wait()
			if !c.wantErr(err) {
				t.Fatalf("Wait = %v", err)
			}
			if !bytes.Equal(buf[4096:], fill(64, 0xAA)) {
				t.Fatal("bytes written beyond the caller's buffer")
			}
			perr := s.Ping(ctx)
			if c.fatal != (perr != nil) {
				t.Fatalf("after the lie, Ping = %v (session should end: %v)", perr, c.fatal)
			}
			if c.fatal && !errors.Is(perr, session.ErrSessionClosed) {
				t.Fatalf("Ping on an ended session: %v", perr)
			}
		})
	}
}

func isProto(err error) bool { var p *session.ProtocolError; return errors.As(err, &p) }

func isClosed(err error) bool {
	var p *session.ProtocolError
	return errors.Is(err, session.ErrSessionClosed) && errors.As(err, &p)
}

// TestUnderflowReported: a short read with the U bit is no error, and
// says how much is missing.
func TestUnderflowReported(t *testing.T) {
	w := newWithheld()
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: w.hook(66)}}, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	f := s.Read(ctx, 66, 4, iovector.New(buf))
	cmd := <-w.got
	_ = cmd.Peer.Reply(&pdu.DataIn{ITT: cmd.ITT(), Final: true, HasStatus: true, Underflow: true, ResidualCount: 1024}, fill(1024, 5))
	cmd.Done()
	res, err := f.Wait()
	if err != nil || !res.Underflow || res.Residual != 1024 {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
}

// TestTargetPings: the target's NOP-In pings are answered.
func TestTargetPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg, s := dialPipe(t, faketarget.Config{PingInterval: 10 * time.Millisecond}, nil)
		time.Sleep(150 * time.Millisecond) // the bubble's clock: 15 pings, no waiting
		if err := s.Ping(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		noViolations(t, tg)
	})
}

// TestAsyncMessages: a target asking for logout gets one; a target dropping
// the connection ends the session with that cause.
func TestAsyncMessages(t *testing.T) {
	for _, ev := range []uint8{pdu.AsyncLogoutRequest, pdu.AsyncDropConnection} {
		var once sync.Once
		var armed atomic.Bool // not the TEST UNIT READY of Dial
		cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			if c.CDB[0] == byte(scsi.OpTestUnitReady) && armed.Load() {
				once.Do(func() {
					_ = c.Peer.Reply(&pdu.AsyncMessage{AsyncEvent: ev, Parameter3: 1}, nil)
				})
			}
			return faketarget.Proceed
		}}}
		_, s := dial(t, cfg, &session.Config{DisableRecovery: true})
		armed.Store(true)
		_ = s.Execute(ctxT(t), s.LUN(), scsi.TestUnitReady(), session.DirNone, nil)
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d: the session did not end", ev)
		}
		want := session.ErrLoggedOut
		if ev == pdu.AsyncDropConnection {
			if err := s.Err(); !errors.Is(err, session.ErrSessionClosed) || errors.Is(err, session.ErrLoggedOut) {
				t.Fatalf("event %d: session ended with %v", ev, err)
			}
			continue
		}
		if err := s.Err(); !errors.Is(err, want) {
			t.Fatalf("event %d: session ended with %v, want %v", ev, err, want)
		}
	}
}

// TestConnectionDeath (without recovery): every command in flight fails exactly once, with
// ErrSessionClosed and the cause, when the target drops the connection.
func TestConnectionDeath(t *testing.T) {
	var n atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpRead16) || c.CDB[0] == byte(scsi.OpRead10) {
			if n.Add(1) == 20 {
				return faketarget.Close
			}
			return faketarget.Handled // never answered
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, &session.Config{DisableRecovery: true})
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := s.Read(ctx, uint64(i), 1, iovector.New(make([]byte, 512)))
			_, err := f.Wait()
			if !errors.Is(err, session.ErrSessionClosed) {
				t.Errorf("read %d: %v", i, err)
			}
			failed.Add(1)
		}()
	}
	wg.Wait()
	if failed.Load() != 20 {
		t.Fatalf("%d reads ended, want 20", failed.Load())
	}
}

func TestLUNReset(t *testing.T) {
	w := newWithheld()
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: w.hook(44)}}, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	buf := fill(512, 0xAA)
	f := s.Read(ctx, 44, 1, iovector.New(buf))
	<-w.got
	if err := s.DefaultUnit().Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(); !errors.Is(err, session.ErrLUNReset) {
		t.Fatalf("read during a LUN reset: %v", err)
	}
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
}

// TestRetries: BUSY is retried with backoff, a unit attention once.
func TestRetries(t *testing.T) {
	var busy atomic.Int32
	cfg := faketarget.Config{UnitAttention: true, Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpRead16) || c.CDB[0] == byte(scsi.OpRead10) {
			if busy.Add(1) <= 2 {
				_ = c.Respond(scsi.StatusBusy, nil)
				return faketarget.Handled
			}
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	if n, err := s.ReadAt(make([]byte, 1000), 10); n != 1000 || err != nil {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if busy.Load() < 3 {
		t.Fatalf("BUSY answered %d times: not retried", busy.Load())
	}
}

// TestSteadyStateReadAllocatesNothing: a read with a caller-supplied vector
// and a cancellable context allocates nothing once warm (the scripted target
// allocates nothing per command either).
func TestSteadyStateReadAllocatesNothing(t *testing.T) { assertSteadyStateAllocs(t, nil) }

// assertSteadyStateAllocs asserts that a warm session with cfg allocates
// nothing per read and per write with a caller vector and a cancellable
// context (the in-process target allocates nothing per command either).
func assertSteadyStateAllocs(t *testing.T, cfg *session.Config) {
	t.Helper()
	_, s := dial(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 1 << 20, Null: true}}}, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	v := iovector.New(buf[:1024], buf[1024:])
	read := func() {
		if _, err := s.Read(ctx, 8, 8, v).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	write := func() {
		if _, err := s.Write(ctx, 8, 8, v).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		read()
		write()
	}
	const bound = 0
	if n := testing.AllocsPerRun(500, read); n > bound {
		t.Fatalf("a read allocated %v times, bound %d", n, bound)
	}
	if n := testing.AllocsPerRun(500, write); n > bound {
		t.Fatalf("a write allocated %v times, bound %d", n, bound)
	}
}

// TestAbortNeverAnswered: a target that neither answers a command nor the
// ABORT TASK for it is dropped after AbortTimeout; nothing hangs.
func TestAbortNeverAnswered(t *testing.T) {
	w := newWithheld()
	cfg := faketarget.Config{Hooks: faketarget.Hooks{
		Command: w.hook(33),
		TaskMgmt: func(*faketarget.Peer, *pdu.TaskMgmtRequest) faketarget.Verdict {
			return faketarget.Handled // never answered
		},
	}}
	_, s := dial(t, cfg, &session.Config{AbortTimeout: 200 * time.Millisecond, DisableRecovery: true})
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	f := s.Read(ctx, 33, 1, iovector.New(make([]byte, 512)))
	if _, err := f.Wait(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the session outlived an unanswered ABORT TASK")
	}
	if err := s.Err(); !errors.Is(err, session.ErrSessionClosed) || !strings.Contains(err.Error(), "ABORT TASK") {
		t.Fatalf("session ended with %v", err)
	}
}

// TestCloseUnderLoad closes sessions while 32 goroutines read and write
// through them: under -race this catches any goroutine that touches a task
// after it was failed and recycled. Every call ends with ErrSessionClosed or
// success, nothing hangs, and the pool stays sound for the next session.
func TestCloseUnderLoad(t *testing.T) {
	for round := 0; round < 8; round++ {
		_, s := dial(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 1 << 20, Null: true}}}, nil)
		ctx := ctxT(t)
		if _, err := s.Geometry(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := iovector.New(make([]byte, 8192))
				for j := 0; ; j++ {
					var f session.Future
					if (i+j)%3 == 0 {
						f = s.Write(ctx, uint64(i*16), 16, v)
					} else {
						f = s.Read(ctx, uint64(i*16), 16, v)
					}
					if _, err := f.Wait(); err != nil {
						if !errors.Is(err, session.ErrSessionClosed) {
							t.Errorf("round %d: %v", round, err)
						}
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(1+round*3) * time.Millisecond)
		s.Close()
		wg.Wait()
	}
}

// TestConcurrentWritesWithR2T: many writers at once under small bursts, so
// that R2T answers from the reader interleave with callers' commands in the
// combining writer; every byte must land, and the target must see no
// violation of DataSN, F bits, TTT or burst limits.
func TestConcurrentWritesWithR2T(t *testing.T) {
	for _, c := range []faketarget.Config{
		{MaxRecvDataSegmentLength: 1024, FirstBurstLength: 2048, MaxBurstLength: 4096, InitialR2T: keys.Some(false)},
		{MaxRecvDataSegmentLength: 512, MaxBurstLength: 2048, MaxOutstandingR2T: 4, InitialR2T: keys.Some(true), ImmediateData: keys.Some(false), PreferCRC32C: true},
	} {
		tg, s := dial(t, c, &session.Config{Operational: keys.Offer{MaxOutstandingR2T: keys.Some[uint32](4)}})
		ctx := ctxT(t)
		var wg sync.WaitGroup
		for i := 0; i < 24; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := pattern(40*512, byte(i))
				for j := 0; j < 4; j++ {
					f := s.Write(ctx, uint64(i*40), 40, iovector.New(data[:7*512], data[7*512:]))
					if _, err := f.Wait(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		got := tg.LUNData(1)
		for i := 0; i < 24; i++ {
			if !bytes.Equal(got[i*40*512:(i+1)*40*512], pattern(40*512, byte(i))) {
				t.Fatalf("writer %d: the target stored other bytes", i)
			}
		}
		noViolations(t, tg)
	}
}

// TestITTReuseLatePDU: after an abort, the next command reuses the slot of
// the aborted one with a new generation; a late Data-In carrying the old
// ITT arrives while the new command is in flight and must not touch it.
func TestITTReuseLatePDU(t *testing.T) {
	w := newWithheld()
	aborted := make(chan struct{}, 1)
	cfg := faketarget.Config{Hooks: faketarget.Hooks{
		Command: func(c *faketarget.Command) faketarget.Verdict {
			if v := w.hook(77)(c); v != faketarget.Proceed {
				return v
			}
			return w.hook(78)(c)
		},
		TaskMgmt: func(*faketarget.Peer, *pdu.TaskMgmtRequest) faketarget.Verdict {
			defer func() { aborted <- struct{}{} }()
			return faketarget.Proceed
		},
	}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(ctx)
	fa := s.Read(actx, 77, 1, iovector.New(make([]byte, 512)))
	<-w.got
	cancel()
	if _, err := fa.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	<-aborted
	// Let the abort's answer be processed (the ITT is released then).
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	buf := fill(512, 0xAA)
	fb := s.Read(ctx, 78, 1, iovector.New(buf))
	b := <-w.got
	// The ITT of the previous task in b's slot: same slot, generation - 1.
	old := b.ITT() - 1<<16
	if b.ITT()>>16 <= 1 {
		t.Fatalf("ITT %#x: b's slot was never used before", b.ITT())
	}
	// The late PDU for the old task, then the real answer for the new one.
	if err := b.Peer.Reply(&pdu.DataIn{ITT: old, Final: true, HasStatus: true}, fill(512, 0xEE)); err != nil {
		t.Fatal(err)
	}
	want, _ := b.Data()
	if err := b.Peer.Reply(&pdu.DataIn{ITT: b.ITT(), Final: true, HasStatus: true}, want); err != nil {
		t.Fatal(err)
	}
	b.Done()
	if _, err := fb.Wait(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, want) {
		t.Fatal("the new command got bytes of the late PDU")
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("the session did not survive a late PDU: %v", err)
	}
}

// TestAbortEscalatesToLUNReset: an ABORT TASK the target does not answer is
// followed by a LOGICAL UNIT RESET; when that one is answered, the session
// goes on (no connection is given up).
func TestAbortEscalatesToLUNReset(t *testing.T) {
	w := newWithheld()
	var resets atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{
		Command: w.hook(33),
		TaskMgmt: func(_ *faketarget.Peer, req *pdu.TaskMgmtRequest) faketarget.Verdict {
			if req.Function == pdu.TMFAbortTask {
				return faketarget.Handled // never answered
			}
			if req.Function == pdu.TMFLogicalUnitReset {
				resets.Add(1)
			}
			return faketarget.Proceed
		},
	}}
	_, s := dial(t, cfg, &session.Config{AbortTimeout: 100 * time.Millisecond})
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx, 33, 1, iovector.New(make([]byte, 512))).Wait(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for resets.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if resets.Load() != 1 {
		t.Fatalf("%d LUN resets after an unanswered ABORT TASK", resets.Load())
	}
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatalf("read after the reset: %v", err)
	}
	if err := s.Err(); err != nil || s.Stats().Reconnects != 0 {
		t.Fatalf("session after an answered LUN reset: %v, %+v", err, s.Stats())
	}
}
