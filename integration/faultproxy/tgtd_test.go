package faultproxy_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/session"
)

const iqn = "iqn.2026-11.test:faultproxy"

// commandTimeout is the session's CommandTimeout in these tests: a fault
// must end a command well before it (half of it is the bound checked).
const commandTimeout = 20 * time.Second

// rig is a tgtd with a 1 MiB random LUN and a proxy in front of it.
type rig struct {
	inst  *tgtd.Instance
	proxy *faultproxy.Proxy
	path  string // LUN 1's backing file
}

func newRig(t *testing.T, digests bool) *rig {
	t.Helper()
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 1 << 20, Random: true}}})
	if digests {
		inst.SetParam(1, "HeaderDigest", "CRC32C")
		inst.SetParam(1, "DataDigest", "CRC32C")
	}
	p := faultproxy.Start(t, inst.Addr())
	return &rig{inst: inst, proxy: p, path: targets[0].LUNs[0].Path}
}

func (r *rig) url(digests bool) string {
	u := r.proxy.TargetURL(iqn, 1)
	if digests {
		u += "?header_digest=crc32c&data_digest=crc32c"
	}
	return u
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	t.Cleanup(cancel)
	return ctx
}

// dial logs in through the proxy and returns the session and its proxied
// connection, after one read that fetches the geometry.
func (r *rig) dial(t *testing.T, digests bool, cfg *session.Config) (*session.Session, *faultproxy.Conn) {
	t.Helper()
	ctx := testCtx(t)
	n := r.proxy.Accepted()
	if cfg == nil {
		cfg = &session.Config{CommandTimeout: commandTimeout, DisableRecovery: true}
	}
	s, err := session.Dial(ctx, r.url(digests), cfg)
	if err != nil {
		t.Fatalf("dial through the proxy: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := r.proxy.WaitConn(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAtContext(ctx, make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// TestSessionThroughProxy: reads and writes through the proxy reach tgtd
// intact; the proxy counts the connection and bytes both ways.
func TestSessionThroughProxy(t *testing.T) {
	r := newRig(t, false)
	s, c := r.dial(t, false, nil)
	ctx := testCtx(t)
	data := bytes.Repeat([]byte("through the proxy "), 4096)[:64<<10]
	if _, err := s.WriteAtContext(ctx, data, 128<<10); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := s.ReadAtContext(ctx, got, 128<<10); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data read back through the proxy differs")
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tgtd.ReadBacking(t, r.path, 128<<10, len(data)), data) {
		t.Fatal("backing file differs from what was written through the proxy")
	}
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx); errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the proxied connection did not end after logout: %v", err)
	}
	if r.proxy.Accepted() != 1 {
		t.Errorf("Accepted() = %d, want 1", r.proxy.Accepted())
	}
	up, down := r.proxy.Bytes(faultproxy.Up), r.proxy.Bytes(faultproxy.Down)
	if up < 64<<10 || down < 64<<10+4096 {
		t.Errorf("proxy forwarded up %d, down %d bytes; want at least one 64 KiB write up and a 68 KiB read down", up, down)
	}
	t.Logf("session through the proxy: %d bytes up, %d down", up, down)
}

