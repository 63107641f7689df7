package multipath_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	lunSize = 1 << 20
	bs      = 512
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// twoPaths starts two in-process targets serving a LUN with the same
// identity (iscsitest derives it from the LUN number), each its own
// storage, and dials a Device over both.
// onePath dials a Device over one path to a fresh in-process target
// (lunSize bytes, blocks of bs), without path checker.
func onePath(t *testing.T) (*multipath.Device, *iscsitest.Server) {
	t.Helper()
	srv := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
	t.Cleanup(srv.Close)
	d, err := multipath.Dial(testCtx(t), []string{srv.URL()}, &multipath.Config{CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, srv
}

// redialingPaths is twoPaths with sel, no session recovery (a cut path's
// session ends) and a checker that dials ended paths again every 20 ms;
// the path changes come on the channel.
func redialingPaths(t *testing.T, sel multipath.Selector) (*multipath.Device, [2]*iscsitest.Server, <-chan multipath.PathChange) {
	t.Helper()
	changes := make(chan multipath.PathChange, 16)
	d, srv := twoPaths(t, &multipath.Config{
		Selector:      sel,
		Session:       &session.Config{DisableRecovery: true},
		CheckInterval: 20 * time.Millisecond,
		OnPathChange:  func(c multipath.PathChange) { changes <- c },
	})
	return d, srv, changes
}

func twoPaths(t *testing.T, cfg *multipath.Config, data ...[]byte) (*multipath.Device, [2]*iscsitest.Server) {
	t.Helper()
	var srv [2]*iscsitest.Server
	for i := range srv {
		lun := iscsitest.WithLUN(lunSize, bs)
		if i < len(data) && data[i] != nil {
			lun = iscsitest.WithLUNData(data[i], bs)
		}
		srv[i] = iscsitest.NewServer(lun)
		t.Cleanup(srv[i].Close)
	}
	if cfg == nil {
		cfg = &multipath.Config{}
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = -1
	}
	d, err := multipath.Dial(testCtx(t), []string{srv[0].URL(), srv[1].URL()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, srv
}

// arrived returns a Fault.Match for the commands of ops, and a flag it
// sets when one reaches the target: a command in flight on a path may not
// have been sent yet, and only one that was sent needs the fence.
func arrived(ops ...scsi.OpCode) (func([]byte) bool, *atomic.Bool) {
	var seen atomic.Bool
	match := iscsitest.Opcode(ops...)
	return func(cdb []byte) bool {
		if match(cdb) {
			seen.Store(true)
			return true
		}
		return false
	}, &seen
}

func commands(d *multipath.Device) (c [2]uint64) {
	st := d.Stats()
	for i := range c {
		c[i] = st.Paths[i].Commands
	}
	return c
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		sel  multipath.Selector
		want [2]uint64
	}{
		{multipath.RoundRobin, [2]uint64{5, 5}},
		{multipath.FailoverOnly, [2]uint64{10, 0}},
		{multipath.LeastQueueDepth, [2]uint64{10, 0}}, // one at a time: ties go to the first
		{multipath.ServiceTime, [2]uint64{10, 0}},     // the same
	} {
		t.Run(tc.sel.String(), func(t *testing.T) {
			d, _ := twoPaths(t, &multipath.Config{Selector: tc.sel})
			before := commands(d)
			for range 10 {
				if err := d.TestUnitReady(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			}
			after := commands(d)
			got := [2]uint64{after[0] - before[0], after[1] - before[1]}
			if got != tc.want {
				t.Fatalf("commands per path %v, want %v", got, tc.want)
			}
			if st := d.Stats(); st.Selector != tc.sel || st.Paths[0].State != multipath.PathReady || st.Paths[1].State != multipath.PathReady {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// A path with a command outstanding gets no more while the other is idle.
func TestLeastQueueDepthAvoidsBusyPath(t *testing.T) {
	d, srv := twoPaths(t, nil)
	srv[0].Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x28, 0x88), Action: iscsitest.Ignore, Count: 1})
	ctx, cancel := context.WithCancel(testCtx(t))
	f := d.Read(ctx, 0, 1, iovector.New(make([]byte, bs)))
	waitFor(t, "the read on path 0", func() bool { return d.Stats().Paths[0].InFlight == 1 })
	before := commands(d)
	for range 6 {
		if err := d.TestUnitReady(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	after := commands(d)
	if after[0] != before[0] || after[1] != before[1]+6 {
		t.Fatalf("commands per path before %v after %v: want all 6 on path 1", before, after)
	}
	cancel()
	if _, err := f.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := testCtx(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// A read held by path 0 when its connection drops is answered by path 1 at
// once; path 0 comes back on its own.
func TestReadFailsOver(t *testing.T) {
	changes := make(chan multipath.PathChange, 16)
	want := bytes.Repeat([]byte{0xa5}, bs)
	data1 := make([]byte, lunSize)
	copy(data1[bs*3:], want) // only path 1's storage has it
	d, srv := twoPaths(t, &multipath.Config{OnPathChange: func(c multipath.PathChange) { changes <- c }}, nil, data1)
	srv[0].Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x28, 0x88), Action: iscsitest.Ignore, Count: 1})
	buf := make([]byte, bs)
	f := d.Read(testCtx(t), 3, 1, iovector.New(buf))
	waitFor(t, "the read on path 0", func() bool { return d.Stats().Paths[0].InFlight == 1 })
	start := time.Now()
	srv[0].CloseClientConnections()
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("read answered by path 1 %v after path 0's connection was closed", time.Since(start))
	if !bytes.Equal(buf, want) {
		t.Fatal("read returned other bytes than path 1's")
	}
	st := d.Stats()
	if st.Failovers != 1 || st.Paths[0].Failovers != 1 {
		t.Fatalf("failovers %d (path 0: %d), want 1", st.Failovers, st.Paths[0].Failovers)
	}
	expectState(t, changes, 0, multipath.PathRecovering)
	expectState(t, changes, 0, multipath.PathReady)
}

func expectState(t *testing.T, changes <-chan multipath.PathChange, path int, want multipath.PathState) {
	t.Helper()
	ctx := testCtx(t)
	for {
		select {
		case c := <-changes:
			if c.Path == path && c.State == want {
				return
			}
		case <-ctx.Done():
			t.Fatalf("path %d never became %v", path, want)
		}
	}
}

// A write held by path 0 when its connection drops is sent on again only
// once path 0's copy is fenced: here at once, by a login with path 0's ISID
// through path 1's portal (iscsitest reports the same portal group tag for
// both servers), so it lands on path 1 and path 0 never executes it.
func TestWriteFailsOverAfterFence(t *testing.T) {
	d, srv := twoPaths(t, nil)
	match, seen := arrived(0x2a, 0x8a)
	srv[0].Inject(iscsitest.Fault{Match: match, Action: iscsitest.Ignore, Count: 1})
	data := bytes.Repeat([]byte{0x5a}, bs)
	f := d.Write(testCtx(t), 7, 1, iovector.New(data))
	waitFor(t, "the write at path 0's target", seen.Load)
	srv[0].CloseClientConnections()
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(srv[1].Contents(1)[7*bs:8*bs], data) {
		t.Fatal("the write did not land through path 1")
	}
	if bytes.Equal(srv[0].Contents(1)[7*bs:8*bs], data) {
		t.Fatal("the write held by path 0 executed there too")
	}
	st := d.Stats()
	if st.Failovers != 1 || st.Paths[0].Fenced != 1 {
		t.Fatalf("failovers %d, path 0 fenced %d times; want 1 and 1", st.Failovers, st.Paths[0].Fenced)
	}
}

// A command not safe to repeat is not sent again when its path fails: it
// fails with an error matching ErrMayHaveExecuted.
func TestUnsafeCommandNotResent(t *testing.T) {
	d, srv := twoPaths(t, nil)
	const prOut = 0x5f
	match, seen := arrived(prOut)
	srv[0].Inject(iscsitest.Fault{Match: match, Action: iscsitest.Ignore, Count: 1})
	param := make([]byte, 24)
	cdb, err := scsi.NewCDB([]byte{prOut, 0x06, 0, 0, 0, 0, 0, 0, 24, 0})
	if err != nil {
		t.Fatal(err)
	}
	f := d.Execute(testCtx(t), cdb, session.DirWrite, iovector.New(param))
	waitFor(t, "the command at path 0's target", seen.Load)
	srv[0].CloseClientConnections()
	_, err = f.Wait()
	if !errors.Is(err, session.ErrMayHaveExecuted) {
		t.Fatalf("PERSISTENT RESERVE OUT in flight on a failed path: %v, want ErrMayHaveExecuted", err)
	}
	if st := d.Stats(); st.Failovers != 0 {
		t.Fatalf("failovers %d, want 0", st.Failovers)
	}
}

func TestDifferentDeviceRefused(t *testing.T) {
	a := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs), iscsitest.WithLUN(lunSize, bs))
	defer a.Close()
	b := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
	defer b.Close()
	_, err := multipath.Dial(testCtx(t), []string{b.URL(), a.LUNURL(2)}, &multipath.Config{CheckInterval: -1})
	var de *multipath.DifferentDeviceError
	if !errors.As(err, &de) {
		t.Fatalf("Dial of paths to two devices: %v, want *DifferentDeviceError", err)
	}
	if de.First != b.Addr() || de.Path != a.Addr() || de.Serial == de.FirstSerial {
		t.Fatalf("error %+v does not name both paths (%s, %s)", de, b.Addr(), a.Addr())
	}
	t.Log(err)
}

// The checker takes a path whose TEST UNIT READY fails out of service and
// puts it back once it succeeds again.
func TestCheckerFailsAndRestoresPath(t *testing.T) {
	changes := make(chan multipath.PathChange, 16)
	d, srv := twoPaths(t, &multipath.Config{
		CheckInterval: 20 * time.Millisecond, CheckTimeout: 5 * time.Second,
		OnPathChange: func(c multipath.PathChange) { changes <- c },
	})
	srv[0].Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x00), Action: iscsitest.Respond,
		Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseNotReady, 0x0400)})
	expectState(t, changes, 0, multipath.PathFailed)
	before := commands(d)
	for range 4 {
		if _, err := d.Read(testCtx(t), 0, 1, iovector.New(make([]byte, bs))).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if after := commands(d); after[1]-before[1] != 4 {
		t.Fatalf("commands per path before %v after %v: want the 4 reads on path 1", before, after)
	}
	srv[0].ClearFaults()
	expectState(t, changes, 0, multipath.PathReady)
}

// A path whose session ended (no recovery here) is dialed again by the
// checker, with the same ISID, and carries I/O again.
func TestCheckerRedialsEndedPath(t *testing.T) {
	d, srv, changes := redialingPaths(t, multipath.LeastQueueDepth)
	srv[0].CloseClientConnections()
	expectState(t, changes, 0, multipath.PathDown)
	expectState(t, changes, 0, multipath.PathReady)
	if err := d.TestUnitReady(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if srv[0].Connections() != 2 {
		t.Fatalf("server 0 accepted %d connections, want 2 (the first and the redial)", srv[0].Connections())
	}
}

// When the session of every path has ended, commands fail with ErrNoPath
// instead of waiting.
func TestAllPathsEnded(t *testing.T) {
	changes := make(chan multipath.PathChange, 16)
	d, srv := twoPaths(t, &multipath.Config{
		Session:      &session.Config{DisableRecovery: true},
		OnPathChange: func(c multipath.PathChange) { changes <- c },
	})
	srv[0].CloseClientConnections()
	srv[1].CloseClientConnections()
	expectState(t, changes, 0, multipath.PathDown)
	waitFor(t, "path 1 down", func() bool { return d.Stats().Paths[1].State == multipath.PathDown })
	if err := d.TestUnitReady(testCtx(t)); !errors.Is(err, multipath.ErrNoPath) {
		t.Fatalf("TEST UNIT READY with every session ended: %v, want ErrNoPath", err)
	}
}

func TestZeroFuture(t *testing.T) {
	var f multipath.Future
	<-f.Done()
	if _, err := f.Wait(); err == nil {
		t.Fatal("the zero Future's Wait returned no error")
	}
}

// ReadAt and WriteAt keep io.ReaderAt's and io.WriterAt's rules, at any
// alignment. (One path: the in-process target keeps its LUN per server.)
func TestBlockAPI(t *testing.T) {
	d, srv := onePath(t)
	ctx := testCtx(t)
	g, err := d.Geometry(ctx)
	if err != nil || g.Size() != lunSize || g.BlockSize != bs {
		t.Fatalf("Geometry: %+v, %v", g, err)
	}
	for _, w := range []struct{ off, n int64 }{{0, bs}, {1, 1}, {bs - 3, 7}, {3 * bs, 5 * bs}, {1000, 3000}, {lunSize - 10, 10}} {
		p := bytes.Repeat([]byte{byte(w.off + w.n)}, int(w.n))
		if n, err := d.WriteAt(p, w.off); err != nil || n != len(p) {
			t.Fatalf("WriteAt(%d bytes at %d): %d, %v", w.n, w.off, n, err)
		}
		got := make([]byte, w.n)
		if n, err := d.ReadAt(got, w.off); err != nil || n != len(got) || !bytes.Equal(got, p) {
			t.Fatalf("ReadAt(%d bytes at %d): %d, %v, same bytes %v", w.n, w.off, n, err, bytes.Equal(got, p))
		}
		if !bytes.Equal(srv.Contents(1)[w.off:w.off+w.n], p) {
			t.Fatalf("the target holds other bytes at %d", w.off)
		}
	}
	buf := make([]byte, 100)
	if n, err := d.ReadAt(buf, lunSize-40); n != 40 || err != io.EOF {
		t.Fatalf("ReadAt across the end: %d, %v; want 40, io.EOF", n, err)
	}
	if n, err := d.ReadAt(buf, lunSize); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end: %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := d.WriteAt(buf, lunSize-40); !errors.Is(err, session.ErrBeyondEnd) {
		t.Fatalf("WriteAt across the end: %v", err)
	}
	if _, err := d.ReadAt(buf, -1); !errors.Is(err, session.ErrNegativeOffset) {
		t.Fatalf("ReadAt at -1: %v", err)
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := multipath.Dial(ctx, nil, nil); err == nil {
		t.Fatal("Dial with no URL succeeded")
	}
}

// With no path logging in, Dial fails with the logins' errors.
func TestDialFailsWithoutPath(t *testing.T) {
	var dead []string
	for range 2 {
		b := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
		dead = append(dead, b.URL())
		b.Close()
	}
	_, err := multipath.Dial(testCtx(t), dead, &multipath.Config{Session: &session.Config{LoginTimeout: 2 * time.Second}})
	var le *session.LoginError
	if !errors.As(err, &le) {
		t.Fatalf("Dial with two dead paths: %v, want a *session.LoginError", err)
	}
}

// A path that cannot log in at Dial starts down, Dial succeeds with the
// other, and the checker brings the path in once its portal answers.
func TestDeadPathJoinsLater(t *testing.T) {
	a := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
	defer a.Close()
	b := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
	addr, url := b.Addr(), b.URL()
	b.Close()
	var mu sync.Mutex
	var changes []string
	d, err := multipath.Dial(testCtx(t), []string{url, a.URL()}, &multipath.Config{
		Selector:      multipath.FailoverOnly,
		CheckInterval: 20 * time.Millisecond,
		Session:       &session.Config{LoginTimeout: time.Second},
		OnPathChange: func(c multipath.PathChange) {
			mu.Lock()
			changes = append(changes, fmt.Sprintf("%d %v", c.Path, c.State))
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st := d.Stats()
	if st.Paths[0].State != multipath.PathDown || st.Paths[0].LastErr == nil || st.Paths[0].Portal != addr || st.Paths[1].State != multipath.PathReady {
		t.Fatalf("after Dial: %+v, want path 0 down (with why) and path 1 ready", st.Paths)
	}
	buf := bytes.Repeat([]byte{3}, 4*bs)
	if _, err := d.WriteAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	b = iscsitest.NewServer(iscsitest.WithAddress(addr), iscsitest.WithLUN(lunSize, bs))
	defer b.Close()
	waitState(t, d, 0, multipath.PathReady)
	before := commands(d)
	if _, err := d.WriteAt(buf, bs); err != nil { // failover-only: the first path again
		t.Fatal(err)
	}
	if after := commands(d); after[0] == before[0] {
		t.Fatalf("the joined path carried no command: %v then %v", before, after)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(changes, ", "); got != "0 down, 1 ready, 0 ready" {
		t.Errorf("path changes %q, want %q", got, "0 down, 1 ready, 0 ready")
	}
}

func waitState(t *testing.T, d *multipath.Device, i int, want multipath.PathState) {
	t.Helper()
	ctx := testCtx(t)
	for d.Stats().Paths[i].State != want {
		select {
		case <-ctx.Done():
			t.Fatalf("path %d never became %v: %+v", i, want, d.Stats().Paths[i])
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Secrets of the URLs never show in Stats, path changes or errors.
func TestNoSecretsShown(t *testing.T) {
	const secret = "multipath-secret-9"
	srv := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs), iscsitest.WithCHAP("alice", secret))
	defer srv.Close()
	url := "iscsi://alice%" + secret + "@" + srv.Addr() + "/" + srv.TargetName() + "/1"
	var changes []multipath.PathChange
	var mu sync.Mutex
	d, err := multipath.Dial(testCtx(t), []string{url}, &multipath.Config{CheckInterval: -1, OnPathChange: func(c multipath.PathChange) {
		mu.Lock()
		changes = append(changes, c)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	mu.Lock()
	shown := fmt.Sprintf("%+v %+v", d.Stats(), changes)
	mu.Unlock()
	if strings.Contains(shown, secret) || !strings.Contains(shown, "alice") {
		t.Fatalf("Stats and path changes show %s", shown)
	}
}

func TestCallbacks(t *testing.T) {
	d, srv := twoPaths(t, &multipath.Config{Selector: multipath.FailoverOnly})
	ctx := testCtx(t)
	data := bytes.Repeat([]byte{0x42}, 2*bs)
	type outcome struct {
		res session.Result
		err error
	}
	got := make(chan outcome, 1)
	d.WriteFunc(ctx, 4, 2, iovector.New(data), func(r session.Result, err error) { got <- outcome{r, err} })
	if o := <-got; o.err != nil {
		t.Fatal(o.err)
	}
	buf := make([]byte, 2*bs)
	d.ReadFunc(ctx, 4, 2, iovector.New(buf), func(r session.Result, err error) { got <- outcome{r, err} })
	if o := <-got; o.err != nil || !bytes.Equal(buf, data) || !bytes.Equal(srv[0].Contents(1)[4*bs:6*bs], data) {
		t.Fatalf("read back: %v, same bytes %v", o.err, bytes.Equal(buf, data))
	}
	d.ExecuteFunc(ctx, scsi.TestUnitReady(), session.DirNone, nil, func(r session.Result, err error) { got <- outcome{r, err} })
	if o := <-got; o.err != nil {
		t.Fatal(o.err)
	}
}

// Failover-only: the second path carries the I/O while the first
// recovers, and the first takes it back when it returns (failback).
func TestFailoverOnlyFailsBack(t *testing.T) {
	changes := make(chan multipath.PathChange, 16)
	d, srv := twoPaths(t, &multipath.Config{Selector: multipath.FailoverOnly, OnPathChange: func(c multipath.PathChange) { changes <- c }})
	tur := func(n int) [2]uint64 {
		before := commands(d)
		for range n {
			if err := d.TestUnitReady(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
		after := commands(d)
		return [2]uint64{after[0] - before[0], after[1] - before[1]}
	}
	if got := tur(3); got != [2]uint64{3, 0} {
		t.Fatalf("commands per path %v, want all on path 0", got)
	}
	srv[0].CloseClientConnections()
	expectState(t, changes, 0, multipath.PathRecovering)
	if got := tur(3); got != [2]uint64{0, 3} {
		t.Fatalf("commands per path while path 0 recovers: %v, want all on path 1", got)
	}
	expectState(t, changes, 0, multipath.PathReady)
	if got := tur(3); got != [2]uint64{3, 0} {
		t.Fatalf("commands per path after path 0 came back: %v, want all on path 0", got)
	}
}

// TestUnitAttentionsAbsorbed: a read and a write of the block API that
// meet several unit attentions in a row (a LUN reset delivered late by a
// failed path's connection raises one on every I_T nexus, and several
// resets several) still succeed: a unit attention means the command did
// not execute. Call passes them through, as LogicalUnit.Call does.
func TestUnitAttentionsAbsorbed(t *testing.T) {
	d, srv := twoPaths(t, &multipath.Config{Selector: multipath.FailoverOnly})
	ctx := testCtx(t)
	ua := iscsitest.Sense(scsi.SenseUnitAttention, scsi.ASCPowerOnReset)
	for i := range srv {
		srv[i].Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead16, scsi.OpRead10, scsi.OpWrite16, scsi.OpWrite10),
			Count: 3, Action: iscsitest.Respond, Status: scsi.StatusCheckCondition, Sense: ua})
	}
	want := bytes.Repeat([]byte{0x5a}, 4096)
	if _, err := d.WriteAtContext(ctx, want, 8192); err != nil {
		t.Fatalf("WriteAt through 3 unit attentions: %v", err)
	}
	for i := range srv {
		srv[i].Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead16, scsi.OpRead10),
			Count: 3, Action: iscsitest.Respond, Status: scsi.StatusCheckCondition, Sense: ua})
	}
	got := make([]byte, len(want))
	if _, err := d.ReadAtContext(ctx, got, 8192); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAt through 3 unit attentions: %v, equal %v", err, bytes.Equal(got, want))
	}
	for i := range srv {
		srv[i].Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpTestUnitReady),
			Count: 1, Action: iscsitest.Respond, Status: scsi.StatusCheckCondition, Sense: ua})
	}
	if _, err := d.Call(ctx, scsi.TestUnitReady(), session.DirNone, nil); !scsi.IsUnitAttention(err) {
		t.Fatalf("Call: %v; want the unit attention passed through", err)
	}
}

// With path 0 answering 300 ms late (a delay line: its answers keep their
// order and commands keep flowing), round robin still gives it half the
// commands, while service time gives it far fewer bytes: the commands
// waiting there count against it, so the fast path takes the load. Eight
// workers share 128 READs of 1 and 16 blocks (a shared budget, so
// that no worker is left with READs to do after the others are done).
func TestServiceTimeAvoidsSlowPath(t *testing.T) {
	const workers, reads = 8, 128
	run := func(sel multipath.Selector) (cmds, read [2]uint64) {
		d, srv := twoPaths(t, &multipath.Config{Selector: sel})
		before := d.Stats()
		srv[0].SetDelay(300 * time.Millisecond)
		var wg sync.WaitGroup
		var next atomic.Int64
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < reads; i = int(next.Add(1) - 1) {
					blocks := uint32(1 + 15*(i/2%2)) // 1, 1, 16, 16: round robin gives each path both sizes
					lba := uint64(i * 16 % (lunSize/bs - 16))
					if _, err := d.Read(testCtx(t), lba, blocks, iovector.New(make([]byte, int(blocks)*bs))).Wait(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%v: %v", sel, err)
		}
		after := d.Stats()
		for i := range 2 {
			cmds[i] = after.Paths[i].Commands - before.Paths[i].Commands
			read[i] = after.Paths[i].Session.BytesRead - before.Paths[i].Session.BytesRead
			if after.Paths[i].InFlight != 0 || after.Paths[i].InFlightBytes != 0 {
				t.Errorf("%v: path %d has %d commands (%d bytes) in flight at the end", sel, i, after.Paths[i].InFlight, after.Paths[i].InFlightBytes)
			}
		}
		return cmds, read
	}
	// The READs move this much; a session's first READ also reads the
	// LUN's capacity (a few bytes more).
	total := uint64(reads / 2 * 17 * bs)
	rrCmds, rrRead := run(multipath.RoundRobin)
	t.Logf("round robin: commands %v, bytes %v", rrCmds, rrRead)
	if rrCmds != [2]uint64{reads / 2, reads / 2} || rrRead[0]+rrRead[1] < total {
		t.Fatalf("round robin: commands per path %v, bytes %v (of %d): want an even split of the commands", rrCmds, rrRead, total)
	}
	stCmds, stRead := run(multipath.ServiceTime)
	t.Logf("service time: commands %v, bytes %v", stCmds, stRead)
	if stCmds[0]+stCmds[1] != reads || stRead[0]+stRead[1] < total {
		t.Fatalf("service time: commands %v, bytes read %v, want %d commands and %d bytes in all", stCmds, stRead, reads, total)
	}
	if stRead[0] >= total/4 || stRead[0] >= rrRead[0]/2 {
		t.Fatalf("service time sent %d of %d bytes to the slow path (round robin %d): want under a quarter, and under half of round robin's", stRead[0], total, rrRead[0])
	}
}

func TestRelativeThroughputChecked(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
	defer srv.Close()
	urls := []string{srv.URL(), srv.URL()}
	for _, rt := range [][]int{{101}, {1, -1}, {1, 2, 3}} {
		d, err := multipath.Dial(testCtx(t), urls, &multipath.Config{Selector: multipath.ServiceTime, RelativeThroughput: rt, CheckInterval: -1})
		if err == nil {
			d.Close()
			t.Errorf("Dial with RelativeThroughput %v for 2 URLs succeeded", rt)
		}
	}
	if srv.Connections() != 0 {
		t.Errorf("Dial connected %d times before refusing its Config", srv.Connections())
	}
	d, err := multipath.Dial(testCtx(t), urls, &multipath.Config{Selector: multipath.ServiceTime, RelativeThroughput: []int{0, 100}, CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.TestUnitReady(testCtx(t)); err != nil || d.Stats().Selector != multipath.ServiceTime {
		t.Fatalf("TEST UNIT READY %v, selector %v", err, d.Stats().Selector)
	}
}

// prTarget makes srv play persistent reservations as far as a test of
// the Device needs: PERSISTENT RESERVE OUT answers GOOD, a REGISTER (or
// REGISTER AND IGNORE EXISTING KEY) registers the server's nexus, and
// until it is registered, READs and WRITEs get RESERVATION CONFLICT (a
// "registrants only" reservation held by someone). It records the
// commands the server executes.
type prTarget struct {
	mu         sync.Mutex
	registered bool
	seen       []prSeen
}

type prSeen struct {
	op scsi.OpCode
	sa byte // service action of a PERSISTENT RESERVE OUT
}

const (
	opPROut             = scsi.OpCode(0x5f)
	saRegister          = 0x00
	saRegisterAndIgnore = 0x06
)

func newPRTarget(srv *iscsitest.Server) *prTarget {
	pt := &prTarget{}
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		pt.mu.Lock()
		defer pt.mu.Unlock()
		s := prSeen{op: scsi.OpCode(cdb[0])}
		if s.op == opPROut {
			s.sa = cdb[1] & 0x1f
			if s.sa == saRegister || s.sa == saRegisterAndIgnore {
				pt.registered = true
			}
		}
		pt.seen = append(pt.seen, s)
		return false
	}})
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(opPROut), Action: iscsitest.Respond, Status: scsi.StatusGood})
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		pt.mu.Lock()
		defer pt.mu.Unlock()
		return !pt.registered && iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16, scsi.OpWrite10, scsi.OpWrite16)(cdb)
	}, Action: iscsitest.Respond, Status: scsi.StatusReservationConflict})
	return pt
}

