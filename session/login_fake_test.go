package session_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/session"
)

// TestCHAPEveryAlgorithm logs in with each CHAP algorithm, one-way and mutual.
func TestCHAPEveryAlgorithm(t *testing.T) {
	for _, alg := range []chap.Algorithm{chap.MD5, chap.SHA1, chap.SHA256, chap.SHA3_256} {
		for _, mutual := range []bool{false, true} {
			name := alg.String()
			if mutual {
				name += "/mutual"
			}
			t.Run(name, func(t *testing.T) {
				tc := &chap.TargetConfig{Username: "ini", Secret: auth.NewSecret("inisecret-123")}
				q := ""
				if mutual {
					tc.TargetUsername, tc.TargetSecret = "tgt", auth.NewSecret("tgtsecret-456")
					q = "?target_user=tgt&target_password=tgtsecret-456"
				}
				var mu sync.Mutex
				var chosen string
				tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(64), CHAP: tc,
					Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
						if v, ok := x.Get("CHAP_A"); ok {
							mu.Lock()
							chosen = v
							mu.Unlock()
						}
						return faketarget.Proceed
					}}})
				cfg := &session.Config{CHAPAlgorithms: []chap.Algorithm{alg}}
				s, err := session.Dial(ctxT(t), url(tg, "ini%inisecret-123")+q, cfg)
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if chosen != strconv.Itoa(int(alg)) {
					t.Fatalf("offered CHAP_A=%s, want %d", chosen, alg)
				}
				if err := s.Ping(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				if err := s.Logout(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				noViolations(t, tg)
			})
		}
	}
}

func TestCHAPFailures(t *testing.T) {
	good := chap.TargetConfig{Username: "ini", Secret: auth.NewSecret("inisecret-123"),
		TargetUsername: "tgt", TargetSecret: auth.NewSecret("tgtsecret-456")}
	mutualQ := "?target_user=tgt&target_password=tgtsecret-456"
	cases := []struct {
		name     string
		misc     chap.Misbehavior
		user     string
		q        string
		allowNo  bool
		noAuth   bool // target answers AuthMethod=None
		want     error
		wantText string
	}{
		{name: "wrong secret", user: "ini%wrong-secret", want: session.ErrAuthenticationFailed},
		{name: "target wrong response", misc: chap.Misbehavior{WrongResponse: true}, user: "ini%inisecret-123", q: mutualQ, want: chap.ErrTargetAuthFailed},
		{name: "target wrong name", misc: chap.Misbehavior{Name: "impostor"}, user: "ini%inisecret-123", q: mutualQ, want: chap.ErrTargetAuthFailed},
		{name: "target omits response", misc: chap.Misbehavior{OmitResponse: true}, user: "ini%inisecret-123", q: mutualQ, want: chap.ErrTargetAuthFailed},
		{name: "algorithm not offered", misc: chap.Misbehavior{Algorithm: chap.SHA256}, user: "ini%inisecret-123", want: chap.ErrAlgorithmNotOffered},
		{name: "downgrade to None", user: "ini%inisecret-123", noAuth: true, want: chap.ErrDowngrade},
		{name: "None allowed", user: "ini%inisecret-123", noAuth: true, allowNo: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := good
			tc.Misbehave = c.misc
			cfg := faketarget.Config{Name: tgtName, LUNs: disk(64), CHAP: &tc}
			if c.noAuth && c.allowNo {
				cfg.CHAP = nil // a target without CHAP picks None from CHAP,None
			} else if c.noAuth {
				cfg.Hooks.Login = func(x *faketarget.LoginExchange) faketarget.Verdict {
					if _, ok := x.Get("AuthMethod"); ok {
						x.Set("AuthMethod", "None")
					}
					return faketarget.Proceed
				}
				cfg.AllowNoAuth = true
			}
			tg := faketarget.Start(t, cfg)
			s, err := session.Dial(ctxT(t), url(tg, c.user)+c.q, &session.Config{AllowNoAuth: c.allowNo})
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Dial = %v, want %v", err, c.want)
			}
			for _, secret := range []string{"inisecret-123", "tgtsecret-456", "wrong-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a secret: %v", err)
				}
			}
		})
	}
}

