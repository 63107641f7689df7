package session_test

// Tests of issue 17: what a hostile (or merely odd) target must not be able
// to do to a session. Each would fail without its fix.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func isRead(cdb []byte) bool {
	return cdb[0] == byte(scsi.OpRead16) || cdb[0] == byte(scsi.OpRead10)
}

func isWrite(cdb []byte) bool {
	return cdb[0] == byte(scsi.OpWrite16) || cdb[0] == byte(scsi.OpWrite10)
}

// lbaOf returns the LBA of a READ or WRITE 10/16.
func lbaOf(cdb []byte) uint64 {
	if cdb[0] == byte(scsi.OpRead10) || cdb[0] == byte(scsi.OpWrite10) {
		return uint64(binary.BigEndian.Uint32(cdb[2:6]))
	}
	return binary.BigEndian.Uint64(cdb[2:10])
}

// TestZeroLengthTransfersSendNothing: WriteAt(nil, off) and ReadAt of
// nothing send no command (a zero-length unaligned write used to read and
// write back a whole block, undoing a concurrent write to it).
func TestZeroLengthTransfersSendNothing(t *testing.T) {
	var io atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if isRead(c.CDB) || isWrite(c.CDB) {
			io.Add(1)
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	if _, err := s.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 3, 512, 2047} {
		if n, err := s.WriteAt(nil, off); n != 0 || err != nil {
			t.Fatalf("WriteAt(nil, %d) = %d, %v", off, n, err)
		}
		if n, err := s.WriteAt([]byte{}, off); n != 0 || err != nil {
			t.Fatalf("WriteAt(empty, %d) = %d, %v", off, n, err)
		}
		if n, err := s.ReadAt(nil, off); n != 0 || err != nil {
			t.Fatalf("ReadAt(nil, %d) = %d, %v", off, n, err)
		}
	}
	if n := io.Load(); n != 0 {
		t.Fatalf("%d READ/WRITE commands sent for zero-length calls", n)
	}
}

// TestUnderflowFailsBlockTransfers: a READ or WRITE answered with GOOD, the
// U bit and a residual is an error for ReadAt and WriteAt (with the
// residual in it); the Future API reports it in Result and no error.
func TestUnderflowFailsBlockTransfers(t *testing.T) {
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case isRead(c.CDB) && lbaOf(c.CDB) == 2:
			data, _ := c.Data()
			c.Done()
			half := len(data) / 2
			_ = c.Peer.Reply(&pdu.DataIn{ITT: c.ITT(), TTT: pdu.ReservedITT, Final: true, HasStatus: true,
				Underflow: true, ResidualCount: uint32(len(data) - half)}, data[:half])
			return faketarget.Handled
		case isWrite(c.CDB) && lbaOf(c.CDB) == 6:
			c.Done()
			_ = c.Peer.Reply(&pdu.SCSIResponse{ITT: c.ITT(), Response: pdu.RespCommandCompleted, Underflow: true, ResidualCount: 512}, nil)
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	var se *session.ShortTransferError
	// Aligned: two blocks straight into p.
	n, err := s.ReadAt(make([]byte, 1024), 2*512)
	if !errors.As(err, &se) || !errors.Is(err, session.ErrShortTransfer) || se.Residual != 512 || se.Expected != 1024 || n != 0 {
		t.Fatalf("aligned ReadAt of an underflow = %d, %v", n, err)
	}
	// Unaligned: the partial block of LBA 2 goes through a block buffer.
	if n, err := s.ReadAt(make([]byte, 100), 2*512+7); !errors.As(err, &se) || n != 0 {
		t.Fatalf("unaligned ReadAt of an underflow = %d, %v", n, err)
	}
	if n, err := s.WriteAt(make([]byte, 1024), 6*512); !errors.As(err, &se) || !se.Write || se.Residual != 512 || n != 0 {
		t.Fatalf("WriteAt of an underflow = %d, %v", n, err)
	}
	var oe *session.OpError
	if !errors.As(err, &oe) || oe.LBA != 2 {
		t.Fatalf("the error does not say where: %v", err)
	}
	// The Future API: no error, the residual in the Result.
	res, err := s.Read(ctx, 2, 2, iovector.New(make([]byte, 1024))).Wait()
	if err != nil || !res.Underflow || res.Residual != 512 || res.Transferred() != 512 {
		t.Fatalf("Read of an underflow = %+v, %v", res, err)
	}
	res, err = s.Write(ctx, 6, 2, iovector.New(make([]byte, 1024))).Wait()
	if err != nil || !res.Underflow || res.Residual != 512 {
		t.Fatalf("Write of an underflow = %+v, %v", res, err)
	}
}