// forget drops the registration and the record, as a target that lost
// its registrations (restarted without APTPL) does.
func (pt *prTarget) forget() {
	pt.mu.Lock()
	pt.registered, pt.seen = false, nil
	pt.mu.Unlock()
}

func (pt *prTarget) record() []prSeen {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return append([]prSeen(nil), pt.seen...)
}

// A path whose session ended is registered again with the Device's
// reservation key when the checker dials it again (REGISTER AND IGNORE
// EXISTING KEY, on the new session's nexus), before it carries I/O: here
// the target lost path 0's registration with its session, and a READ or
// WRITE reaching path 0 before the registration would fail with
// RESERVATION CONFLICT.
func TestRedialedPathRegisteredBeforeIO(t *testing.T) {
	d, srv, changes := redialingPaths(t, multipath.RoundRobin)
	pt := [2]*prTarget{newPRTarget(srv[0]), newPRTarget(srv[1])}
	ctx := testCtx(t)
	if err := d.PRRegisterAndIgnore(ctx, 0x5eed); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0x6b}, 4*bs)
	for i := range 4 {
		if _, err := d.WriteAtContext(ctx, data, int64(i)*4*bs); err != nil {
			t.Fatalf("write %d with both paths registered: %v", i, err)
		}
	}
	if c := commands(d); c[0] == 0 || c[1] == 0 {
		t.Fatalf("commands per path %v: round robin did not use both", c)
	}

	pt[0].forget()
	srv[0].CloseClientConnections()
	expectState(t, changes, 0, multipath.PathDown)
	expectState(t, changes, 0, multipath.PathReady)
	before := commands(d)
	buf := make([]byte, 4*bs)
	for i := range 8 {
		if _, err := d.WriteAtContext(ctx, data, int64(i)*4*bs); err != nil {
			t.Fatalf("write %d after path 0 was dialed again: %v", i, err)
		}
		if _, err := d.ReadAtContext(ctx, buf, int64(i)*4*bs); err != nil {
			t.Fatalf("read %d after path 0 was dialed again: %v", i, err)
		}
	}
	if after := commands(d); after[0]-before[0] < 4 {
		t.Fatalf("commands per path before %v after %v: path 0 carried almost no I/O after its redial", before, after)
	}
	registers, firstIO := 0, -1
	rec := pt[0].record()
	for i, s := range rec {
		switch s.op {
		case opPROut:
			if s.sa != saRegisterAndIgnore {
				t.Fatalf("path 0's redial sent PERSISTENT RESERVE OUT service action %#x, want REGISTER AND IGNORE EXISTING KEY", s.sa)
			}
			registers++
		case scsi.OpRead10, scsi.OpRead16, scsi.OpWrite10, scsi.OpWrite16:
			if firstIO < 0 {
				firstIO = i
			}
		}
	}
	if registers != 1 || firstIO < 0 {
		t.Fatalf("path 0 after its redial executed %v: want one REGISTER AND IGNORE EXISTING KEY, then READs and WRITEs", rec)
	}
	for _, s := range rec[:firstIO] {
		if s.op == opPROut {
			return // registered before its first READ or WRITE
		}
	}
	t.Fatalf("path 0 after its redial executed %v: a READ or WRITE before the registration", rec)
}