// TestCHAPReflection: a target that sends back the challenge we issued on
// another connection, to have us compute its answer, is refused.
func TestCHAPReflection(t *testing.T) {
	var mu sync.Mutex
	var ours []byte
	tc := chap.TargetConfig{Username: "ini", Secret: auth.NewSecret("inisecret-123"),
		TargetUsername: "tgt", TargetSecret: auth.NewSecret("tgtsecret-456")}
	first := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: &tc,
		Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			if v, ok := x.Get("CHAP_C"); ok {
				b, err := chap.DecodeBinary(v)
				if err == nil {
					mu.Lock()
					ours = b
					mu.Unlock()
				}
			}
			return faketarget.Proceed
		}}})
	q := "?target_user=tgt&target_password=tgtsecret-456"
	s, err := session.Dial(ctxT(t), url(first, "ini%inisecret-123")+q, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	if ours == nil {
		t.Fatal("no challenge captured")
	}
	evil := tc
	evil.Misbehave = chap.Misbehavior{Challenge: ours, AllowReflection: true}
	second := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: &evil})
	_, err = session.Dial(ctxT(t), url(second, "ini%inisecret-123")+q, nil)
	if !errors.Is(err, chap.ErrReflection) {
		t.Fatalf("Dial = %v, want ErrReflection", err)
	}
}

func TestRedirect(t *testing.T) {
	real := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8)})
	for _, perm := range []bool{false, true} {
		mover := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
			Redirect: &faketarget.Redirect{Permanent: perm, Address: real.Addr() + ",1"}})
		s, err := session.Dial(ctxT(t), url(mover, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Portal() != real.Addr() {
			t.Fatalf("after redirection connected to %s, want %s", s.Portal(), real.Addr())
		}
		s.Close()
	}
	// A redirection loop ends.
	self := faketarget.Start(t, faketarget.Config{Name: tgtName, Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
		x.Fail(0x0101)
		x.Set("TargetAddress", x.Peer.Target().Addr())
		return faketarget.Proceed
	}}})
	if _, err := session.Dial(ctxT(t), url(self, ""), nil); !errors.Is(err, session.ErrTooManyRedirects) {
		t.Fatalf("redirection loop: %v", err)
	}
}

// TestLoginAnswersNeverOffered: a digest value we never offered, and a
// negotiated key sent twice, are protocol errors.
func TestLoginAnswersNeverOffered(t *testing.T) {
	cases := map[string]func(x *faketarget.LoginExchange){
		"digest not offered": func(x *faketarget.LoginExchange) {
			if _, ok := x.Get("HeaderDigest"); ok {
				x.Set("HeaderDigest", "CRC32C")
			}
		},
		"key twice": func(x *faketarget.LoginExchange) {
			if _, ok := x.Get("MaxBurstLength"); ok {
				x.Add("MaxBurstLength", "4096")
			}
		},
		"number out of range": func(x *faketarget.LoginExchange) {
			if _, ok := x.Get("MaxBurstLength"); ok {
				x.Set("MaxBurstLength", "999999999")
			}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
				Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
					edit(x)
					return faketarget.Proceed
				}}})
			_, err := session.Dial(ctxT(t), url(tg, "")+"?header_digest=none", nil)
			if !errors.Is(err, keys.ErrProtocol) {
				t.Fatalf("Dial = %v, want a keys protocol error", err)
			}
		})
	}
}

// TestLoginNeverAnswers: a portal that accepts and stays silent is bounded
// by the login timeout.
func TestLoginNeverAnswers(t *testing.T) {
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName,
		Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			return faketarget.Handled // never answer
		}}})
	start := time.Now()
	_, err := session.Dial(context.Background(), url(tg, ""), &session.Config{LoginTimeout: 300 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("login timeout took %v", d)
	}
}

func TestDiscoveryContinuation(t *testing.T) {
	var entries []faketarget.DiscoveryEntry
	for i := 0; i < 40; i++ {
		entries = append(entries, faketarget.DiscoveryEntry{
			Name:      "iqn.2026-11.test:target-with-a-rather-long-name-" + string(rune('a'+i%26)) + strings.Repeat("x", i),
			Addresses: []string{"127.0.0.1:3260,1", "[::1]:3260,1"},
		})
	}
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, Discovery: entries, TextSegmentLength: 100})
	got, err := session.Discover(ctxT(t), "iscsi://"+tg.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("%d targets, want %d", len(got), len(entries))
	}
	for i, e := range entries {
		if got[i].Name != e.Name || len(got[i].Portals) != 2 || got[i].Portals[1].Host != "::1" {
			t.Fatalf("target %d = %+v", i, got[i])
		}
	}
	// A bound on the total size.
	if _, err := session.Discover(ctxT(t), "iscsi://"+tg.Addr(), &session.Config{MaxText: 1000}); err == nil {
		t.Fatal("a SendTargets answer above MaxText was accepted")
	}
	noViolations(t, tg)
}
