package iscsitest_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func dial(t *testing.T, url string, cfg *session.Config) *session.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, url, cfg)
	if err != nil {
		t.Fatalf("Dial(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func noViolations(t *testing.T, srv *iscsitest.Server) {
	t.Helper()
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("the initiator broke the protocol:\n%s", strings.Join(v, "\n"))
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeRead writes len(data) bytes at off through s, reads them back and
// compares them, then checks the server's copy.
func writeRead(t *testing.T, srv *iscsitest.Server, s *session.Session, lun uint32, data []byte, off int64) {
	t.Helper()
	if n, err := s.WriteAt(data, off); err != nil || n != len(data) {
		t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(data), off, n, err)
	}
	got := make([]byte, len(data))
	if n, err := s.ReadAt(got, off); err != nil || n != len(got) {
		t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", len(got), off, n, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("ReadAt returned other bytes than WriteAt wrote")
	}
	if c := srv.Contents(lun); !bytes.Equal(c[off:off+int64(len(data))], data) {
		t.Fatalf("the LUN holds other bytes than WriteAt wrote")
	}
}

func TestReadWrite(t *testing.T) {
	for _, bs := range []int{512, 4096, 1024, 65536} {
		t.Run("", func(t *testing.T) {
			srv := iscsitest.NewServer(iscsitest.WithLUN(8<<20, bs))
			defer srv.Close()
			s := dial(t, srv.URL(), nil)
			g, err := s.Geometry(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if g.BlockSize != uint32(bs) || g.Size() != 8<<20 {
				t.Errorf("Geometry = %+v, want %d blocks of %d bytes", g, (8<<20)/bs, bs)
			}
			// Unaligned, several bursts long, near the end.
			writeRead(t, srv, s, 1, randomBytes(1<<20+777, 1), 12345)
			writeRead(t, srv, s, 1, randomBytes(3000, 2), 8<<20-3000)
			if _, err := s.ReadAt(make([]byte, 10), 8<<20-5); err == nil {
				t.Error("ReadAt beyond the end succeeded")
			}
			if err := s.Logout(context.Background()); err != nil {
				t.Error(err)
			}
			noViolations(t, srv)
		})
	}
}

func TestLUNs(t *testing.T) {
	preload := bytes.Repeat([]byte("preloaded"), 512*9/9)
	srv := iscsitest.NewServer(
		iscsitest.WithTargetName("iqn.2026-11.example:many"),
		iscsitest.WithLUN(1<<20, 512),
		iscsitest.WithLUNData(preload, 512),
		iscsitest.WithNullLUN(1<<40, 4096),
		iscsitest.WithQueueDepth(4),
	)
	defer srv.Close()
	if got := srv.LUNs(); len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("LUNs() = %v, want [1 2 3]", got)
	}
	if want := "iscsi://" + srv.Addr() + "/iqn.2026-11.example:many/2"; srv.LUNURL(2) != want {
		t.Errorf("LUNURL(2) = %q, want %q", srv.LUNURL(2), want)
	}
	s2 := dial(t, srv.LUNURL(2), nil)
	got := make([]byte, len(preload))
	if _, err := s2.ReadAt(got, 0); err != nil || !bytes.Equal(got, preload) {
		t.Errorf("LUN 2 does not read back its preloaded data (%v)", err)
	}
	s3 := dial(t, srv.LUNURL(3), nil)
	g, err := s3.Geometry(context.Background())
	if err != nil || g.Size() != 1<<40 || g.BlockSize != 4096 {
		t.Errorf("null LUN geometry %+v, %v", g, err)
	}
	if _, err := s3.WriteAt(randomBytes(8192, 3), 1<<39); err != nil {
		t.Error(err)
	}
	if srv.Contents(3) != nil {
		t.Error("Contents of a null LUN is not nil")
	}

	targets, err := session.Discover(context.Background(), srv.PortalURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].Name != srv.TargetName() {
		t.Errorf("Discover = %+v, want %s", targets, srv.TargetName())
	}
	noViolations(t, srv)
}

func TestIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	srv := iscsitest.NewServer(iscsitest.WithAddress("[::1]:0"))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL(), "iscsi://[::1]:") {
		t.Errorf("URL() = %q", srv.URL())
	}
	s := dial(t, srv.URL(), nil)
	writeRead(t, srv, s, 1, randomBytes(10000, 13), 0)
}

