package session_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// stateLog records the state changes of a session.
type stateLog struct {
	mu  sync.Mutex
	evs []session.StateChange
}

func (l *stateLog) record(ev session.StateChange) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *stateLog) count(st session.ConnState) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if ev.State == st {
			n++
		}
	}
	return n
}

// TestRecoveryCutsUnderLoad: the target drops the connection three times
// while 32 goroutines write and read unaligned ranges; every call
// succeeds, every byte read is the byte written, and the session counts
// the reconnects and the commands it sent again.
func TestRecoveryCutsUnderLoad(t *testing.T) {
	var cmds, cuts atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch scsi.OpCode(c.CDB[0]) {
		case scsi.OpRead10, scsi.OpRead16, scsi.OpWrite10, scsi.OpWrite16:
		default:
			return faketarget.Proceed // never during the checks after a reconnect
		}
		if n := cmds.Add(1); n%150 == 0 && cuts.Load() < 3 {
			cuts.Add(1)
			c.Peer.Close() // the command is lost with the connection
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	var log stateLog
	_, s := dial(t, cfg, &session.Config{OnStateChange: log.record})
	ctx := ctxT(t)
	const workers, span = 32, 9000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(w*span + w) // unaligned, disjoint
			for round := 0; round < 6; round++ {
				want := pattern(span, byte(w*7+round))
				if _, err := s.WriteAtContext(ctx, want, off); err != nil {
					t.Errorf("worker %d round %d: write: %v", w, round, err)
					return
				}
				got := make([]byte, span)
				if _, err := s.ReadAtContext(ctx, got, off); err != nil {
					t.Errorf("worker %d round %d: read: %v", w, round, err)
					return
				}
				if !bytes.Equal(got, want) {
					t.Errorf("worker %d round %d: read other bytes than written", w, round)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if cuts.Load() != 3 || st.Reconnects != 3 || st.Replayed == 0 {
		t.Fatalf("cuts %d, stats %+v", cuts.Load(), st)
	}
	if log.count(session.StateLost) != 3 || log.count(session.StateReinstated) != 3 {
		t.Fatalf("state changes: %+v", log.evs)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("session ended: %v", err)
	}
}

// TestRecoveryDoesNotRepeatUnsafeCommands: a COMPARE AND WRITE in flight
// when the connection dies is not sent again: it fails with
// ErrMayHaveExecuted, and the session goes on.
func TestRecoveryDoesNotRepeatUnsafeCommands(t *testing.T) {
	var seen atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == 0x89 {
			seen.Add(1)
			c.Peer.Close()
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	cdb, _ := scsi.NewCDB([]byte{0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0})
	_, err := s.Call(ctx, s.LUN(), cdb, session.DirWrite, iovector.New(make([]byte, 1024)))
	var nr *session.NotReplayedError
	if !errors.Is(err, session.ErrMayHaveExecuted) || !errors.As(err, &nr) {
		t.Fatalf("COMPARE AND WRITE across a lost connection: %v", err)
	}
	if seen.Load() != 1 {
		t.Fatalf("COMPARE AND WRITE reached the target %d times", seen.Load())
	}
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatalf("read after recovery: %v", err)
	}
	if st := s.Stats(); st.NotReplayed != 1 || st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRecoveryRefusesAnotherDevice: after the reconnect the LUN reports
// another serial number: the session ends with DeviceChangedError and the
// write in flight is not sent to the other device.
func TestRecoveryRefusesAnotherDevice(t *testing.T) {
	var swapped atomic.Bool
	var writesAfter atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case c.CDB[0] == byte(scsi.OpWrite16) || c.CDB[0] == byte(scsi.OpWrite10):
			if swapped.Load() {
				writesAfter.Add(1)
				return faketarget.Proceed
			}
			if c.CDB[5] == 9 || c.CDB[9] == 9 { // the write at LBA 9: cut and swap the device
				swapped.Store(true)
				c.Peer.Close()
				return faketarget.Handled
			}
		case c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 == 1 && c.CDB[2] == scsi.VPDUnitSerialNumber && swapped.Load():
			data, _ := c.Data()
			data[len(data)-1] ^= 1
			c.Done()
			alloc := uint32(c.CDB[3])<<8 | uint32(c.CDB[4])
			_ = c.Peer.Reply(&pdu.DataIn{ITT: c.ITT(), Final: true, HasStatus: true, Underflow: true, ResidualCount: alloc - uint32(len(data))}, data)
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := s.Write(ctx, 9, 1, iovector.New(make([]byte, 512))).Wait()
	var dc *session.DeviceChangedError
	if !errors.As(err, &dc) || !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("write across a device change: %v", err)
	}
	if writesAfter.Load() != 0 {
		t.Fatalf("%d writes reached the other device", writesAfter.Load())
	}
}

// TestRecoveryGivesUp: a target that is gone for good ends the session
// after ReplacementTimeout, and the command waiting fails with a typed error.
func TestRecoveryGivesUp(t *testing.T) {
	var gone atomic.Bool
	cfg := faketarget.Config{Hooks: faketarget.Hooks{
		Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			if gone.Load() {
				x.Fail(0x0301) // service unavailable, for good
			}
			return faketarget.Proceed
		},
		Command: func(c *faketarget.Command) faketarget.Verdict {
			if c.CDB[0] == byte(scsi.OpRead16) || c.CDB[0] == byte(scsi.OpRead10) {
				gone.Store(true)
				c.Peer.Close()
				return faketarget.Handled
			}
			return faketarget.Proceed
		}}}
	_, s := dial(t, cfg, &session.Config{ReplacementTimeout: 300 * time.Millisecond, LoginTimeout: 200 * time.Millisecond})
	ctx := ctxT(t)
	start := time.Now()
	_, err := s.Read(ctx, 0, 1, iovector.New(make([]byte, 512))).Wait()
	var re *session.RecoveryError
	if !errors.As(err, &re) || !re.Timeout || !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("read with the target gone: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("gave up after %v, ReplacementTimeout is 300 ms", d)
	}
}

// TestRecoveryMaxReconnects: MaxReconnects failed logins end the session.
func TestRecoveryMaxReconnects(t *testing.T) {
	var logins atomic.Int32
	var cut atomic.Bool
	cfg := faketarget.Config{
		Hooks: faketarget.Hooks{
			Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
				if cut.Load() {
					logins.Add(1)
					x.Fail(0x0301)
				}
				return faketarget.Proceed
			},
			Command: func(c *faketarget.Command) faketarget.Verdict {
				if c.CDB[0] == byte(scsi.OpRead16) || c.CDB[0] == byte(scsi.OpRead10) {
					cut.Store(true)
					c.Peer.Close()
					return faketarget.Handled
				}
				return faketarget.Proceed
			}},
	}
	_, s := dial(t, cfg, &session.Config{MaxReconnects: 3})
	_, err := s.Read(ctxT(t), 0, 1, iovector.New(make([]byte, 512))).Wait()
	var re *session.RecoveryError
	if !errors.As(err, &re) || re.Attempts != 3 {
		t.Fatalf("read: %v", err)
	}
	if n := logins.Load(); n < 3 {
		t.Fatalf("%d login attempts", n)
	}
}

// TestRecoveryAsyncLogoutMidIO: a target asking for a logout while reads
// are in flight gets one, and the reads complete on the new connection.
func TestRecoveryAsyncLogoutMidIO(t *testing.T) {
	var sent atomic.Bool
	w := newWithheld()
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if (c.CDB[0] == byte(scsi.OpRead16) || c.CDB[0] == byte(scsi.OpRead10)) && sent.CompareAndSwap(false, true) {
			_ = c.Peer.Reply(&pdu.AsyncMessage{AsyncEvent: pdu.AsyncLogoutRequest, Parameter3: 1}, nil)
			return w.hook(c.CDB[len(c.CDB)-7])(c) // withheld: lost with the connection
		}
		return faketarget.Proceed
	}}}
	var log stateLog
	_, s := dial(t, cfg, &session.Config{OnStateChange: log.record, AbortTimeout: time.Second})
	want := pattern(4096, 5)
	if _, err := s.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4096)
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read across a requested logout: %v", err)
	}
	if log.count(session.StateReinstated) != 1 {
		t.Fatalf("state changes: %+v", log.evs)
	}
}

