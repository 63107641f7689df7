package session_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/session"
)

// TestLoginKeyInjectionRefused: names and values with a NUL byte (which
// would end the key and let the rest be read as more keys, such as
// SessionType=Discovery) or with characters RFC 3722 does not allow are
// refused before anything is sent; names of every type, in upper or lower
// case, are accepted.
func TestLoginKeyInjectionRefused(t *testing.T) {
	var logins atomic.Int32
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(8),
		Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
			logins.Add(1)
			return faketarget.Proceed
		}}})
	const inject = "\x00SessionType=Discovery"
	bad := []struct {
		name string
		user string
		cfg  session.Config
		want error
	}{
		{"NUL in InitiatorName", "", session.Config{InitiatorName: "iqn.2026-11.test:host" + inject}, iscsiurl.ErrName},
		{"space in InitiatorName", "", session.Config{InitiatorName: "iqn.2026-11.test:my host"}, iscsiurl.ErrName},
		{"'=' in InitiatorName", "", session.Config{InitiatorName: "iqn.2026-11.test:a=b"}, iscsiurl.ErrName},
		{"no type", "", session.Config{InitiatorName: "myhost"}, iscsiurl.ErrName},
		{"too long", "", session.Config{InitiatorName: "iqn.2026-11.test:" + string(make([]byte, 300))}, iscsiurl.ErrName},
		{"NUL in InitiatorAlias", "", session.Config{InitiatorAlias: "alias" + inject}, session.ErrInvalidKeyValue},
		{"NUL in the URL's user", "ini" + inject + "%inisecret-123", session.Config{}, session.ErrInvalidKeyValue},
		{"NUL in Config.Username", "", session.Config{Username: "ini" + inject, Secret: auth.NewSecret("inisecret-123")}, session.ErrInvalidKeyValue},
		{"NUL in the target user", "", session.Config{Username: "ini", Secret: auth.NewSecret("inisecret-123"),
			TargetUsername: "tgt" + inject, TargetSecret: auth.NewSecret("tgtsecret-456")}, session.ErrInvalidKeyValue},
	}
	for _, c := range bad {
		cfg := c.cfg
		_, err := session.Dial(ctxT(t), url(tg, c.user), &cfg)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Dial = %v, want %v", c.name, err, c.want)
		}
		if c.user != "" {
			continue
		}
		if _, err := session.Discover(ctxT(t), "iscsi://"+tg.Addr(), &cfg); !errors.Is(err, c.want) {
			t.Errorf("%s: Discover = %v, want %v", c.name, err, c.want)
		}
	}
	if n := logins.Load(); n != 0 {
		t.Fatalf("%d Login Requests reached the target", n)
	}
	for _, name := range []string{"iqn.2026-11.test:host-a", "IQN.2026-11.Test:Host-B", "iqn.x:a", "eui.02004567A425678D",
		"naa.52004567BA64678D", "iqn.2026-11.test:hôte"} {
		s, err := session.Dial(ctxT(t), url(tg, ""), &session.Config{InitiatorName: name, InitiatorAlias: "a host, spaces and all"})
		if err != nil {
			t.Errorf("InitiatorName %q: %v", name, err)
			continue
		}
		s.Close()
	}
}