func TestCHAP(t *testing.T) {
	t.Setenv("LIBISCSI_CHAP_USERNAME", "")
	t.Setenv("LIBISCSI_CHAP_PASSWORD", "")
	srv := iscsitest.NewServer(iscsitest.WithCHAP("alice", "alice-secret-1"))
	defer srv.Close()
	s := dial(t, strings.Replace(srv.URL(), "://", "://alice%alice-secret-1@", 1), nil)
	writeRead(t, srv, s, 1, randomBytes(5000, 4), 100)

	ctx := context.Background()
	for _, cfg := range []*session.Config{
		{Username: "alice", Secret: auth.NewSecret("wrong-secret-1")},
		nil,
	} {
		s, err := session.Dial(ctx, srv.URL(), cfg)
		if err == nil {
			s.Close()
			t.Fatalf("login with %+v succeeded", cfg)
		}
		if !errors.Is(err, session.ErrAuthenticationFailed) {
			t.Errorf("login with a wrong secret: %v, want ErrAuthenticationFailed", err)
		}
	}
}

func TestMutualCHAP(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithMutualCHAP("bob", "bob-secret-123", "tgt", "target-secret-9"))
	defer srv.Close()
	s := dial(t, srv.URL(), &session.Config{Username: "bob", Secret: auth.NewSecret("bob-secret-123"),
		TargetUsername: "tgt", TargetSecret: auth.NewSecret("target-secret-9")})
	writeRead(t, srv, s, 1, randomBytes(512, 5), 0)

	// An initiator that expects another target secret must refuse the
	// target's proof.
	_, err := session.Dial(context.Background(), srv.URL(), &session.Config{Username: "bob",
		Secret: auth.NewSecret("bob-secret-123"), TargetUsername: "tgt", TargetSecret: auth.NewSecret("other-secret-9")})
	if err == nil {
		t.Fatal("mutual CHAP with the wrong target secret succeeded")
	}
}

func TestDigests(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithHeaderDigest(iscsitest.DigestRequired),
		iscsitest.WithDataDigest(iscsitest.DigestRequired))
	defer srv.Close()
	s := dial(t, srv.URL(), nil)
	if p := s.Params(); !p.HeaderDigest || !p.DataDigest {
		t.Errorf("digests in use: header %v, data %v; want both", p.HeaderDigest, p.DataDigest)
	}
	writeRead(t, srv, s, 1, randomBytes(300000, 6), 511)
	noViolations(t, srv)

	_, err := session.Dial(context.Background(), srv.URL()+"?header_digest=none", nil)
	if err == nil {
		t.Error("login without a header digest succeeded against a server requiring one")
	}
}

func TestFaultRespond(t *testing.T) {
	srv := iscsitest.NewServer()
	defer srv.Close()
	s := dial(t, srv.URL(), nil)
	srv.Inject(iscsitest.Fault{
		Match:  iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16),
		After:  1,
		Count:  1,
		Action: iscsitest.Respond,
		Status: scsi.StatusCheckCondition,
		Sense:  iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError),
	})
	buf := make([]byte, 4096)
	if _, err := s.ReadAt(buf, 0); err != nil {
		t.Fatalf("first read (let through by After): %v", err)
	}
	_, err := s.ReadAt(buf, 0)
	var se *scsi.StatusError
	if !errors.As(err, &se) || se.Sense == nil || se.Sense.Key != scsi.SenseMediumError || se.Sense.ASC != scsi.ASCUnrecoveredReadError {
		t.Fatalf("second read: %v, want CHECK CONDITION, MEDIUM ERROR, UNRECOVERED READ ERROR", err)
	}
	if _, err := s.ReadAt(buf, 0); err != nil {
		t.Fatalf("third read (fault spent): %v", err)
	}
	writeRead(t, srv, s, 1, randomBytes(4096, 7), 4096)

	// A WRITE long enough for immediate data, unsolicited Data-Out and
	// R2Ts: the server takes all of it, stores none, then fails it.
	srv.Inject(iscsitest.Fault{
		Match:  iscsitest.Opcode(scsi.OpWrite10, scsi.OpWrite16),
		Count:  1,
		Action: iscsitest.Respond,
		Status: scsi.StatusCheckCondition,
		Sense:  iscsitest.Sense(scsi.SenseMediumError, scsi.ASCWriteError),
	})
	_, err = s.WriteAt(randomBytes(300000, 8), 8192)
	if !errors.As(err, &se) || se.Sense == nil || se.Sense.Key != scsi.SenseMediumError || se.Sense.ASC != scsi.ASCWriteError {
		t.Fatalf("failed write: %v, want CHECK CONDITION, MEDIUM ERROR, WRITE ERROR", err)
	}
	if !bytes.Equal(srv.Contents(1)[8192:8192+300000], make([]byte, 300000)) {
		t.Error("the failed write stored data")
	}
	writeRead(t, srv, s, 1, randomBytes(300000, 9), 8192)
	noViolations(t, srv)
}