// TestAsyncLogoutFloodOneLogout: a target that asks for a logout thousands
// of times gets one logout per connection, not a goroutine per request.
func TestAsyncLogoutFloodOneLogout(t *testing.T) {
	const flood = 3000
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if isRead(c.CDB) && lbaOf(c.CDB) == 7 {
			for range flood {
				if err := c.Peer.Reply(&pdu.AsyncMessage{AsyncEvent: pdu.AsyncLogoutRequest, Parameter3: 30}, nil); err != nil {
					break
				}
			}
			return faketarget.Handled // withheld: the logout waits for it
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, &session.Config{AbortTimeout: 20 * time.Second})
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	f := s.Read(context.Background(), 7, 1, iovector.New(make([]byte, 512)))
	// Answered after the flood, on the same connection: every request has
	// been handled when it returns.
	if err := s.DefaultUnit().TestUnitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if extra := runtime.NumGoroutine() - before; extra > flood/10 {
		t.Fatalf("%d goroutines more after %d logout requests", extra, flood)
	}
	s.Close()
	_, _ = f.Wait()
}

// TestPingFloodOneAnswer: a target that pings and does not read gets one
// answer owed, to its latest ping: the answers do not pile up.
func TestPingFloodOneAnswer(t *testing.T) {
	const pings = 1000
	release := make(chan struct{})
	sent := make(chan struct{})
	cfg := faketarget.Config{Script: func(p *faketarget.Peer) error {
		// Never read: the initiator's first answer blocks in its write.
		for range pings {
			if _, err := p.Ping(nil); err != nil {
				return err
			}
		}
		close(sent)
		<-release
		return nil
	}}
	_, s := dialPipe(t, cfg, &session.Config{NOPInterval: -1, SkipTestUnitReady: true})
	defer close(release)
	// The pings are all the target sends (no keepalive, no TEST UNIT
	// READY): count from zero, as the first may arrive before Dial
	// returns (a base read here could include some and never be reached).
	<-sent
	waitFor(t, func() bool { return session.ReceivedPDUs(s) >= pings })
	if n := session.QueuedBytes(s); n > pdu.BHSLen {
		t.Fatalf("%d bytes of answers queued after %d pings", n, pings)
	}
}

// waitFor waits, boundedly, until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// r2tTarget is a target that asks for a write's data with R2Ts only, and
// answers the first WRITE at LBA 20 with r2ts (sent in one write to the
// socket) instead of the normal flow; every later WRITE goes the normal way.
func r2tTarget(r2ts func(c *faketarget.Command) []pdu.R2T) (faketarget.Config, *session.Config) {
	var once atomic.Bool
	cfg := faketarget.Config{
		ImmediateData: keys.Some(false), InitialR2T: keys.Some(true), MaxRecvDataSegmentLength: 4096,
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			if !isWrite(c.CDB) || lbaOf(c.CDB) != 20 || !once.CompareAndSwap(false, true) {
				return faketarget.Proceed
			}
			var raw []byte
			for _, m := range r2ts(c) {
				m.ITT, m.LUN = c.ITT(), c.Req.LUN
				c.Peer.Stamp(&m)
				var h pdu.BHS
				m.Encode(&h)
				raw = append(raw, h[:]...)
			}
			_ = c.Peer.WriteRaw(raw)
			return faketarget.Handled // its Data-Out is dropped; no status ever
		}},
	}
	scfg := &session.Config{Operational: keys.Offer{ImmediateData: keys.Some(false), InitialR2T: keys.Some(true),
		DefaultTime2Wait: keys.Some[uint32](0)}}
	return cfg, scfg
}

