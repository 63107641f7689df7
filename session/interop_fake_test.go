package session_test

// Login interop: quirks of real targets (gotgt's, played by faketarget's
// Quirks) that are harmless to accept, and the CHAP offer policy.

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/internal/syncbuf"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func textLogger(w *syncbuf.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// TestLoginZeroISIDAccepted: a Login Response with ISID 0 (gotgt) is
// accepted, with a debug line; a different non-zero ISID is still refused,
// and the error spells each ISID once in hex.
func TestLoginZeroISIDAccepted(t *testing.T) {
	var logs syncbuf.Buffer
	_, s := dial(t, faketarget.Config{Quirks: faketarget.Quirks{ZeroISID: true}},
		&session.Config{Logger: textLogger(&logs, slog.LevelDebug)})
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "ISID 0") {
		t.Errorf("no debug line about the zero ISID in:\n%s", logs.String())
	}

	ours := pdu.ISID{0x80, 0x12, 0x34, 0x56, 0x78, 0x9a}
	theirs := pdu.ISID{0x80, 0xde, 0xad, 0xbe, 0xef, 0x01}
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
		Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			x.Response.ISID = theirs
			return faketarget.Proceed
		}}})
	_, err := session.Dial(ctxT(t), url(tg, ""), &session.Config{ISID: ours})
	var pe *session.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("Dial with another ISID in the answer = %v, want a protocol error", err)
	}
	for _, want := range []string{"ISID 80deadbeef01", "we sent 80123456789a"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Dial = %v, want it to say %q", err, want)
		}
	}
}

// TestLoginMissingAuthMethod: a security-stage answer without AuthMethod
// (gotgt) is None where None was offered (one-way CHAP), and an error that
// says the target answered nothing where it was not (mutual CHAP).
func TestLoginMissingAuthMethod(t *testing.T) {
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
		Quirks: faketarget.Quirks{NoAuthMethod: true}, OnViolation: func(v string) {
			// After a security stage without AuthMethod, SessionType is
			// declared again in the operational stage, for gotgt (libiscsi
			// always does); a strict target notes it, nothing else.
			if !strings.Contains(v, "SessionType declared after the first Login Request") {
				t.Errorf("violation: %s", v)
			}
		}})
	s, err := session.Dial(ctxT(t), url(tg, "ini%inisecret-123"), nil)
	if err != nil {
		t.Fatalf("one-way CHAP, target without CHAP that answers no AuthMethod: %v", err)
	}
	s.Close()

	account := &chap.TargetConfig{Username: "ini", Secret: auth.NewSecret("inisecret-123"),
		TargetUsername: "tgt", TargetSecret: auth.NewSecret("tgtsecret-456")}
	tg = faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: account,
		Quirks: faketarget.Quirks{NoAuthMethod: true}})
	_, err = session.Dial(ctxT(t), url(tg, "ini%inisecret-123")+"?target_user=tgt&target_password=tgtsecret-456", nil)
	if !errors.Is(err, chap.ErrAuthMethodRejected) {
		t.Fatalf("mutual CHAP, no AuthMethod answered: %v, want ErrAuthMethodRejected", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "answered no AuthMethod") || strings.Contains(msg, "not offered") ||
		!strings.Contains(msg, "AllowNoAuth") {
		t.Errorf("Dial = %v, want it to say the target answered no AuthMethod and name AllowNoAuth", err)
	}
}

