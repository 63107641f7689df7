package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iscsiurl"
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
		name    string
		misc    chap.Misbehavior
		user    string
		q       string
		allowNo bool
		noAuth  bool // target answers AuthMethod=None
		// oneWayNone: Config.AllowNoAuth stays false although the target
		// has no CHAP.
		oneWayNone bool
		want       error
		wantText   string
	}{
		{name: "wrong secret", user: "ini%wrong-secret", want: session.ErrAuthenticationFailed},
		{name: "target wrong response", misc: chap.Misbehavior{WrongResponse: true}, user: "ini%inisecret-123", q: mutualQ, want: chap.ErrTargetAuthFailed},
		{name: "target wrong name", misc: chap.Misbehavior{Name: "impostor"}, user: "ini%inisecret-123", q: mutualQ, want: chap.ErrTargetAuthFailed},
		{name: "target omits response", misc: chap.Misbehavior{OmitResponse: true}, user: "ini%inisecret-123", q: mutualQ, want: chap.ErrTargetAuthFailed},
		{name: "algorithm not offered", misc: chap.Misbehavior{Algorithm: chap.SHA256}, user: "ini%inisecret-123", want: chap.ErrAlgorithmNotOffered},
		{name: "mutual downgrade to None", user: "ini%inisecret-123", q: mutualQ, noAuth: true, want: chap.ErrDowngrade, wantText: "AllowNoAuth"},
		{name: "mutual None allowed", user: "ini%inisecret-123", q: mutualQ, noAuth: true, allowNo: true},
		// One-way CHAP offers CHAP,None: a target without CHAP logs us in.
		{name: "one-way, target without CHAP", user: "ini%inisecret-123", noAuth: true, allowNo: true, oneWayNone: true},
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
			s, err := session.Dial(ctxT(t), url(tg, c.user)+c.q, &session.Config{AllowNoAuth: c.allowNo && !c.oneWayNone})
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
			if !strings.Contains(err.Error(), c.wantText) {
				t.Fatalf("Dial = %v, want it to say %q", err, c.wantText)
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
				b, err := keys.DecodeBinary(v)
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
			// One ProtocolError type for every violation, with the key's detail.
			var pe *session.ProtocolError
			var ke *keys.ProtocolError
			if !errors.As(err, &pe) || !errors.As(err, &ke) || pe.PDU != "Login Response" {
				t.Fatalf("Dial = %v, want a *session.ProtocolError wrapping a *keys.ProtocolError", err)
			}
			checkWhere(t, err, tg.Addr())
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
	_, err = session.Discover(ctxT(t), "iscsi://"+tg.Addr(), &session.Config{MaxText: 1000})
	var le *session.LoginError
	if !errors.As(err, &le) || le.Portal != tg.Addr() || !strings.Contains(err.Error(), "SendTargets") {
		t.Fatalf("a SendTargets answer above MaxText: %v, want a *LoginError naming the portal", err)
	}
	noViolations(t, tg)
}

// TestCredentialOrder: the URL, then the Config, then the environment, in
// every combination; the target knows only the account of the source that
// must win, and we check the CHAP_N it received.
func TestCredentialOrder(t *testing.T) {
	type source struct{ user, secret string }
	urlCred := source{"urluser", "urlsecret-123"}
	cfgCred := source{"cfguser", "cfgsecret-123"}
	envCred := source{"envuser", "envsecret-123"}
	for mask := 0; mask < 8; mask++ {
		hasURL, hasCfg, hasEnv := mask&1 != 0, mask&2 != 0, mask&4 != 0
		var want *source
		switch {
		case hasURL:
			want = &urlCred
		case hasCfg:
			want = &cfgCred
		case hasEnv:
			want = &envCred
		}
		name := fmt.Sprintf("url=%v,config=%v,env=%v", hasURL, hasCfg, hasEnv)
		t.Run(name, func(t *testing.T) {
			tc := &chap.TargetConfig{Username: "nobody", Secret: auth.NewSecret("nobodysecret-1")}
			if want != nil {
				tc = &chap.TargetConfig{Username: want.user, Secret: auth.NewSecret(want.secret)}
			}
			var mu sync.Mutex
			var gotName string
			tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: tc,
				Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
					if v, ok := x.Get(keys.KeyCHAPN); ok {
						mu.Lock()
						gotName = v
						mu.Unlock()
					}
					return faketarget.Proceed
				}}})
			userinfo := ""
			if hasURL {
				userinfo = urlCred.user + "%" + urlCred.secret
			}
			cfg := &session.Config{}
			if hasCfg {
				cfg.Username, cfg.Secret = cfgCred.user, auth.NewSecret(cfgCred.secret)
			}
			env := map[string]string{}
			if hasEnv {
				env[iscsiurl.EnvUser], env[iscsiurl.EnvPassword] = envCred.user, envCred.secret
			}
			s, err := session.Dial(ctxT(t), url(tg, userinfo), session.WithEnv(cfg, env))
			if want == nil {
				var le *session.LoginError
				if !errors.As(err, &le) || !le.NoCredentials || !errors.Is(err, chap.ErrCredentialsRequired) && !errors.Is(err, session.ErrAuthenticationFailed) {
					t.Fatalf("Dial without credentials = %v, want a LoginError saying credentials are required", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial = %v (the target saw CHAP_N=%q, want %q)", err, gotName, want.user)
			}
			s.Close()
			mu.Lock()
			defer mu.Unlock()
			if gotName != want.user {
				t.Fatalf("CHAP_N=%q, want %q", gotName, want.user)
			}
		})
	}
	// Config credentials keep the environment out entirely: its mutual
	// account is not used (the target would fail it).
	t.Run("config keeps the environment's mutual account out", func(t *testing.T) {
		tc := &chap.TargetConfig{Username: cfgCred.user, Secret: auth.NewSecret(cfgCred.secret),
			TargetUsername: "envtarget", TargetSecret: auth.NewSecret("envtarget-123"),
			Misbehave: chap.Misbehavior{WrongResponse: true}}
		tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: tc})
		env := map[string]string{iscsiurl.EnvUser: envCred.user, iscsiurl.EnvPassword: envCred.secret,
			iscsiurl.EnvTargetUser: "envtarget", iscsiurl.EnvTargetPassword: "envtarget-123"}
		cfg := session.WithEnv(&session.Config{Username: cfgCred.user, Secret: auth.NewSecret(cfgCred.secret)}, env)
		s, err := session.Dial(ctxT(t), url(tg, ""), cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	// A URL naming only a user takes the secret from the Config, as it
	// would from the environment.
	t.Run("url user, config secret", func(t *testing.T) {
		tc := &chap.TargetConfig{Username: "urlonly", Secret: auth.NewSecret(cfgCred.secret)}
		tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: tc})
		cfg := session.WithEnv(&session.Config{Username: cfgCred.user, Secret: auth.NewSecret(cfgCred.secret)}, nil)
		s, err := session.Dial(ctxT(t), url(tg, "urlonly"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	// Config's mutual account with the URL's own account: URL for ours,
	// Config for the target's.
	t.Run("url account, config mutual", func(t *testing.T) {
		tc := &chap.TargetConfig{Username: urlCred.user, Secret: auth.NewSecret(urlCred.secret),
			TargetUsername: "cfgtarget", TargetSecret: auth.NewSecret("cfgtarget-123"),
			Misbehave: chap.Misbehavior{WrongResponse: true}}
		tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8), CHAP: tc})
		cfg := session.WithEnv(&session.Config{Username: cfgCred.user, Secret: auth.NewSecret(cfgCred.secret),
			TargetUsername: "cfgtarget", TargetSecret: auth.NewSecret("cfgtarget-123")}, nil)
		_, err := session.Dial(ctxT(t), url(tg, urlCred.user+"%"+urlCred.secret), cfg)
		if !errors.Is(err, chap.ErrTargetAuthFailed) {
			t.Fatalf("Dial = %v, want the Config's mutual CHAP to catch the target", err)
		}
	})
}