func TestFaultIgnoreThenAbort(t *testing.T) {
	srv := iscsitest.NewServer()
	defer srv.Close()
	s := dial(t, srv.URL(), nil)
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpWrite10, scsi.OpWrite16), Count: 1, Action: iscsitest.Ignore})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.WriteAtContext(ctx, make([]byte, 512), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write never answered: %v, want context.DeadlineExceeded", err)
	}
	// The session aborted the task and goes on.
	writeRead(t, srv, s, 1, randomBytes(2048, 8), 0)
}

func TestFaultStallAndDelay(t *testing.T) {
	srv := iscsitest.NewServer()
	defer srv.Close()
	s := dial(t, srv.URL(), nil)
	const d = 50 * time.Millisecond
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), Count: 1, Delay: d})
	start := time.Now()
	writeRead(t, srv, s, 1, randomBytes(512, 9), 0)
	if el := time.Since(start); el < d {
		t.Errorf("stalled read answered after %v, before the stall of %v", el, d)
	}
	srv.SetDelay(d)
	start = time.Now()
	writeRead(t, srv, s, 1, randomBytes(512, 10), 512)
	if el := time.Since(start); el < 2*d {
		t.Errorf("a write and a read took %v with answers delayed by %v each", el, d)
	}
	srv.SetDelay(0)
	writeRead(t, srv, s, 1, randomBytes(512, 11), 1024)
}

func TestFaultDrop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(*iscsitest.Server)
	}{
		{"DropAfter", func(srv *iscsitest.Server) { srv.DropAfter(2) }},
		{"Fault", func(srv *iscsitest.Server) {
			srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), After: 2, Count: 1, Action: iscsitest.Drop})
		}},
		{"CloseClientConnections", func(srv *iscsitest.Server) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := iscsitest.NewServer()
			defer srv.Close()
			s := dial(t, srv.URL(), nil)
			want := randomBytes(512, 14)
			if _, err := s.WriteAt(want, 0); err != nil {
				t.Fatal(err)
			}
			before := srv.Connections()
			tc.inject(srv)
			buf := make([]byte, 512)
			var err error
			for i := 0; i < 3 && err == nil; i++ {
				if tc.name == "CloseClientConnections" && i == 2 {
					srv.CloseClientConnections()
				}
				_, err = s.ReadAt(buf, 0)
			}
			// The connection dropped on the third read: the session either
			// fails it or reconnects and reads again.
			switch {
			case err == nil:
				if srv.Connections() == before {
					t.Fatal("three reads succeeded on the connection that should have been dropped")
				}
				if !bytes.Equal(buf, want) {
					t.Fatal("the read retried on a new connection returned other bytes")
				}
			case !errors.Is(err, session.ErrSessionClosed):
				t.Fatalf("read on a dropped connection: %v, want ErrSessionClosed or a reconnection", err)
			}
			// A new session works: the fault struck once.
			s2 := dial(t, srv.URL(), nil)
			if _, err := s2.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, want) {
				t.Fatalf("read on a new session: %v", err)
			}
		})
	}
}

func TestClearFaults(t *testing.T) {
	srv := iscsitest.NewServer()
	defer srv.Close()
	s := dial(t, srv.URL(), nil)
	srv.Inject(iscsitest.Fault{Action: iscsitest.Respond, Status: scsi.StatusReservationConflict})
	srv.DropAfter(100)
	if err := s.Sync(context.Background()); !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatalf("Sync: %v, want RESERVATION CONFLICT", err)
	}
	srv.ClearFaults()
	writeRead(t, srv, s, 1, randomBytes(100000, 12), 3)
}

func TestBadOptions(t *testing.T) {
	for _, opts := range [][]iscsitest.Option{
		{iscsitest.WithLUN(1<<20, 1000)},
		{iscsitest.WithLUN(1000, 512)},
		{iscsitest.WithLUNData(make([]byte, 100), 512)},
		{iscsitest.WithQueueDepth(0)},
		{iscsitest.WithCHAP("", "")},
		{iscsitest.WithAddress("192.0.2.1:99999")},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewServer with bad options did not panic")
				}
			}()
			srv := iscsitest.NewServer(opts...)
			srv.Close()
		}()
	}
}
