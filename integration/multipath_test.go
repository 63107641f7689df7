package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// deadAddr refuses connections: a proxy pointed at it is a path that is
// down (its logins fail) until it is pointed back.
const deadAddr = "127.0.0.1:1"

// mpSample is one ReadAt or WriteAt of the multipath workload.
type mpSample struct {
	start time.Time
	took  time.Duration
	write bool
}

// mpWorkload runs workers of unaligned WriteAt/ReadAt on d, each in its own
// region (neighbours share blocks), checking every read against a shadow.
type mpWorkload struct {
	d       *multipath.Device
	region  int64
	shadow  [][]byte
	mu      sync.Mutex
	samples []mpSample
	errs    []error
	bad     atomic.Int64 // wrong bytes read
	ops     atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startWorkload(d *multipath.Device, workers int, region int64) *mpWorkload {
	w := &mpWorkload{d: d, region: region, stop: make(chan struct{})}
	for range workers {
		w.shadow = append(w.shadow, make([]byte, region))
	}
	for i := range workers {
		w.wg.Add(1)
		go w.run(i)
	}
	return w
}

func (w *mpWorkload) base(i int) int64 { return 1000 + int64(i)*w.region }

func (w *mpWorkload) run(i int) {
	defer w.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(i), 21))
	shadow := w.shadow[i]
	for seq := uint32(1); ; seq++ {
		select {
		case <-w.stop:
			return
		default:
		}
		off := rng.Int64N(w.region - 1)
		n := 1 + rng.Int64N(min(w.region-off, 20000))
		p := pattern(int(n), uint32(i)<<20|seq)
		start := time.Now()
		_, err := w.d.WriteAt(p, w.base(i)+off)
		w.record(mpSample{start, time.Since(start), true}, err)
		if err != nil {
			return
		}
		copy(shadow[off:], p)
		got := make([]byte, w.region)
		start = time.Now()
		_, err = w.d.ReadAt(got, w.base(i))
		w.record(mpSample{start, time.Since(start), false}, err)
		if err != nil {
			return
		}
		if !bytes.Equal(got, shadow) {
			var k int64
			for j := range got {
				if got[j] != shadow[j] {
					k++
				}
			}
			w.bad.Add(k)
			w.record(mpSample{}, fmt.Errorf("worker %d: %d wrong bytes read back", i, k))
			return
		}
		w.ops.Add(2)
	}
}

func (w *mpWorkload) record(s mpSample, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !s.start.IsZero() {
		w.samples = append(w.samples, s)
	}
	if err != nil {
		w.errs = append(w.errs, err)
	}
}

func (w *mpWorkload) finish() {
	close(w.stop)
	w.wg.Wait()
}

// latency is the max and p99 of the calls in progress at some time of
// [from, to), and when the slowest started, relative to from.
func (w *mpWorkload) latency(from, to time.Time, write bool) (n int, maxD, p99, at time.Duration) {
	w.mu.Lock()
	var ds []time.Duration
	for _, s := range w.samples {
		if s.write == write && s.start.Add(s.took).After(from) && s.start.Before(to) {
			ds = append(ds, s.took)
			if s.took > maxD {
				maxD, at = s.took, s.start.Sub(from)
			}
		}
	}
	w.mu.Unlock()
	if len(ds) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(ds)
	return len(ds), maxD, ds[(len(ds)*99)/100], at
}

func (w *mpWorkload) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

