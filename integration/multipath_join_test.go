package integration

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/session"
)

// A path whose portal refuses logins at Dial joins once it answers, and is
// registered with the Device's persistent-reservation key before it
// carries I/O: READ KEYS then lists the key once per path.
func TestMultipathPathJoinsLaterTgtd(t *testing.T) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-12.test:multipath-join"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	second := inst.AddPortal()
	proxy, err := faultproxy.New(second)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetTarget(deadAddr)
	ctx := testCtx(t)
	d, err := multipath.Dial(ctx, []string{inst.TargetURL(iqn, 1), proxy.TargetURL(iqn, 1)}, &multipath.Config{
		Selector:      multipath.RoundRobin,
		CheckInterval: 100 * time.Millisecond,
		Session:       &session.Config{LoginTimeout: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if st := d.Stats().Paths[1]; st.State != multipath.PathDown || st.LastErr == nil {
		t.Fatalf("path B after Dial: %+v, want down with its login error", st)
	}
	const key = 0xbee
	if err := d.PRRegisterAndIgnore(ctx, key); err != nil {
		t.Fatal(err)
	}
	keys, err := d.PRReadKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKey(keys.Keys, key); n != 1 {
		t.Fatalf("READ KEYS %x with one path up: the key is there %d times, want 1", keys.Keys, n)
	}
	proxy.SetTarget(second)
	waitPaths(t, d, multipath.PathReady, multipath.PathReady)
	if keys, err = d.PRReadKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countKey(keys.Keys, key); n != 2 {
		t.Fatalf("READ KEYS %x after path B joined: the key is there %d times, want 2 (one per path)", keys.Keys, n)
	}
	before := d.Stats().Paths[1].Commands
	buf := make([]byte, 4096)
	for i := range 4 {
		if _, err := d.WriteAtContext(ctx, buf, int64(i)*4096); err != nil {
			t.Fatal(err)
		}
	}
	if d.Stats().Paths[1].Commands == before {
		t.Fatal("path B carried none of the writes after it joined")
	}
	if err := d.PRRegister(ctx, key, 0); err != nil {
		t.Fatal(err)
	}
}

// tgtd answers SendTargets with the portal the discovery connection came
// in on, not every portal of the target (its target_list_build adds one
// TargetAddress, the connection's own address): Discover through either
// portal returns that portal's URL alone, so with tgtd the paths are
// given. A target not served is ErrNotDiscovered.
func TestMultipathDiscoverTgtd(t *testing.T) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-12.test:multipath-discover"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	second := inst.AddPortal()
	ctx := testCtx(t)
	for _, portal := range []string{inst.Addr(), second} {
		url := "iscsi://" + portal + "/" + iqn + "/1"
		urls, err := multipath.Discover(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(urls, []string{url}) {
			t.Fatalf("Discover through %s = %q, want that URL alone", portal, urls)
		}
	}
	if _, err := multipath.Discover(ctx, "iscsi://"+inst.Addr()+"/iqn.2026-12.test:no-such-target/1", nil); !errors.Is(err, multipath.ErrNotDiscovered) {
		t.Fatalf("Discover of a target not served: %v, want ErrNotDiscovered", err)
	}
}