// TestLoginErrorsSayWhere: every way a login fails is a *LoginError that
// names the target and the portal, and says what happened.
func TestLoginErrorsSayWhere(t *testing.T) {
	onRequestWith := func(key string, edit func(x *faketarget.LoginExchange)) faketarget.Hooks {
		return faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			if _, ok := x.Get(key); ok {
				edit(x)
			}
			return faketarget.Proceed
		}}
	}
	account := &chap.TargetConfig{Username: "ini", Secret: auth.NewSecret("inisecret-123"),
		TargetUsername: "tgt", TargetSecret: auth.NewSecret("tgtsecret-456")}
	wrongMutual := *account
	wrongMutual.Misbehave = chap.Misbehavior{WrongResponse: true}
	const creds = "ini%inisecret-123"
	const mutual = "?target_user=tgt&target_password=tgtsecret-456"
	cases := []struct {
		name     string
		cfg      faketarget.Config
		user, q  string
		want     []error  // errors.Is
		wantText []string // in the message
		notText  string
	}{
		{name: "digest never offered", q: "?header_digest=none",
			cfg: faketarget.Config{Hooks: onRequestWith(keys.KeyHeaderDigest, func(x *faketarget.LoginExchange) {
				x.Set(keys.KeyHeaderDigest, keys.CRC32C)
			})},
			want: []error{keys.ErrProtocol}, wantText: []string{"HeaderDigest", "protocol error"}},
		{name: "mutual CHAP does not verify", cfg: faketarget.Config{CHAP: &wrongMutual}, user: creds, q: mutual,
			want: []error{session.ErrAuthenticationFailed, chap.ErrTargetAuthFailed}, wantText: []string{"CHAP_R"}},
		{name: "CHAP_A answered Reject", cfg: faketarget.Config{CHAP: account,
			Hooks: onRequestWith(keys.KeyCHAPA, func(x *faketarget.LoginExchange) {
				x.Reply = nil
				x.Set(keys.KeyCHAPA, keys.Reject)
			})}, user: creds,
			want: []error{chap.ErrAlgorithmRejected}, wantText: []string{"CHAP_A", "none of"}, notText: "initiator error"},
		{name: "CHAP_A refused with a status", cfg: faketarget.Config{CHAP: account,
			Hooks: onRequestWith(keys.KeyCHAPA, func(x *faketarget.LoginExchange) { x.Fail(0x0200) })}, user: creds,
			want: []error{chap.ErrAlgorithmRejected}, wantText: []string{"status 0x0200", "CHAP algorithms offered (MD5)"}, notText: "initiator error"},
		{name: "CHAP refused before credentials", cfg: faketarget.Config{
			Hooks: onRequestWith(keys.KeyAuthMethod, func(x *faketarget.LoginExchange) { x.Fail(0x0201) })}, user: creds,
			want: []error{chap.ErrAuthMethodRejected}, wantText: []string{"no CHAP account"}, notText: "refused our credentials"},
		{name: "AuthMethod answered Reject", cfg: faketarget.Config{
			Hooks: onRequestWith(keys.KeyAuthMethod, func(x *faketarget.LoginExchange) { x.Set(keys.KeyAuthMethod, keys.Reject) })}, user: creds,
			want: []error{chap.ErrAuthMethodRejected}, wantText: []string{"AuthMethod"}},
		{name: "AuthMethod None while mutual CHAP is required", cfg: faketarget.Config{CHAP: account, AllowNoAuth: true,
			Hooks: onRequestWith(keys.KeyAuthMethod, func(x *faketarget.LoginExchange) { x.Set(keys.KeyAuthMethod, keys.None) })}, user: creds, q: mutual,
			want: []error{chap.ErrDowngrade}, wantText: []string{"AuthMethod=None", "no CHAP", "AllowNoAuth"}},
		{name: "wrong secret", cfg: faketarget.Config{CHAP: account}, user: "ini%wrong-secret",
			want: []error{session.ErrAuthenticationFailed}, wantText: []string{"status 0x0201", "refused our credentials"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Name, c.cfg.LUNs = tgtName, disk(8)
			tg := faketarget.Start(t, c.cfg)
			_, err := session.Dial(ctxT(t), url(tg, c.user)+c.q, nil)
			checkWhere(t, err, tg.Addr())
			for _, w := range c.want {
				if !errors.Is(err, w) {
					t.Errorf("Dial = %v, want errors.Is %v", err, w)
				}
			}
			for _, w := range c.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Dial = %v, want it to say %q", err, w)
				}
			}
			if c.notText != "" && strings.Contains(err.Error(), c.notText) {
				t.Errorf("Dial = %v, must not say %q", err, c.notText)
			}
			for _, secret := range []string{"inisecret-123", "tgtsecret-456", "wrong-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a secret: %v", err)
				}
			}
		})
	}
}

