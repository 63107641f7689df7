package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/session"
)

// TestDiscoverAndLogin lists several targets on IPv4 and IPv6 and logs in
// to every one.
func TestDiscoverAndLogin(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprintf("ipv6=%v", v6), func(t *testing.T) {
			t.Parallel()
			var opts []tgtd.Option
			if v6 {
				opts = append(opts, tgtd.IPv6())
			}
			inst, targets := tgtd.StartWithTargets(t, 3, 2, 8<<20, opts...)
			ctx := testCtx(t)
			found, err := session.Discover(ctx, inst.PortalURL(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != len(targets) {
				t.Fatalf("discovered %d targets, want %d: %+v", len(found), len(targets), found)
			}
			names := map[string]bool{}
			for _, d := range found {
				names[d.Name] = true
				if len(d.Portals) != 1 || d.Portals[0].Port != inst.Port() || d.Portals[0].Host != inst.Host() {
					t.Errorf("target %s portals %+v, want %s", d.Name, d.Portals, inst.Addr())
				}
				if !strings.HasSuffix(d.Portals[0].Address, ",1") {
					t.Errorf("TargetAddress %q lacks the portal group tag", d.Portals[0].Address)
				}
			}
			for _, tg := range targets {
				if !names[tg.IQN] {
					t.Errorf("target %s not discovered", tg.IQN)
				}
				for _, lun := range tg.LUNs {
					s, err := session.Dial(ctx, inst.TargetURL(tg.IQN, lun.Number), nil)
					if err != nil {
						t.Fatalf("login to %s: %v", tg.IQN, err)
					}
					if s.Params().TargetMaxRecvDataSegmentLength != 8192 || !s.Params().HasTargetPortalGroupTag {
						t.Errorf("negotiated %+v", s.Params())
					}
					g, err := s.Geometry(ctx)
					if err != nil || g.Size() != lun.Size {
						t.Errorf("geometry %+v %v, want %d bytes", g, err, lun.Size)
					}
					if err := s.Ping(ctx); err != nil {
						t.Error(err)
					}
					if err := s.Logout(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
}

func TestUnknownTargetAndACL(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	inst.NewTarget(1, "iqn.2026-11.test:closed")
	inst.AddLUN(1, 1, inst.NewBackingFile(1<<20))
	inst.BindInitiatorAddress(1, "10.9.9.9") // not us
	ctx := testCtx(t)
	_, err := session.Dial(ctx, inst.TargetURL("iqn.2026-11.test:closed", 1), nil)
	// tgtd hides a target from an initiator its ACL refuses: 0x0203.
	var le *session.LoginError
	if !errors.As(err, &le) || le.Status() != 0x0203 {
		t.Fatalf("login refused by ACL: %v, want status 0x0203", err)
	}
	found, err := session.Discover(ctx, inst.PortalURL(), nil)
	if err != nil || len(found) != 0 {
		t.Fatalf("a refused initiator must not see the target: %+v %v", found, err)
	}
	_, err = session.Dial(ctx, inst.TargetURL("iqn.2026-11.test:nosuch", 1), nil)
	if !errors.Is(err, session.ErrTargetNotFound) {
		t.Fatalf("unknown target: %v, want ErrTargetNotFound", err)
	}
	// An ACL by initiator name admits us under the right name only.
	inst.BindInitiatorName(1, "iqn.2026-11.test:allowed-initiator")
	s, err := session.Dial(ctx, inst.TargetURL("iqn.2026-11.test:closed", 1), &session.Config{InitiatorName: "iqn.2026-11.test:allowed-initiator"})
	if err != nil {
		t.Fatalf("login with the allowed initiator name: %v", err)
	}
	_ = s.Logout(ctx)
	if _, err := session.Dial(ctx, inst.TargetURL("iqn.2026-11.test:closed", 1), &session.Config{InitiatorName: "iqn.2026-11.test:other"}); err == nil {
		t.Fatal("login with another initiator name succeeded")
	}
}

// TestCHAP covers one-way and mutual CHAP through the URL and through the
// environment, and wrong credentials on either side.
func TestCHAP(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-11.test:chap"
	inst.NewTarget(1, iqn)
	inst.AddLUN(1, 1, inst.NewBackingFile(1<<20))
	inst.BindInitiatorAddress(1, "ALL")
	inst.NewAccount("alice", auth.NewSecret("alicesecret1"))
	inst.NewAccount("target1", auth.NewSecret("targetsecret1"))
	inst.BindAccount(1, "alice")
	inst.BindOutgoingAccount(1, "target1")
	host := inst.Addr()
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cases := []struct {
		name    string
		url     string
		env     func(string) (string, bool)
		wantErr error
	}{
		{"url one-way", "iscsi://alice%alicesecret1@" + host + "/" + iqn + "/1", env(), nil},
		{"url mutual", "iscsi://alice%alicesecret1@" + host + "/" + iqn + "/1?target_user=target1&target_password=targetsecret1", env(), nil},
		{"env one-way", "iscsi://" + host + "/" + iqn + "/1", env("LIBISCSI_CHAP_USERNAME", "alice", "LIBISCSI_CHAP_PASSWORD", "alicesecret1"), nil},
		{"env mutual", "iscsi://" + host + "/" + iqn + "/1", env("LIBISCSI_CHAP_USERNAME", "alice", "LIBISCSI_CHAP_PASSWORD", "alicesecret1",
			"LIBISCSI_CHAP_TARGET_USERNAME", "target1", "LIBISCSI_CHAP_TARGET_PASSWORD", "targetsecret1"), nil},
		{"url user, env password", "iscsi://alice@" + host + "/" + iqn + "/1", env("LIBISCSI_CHAP_PASSWORD", "alicesecret1"), nil},
		{"url wins over env", "iscsi://alice%alicesecret1@" + host + "/" + iqn + "/1", env("LIBISCSI_CHAP_USERNAME", "bob", "LIBISCSI_CHAP_PASSWORD", "wrongwrong"), nil},
		{"wrong secret", "iscsi://alice%notthesecret@" + host + "/" + iqn + "/1", env(), session.ErrAuthenticationFailed},
		// tgtd answers AuthMethod=None with status 0x0201 at once.
		{"no credentials", "iscsi://" + host + "/" + iqn + "/1", env(), session.ErrAuthenticationFailed},
		{"target fails mutual", "iscsi://alice%alicesecret1@" + host + "/" + iqn + "/1?target_user=target1&target_password=wrongtargetpw", env(), chap.ErrTargetAuthFailed},
		{"target fails mutual is an authentication failure", "iscsi://alice%alicesecret1@" + host + "/" + iqn + "/1?target_user=target1&target_password=wrongtargetpw", env(), session.ErrAuthenticationFailed},
		{"wrong target name", "iscsi://alice%alicesecret1@" + host + "/" + iqn + "/1?target_user=other&target_password=targetsecret1", env(), chap.ErrTargetAuthFailed},
		// tgtd refuses CHAP_A=6 with status 0x0200: say it is the algorithm.
		{"algorithm tgtd lacks", "iscsi://alice%alicesecret1@" + host + "/" + iqn + "/1?auth=sha1", env(), chap.ErrAlgorithmRejected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testCtx(t)
			// The environment through the URL parser: the test stays parallel.
			u, err := iscsiurl.Parser{LookupEnv: c.env}.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			s, err := session.DialURL(ctx, u, nil)
			if c.wantErr != nil {
				var le *session.LoginError
				if !errors.As(err, &le) || le.Portal != host || le.Target != iqn {
					t.Fatalf("Dial = %v, want a *session.LoginError naming %s at %s", err, iqn, host)
				}
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Dial = %v, want %v", err, c.wantErr)
				}
				for _, secret := range []string{"alicesecret1", "notthesecret", "targetsecret1", "wrongtargetpw"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error shows a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			if _, err := s.ReadAt(buf, 0); err != nil {
				t.Fatal(err)
			}
			if err := s.Logout(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDiscoveryCHAP: an instance-wide discovery account.
func TestDiscoveryCHAP(t *testing.T) {
	t.Parallel()
	inst, _ := tgtd.StartWithTargets(t, 1, 1, 1<<20)
	inst.NewAccount("disco", auth.NewSecret("discosecret1"))
	inst.BindDiscoveryAccount("disco")
	ctx := testCtx(t)
	if _, err := session.Discover(ctx, inst.PortalURL(), nil); err == nil {
		t.Fatal("discovery without credentials succeeded")
	}
	u := strings.Replace(inst.PortalURL(), "iscsi://", "iscsi://disco%discosecret1@", 1)
	found, err := session.Discover(ctx, u, nil)
	if err != nil || len(found) != 1 {
		t.Fatalf("discovery with CHAP: %+v %v", found, err)
	}
}

// TestDigestsPreferredByTarget: the target prefers CRC32C; we offer
// None,CRC32C and must end with digests on, and move data correctly.
func TestDigestsPreferredByTarget(t *testing.T) {
	t.Parallel()
	inst, targets := tgtd.StartWithTargets(t, 1, 1, 4<<20)
	tg := targets[0]
	inst.SetParam(tg.TID, "HeaderDigest", "CRC32C")
	inst.SetParam(tg.TID, "DataDigest", "CRC32C")
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL(tg.IQN, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.Params()
	if !p.HeaderDigest || !p.DataDigest {
		t.Fatalf("digests not negotiated: header %v data %v", p.HeaderDigest, p.DataDigest)
	}
	data := pattern(300000, 7)
	if _, err := s.WriteAt(data, 777); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := s.ReadAt(got, 777); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "read back with digests", got, data)
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "backing file", tgtd.ReadBacking(t, tg.LUNs[0].Path, 777, len(data)), data)

	// Forcing no digests through the URL works too.
	s2, err := session.Dial(ctx, inst.TargetURL(tg.IQN, 1)+"?header_digest=none&data_digest=none", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Params().HeaderDigest || s2.Params().DataDigest {
		t.Fatalf("digests on although refused: %+v", s2.Params())
	}
	_ = s2.Logout(context.Background())
}

// TestCHAPErrorsSayWhat: what tgtd answers to CHAP it cannot or will not
// do becomes an error that says so, naming target and portal.
func TestCHAPErrorsSayWhat(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	const open, closed = "iqn.2026-11.test:open", "iqn.2026-11.test:chap"
	inst.NewTarget(1, open)
	inst.AddLUN(1, 1, inst.NewBackingFile(1<<20))
	inst.BindInitiatorAddress(1, "ALL")
	inst.NewTarget(2, closed)
	inst.AddLUN(2, 1, inst.NewBackingFile(1<<20))
	inst.BindInitiatorAddress(2, "ALL")
	inst.NewAccount("alice", auth.NewSecret("alicesecret1"))
	inst.BindAccount(2, "alice")
	host := inst.Addr()
	ctx := testCtx(t)
	cases := []struct {
		name, target, userinfo, query string
		cfg                           *session.Config
		want                          error
		say, notSay                   string
	}{
		// tgtd answers status 0x0201 to AuthMethod=CHAP on a target without
		// an account. Mutual CHAP offers CHAP alone (one-way CHAP offers
		// CHAP,None, and logs in: TestCHAPOneWayToOpenTarget).
		{"mutual CHAP to a target without CHAP", open, "alice%alicesecret1@", "?target_user=tgt&target_password=tgtsecret12", nil,
			chap.ErrAuthMethodRejected, "no CHAP account", "refused our credentials"},
		// and 0x0200 to a CHAP_A it does not speak.
		{"no common algorithm", closed, "alice%alicesecret1@", "", &session.Config{CHAPAlgorithms: []chap.Algorithm{chap.SHA3_256}}, chap.ErrAlgorithmRejected, "(SHA3-256)", "initiator error"},
		{"no credentials", closed, "", "", nil, session.ErrAuthenticationFailed, "no credentials were given", ""},
		{"wrong secret", closed, "alice%wrongsecret1@", "", nil, session.ErrAuthenticationFailed, "refused our credentials", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := iscsiurl.Parser{}.Parse("iscsi://" + c.userinfo + host + "/" + c.target + "/1" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = session.DialURL(ctx, u, c.cfg)
			var le *session.LoginError
			if !errors.As(err, &le) || le.Portal != host || le.Target != c.target || !errors.Is(err, c.want) {
				t.Fatalf("Dial = %v, want a *session.LoginError naming %s at %s matching %v", err, c.target, host, c.want)
			}
			if !strings.HasPrefix(err.Error(), "iscsi login to "+c.target+" at "+host+": ") || !strings.Contains(err.Error(), c.say) ||
				c.notSay != "" && strings.Contains(err.Error(), c.notSay) {
				t.Fatalf("Dial = %q, want it to say %q and not %q", err, c.say, c.notSay)
			}
		})
	}
}

// TestCHAPOneWayToOpenTarget: one-way CHAP credentials log in to a target
// without a CHAP account (we offer CHAP,None, as libiscsi does), to the
// target's session and to discovery.
func TestCHAPOneWayToOpenTarget(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	const open = "iqn.2026-11.test:open"
	inst.NewTarget(1, open)
	inst.AddLUN(1, 1, inst.NewBackingFile(1<<20))
	inst.BindInitiatorAddress(1, "ALL")
	ctx := testCtx(t)
	u, err := iscsiurl.Parser{}.Parse("iscsi://alice%alicesecret1@" + inst.Addr() + "/" + open + "/1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.DialURL(ctx, u, nil)
	if err != nil {
		t.Fatalf("one-way CHAP to a target without CHAP: %v", err)
	}
	_ = s.Logout(ctx)
	if _, err := session.DiscoverURL(ctx, u, nil); err != nil {
		t.Fatalf("discovery with one-way CHAP, no account: %v", err)
	}
}

// TestCredentialsCodeOverEnvironment: with LIBISCSI_CHAP_* set in the
// process environment, the Config's credentials win, and the URL's win
// over both. Not parallel: it sets the environment.
func TestCredentialsCodeOverEnvironment(t *testing.T) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-11.test:creds"
	inst.NewTarget(1, iqn)
	inst.AddLUN(1, 1, inst.NewBackingFile(1<<20))
	inst.BindInitiatorAddress(1, "ALL")
	inst.NewAccount("alice", auth.NewSecret("alicesecret1"))
	inst.BindAccount(1, "alice")
	t.Setenv("LIBISCSI_CHAP_USERNAME", "mallory")
	t.Setenv("LIBISCSI_CHAP_PASSWORD", "mallorysecret")
	ctx := testCtx(t)
	target := inst.TargetURL(iqn, 1)
	if _, err := session.Dial(ctx, target, nil); !errors.Is(err, session.ErrAuthenticationFailed) {
		t.Fatalf("environment only (wrong account): %v, want ErrAuthenticationFailed", err)
	}
	s, err := session.Dial(ctx, target, &session.Config{Username: "alice", Secret: auth.NewSecret("alicesecret1")})
	if err != nil {
		t.Fatalf("Config over the environment: %v", err)
	}
	_ = s.Logout(ctx)
	withUser := strings.Replace(target, "iscsi://", "iscsi://alice%alicesecret1@", 1)
	s, err = session.Dial(ctx, withUser, &session.Config{Username: "bob", Secret: auth.NewSecret("bobsecret1234")})
	if err != nil {
		t.Fatalf("URL over Config and environment: %v", err)
	}
	_ = s.Logout(ctx)
}

// TestDigestInsistedOnRefused: tgtd answers HeaderDigest=None to an offer
// of CRC32C alone; the login fails with one ProtocolError (wrapping the
// keys' one that names the key) inside a LoginError naming where.
func TestDigestInsistedOnRefused(t *testing.T) {
	t.Parallel()
	inst, targets := tgtd.StartWithTargets(t, 1, 1, 1<<20)
	tg := targets[0]
	_, err := session.Dial(testCtx(t), inst.TargetURL(tg.IQN, 1)+"?header_digest=crc32c", nil)
	var le *session.LoginError
	var pe *session.ProtocolError
	var ke *keys.ProtocolError
	if !errors.As(err, &le) || le.Portal != inst.Addr() || le.Target != tg.IQN {
		t.Fatalf("Dial = %v, want a *session.LoginError naming %s at %s", err, tg.IQN, inst.Addr())
	}
	if !errors.As(err, &pe) || !errors.As(err, &ke) || ke.Key != keys.KeyHeaderDigest || ke.Answered != keys.None {
		t.Fatalf("Dial = %v, want a *session.ProtocolError wrapping a *keys.ProtocolError on HeaderDigest", err)
	}
	if want := "iscsi login to " + tg.IQN + " at " + inst.Addr() + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Dial = %q, want the prefix %q", err, want)
	}
}