// TestKeepaliveReplacesASilentConnection: a connection on which the target
// goes silent (nothing comes back, not even the answer to a NOP-Out) is
// noticed by the keepalive, and the command in flight completes on a new
// connection.
func TestKeepaliveReplacesASilentConnection(t *testing.T) {
	want := pattern(512, 9)
	data := make([]byte, 64*512)
	copy(data, want)
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: []faketarget.LUN{{Number: 1, Blocks: 64, Data: data}}})
	s, c0 := dialThroughProxy(t, tg)
	ctx := ctxT(t)
	c0.Down().Stall(0) // the target's answers stop coming
	buf := make([]byte, 512)
	if _, err := s.Read(ctx, 0, 1, iovector.New(buf)).Wait(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, want) {
		t.Fatal("wrong bytes after the keepalive's reconnect")
	}
	if st := s.Stats(); st.Keepalives == 0 || st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRecoveryTargetStopsReading: the target stops reading its socket (the
// proxy stops reading from the initiator) during a large write; the
// keepalive notices that nothing comes back, the connection is replaced,
// and the write is sent again whole and lands.
func TestRecoveryTargetStopsReading(t *testing.T) {
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(32768)}) // 16 MiB
	s, c0 := dialThroughProxy(t, tg)
	ctx := ctxT(t)
	c0.Up().StopReading()
	want := pattern(8<<20, 4)
	if _, err := s.WriteAtContext(ctx, want, 4096); err != nil {
		t.Fatal(err)
	}
	if got := tg.LUNData(1)[4096 : 4096+len(want)]; !bytes.Equal(got, want) {
		t.Fatal("the write did not land whole")
	}
	if st := s.Stats(); st.Reconnects == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// dialThroughProxy logs in to tg through a fault proxy, with a keepalive of