// TestSessionSeesFaults: each fault armed on a live session's connection
// ends the command with an error that unwraps to ErrSessionClosed (no
// recovery yet), well before the command timeout, and never with a
// deadline error; digest errors are detected (ours) or make tgtd drop the
// connection (its).
func TestSessionSeesFaults(t *testing.T) {
	// Offsets from the next PDU while the session is idle: with both
	// digests, a Data-In or SCSI Command PDU is BHS (48), header digest
	// (4), data, data digest.
	const (
		inHeaderDigest = 49
		inData         = 52 + 10
	)
	tests := []struct {
		name    string
		digests bool
		write   bool
		size    int
		arm     func(c *faultproxy.Conn)
		wantErr []error // errors.Is for each
		tgtdLog string  // tgtd's log must show this
		connErr error   // the proxied connection's Err
	}{
		{"cut down mid-read", false, false, 64 << 10,
			func(c *faultproxy.Conn) { c.Down().CutAt(c.Down().Next() + 100) },
			[]error{session.ErrSessionClosed}, "", faultproxy.ErrCut},
		{"cut up mid-write", false, true, 64 << 10,
			func(c *faultproxy.Conn) { c.Up().CutAt(c.Up().Next() + 100) },
			[]error{session.ErrSessionClosed}, "", faultproxy.ErrCut},
		{"reset down mid-read", false, false, 64 << 10,
			func(c *faultproxy.Conn) { c.Down().ResetAt(c.Down().Next() + 100) },
			[]error{session.ErrSessionClosed}, "", faultproxy.ErrReset},
		{"reset up mid-write", false, true, 64 << 10,
			func(c *faultproxy.Conn) { c.Up().ResetAt(c.Up().Next() + 100) },
			[]error{session.ErrSessionClosed}, "", faultproxy.ErrReset},
		{"header digest of a Data-In", true, false, 512,
			func(c *faultproxy.Conn) { c.Down().FlipBit(c.Down().Next()+inHeaderDigest, 0) },
			[]error{session.ErrSessionClosed, session.ErrHeaderDigest}, "", nil},
		{"header digest of a SCSI Command", true, false, 512,
			func(c *faultproxy.Conn) { c.Up().FlipBit(c.Up().Next()+inHeaderDigest, 0) },
			[]error{session.ErrSessionClosed}, "digest", nil},
		{"data of a Data-In", true, false, 512,
			func(c *faultproxy.Conn) { c.Down().FlipBit(c.Down().Next()+inData, 5) },
			[]error{session.ErrDataDigest}, "", nil},
		{"immediate data of a SCSI Command", true, true, 512,
			func(c *faultproxy.Conn) { c.Up().FlipBit(c.Up().Next()+inData, 5) },
			[]error{session.ErrSessionClosed}, "digest", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.digests)
			s, c := r.dial(t, tc.digests, nil)
			ctx := testCtx(t)
			tc.arm(c)
			buf := make([]byte, tc.size)
			start := time.Now()
			var err error
			if tc.write {
				_, err = s.WriteAtContext(ctx, buf, 0)
			} else {
				_, err = s.ReadAtContext(ctx, buf, 0)
			}
			took := time.Since(start)
			t.Logf("%s: %v after %v", tc.name, err, took)
			if err == nil {
				t.Fatal("the command succeeded despite the fault")
			}
			if errors.Is(err, context.DeadlineExceeded) || took > commandTimeout/2 {
				t.Fatalf("the command ended by its timeout (%v after %v), not by the fault", err, took)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %v does not wrap %v", err, want)
				}
			}
			if tc.connErr != nil {
				if err := c.Wait(ctx); !errors.Is(err, tc.connErr) {
					t.Errorf("proxied connection ended with %v, want %v", err, tc.connErr)
				}
			}
			if tc.tgtdLog != "" {
				log := r.inst.Log()
				if !strings.Contains(log, tc.tgtdLog) {
					t.Errorf("tgtd's log lacks %q:\n%s", tc.tgtdLog, log)
				}
				for _, line := range strings.Split(log, "\n") {
					if strings.Contains(line, tc.tgtdLog) {
						t.Logf("tgtd: %s", line)
					}
				}
			}
			if f := c.Up().Flipped() + c.Down().Flipped(); tc.digests && f != 1 {
				t.Errorf("%d bits flipped, want 1", f)
			}
		})
	}
}

// TestSessionStalled: a stalled connection (sockets open, nothing
// forwarded) ends the command by its timeout and then the session by the
// abort timeout; Close of the proxy afterwards returns.
func TestSessionStalled(t *testing.T) {
	r := newRig(t, false)
	s, c := r.dial(t, false, &session.Config{CommandTimeout: 300 * time.Millisecond, AbortTimeout: 300 * time.Millisecond, DisableRecovery: true})
	c.Down().Stall(0)
	_, err := s.ReadAt(make([]byte, 4096), 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read on a stalled connection: %v, want a deadline error", err)
	}
	if err := c.Down().WaitHeld(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session outlived an abort the stalled connection could not answer")
	}
	if !errors.Is(s.Err(), session.ErrSessionClosed) {
		t.Errorf("session error %v", s.Err())
	}
}

// TestTargetRestartThroughProxy: tgtd killed with -9 and restarted on the
// same port behind the proxy. The session of the old tgtd fails with
// ErrSessionClosed; while tgtd is down a login through the proxy fails
// promptly (the proxy's dial is refused); after the restart a new session
// through the same proxy sees the data written before.
func TestTargetRestartThroughProxy(t *testing.T) {
	r := newRig(t, false)
	s, c := r.dial(t, false, nil)
	ctx := testCtx(t)
	data := bytes.Repeat([]byte{0x5a, 0xa5}, 2048)
	if _, err := s.WriteAtContext(ctx, data, 4096); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	r.inst.Kill()
	if _, err := s.ReadAtContext(ctx, make([]byte, 4096), 0); !errors.Is(err, session.ErrSessionClosed) {
		t.Errorf("read on a session of the killed tgtd: %v, want ErrSessionClosed", err)
	}
	if err := c.Wait(ctx); err == nil {
		t.Error("proxied connection of the killed tgtd ended without an error")
	}
	start := time.Now()
	if _, err := session.Dial(ctx, r.url(false), nil); err == nil {
		t.Fatal("login through the proxy to a dead tgtd succeeded")
	} else if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > commandTimeout/2 {
		t.Errorf("login to a dead tgtd took %v: %v", time.Since(start), err)
	}
	if r.proxy.DialFailures() != 1 {
		t.Errorf("DialFailures() = %d, want 1", r.proxy.DialFailures())
	}

	r.inst.Restart()
	s2, _ := r.dial(t, false, nil)
	got := make([]byte, len(data))
	if _, err := s2.ReadAtContext(ctx, got, 4096); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("data written before the restart reads back different")
	}
	if r.proxy.Accepted() != 3 {
		t.Errorf("Accepted() = %d, want 3 (session, refused login, new session)", r.proxy.Accepted())
	}
	if err := s2.Logout(ctx); err != nil {
		t.Error(err)
	}
}