// checkWhere checks that err is a *LoginError naming tgtName at addr.
func checkWhere(t *testing.T, err error, addr string) *session.LoginError {
	t.Helper()
	var le *session.LoginError
	if !errors.As(err, &le) {
		t.Fatalf("Dial = %T %v, want a *session.LoginError", err, err)
	}
	if le.Portal != addr || le.Target != tgtName {
		t.Errorf("LoginError names %q at %q, want %q at %q", le.Target, le.Portal, tgtName, addr)
	}
	if prefix := "iscsi login to " + tgtName + " at " + addr + ": "; !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("Dial = %q, want the prefix %q", err, prefix)
	}
	return le
}

// TestLoginNotISCSI: a portal that is not an iSCSI target (it answers like
// a web server, or hangs up) and a closed port.
func TestLoginNotISCSI(t *testing.T) {
	for _, answer := range []string{"", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 48)
			_, _ = io.ReadFull(c, buf)
			_, _ = c.Write([]byte(answer))
			c.Close()
		}()
		_, err = session.Dial(ctxT(t), "iscsi://"+ln.Addr().String()+"/"+tgtName+"/1", nil)
		ln.Close()
		wg.Wait()
		checkWhere(t, err, ln.Addr().String())
		if !strings.Contains(err.Error(), "is it an iSCSI target?") {
			t.Errorf("a peer hanging up: %v, want a hint that it is not an iSCSI target", err)
		}
		t.Logf("answer %q: %v", answer, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = session.Dial(ctxT(t), "iscsi://"+addr+"/"+tgtName+"/1", nil)
	checkWhere(t, err, addr)
	if !strings.Contains(err.Error(), "connect") {
		t.Errorf("closed port: %v", err)
	}
	// Discovery names the portal the same way.
	_, err = session.Discover(ctxT(t), "iscsi://"+addr, nil)
	var le *session.LoginError
	if !errors.As(err, &le) || le.Portal != addr || le.Target != "" || !strings.HasPrefix(err.Error(), "iscsi login to "+addr+": ") {
		t.Errorf("Discover on a closed port = %v, want a *LoginError naming %s", err, addr)
	}
}