// 50 ms / 100 ms, and returns the session and its first proxied connection.
func dialThroughProxy(t *testing.T, tg *faketarget.Target) (*session.Session, *faultproxy.Conn) {
	t.Helper()
	p := faultproxy.Start(t, tg.Addr())
	scfg := &session.Config{NOPInterval: 50 * time.Millisecond, NOPTimeout: 100 * time.Millisecond}
	s, err := session.Dial(ctxT(t), p.TargetURL(tgtName, 1), scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c0, err := p.WaitConn(ctxT(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	return s, c0
}

// TestRecoveryReplayLimit: a target that drops the connection on every
// READ does not hold the command forever, even with no deadline: after
// its replays it fails with a typed error, and the session goes on.
func TestRecoveryReplayLimit(t *testing.T) {
	var reads atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpRead16) || c.CDB[0] == byte(scsi.OpRead10) {
			if c.CDB[len(c.CDB)-7] == 5 || c.CDB[5] == 5 { // the poisoned block
				reads.Add(1)
				c.Peer.Close()
				return faketarget.Handled
			}
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, &session.Config{Operational: keys.Offer{DefaultTime2Wait: keys.Some[uint32](0)}})
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(context.Background(), 5, 1, iovector.New(make([]byte, 512))).Wait()
	var rl *session.ReplayLimitError
	if !errors.As(err, &rl) || !errors.Is(err, session.ErrMayHaveExecuted) || rl.Sent != int(reads.Load()) || rl.Sent < 2 {
		t.Fatalf("read of a block the target dies on: %v (sent %d times)", err, reads.Load())
	}
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatalf("the session after: %v", err)
	}
}
