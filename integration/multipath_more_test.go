package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	proxy := faultproxy.Start(t, second)
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

// Path A stalls (its connection holds every byte, both ways) under a
// workload of unaligned WriteAt/ReadAt, with a keepalive too slow to
// notice (5 s + 5 s): Config.PathTimeout takes the commands off A instead.
// The READs move at once; a WRITE moves once A's copy is ended (its ABORT
// TASK unanswered within AbortTimeout, the connection is dropped and the
// session fenced through B). Nothing fails, no byte is wrong.
func TestMultipathPathTimeoutStallTgtd(t *testing.T) {
	const iqn = "iqn.2026-12.test:multipath-stall"
	targets, proxies, urls := proxiedPortals(t, iqn, 8<<20)
	ctx := testCtx(t)
	const pathTimeout = 500 * time.Millisecond
	d, err := multipath.Dial(ctx, urls, &multipath.Config{
		Session: &session.Config{
			NOPInterval: 5 * time.Second, NOPTimeout: 5 * time.Second, AbortTimeout: 300 * time.Millisecond,
			LoginTimeout: 5 * time.Second, ReplacementTimeout: 30 * time.Second,
		},
		PathTimeout:   pathTimeout,
		CheckInterval: 200 * time.Millisecond, CheckTimeout: 300 * time.Millisecond,
		OnPathChange: func(c multipath.PathChange) { t.Logf("path %d (%s): %v %v", c.Path, c.Portal, c.State, c.Err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const workers, region = 8, 50000
	w := startWorkload(d, workers, region)
	time.Sleep(300 * time.Millisecond)
	from := time.Now()
	var stalled []*faultproxy.Conn
	for _, c := range proxies[0].Conns() {
		if !c.Ended() {
			c.Stall(0)
			stalled = append(stalled, c)
		}
	}
	// A leaves the picker (failed by the timeout, or recovering once its
	// connection is dropped), then comes back through the checker or its
	// session's reconnect.
	waitFor := func(cond func(multipath.PathState) bool, what string) {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !cond(d.Stats().Paths[0].State) {
			select {
			case <-ctx.Done():
				t.Fatalf("path A never %s: %+v", what, d.Stats().Paths[0])
			case <-tick.C:
			}
		}
	}
	waitFor(func(s multipath.PathState) bool { return s != multipath.PathReady }, "left the picker")
	time.Sleep(time.Second) // the workload runs on path B alone
	for _, c := range stalled {
		c.Release()
	}
	waitPaths(t, d, multipath.PathReady, multipath.PathReady)
	to := time.Now()
	time.Sleep(300 * time.Millisecond)
	w.finish()
	if err := w.failed(); err != nil {
		t.Fatalf("%d wrong bytes; errors: %v", w.bad.Load(), err)
	}
	for _, write := range []bool{true, false} {
		n, mx, p99, at := w.latency(from, to, write)
		t.Logf("path A stalled, PathTimeout %v: %d %s calls, max %v (started at %v), p99 %v", pathTimeout, n,
			map[bool]string{true: "WriteAt", false: "ReadAt"}[write], mx.Round(time.Millisecond), at.Round(time.Millisecond), p99.Round(time.Millisecond))
	}
	st := d.Stats()
	t.Logf("%d calls, %d failovers; path A: %d commands, %d failed over, fenced %d times, %d reconnects",
		w.ops.Load(), st.Failovers, st.Paths[0].Commands, st.Paths[0].Failovers, st.Paths[0].Fenced, st.Paths[0].Session.Reconnects)
	if st.Paths[0].Failovers == 0 || st.Paths[0].Fenced == 0 {
		t.Error("want commands taken off the stalled path, and its session fenced through B once its connection was dropped")
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range workers {
		mustEqual(t, fmt.Sprintf("worker %d's region in the backing file", i), tgtd.ReadBacking(t, targets[0].LUNs[0].Path, w.base(i), region), w.shadow[i])
	}
}

// A Writer and a Reader of the Device over two portals of tgtd, path A's
// connection cut after 2 MiB went up it: the stream goes on over B, the
// backing file holds every byte and the Reader reads them back.
func TestMultipathStreamsTgtd(t *testing.T) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-12.test:multipath-streams"
	const size = 8 << 20
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: size}}})
	proxy := faultproxy.Start(t, inst.Addr())
	proxy.OnAccept(func(c *faultproxy.Conn) {
		if c.Index() == 0 {
			c.Up().CutAt(2 << 20)
		}
	})
	ctx := testCtx(t)
	d, err := multipath.Dial(ctx, []string{proxy.TargetURL(iqn, 1), "iscsi://" + inst.AddPortal() + "/" + iqn + "/1"},
		&multipath.Config{Selector: multipath.RoundRobin, CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := pattern(size-4096-100, 7)
	w := d.NewWriter(ctx, 4096+100)
	if _, err := w.ReadFrom(bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Failovers == 0 || st.Paths[0].Failovers == 0 {
		t.Fatalf("path A was not cut under the Writer: %+v", st)
	}
	mustEqual(t, "the backing file", tgtd.ReadBacking(t, targets[0].LUNs[0].Path, 4096+100, len(want)), want)
	got, err := io.ReadAll(d.NewReader(ctx, 4096+100, -1))
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "read back through the Reader", got, want)
}