// A key unregistered while a path's session has ended is unregistered on
// that path too when the checker dials it again (REGISTER AND IGNORE
// EXISTING KEY with key 0): the new session has the same ISID, so the
// same I_T nexus, which a target may still hold registered.
func TestRedialedPathUnregistered(t *testing.T) {
	d, srv, changes := redialingPaths(t, multipath.LeastQueueDepth)
	pt := [2]*prTarget{newPRTarget(srv[0]), newPRTarget(srv[1])}
	// While refuse is set, path 0's redials fail (its INQUIRY does).
	var refuse atomic.Bool
	srv[0].Inject(iscsitest.Fault{Match: func(cdb []byte) bool { return refuse.Load() && scsi.OpCode(cdb[0]) == scsi.OpInquiry },
		Action: iscsitest.Respond, Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseHardwareError, 0x4400)})
	ctx := testCtx(t)
	if err := d.PRRegisterAndIgnore(ctx, 0x5eed); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	pt[0].forget()
	srv[0].CloseClientConnections()
	expectState(t, changes, 0, multipath.PathDown)
	if err := d.PRRegister(ctx, 0x5eed, 0); err != nil {
		t.Fatalf("unregistering with path 0 down: %v", err)
	}
	if rec := pt[0].record(); slices.ContainsFunc(rec, func(s prSeen) bool { return s.op == opPROut }) {
		t.Fatalf("path 0, down, executed %v", rec)
	}
	refuse.Store(false)
	expectState(t, changes, 0, multipath.PathReady)
	registers := 0
	for _, s := range pt[0].record() {
		if s.op == opPROut && s.sa == saRegisterAndIgnore {
			registers++
		}
	}
	if registers != 1 {
		t.Fatalf("path 0 after its redial executed %v: want one REGISTER AND IGNORE EXISTING KEY (key 0)", pt[0].record())
	}
	if err := d.TestUnitReady(ctx); err != nil {
		t.Fatal(err)
	}
}