// TestUnsupportedOffers: what the session does not implement is refused
// before anything is sent.
func TestUnsupportedOffers(t *testing.T) {
	cases := map[string]keys.Offer{
		"ErrorRecoveryLevel":  {ErrorRecoveryLevel: keys.Some[uint32](1)},
		"DataPDUInOrder":      {DataPDUInOrder: keys.Some(false)},
		"DataSequenceInOrder": {DataSequenceInOrder: keys.Some(false)},
		"MaxConnections":      {MaxConnections: keys.Some[uint32](2)},
	}
	for key, offer := range cases {
		t.Run(key, func(t *testing.T) {
			var mu sync.Mutex
			logins := 0
			tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
				Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
					mu.Lock()
					logins++
					mu.Unlock()
					return faketarget.Proceed
				}}})
			_, err := session.Dial(ctxT(t), url(tg, ""), &session.Config{Operational: offer})
			if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), key) {
				t.Fatalf("Dial = %v, want errors.ErrUnsupported naming %s", err, key)
			}
			mu.Lock()
			defer mu.Unlock()
			if logins != 0 {
				t.Fatalf("%d Login Requests reached the target", logins)
			}
		})
	}
	// What is implemented stays accepted when given explicitly.
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8)})
	s, err := session.Dial(ctxT(t), url(tg, ""), &session.Config{Operational: keys.Offer{ErrorRecoveryLevel: keys.Some[uint32](0),
		DataPDUInOrder: keys.Some(true), DataSequenceInOrder: keys.Some(true), MaxConnections: keys.Some[uint32](1)}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