// TestLoginWithoutCredentials: with nothing to authenticate a discovery
// login starts at operational negotiation, so that a target reading
// SessionType only there (gotgt) sees a discovery session as one; a normal
// session still goes through the security stage (AuthMethod=None), where
// tgtd reinstates a session with the same ISID (the fence of reconnects
// and Config.ISID); a target that wants CHAP still says so.
func TestLoginWithoutCredentials(t *testing.T) {
	var security atomic.Int32
	var offers []string
	var mu sync.Mutex
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
		Quirks:      faketarget.Quirks{SessionTypeOutsideSecurity: true},
		OnViolation: func(v string) { t.Errorf("violation: %s", v) },
		Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			if x.Request.CSG == pdu.StageSecurity {
				security.Add(1)
				for _, p := range x.Pairs {
					if p.Key == keys.KeyAuthMethod {
						mu.Lock()
						offers = append(offers, p.Value)
						mu.Unlock()
					}
				}
			}
			return faketarget.Proceed
		}}})
	found, err := session.Discover(ctxT(t), "iscsi://"+tg.Addr(), nil)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if len(found) != 1 || found[0].Name != tgtName {
		t.Fatalf("Discover = %+v", found)
	}
	if n := security.Load(); n != 0 {
		t.Errorf("%d Login Requests in the security stage for discovery without credentials", n)
	}
	s, err := session.Dial(ctxT(t), url(tg, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	mu.Lock()
	if security.Load() == 0 || len(offers) != 1 || offers[0] != keys.None {
		t.Errorf("a normal session without credentials: %d security-stage requests, AuthMethod offers %q", security.Load(), offers)
	}
	mu.Unlock()

	// A target that requires CHAP refuses the operational stage.
	account := &chap.TargetConfig{Username: "ini", Secret: auth.NewSecret("inisecret-123")}
	tg = faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: account})
	_, err = session.Dial(ctxT(t), url(tg, ""), nil)
	var le *session.LoginError
	if !errors.As(err, &le) || le.Status() != 0x0201 || !le.NoCredentials || !strings.Contains(err.Error(), "no credentials were given") {
		t.Fatalf("Dial without credentials to a CHAP target = %v", err)
	}
}

// TestLoginZeroTSIH: a final Login Response with TSIH 0 (gotgt) is
// accepted; after a cut the session logs in again as a new one and the
// LUN passes the identity check.
func TestLoginZeroTSIH(t *testing.T) {
	var cut atomic.Bool
	var log stateLog
	tg, s := dial(t, faketarget.Config{Quirks: faketarget.Quirks{ZeroTSIH: true},
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			op := scsi.OpCode(c.CDB[0])
			if (op == scsi.OpRead10 || op == scsi.OpRead16) && cut.CompareAndSwap(false, true) {
				c.Peer.Close()
				return faketarget.Handled
			}
			return faketarget.Proceed
		}}}, &session.Config{OnStateChange: log.record, Operational: keys.Offer{DefaultTime2Wait: keys.Some[uint32](0)}})
	if s.TSIH() != 0 {
		t.Fatalf("TSIH %d, want the 0 the target sent", s.TSIH())
	}
	want := pattern(4096, 3)
	if _, err := s.WriteAt(want, 8192); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := s.ReadAt(got, 8192); err != nil {
		t.Fatalf("read across the cut: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("read back other bytes")
	}
	if !cut.Load() || log.count(session.StateReinstated) != 1 {
		t.Fatalf("cut %v, reinstated %d times", cut.Load(), log.count(session.StateReinstated))
	}
	noViolations(t, tg)
}