// TestR2TBounds: an R2T for a range already asked for, or more R2Ts with
// data waiting than MaxOutstandingR2T allows, is a protocol error: the
// connection is replaced and the write is sent again whole (it used to
// queue Data-Out for every R2T, without end).
func TestR2TBounds(t *testing.T) {
	cases := []struct {
		name string
		r2ts func(c *faketarget.Command) []pdu.R2T
	}{
		{"the same range again", func(c *faketarget.Command) []pdu.R2T {
			var out []pdu.R2T
			for sn := range uint32(64) {
				out = append(out, pdu.R2T{TTT: 0x100 + sn, R2TSN: sn, BufferOffset: 0, DesiredDataTransferLength: 8192})
			}
			return out
		}},
		{"an earlier range", func(c *faketarget.Command) []pdu.R2T {
			return []pdu.R2T{
				{TTT: 0x100, R2TSN: 0, BufferOffset: 8192, DesiredDataTransferLength: 8192},
				{TTT: 0x101, R2TSN: 1, BufferOffset: 0, DesiredDataTransferLength: 8192},
			}
		}},
		{"beyond MaxOutstandingR2T", func(c *faketarget.Command) []pdu.R2T {
			return []pdu.R2T{
				{TTT: 0x100, R2TSN: 0, BufferOffset: 0, DesiredDataTransferLength: 4096},
				{TTT: 0x101, R2TSN: 1, BufferOffset: 4096, DesiredDataTransferLength: 4096},
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, scfg := r2tTarget(tc.r2ts)
			cfg.OnViolation = func(string) {} // Data-Out answering the hook's R2Ts
			quickRecovery(&cfg, scfg)
			tg, s := dial(t, cfg, scfg)
			want := pattern(64<<10, 7)
			if _, err := s.WriteAtContext(ctxT(t), want, 20*512); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tg.LUNData(1)[20*512:20*512+len(want)], want) {
				t.Fatal("the write did not land")
			}
			if st := s.Stats(); st.Reconnects != 1 || st.Replayed != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// quickRecovery makes the target of cfg and the session of scfg settle
// DefaultTime2Wait=0 (the fake target answers 2, and the larger value
// wins), so that a lost connection is replaced at once. It returns scfg.
func quickRecovery(cfg *faketarget.Config, scfg *session.Config) *session.Config {
	scfg.Operational.DefaultTime2Wait = keys.Some[uint32](0)
	next := cfg.Hooks.Login
	cfg.Hooks.Login = func(x *faketarget.LoginExchange) faketarget.Verdict {
		for i := range x.Reply {
			if x.Reply[i].Key == keys.KeyDefaultTime2Wait {
				x.Reply[i].Value = "0"
			}
		}
		if next != nil {
			return next(x)
		}
		return faketarget.Proceed
	}
	return scfg
}

// TestRecoveryFollowsRedirects: after a cut, the target redirects every
// login to another portal; recovery follows the redirection, as Dial
// does, and the read completes there.
func TestRecoveryFollowsRedirects(t *testing.T) {
	data := pattern(64*512, 11)
	other := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: []faketarget.LUN{{Number: 1, Blocks: 64, Data: data}}})
	var cut atomic.Bool
	cfg := faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 64}}, Hooks: faketarget.Hooks{
		Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			if cut.Load() {
				x.Fail(faketarget.StatusTargetMovedTemp)
				x.Reply = []keys.Pair{{Key: keys.KeyTargetAddress, Value: other.Addr() + ",1"}}
			}
			return faketarget.Proceed
		},
		Command: func(c *faketarget.Command) faketarget.Verdict {
			if isRead(c.CDB) && lbaOf(c.CDB) == 3 && cut.CompareAndSwap(false, true) {
				c.Peer.Close()
				return faketarget.Handled
			}
			return faketarget.Proceed
		},
	}}
	_, s := dial(t, cfg, quickRecovery(&cfg, &session.Config{ReplacementTimeout: 5 * time.Second}))
	buf := make([]byte, 512)
	if _, err := s.Read(ctxT(t), 3, 1, iovector.New(buf)).Wait(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[3*512:4*512]) {
		t.Fatal("read other bytes than the redirected portal's")
	}
	if st := s.Stats(); st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReconnectStormCounts: a target that accepts every login and the
// checks after it, then drops the connection at once (Async drop, Time2Wait
// 0), gets its short-lived connections counted as failed attempts: the
// session gives up after MaxReconnects instead of reconnecting forever.
func TestReconnectStormCounts(t *testing.T) {
	var storm atomic.Bool
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case isRead(c.CDB) && lbaOf(c.CDB) == 3 && storm.CompareAndSwap(false, true):
			c.Peer.Close() // the first loss
			return faketarget.Handled
		case storm.Load() && c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 == 1 && c.CDB[2] == scsi.VPDDeviceIdentification:
			// The last check of a reconnect: answer it, then drop.
			data, _ := c.Data()
			c.Done()
			alloc := uint32(c.CDB[3])<<8 | uint32(c.CDB[4])
			_ = c.Peer.Reply(&pdu.DataIn{ITT: c.ITT(), TTT: pdu.ReservedITT, Final: true, HasStatus: true,
				Underflow: true, ResidualCount: alloc - uint32(len(data))}, data)
			_ = c.Peer.Reply(&pdu.AsyncMessage{AsyncEvent: pdu.AsyncDropConnection}, nil)
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	var log stateLog
	_, s := dial(t, cfg, quickRecovery(&cfg, &session.Config{MaxReconnects: 3, OnStateChange: log.record}))
	_, err := s.Read(ctxT(t), 3, 1, iovector.New(make([]byte, 512))).Wait()
	var re *session.RecoveryError
	if !errors.As(err, &re) || re.Attempts != 3 {
		t.Fatalf("read through a reconnect storm: %v (state changes %d)", err, len(log.evs))
	}
	if n := log.count(session.StateReinstated); n != 3 {
		t.Fatalf("%d reinstatements, want 3", n)
	}
}
