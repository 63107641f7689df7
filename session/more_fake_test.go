package session_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/internal/syncbuf"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestFutureDone: a caller can select on Done, then Wait returns at once.
func TestFutureDone(t *testing.T) {
	_, s := dial(t, faketarget.Config{}, nil)
	ctx := ctxT(t)
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	f := s.Read(ctx, 0, 1, iovector.New(make([]byte, 512)))
	select {
	case <-f.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done never closed")
	}
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done(): // still closed after Wait
	default:
		t.Fatal("Done open after Wait")
	}
	// A Future that failed before anything was sent.
	bad := s.Read(ctx, 0, 2, iovector.New(make([]byte, 512)))
	<-bad.Done()
	if _, err := bad.Wait(); !errors.Is(err, session.ErrVectorLength) {
		t.Fatal(err)
	}
}

// TestTraceShowsNoSecret: the PDU trace names commands (CDB, LUN) and login
// keys, and never a secret or a CHAP value.
func TestTraceShowsNoSecret(t *testing.T) {
	var out syncbuf.Buffer
	tc := &chap.TargetConfig{Username: "ini", Secret: auth.NewSecret("tracesecret-1"),
		TargetUsername: "tgt", TargetSecret: auth.NewSecret("tracesecret-2")}
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(64), CHAP: tc})
	cfg := &session.Config{TracePDUs: true, Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	s, err := session.Dial(ctxT(t), url(tg, "ini%tracesecret-1")+"?target_user=tgt&target_password=tracesecret-2", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	log := out.String()
	for _, want := range []string{"CHAP_N=ini", "AuthMethod=CHAP", "op=\"SCSI Command\"", "cdb=", "op=\"SCSI Data-In\"", "op=\"Logout Request\""} {
		if !strings.Contains(log, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	for _, secret := range []string{"tracesecret-1", "tracesecret-2"} {
		if strings.Contains(log, secret) {
			t.Fatalf("trace shows a secret")
		}
	}
	if strings.Contains(log, "CHAP_R=0x") || strings.Contains(log, "CHAP_C=0x") {
		t.Fatal("trace shows a CHAP challenge or response")
	}
}

// TestHostileR2T: an R2T that breaks the rules fails its write with a
// protocol error once the target has answered the ABORT TASK for it, and
// leaves the session usable.
func TestHostileR2T(t *testing.T) {
	cases := map[string]func(c *faketarget.Command) *pdu.R2T{
		"beyond the transfer": func(c *faketarget.Command) *pdu.R2T {
			return &pdu.R2T{ITT: c.ITT(), TTT: 1, BufferOffset: 4096, DesiredDataTransferLength: 512}
		},
		"above MaxBurstLength": func(c *faketarget.Command) *pdu.R2T {
			return &pdu.R2T{ITT: c.ITT(), TTT: 1, DesiredDataTransferLength: 1 << 20}
		},
		"R2TSN out of order": func(c *faketarget.Command) *pdu.R2T {
			return &pdu.R2T{ITT: c.ITT(), TTT: 1, R2TSN: 5, DesiredDataTransferLength: 512}
		},
		"zero length": func(c *faketarget.Command) *pdu.R2T {
			return &pdu.R2T{ITT: c.ITT(), TTT: 1}
		},
		"reserved TTT": func(c *faketarget.Command) *pdu.R2T {
			return &pdu.R2T{ITT: c.ITT(), TTT: pdu.ReservedITT, DesiredDataTransferLength: 512}
		},
	}
	for name, lie := range cases {
		t.Run(name, func(t *testing.T) {
			got := make(chan *faketarget.Command, 1)
			cfg := faketarget.Config{InitialR2T: keys.Some(true), ImmediateData: keys.Some(false), OnViolation: func(string) {},
				Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
					if c.CDB[0] == byte(scsi.OpWrite10) || c.CDB[0] == byte(scsi.OpWrite16) {
						cc := *c
						got <- &cc
						return faketarget.Handled
					}
					return faketarget.Proceed
				}}}
			_, s := dial(t, cfg, nil)
			ctx := ctxT(t)
			if _, err := s.Geometry(ctx); err != nil {
				t.Fatal(err)
			}
			f := s.Write(ctx, 0, 8, iovector.New(make([]byte, 4096)))
			c := <-got
			if err := c.Peer.Reply(lie(c), nil); err != nil {
				t.Fatal(err)
			}
			_, err := f.Wait()
			var pe *session.ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("Wait = %v, want a protocol error", err)
			}
			// Wait returned after the target answered the ABORT TASK (the
			// fence), and says the write may have executed in part.
			if !errors.Is(err, session.ErrMayHaveExecuted) || !errors.Is(err, session.ErrAborted) {
				t.Fatalf("Wait = %v, want ErrMayHaveExecuted and ErrAborted", err)
			}
			c.Done()
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("session unusable after a hostile R2T: %v", err)
			}
		})
	}
}

// TestSyncAndConfigCredentials: credentials from the Config when the URL
// has none, and SYNCHRONIZE CACHE.
func TestSyncAndConfigCredentials(t *testing.T) {
	var synced sync.Once
	done := make(chan struct{})
	tc := &chap.TargetConfig{Username: "cfguser", Secret: auth.NewSecret("cfgsecret-123")}
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(64), CHAP: tc,
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			if c.CDB[0] == byte(scsi.OpSynchronizeCache10) || c.CDB[0] == byte(scsi.OpSynchronizeCache16) {
				synced.Do(func() { close(done) })
			}
			return faketarget.Proceed
		}}})
	cfg := session.WithEnv(&session.Config{Username: "cfguser", Secret: auth.NewSecret("cfgsecret-123")}, nil)
	s, err := session.Dial(ctxT(t), url(tg, ""), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	default:
		t.Fatal("no SYNCHRONIZE CACHE reached the target")
	}
	if s.Target() != tgtName || s.TSIH() == 0 || s.ISID()[0]>>6 != 2 || !s.Params().ImmediateData {
		t.Fatalf("session facts: %s %d %x %+v", s.Target(), s.TSIH(), s.ISID(), s.Params())
	}
}