// TestLoginGotgt: every quirk of gotgt at once, as libiscsi copes with
// them: discovery, a normal session without credentials, and one with
// one-way CHAP credentials the target does not ask for.
func TestLoginGotgt(t *testing.T) {
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), Quirks: faketarget.Gotgt(),
		OnViolation: func(v string) { t.Errorf("violation: %s", v) }})
	for _, user := range []string{"", "ini%inisecret-123@"} {
		if _, err := session.Discover(ctxT(t), "iscsi://"+user+tg.Addr(), nil); err != nil {
			t.Fatalf("Discover (credentials %v): %v", user != "", err)
		}
	}
	for _, user := range []string{"", "ini%inisecret-123"} {
		s, err := session.Dial(ctxT(t), url(tg, user), nil)
		if err != nil {
			t.Fatalf("Dial (credentials %v): %v", user != "", err)
		}
		if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Logout(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoginOneWayCHAPOffersNone: one-way CHAP offers CHAP,None, and a
// target without CHAP logs us in with an Info line; mutual CHAP offers CHAP
// alone, and a target without CHAP fails the login with an error that
// names AllowNoAuth.
func TestLoginOneWayCHAPOffersNone(t *testing.T) {
	var mu sync.Mutex
	var offers []string
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
		Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			if v, ok := x.Get(keys.KeyAuthMethod); ok {
				mu.Lock()
				offers = append(offers, v)
				mu.Unlock()
			}
			return faketarget.Proceed
		}}})
	var logs syncbuf.Buffer
	s, err := session.Dial(ctxT(t), url(tg, "ini%inisecret-123"), &session.Config{Logger: textLogger(&logs, slog.LevelInfo)})
	if err != nil {
		t.Fatalf("one-way CHAP to a target without CHAP: %v", err)
	}
	s.Close()
	if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "does not ask for CHAP") {
		t.Errorf("no Info line about the target not asking for CHAP in:\n%s", logs.String())
	}
	_, err = session.Dial(ctxT(t), url(tg, "ini%inisecret-123")+"?target_user=tgt&target_password=tgtsecret-456", nil)
	if err == nil || !strings.Contains(err.Error(), "AllowNoAuth") {
		t.Fatalf("mutual CHAP to a target without CHAP: %v, want an error naming AllowNoAuth", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(offers) != 2 || offers[0] != "CHAP,None" || offers[1] != "CHAP" {
		t.Fatalf("AuthMethod offers %q, want CHAP,None then CHAP", offers)
	}
}

// TestStateChangeCauses: each reconnect attempt's StateChange carries why
// it is needed (the loss, then the previous attempt's failure), and
// "reinstated" names the attempt that succeeded.
func TestStateChangeCauses(t *testing.T) {
	var logins atomic.Int32
	var cut atomic.Bool
	var log stateLog
	_, s := dial(t, faketarget.Config{
		Hooks: faketarget.Hooks{
			Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
				if _, first := x.Get(keys.KeyInitiatorName); first && logins.Add(1) == 2 {
					x.Fail(0x0301) // the first login after the cut: service unavailable
				}
				return faketarget.Proceed
			},
			Command: func(c *faketarget.Command) faketarget.Verdict {
				op := scsi.OpCode(c.CDB[0])
				if (op == scsi.OpRead10 || op == scsi.OpRead16) && cut.CompareAndSwap(false, true) {
					c.Peer.Close()
					return faketarget.Handled
				}
				return faketarget.Proceed
			}}}, &session.Config{OnStateChange: log.record})
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	var got []string
	for _, ev := range log.evs {
		got = append(got, ev.State.String())
	}
	if len(log.evs) != 4 {
		t.Fatalf("state changes %v, want lost, reconnecting, reconnecting, reinstated", got)
	}
	lost, r1, r2, re := log.evs[0], log.evs[1], log.evs[2], log.evs[3]
	var le *session.LoginError
	switch {
	case lost.State != session.StateLost || lost.Err == nil:
		t.Errorf("first %+v, want lost with its cause", lost)
	case r1.State != session.StateReconnecting || r1.Attempt != 1 || r1.Err != lost.Err:
		t.Errorf("%+v, want attempt 1 carrying the loss %v", r1, lost.Err)
	case r2.State != session.StateReconnecting || r2.Attempt != 2 || !errors.As(r2.Err, &le) || le.Status() != 0x0301:
		t.Errorf("%+v, want attempt 2 carrying the refused login", r2)
	case re.State != session.StateReinstated || re.Attempt != 2:
		t.Errorf("%+v, want reinstated at attempt 2", re)
	}
}

// TestLoginMutualCHAPClosedConnection: a target that closes the connection
// when None is not offered (gotgt) gets an error that says why that may be,
// naming AllowNoAuth, not "is it an iSCSI target?".
func TestLoginMutualCHAPClosedConnection(t *testing.T) {
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
		Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			if v, _ := x.Get(keys.KeyAuthMethod); v == "CHAP" {
				return faketarget.Close
			}
			return faketarget.Proceed
		}}})
	_, err := session.Dial(ctxT(t), url(tg, "ini%inisecret-123")+"?target_user=tgt&target_password=tgtsecret-456", nil)
	if err == nil || !strings.Contains(err.Error(), "AllowNoAuth") || strings.Contains(err.Error(), "is it an iSCSI target") {
		t.Fatalf("Dial = %v, want an error naming AllowNoAuth", err)
	}
	s, err := session.Dial(ctxT(t), url(tg, "ini%inisecret-123"), nil)
	if err != nil {
		t.Fatalf("one-way CHAP (CHAP,None offered): %v", err)
	}
	s.Close()
}