func waitPaths(t *testing.T, d *multipath.Device, want ...multipath.PathState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		st := d.Stats()
		ok := true
		for i, s := range want {
			if st.Paths[i].State != s {
				ok = false
			}
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("paths never reached %v: %+v", want, st.Paths)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// mpCut is one fault of the failover test: the proxies of paths idx are
// pointed at a dead address and their connections cut for 1.5 s (down),
// or only cut (the sessions log in again at once).
type mpCut struct {
	name  string
	idx   []int
	down  bool
	stall bool // hold every byte of the open connections, both ways, instead
}

// TestMultipathFailoverTgtd: one LUN of tgtd through two portals, each
// behind its own faultproxy; workers of unaligned WriteAt/ReadAt check
// every byte while path A goes down (its logins refused), then path B after
// A came back, then both at once (the sessions' own recovery takes over).
// Nothing may fail and no byte may be wrong; the latencies are logged.
func TestMultipathFailoverTgtd(t *testing.T) {
	mpFailover(t, 2, []mpCut{
		{name: "path A down 1.5 s", idx: []int{0}, down: true},
		{name: "path B down 1.5 s", idx: []int{1}, down: true},
		{name: "path A stalled (found by the keepalive)", idx: []int{0}, stall: true},
		{name: "both paths cut (recovery)", idx: []int{0, 1}},
	})
}

// TestMultipathOnePathTgtd is the baseline of the numbers above: the same
// workload over one path, whose cut only the session's recovery handles.
func TestMultipathOnePathTgtd(t *testing.T) {
	mpFailover(t, 1, []mpCut{{name: "one path cut (recovery only)", idx: []int{0}}})
}

func mpFailover(t *testing.T, npaths int, cuts []mpCut) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-12.test:multipath"
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 8 << 20}}})
	portals := []string{inst.Addr()}
	for len(portals) < npaths {
		portals = append(portals, inst.AddPortal())
	}
	var proxies []*faultproxy.Proxy
	var urls []string
	for _, a := range portals {
		p := faultproxy.Start(t, a)
		proxies = append(proxies, p)
		urls = append(urls, p.TargetURL(iqn, 1))
	}
	ctx := testCtx(t)
	d, err := multipath.Dial(ctx, urls, &multipath.Config{
		Session: &session.Config{
			NOPInterval: 500 * time.Millisecond, NOPTimeout: time.Second,
			LoginTimeout: 5 * time.Second, ReplacementTimeout: 30 * time.Second,
		},
		CheckInterval: 200 * time.Millisecond, CheckTimeout: time.Second,
		OnPathChange: func(c multipath.PathChange) { t.Logf("path %d (%s): %v %v", c.Path, c.Portal, c.State, c.Err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if st := d.Stats(); st.ALUA || st.Paths[0].ALUA.Known {
		t.Fatalf("ALUA seen on tgtd, which has none: %+v", st)
	}

	const workers, region = 16, 50000
	w := startWorkload(d, workers, region)
	type phase struct {
		name     string
		from, to time.Time
	}
	var phases []phase
	sleep := func(d time.Duration) { time.Sleep(d) }
	down := func(i int) {
		proxies[i].SetTarget(deadAddr)
		proxies[i].CutAll()
	}
	up := func(i int) { proxies[i].SetTarget(portals[i]) }

	ready := make([]multipath.PathState, npaths)
	for i := range ready {
		ready[i] = multipath.PathReady
	}
	sleep(300 * time.Millisecond)
	for _, cut := range cuts {
		from := time.Now()
		var stalled []*faultproxy.Conn
		for _, i := range cut.idx {
			switch {
			case cut.stall:
				for _, c := range proxies[i].Conns() {
					if !c.Ended() {
						c.Stall(0)
						stalled = append(stalled, c)
					}
				}
			case cut.down:
				down(i)
			default:
				proxies[i].CutAll()
			}
		}
		if cut.stall {
			waitPaths(t, d, append([]multipath.PathState{multipath.PathRecovering}, ready[1:]...)...)
		}
		if cut.down {
			sleep(1500 * time.Millisecond)
			for _, i := range cut.idx {
				up(i)
			}
		}
		waitPaths(t, d, ready...)
		phases = append(phases, phase{cut.name, from, time.Now()})
		for _, c := range stalled {
			c.Release()
		}
		sleep(300 * time.Millisecond)
		if err := w.failed(); err != nil {
			break
		}
	}
	w.finish()
	if err := w.failed(); err != nil {
		t.Fatalf("%d wrong bytes; errors: %v", w.bad.Load(), err)
	}
	for _, ph := range phases {
		for _, write := range []bool{true, false} {
			n, mx, p99, at := w.latency(ph.from, ph.to, write)
			what := "ReadAt"
			if write {
				what = "WriteAt"
			}
			t.Logf("%s: %d %s calls, max %v (started at %v), p99 %v", ph.name, n, what,
				mx.Round(time.Millisecond), at.Round(time.Millisecond), p99.Round(time.Millisecond))
		}
	}
	st := d.Stats()
	t.Logf("%d calls, %d failovers; per path:", w.ops.Load(), st.Failovers)
	for _, p := range st.Paths {
		t.Logf("  %s: %v, %d commands (%d errors), %d failed over, fenced through another path %d times, %d reconnects",
			p.Portal, p.State, p.Commands, p.Errors, p.Failovers, p.Fenced, p.Session.Reconnects)
		if npaths > 1 && (p.Commands == 0 || p.Fenced == 0) {
			t.Errorf("path %s carried %d commands and was fenced %d times: want both > 0", p.Portal, p.Commands, p.Fenced)
		}
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range workers {
		mustEqual(t, fmt.Sprintf("worker %d's region in the backing file", i), tgtd.ReadBacking(t, targets[0].LUNs[0].Path, w.base(i), region), w.shadow[i])
	}
}

// A path to another LUN is refused, naming both paths.
func TestMultipathRefusesOtherDeviceTgtd(t *testing.T) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-12.test:multipath-other"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}, {Size: 1 << 20}}})
	second := inst.AddPortal()
	_, err := multipath.Dial(testCtx(t), []string{inst.TargetURL(iqn, 1), "iscsi://" + second + "/" + iqn + "/2"}, &multipath.Config{CheckInterval: -1})
	var de *multipath.DifferentDeviceError
	if !errors.As(err, &de) {
		t.Fatalf("Dial of LUN 1 and LUN 2: %v, want *DifferentDeviceError", err)
	}
	if de.First != inst.Addr() || de.Path != second {
		t.Fatalf("error names %s and %s, want %s and %s", de.First, de.Path, inst.Addr(), second)
	}
	t.Log(err)
}

// A write held by the network on path A (its bytes stalled in A's proxy,
// never delivered) when A is found dead is fenced, sent on again,
// acknowledged; a later write to the same blocks is acknowledged; then the
// network lets A's old bytes go. The later write must stay: the fence
// (a login with A's ISID through portal B) closed A's old connection on
// tgtd, so the stale copy has nowhere to land.
func TestMultipathStaleWriteFencedTgtd(t *testing.T) {
	const iqn = "iqn.2026-12.test:multipath-stale"
	targets, proxies, urls := proxiedPortals(t, iqn, 1<<20)
	ctx := testCtx(t)
	d, err := multipath.Dial(ctx, urls, &multipath.Config{
		Selector: multipath.FailoverOnly, // the first write goes to path A
		Session: &session.Config{
			NOPInterval: 300 * time.Millisecond, NOPTimeout: 500 * time.Millisecond,
			LoginTimeout: 5 * time.Second, ReplacementTimeout: 30 * time.Second,
		},
		CheckInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	old := proxies[0].Conn(0)
	if old == nil {
		t.Fatal("no connection through path A's proxy")
	}
	const off = 64 << 10
	w1 := bytes.Repeat([]byte("stale W1"), 4096/8)
	w2 := bytes.Repeat([]byte("later W2"), 4096/8)
	if _, err := d.Geometry(ctx); err != nil { // read now, not behind the stall
		t.Fatal(err)
	}
	old.Stall(0) // both ways: W1 and the keepalive stay in the proxy, which notices nothing
	if _, err := d.WriteAtContext(ctx, w1, off); err != nil {
		t.Fatalf("W1: %v", err)
	}
	if st := d.Stats(); st.Paths[0].Fenced != 1 || st.Failovers == 0 {
		t.Fatalf("W1 was acknowledged without a fence through path B: %+v", st.Paths[0])
	}
	if _, err := d.WriteAtContext(ctx, w2, off); err != nil {
		t.Fatalf("W2: %v", err)
	}
	held, before := old.Up().Held(), old.Up().Forwarded()
	if held < len(w1) {
		t.Fatalf("path A's proxy holds %d bytes: W1 (%d) was not among them", held, len(w1))
	}
	old.Release() // A's old bytes go on: to a connection tgtd has closed
	if err := old.Wait(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("path A's old connection ended: %v", err)
	}
	t.Logf("path A's old connection: %d bytes held, %d forwarded to tgtd after the release", held, old.Up().Forwarded()-before)
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "the blocks of W1 and W2 in the backing file", tgtd.ReadBacking(t, targets[0].LUNs[0].Path, off, len(w2)), w2)
}

// A key registered through the Device is registered on both I_T nexuses;
// under a WRITE EXCLUSIVE – REGISTRANTS ONLY reservation both paths write,
// and another initiator does not.
func TestMultipathPersistentReservationTgtd(t *testing.T) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-12.test:multipath-pr"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	second := inst.AddPortal()
	ctx := testCtx(t)
	d, err := multipath.Dial(ctx, []string{inst.TargetURL(iqn, 1), "iscsi://" + second + "/" + iqn + "/1"},
		&multipath.Config{Selector: multipath.RoundRobin, CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const key = 0xfeed
	if err := d.PRRegisterAndIgnore(ctx, key); err != nil {
		t.Fatal(err)
	}
	keys, err := d.PRReadKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKey(keys.Keys, key); n != 2 {
		t.Fatalf("READ KEYS %x: the key is registered %d times, want 2 (one per path)", keys.Keys, n)
	}
	if err := d.PRReserve(ctx, key, scsi.PRTypeWriteExclusiveRegistrantsOnly); err != nil {
		t.Fatal(err)
	}
	before := d.Stats()
	buf := bytes.Repeat([]byte{7}, 4096)
	for i := range 4 {
		if _, err := d.WriteAtContext(ctx, buf, int64(i)*4096); err != nil {
			t.Fatalf("write %d under the registrants-only reservation: %v", i, err)
		}
	}
	after := d.Stats()
	for i := range after.Paths {
		if after.Paths[i].Commands == before.Paths[i].Commands {
			t.Fatalf("path %d carried none of the writes", i)
		}
	}
	s, err := session.Dial(ctx, inst.TargetURL(iqn, 1), &session.Config{InitiatorName: "iqn.2026-12.test:other-host"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAtContext(ctx, buf, 0); !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatalf("write by an unregistered initiator: %v, want a reservation conflict", err)
	}
	if err := d.PRRelease(ctx, key, scsi.PRTypeWriteExclusiveRegistrantsOnly); err != nil {
		t.Fatal(err)
	}
	if err := d.PRRegister(ctx, key, 0); err != nil {
		t.Fatal(err)
	}
	if keys, err := d.PRReadKeys(ctx); err != nil || len(keys.Keys) != 0 {
		t.Fatalf("READ KEYS after unregistering every path: %x, %v", keys.Keys, err)
	}
}

func countKey(keys []uint64, k uint64) (n int) {
	for _, x := range keys {
		if x == k {
			n++
		}
	}
	return n
}

// proxiedPortals starts a tgtd with target iqn (one LUN of size bytes) on
// two portals, each behind its own fault proxy, and returns the targets,
// the proxies and the LUN's URL through each.
func proxiedPortals(t *testing.T, iqn string, size int64) ([]tgtd.Target, []*faultproxy.Proxy, []string) {
	t.Helper()
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: size}}})
	portals := []string{inst.Addr(), inst.AddPortal()}
	var proxies []*faultproxy.Proxy
	var urls []string
	for _, a := range portals {
		p := faultproxy.Start(t, a)
		proxies = append(proxies, p)
		urls = append(urls, p.TargetURL(iqn, 1))
	}
	return targets, proxies, urls
}
