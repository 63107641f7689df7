package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/session"
)

// The write-ordering soak (issue 23): two sessions (digests on) through a
// fault proxy to one tgtd LUN, 16 goroutines writing and reading back
// tagged data on disjoint and on overlapping ranges, while the test cuts,
// resets, stalls, delays and flips bits of the connections, closes or logs
// out a session and dials it again, and kills and restarts tgtd. One write in
// ten has a deadline of 50 µs to 3 ms.
//
// The oracle: the test serialises the operations on overlapping ranges
// (range locks, taken in ascending order) and keeps, per block, the history
// of the writes to it with what their calls said. A byte read back (while
// the test runs, and at the end through the session and from the backing
// file) must be the byte of the last acknowledged write covering it or of a
// write issued after that one whose call said it may have executed
// (ErrMayHaveExecuted). Anything else fails the test: a byte of an older
// write (an acknowledged write lost), of a write whose call said it did
// not execute, or of no write at all (garbage).
//
// A write that failed because its session ended (Close, Logout, recovery
// given up) may still land later, as the Close contract says; its
// goroutine keeps the range locked until the session has been dialled again
// with the old ISID (the fence: tgtd ends the old session's tasks at the
// login, and Dial's barrier waits for those still executing), as an
// application should. A Logout that returned nil needs no fence: the new
// session takes a new ISID.
//
// ISCSI_SOAK_DURATION sets the time under load (default 60 s, as in CI);
// scripts/write-order-soak.sh runs it longer.
func TestWriteOrderSoak(t *testing.T) {
	t.Parallel()
	dur := envDuration("ISCSI_SOAK_DURATION", 60*time.Second)
	const (
		iqn      = "iqn.2026-12.test:write-order"
		zone     = 512 << 10 // per disjoint writer
		disjoint = 8
		shared   = 8
		sharedSz = 1 << 20
		lunSize  = disjoint*zone + sharedSz
		maxIO    = 64 << 10
	)
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: lunSize}}})
	path := targets[0].LUNs[0].Path
	inst.SetParam(1, "DefaultTime2Wait", "0")
	inst.SetParam(1, "HeaderDigest", "CRC32C")
	inst.SetParam(1, "DataDigest", "CRC32C")
	p := faultproxy.Start(t, inst.Addr())
	url := p.TargetURL(iqn, 1) + "?header_digest=crc32c&data_digest=crc32c"
	ctx, cancel := context.WithTimeout(context.Background(), dur+4*time.Minute)
	defer cancel()

	st := &soak{t: t, ctx: ctx, url: url, path: path, o: newOracle(lunSize), fails: &failures{t: t, limit: 20}}
	for i := range st.slots {
		st.slots[i] = &slot{st: st, isid: session.NewISID()}
		if err := st.slots[i].dial(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, sl := range st.slots {
			sl.mu.Lock()
			if sl.s != nil {
				sl.s.Close()
			}
			sl.mu.Unlock()
		}
	}()
	// The fill: write 0, acknowledged, over the whole LUN.
	for off := int64(0); off < lunSize; off += maxIO {
		if _, err := st.slots[0].s.WriteAtContext(ctx, tagged(maxIO, 0, off), off); err != nil {
			t.Fatal(err)
		}
	}

	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < disjoint+shared; w++ {
		lo, hi := int64(disjoint*zone), int64(lunSize)
		if w < disjoint {
			lo, hi = int64(w*zone), int64((w+1)*zone)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.worker(w, lo, hi, maxIO)
		}()
	}

	// The chaos, from the test's goroutine (tgtd's Restart may fail the
	// test). Restarts at fixed points of the run: at least 2.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 23))
	restarts := max(2, int(dur/(30*time.Second)))
	nextRestart := 1
	start := time.Now()
	for time.Now().Before(deadline) && !st.stop.Load() {
		sleep := time.Duration(300+rng.IntN(1200)) * time.Millisecond
		select {
		case <-time.After(sleep):
		case <-ctx.Done():
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		if nextRestart <= restarts && time.Since(start) >= dur*time.Duration(nextRestart)/time.Duration(restarts+1) {
			nextRestart++
			if rng.IntN(2) == 0 {
				inst.Kill()
				time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
			}
			inst.Restart()
			st.n.restarts.Add(1)
			continue
		}
		st.chaos(p, rng)
	}
	st.stop.Store(true)
	for _, c := range p.Conns() {
		c.Release()
		c.Up().Delay(0)
	}
	waitWorkers(t, &wg, 3*time.Minute)
	if t.Failed() && ctx.Err() != nil {
		return
	}

	// The end: sync, then every byte read back through a session and
	// from the backing file.
	s := st.slots[0].current()
	if s == nil {
		t.Fatal("no session at the end")
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("SYNCHRONIZE CACHE at the end: %v", err)
	}
	buf := make([]byte, maxIO)
	for off := int64(0); off < lunSize; off += maxIO {
		if _, err := s.ReadAtContext(ctx, buf, off); err != nil {
			t.Fatalf("final read at %d: %v", off, err)
		}
		st.verify(buf, off, "final read")
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st.verify(file[:lunSize], 0, "backing file")
	for _, sl := range st.slots {
		sl.mu.Lock()
		lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
		bounded(t, "Logout", 2*time.Minute, func() {
			if err := sl.s.Logout(lctx); err != nil {
				t.Logf("logout at the end: %v", err)
			}
		})
		lcancel()
		sl.stats = sl.stats.Add(sl.s.Stats())
		sl.s = nil
		sl.mu.Unlock()
	}
	st.report(p, time.Since(start))
}

// soak is the state of one TestWriteOrderSoak.
type soak struct {
	t     *testing.T
	ctx   context.Context
	url   string
	path  string // the LUN's backing file
	o     *oracle
	slots [2]*slot
	fails *failures
	stop  atomic.Bool
	ids   atomic.Uint64
	n     struct {
		writes, acked, bytesWritten, bytesVerified       atomic.Int64
		cancelled, mayRun, denied, reads, readErrors     atomic.Int64
		closes, logouts, fenced, redials                 atomic.Int64
		cuts, resets, stalls, delays, flips, restarts    atomic.Int64
		lost, garbage, deniedRan, otherErrors, untyped   atomic.Int64
		viaFuture, viaFunc, viaWriteAt, sessionEndWrites atomic.Int64
		followUps, expired                               atomic.Int64
	}
	errMu     sync.Mutex
	errSample map[string]int
}

// worker writes and reads back on [lo, hi) until the soak stops.
func (st *soak) worker(w int, lo, hi int64, maxIO int) {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	sl := st.slots[w%len(st.slots)]
	for !st.stop.Load() && st.ctx.Err() == nil {
		aligned := rng.IntN(2) == 0
		n := 1 + rng.IntN(maxIO)
		if aligned {
			n = 512 * (1 + rng.IntN(maxIO/512))
		}
		if int64(n) > hi-lo {
			n = int(hi - lo)
		}
		off := lo + rng.Int64N(hi-lo-int64(n)+1)
		if aligned {
			off &^= 511
		}
		unlock := st.o.lock(off, int64(n))
		if rng.IntN(7) == 0 {
			st.readBack(sl, rng, off, n)
		} else if st.write(sl, rng, off, n, aligned, false) && rng.IntN(2) == 0 {
			// As soon as a cancelled call returned, write the same
			// bytes again (issue 23's repro): the cancelled write must
			// not land over this one.
			st.n.followUps.Add(1)
			st.write(sl, rng, off, n, aligned, true)
		}
		unlock()
	}
}

// readBack reads [off, off+n) and checks it against the oracle.
func (st *soak) readBack(sl *slot, rng *rand.Rand, off int64, n int) {
	s, gen := sl.get()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(st.ctx, 90*time.Second)
	if rng.IntN(10) == 0 {
		ctx, cancel = context.WithTimeout(st.ctx, time.Duration(50+rng.IntN(2950))*time.Microsecond)
	}
	defer cancel()
	buf := make([]byte, n)
	_, err := s.ReadAtContext(ctx, buf, off)
	st.n.reads.Add(1)
	if err != nil {
		st.n.readErrors.Add(1)
		st.noteError("read", err)
		if errors.Is(err, session.ErrSessionClosed) {
			sl.renew(gen, "")
		}
		return
	}
	st.verify(buf, off, "read back")
}

// write writes tagged data to [off, off+n) through one of the block APIs
// and records what its call said. One write in ten (none if noShort) has a
// deadline of 50 µs to 3 ms; write reports whether that deadline passed
// during the call.
func (st *soak) write(sl *slot, rng *rand.Rand, off int64, n int, aligned, noShort bool) (cancelled bool) {
	s, gen := sl.get()
	if s == nil {
		return false
	}
	id := st.ids.Add(1)
	data := tagged(n, id, off)
	ctx, cancel := context.WithTimeout(st.ctx, 90*time.Second)
	short := !noShort && rng.IntN(10) == 0
	if short {
		ctx, cancel = context.WithTimeout(st.ctx, time.Duration(50+rng.IntN(2950))*time.Microsecond)
	}
	var err error
	done := 0 // bytes written from the start, for WriteAt
	switch {
	case !aligned || rng.IntN(3) == 0:
		st.n.viaWriteAt.Add(1)
		done, err = s.WriteAtContext(ctx, data, off)
	case rng.IntN(2) == 0:
		st.n.viaFuture.Add(1)
		_, err = s.Write(ctx, uint64(off/512), uint32(n/512), iovector.New(data)).Wait()
	default:
		st.n.viaFunc.Add(1)
		cb := make(chan error, 1)
		s.WriteFunc(ctx, uint64(off/512), uint32(n/512), iovector.New(data), func(_ session.Result, err error) { cb <- err })
		select {
		case err = <-cb:
		case <-st.ctx.Done():
			err = fmt.Errorf("WriteFunc's callback never came: %w", st.ctx.Err())
		}
	}
	if short && ctx.Err() != nil {
		// The deadline passed with the call in progress (it may still
		// have returned nil: the status came first).
		st.n.expired.Add(1)
		cancelled = true
	}
	cancel()
	out := outcomeOf(err)
	st.n.writes.Add(1)
	switch out {
	case acked:
		st.n.acked.Add(1)
		st.n.bytesWritten.Add(int64(n))
	case mayRun:
		st.n.mayRun.Add(1)
	case denied:
		st.n.denied.Add(1)
	}
	if err != nil {
		switch {
		case isCancel(err) && st.ctx.Err() == nil:
			st.n.cancelled.Add(1)
		default:
			st.noteError("write", err)
		}
	}
	if out != acked && done > 0 {
		// WriteAt failed after its first commands (an unaligned head,
		// the whole blocks) were acknowledged: those bytes are written.
		st.o.record(id, off, int64(done), acked, nil)
		st.o.record(id, off+int64(done), int64(n-done), out, err)
	} else {
		st.o.record(id, off, int64(n), out, err)
	}
	if errors.Is(err, session.ErrSessionClosed) {
		// The session ended with this write in flight: it may land later,
		// until the session is fenced. Keep the range locked till then.
		st.n.sessionEndWrites.Add(1)
		sl.renew(gen, "")
	}
	return cancelled
}

// noteError counts an error that is not a cancellation, with a sample of
// its text per kind, and checks it is typed.
func (st *soak) noteError(op string, err error) {
	var oe *session.OpError
	untyped := !errors.As(err, &oe)
	if untyped {
		st.n.untyped.Add(1)
		op += " (no *OpError)"
	}
	if !untyped && (errors.Is(err, session.ErrSessionClosed) || errors.Is(err, session.ErrMayHaveExecuted) || isCancel(err)) {
		return
	}
	if !untyped {
		st.n.otherErrors.Add(1)
	}
	st.errMu.Lock()
	defer st.errMu.Unlock()
	if st.errSample == nil {
		st.errSample = map[string]int{}
	}
	k := fmt.Sprintf("%s: %T: %v", op, err, err)
	if len(st.errSample) < 20 || st.errSample[k] > 0 {
		st.errSample[k]++
	}
}

// verify checks bytes read at off against the oracle; the caller holds the
// range's locks.
func (st *soak) verify(b []byte, off int64, what string) {
	lost, garbage, ran, sample := st.o.check(b, off)
	st.n.bytesVerified.Add(int64(len(b)))
	st.n.lost.Add(int64(lost))
	st.n.garbage.Add(int64(garbage))
	st.n.deniedRan.Add(int64(ran))
	if lost+garbage+ran > 0 {
		st.fails.Errorf("%s of %d bytes at %d: %d bytes of an older write over a newer acknowledged one (lost), %d of a write whose call said it did not execute, %d of no write (garbage; %d of the bytes read are zero); %s; %s",
			what, len(b), off, lost, ran, garbage, bytes.Count(b, []byte{0}), sample, st.onDisk(off, len(b)))
	}
}

// onDisk judges the same range in the backing file, read now (the caller
// holds the range's locks): whether the target's disk or the READ was
// wrong, for a failure's message.
func (st *soak) onDisk(off int64, n int) string {
	if st.path == "" {
		return "backing file not read"
	}
	f, err := os.Open(st.path)
	if err != nil {
		return "backing file: " + err.Error()
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return "backing file: " + err.Error()
	}
	lost, garbage, ran, sample := st.o.check(b, off)
	return fmt.Sprintf("the backing file now: %d lost, %d not said to execute, %d garbage (%s)", lost, ran, garbage, sample)
}

// chaos does one fault to a live connection, or closes a session.
func (st *soak) chaos(p *faultproxy.Proxy, rng *rand.Rand) {
	var live []*faultproxy.Conn
	for _, c := range p.Conns() {
		if !c.Ended() {
			live = append(live, c)
		}
	}
	k := rng.IntN(20)
	if len(live) == 0 || k >= 17 {
		sl := st.slots[rng.IntN(len(st.slots))]
		_, gen := sl.get()
		how := "close"
		if k == 19 {
			how = "logout"
		}
		sl.renew(gen, how)
		return
	}
	c := live[rng.IntN(len(live))]
	pipe := c.Up()
	if rng.IntN(2) == 0 {
		pipe = c.Down()
	}
	switch {
	case k < 4:
		st.n.cuts.Add(1)
		pipe.CutAt(pipe.Next() + rng.Int64N(64<<10))
	case k < 6:
		st.n.resets.Add(1)
		pipe.ResetAt(pipe.Next() + rng.Int64N(64<<10))
	case k < 9:
		st.n.stalls.Add(1)
		c.Stall(time.Duration(200+rng.IntN(2800)) * time.Millisecond)
	case k < 12:
		st.n.delays.Add(1)
		c.Up().Delay(120 * time.Millisecond)
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		c.Up().Delay(0)
	default:
		st.n.flips.Add(1)
		pipe.FlipBit(pipe.Next()+rng.Int64N(64<<10), uint(rng.IntN(8)))
	}
}

func (st *soak) report(p *faultproxy.Proxy, took time.Duration) {
	var stats session.Stats
	for _, sl := range st.slots {
		stats = stats.Add(sl.stats)
	}
	flipped := 0
	for _, c := range p.Conns() {
		flipped += c.Up().Flipped() + c.Down().Flipped()
	}
	n := &st.n
	var b strings.Builder
	fmt.Fprintf(&b, "write-order soak, %v under load:\n", took.Round(time.Second))
	fmt.Fprintf(&b, "  writes %d (Write %d, WriteFunc %d, WriteAtContext %d): acknowledged %d (%d bytes), failed with ErrMayHaveExecuted %d, failed without %d\n",
		n.writes.Load(), n.viaFuture.Load(), n.viaFunc.Load(), n.viaWriteAt.Load(), n.acked.Load(), n.bytesWritten.Load(), n.mayRun.Load(), n.denied.Load())
	fmt.Fprintf(&b, "  short deadlines passed during the call %d (%d rewritten at once); calls that returned a context error %d; in flight when their session ended %d; reads %d (%d failed)\n",
		n.expired.Load(), n.followUps.Load(), n.cancelled.Load(), n.sessionEndWrites.Load(), n.reads.Load(), n.readErrors.Load())
	fmt.Fprintf(&b, "  bytes verified %d\n", n.bytesVerified.Load())
	fmt.Fprintf(&b, "  faults: cuts %d, resets %d, stalls %d, delays %d, flips armed %d (bits flipped %d), closes %d, logouts %d, tgtd restarts %d\n",
		n.cuts.Load(), n.resets.Load(), n.stalls.Load(), n.delays.Load(), n.flips.Load(), flipped, n.closes.Load(), n.logouts.Load(), n.restarts.Load())
	fmt.Fprintf(&b, "  sessions dialled again %d (%d with the old ISID); proxy connections %d\n", n.redials.Load(), n.fenced.Load(), p.Accepted())
	fmt.Fprintf(&b, "  reconnects %d, barriers %d, replayed %d, not replayed %d, digest errors %d, keepalives %d\n",
		stats.Reconnects, stats.Barriers, stats.Replayed, stats.NotReplayed, stats.DigestErrors, stats.Keepalives)
	fmt.Fprintf(&b, "  other errors %d, errors without *OpError %d\n", n.otherErrors.Load(), n.untyped.Load())
	fmt.Fprintf(&b, "  LOST %d bytes, garbage %d bytes, bytes of writes said not to execute %d\n", n.lost.Load(), n.garbage.Load(), n.deniedRan.Load())
	st.errMu.Lock()
	for k, v := range st.errSample {
		fmt.Fprintf(&b, "  error x%d: %s\n", v, k)
	}
	st.errMu.Unlock()
	st.t.Log(b.String())
	if n := st.fails.count(); n > 0 {
		st.t.Errorf("%d failures in all", n)
	}
	if n.acked.Load() == 0 || n.bytesVerified.Load() == 0 {
		st.t.Errorf("nothing was written and verified")
	}
}

// slot is one of the soak's sessions, dialled again when it ends.
type slot struct {
	st    *soak
	mu    sync.Mutex // held while the session is replaced
	s     *session.Session
	gen   int
	isid  pdu.ISID
	stats session.Stats // of the sessions closed
}

func (sl *slot) config() *session.Config {
	return &session.Config{
		ISID:        sl.isid,
		NOPInterval: 500 * time.Millisecond, NOPTimeout: time.Second,
		CommandTimeout: 20 * time.Second, AbortTimeout: 5 * time.Second,
		ReplacementTimeout: 60 * time.Second, LoginTimeout: 5 * time.Second,
		Operational: keys.Offer{DefaultTime2Wait: keys.Some[uint32](0)},
	}
}

// dial dials the slot's session, retrying (tgtd may be restarting, or
// holding the reinstatement until the old connection is gone), bounded by
// the soak's context. sl.mu is held (or the slot not yet shared).
func (sl *slot) dial() error {
	var err error
	for attempt := 0; sl.st.ctx.Err() == nil; attempt++ {
		var s *session.Session
		if s, err = session.Dial(sl.st.ctx, sl.st.url, sl.config()); err == nil {
			sl.s = s
			sl.gen++
			return nil
		}
		select {
		case <-time.After(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond):
		case <-sl.st.ctx.Done():
		}
	}
	return fmt.Errorf("dial %s: %w (last: %v)", sl.st.url, sl.st.ctx.Err(), err)
}

// get returns the current session and its generation (nil once the soak
// failed to dial again).
func (sl *slot) get() (*session.Session, int) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.s, sl.gen
}

func (sl *slot) current() *session.Session {
	s, _ := sl.get()
	return s
}

// renew replaces the session of generation gen, unless that was done
// already: how is "close" or "logout" (the chaos) or "" (the session ended
// by itself: close it). The new session takes the old ISID (the fence)
// unless a Logout succeeded. It returns once the new session is up, so a
// caller holding range locks keeps them across the fence.
func (sl *slot) renew(gen int, how string) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.gen != gen || sl.s == nil {
		return
	}
	old := sl.s
	fence := true
	switch how {
	case "logout":
		sl.st.n.logouts.Add(1)
		ctx, cancel := context.WithTimeout(sl.st.ctx, 5*time.Second)
		bounded(sl.st.t, "Logout", 2*time.Minute, func() {
			if err := old.Logout(ctx); err == nil {
				fence = false
			}
		})
		cancel()
	case "close":
		sl.st.n.closes.Add(1)
	}
	bounded(sl.st.t, "Close", 2*time.Minute, func() { old.Close() })
	sl.stats = sl.stats.Add(old.Stats())
	if fence {
		sl.st.n.fenced.Add(1)
	} else {
		sl.isid = session.NewISID()
	}
	sl.st.n.redials.Add(1)
	sl.s = nil
	if err := sl.dial(); err != nil {
		sl.st.fails.Errorf("dial again after %q: %v", how, err)
	}
}

// oracle is what the soak knows of every block: the writes to it, oldest
// first, since the last acknowledged write that covered it whole.
type oracle struct {
	locks []sync.Mutex // one per lockSpan bytes
	mu    sync.Mutex
	hist  [][]wrec // per 512-byte block
}

const lockSpan = 4096

type wrec struct {
	id     uint64
	lo, hi int64
	out    outcome
	why    string // for a failed write: its error
}

func newOracle(size int64) *oracle {
	o := &oracle{locks: make([]sync.Mutex, (size+lockSpan-1)/lockSpan), hist: make([][]wrec, size/512)}
	for b := range o.hist {
		o.hist[b] = []wrec{{id: 0, lo: int64(b) * 512, hi: int64(b+1) * 512, out: acked}}
	}
	return o
}

// lock locks [off, off+n) (in ascending order, so overlapping lockers never
// deadlock) and returns the unlock.
func (o *oracle) lock(off, n int64) func() {
	first, last := off/lockSpan, (off+n-1)/lockSpan
	for i := first; i <= last; i++ {
		o.locks[i].Lock()
	}
	return func() {
		for i := last; i >= first; i-- {
			o.locks[i].Unlock()
		}
	}
}

// record adds a write whose call returned to the history of its blocks.
func (o *oracle) record(id uint64, off, n int64, out outcome, why error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := wrec{id: id, lo: off, hi: off + n, out: out}
	if why != nil {
		r.why = why.Error()
	}
	for b := off / 512; b <= (off+n-1)/512; b++ {
		if out == acked && r.lo <= b*512 && r.hi >= (b+1)*512 {
			o.hist[b] = append(o.hist[b][:0], r)
			continue
		}
		o.hist[b] = append(o.hist[b], r)
	}
}

// check judges bytes read at off: it returns how many are of an older write
// than allowed (lost), of no write (garbage), and of a write whose call
// said it did not execute (ran).
func (o *oracle) check(b []byte, off int64) (lost, garbage, ran int, sample string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := 0; i < len(b); {
		blk := (off + int64(i)) / 512
		end := min(len(b), int((blk+1)*512-off))
		h := o.hist[blk]
	bytes:
		for ; i < end; i++ {
			at := off + int64(i)
			// Newest first: the writes that may have executed, down to
			// the last acknowledged one, are allowed.
			allowed := true
			for k := len(h) - 1; k >= 0; k-- {
				r := &h[k]
				if at < r.lo || at >= r.hi {
					continue
				}
				if allowed && r.out != denied && b[i] == tagByte(r.id, at) {
					continue bytes
				}
				if r.out == acked {
					allowed = false
				}
			}
			// Not an allowed byte: whose is it?
			for k := len(h) - 1; k >= 0; k-- {
				r := &h[k]
				if at >= r.lo && at < r.hi && b[i] == tagByte(r.id, at) {
					if r.out == denied {
						ran++
					} else {
						lost++
					}
					if sample == "" {
						sample = fmt.Sprintf("byte %d is write %d's (bytes %d-%d, %s: %q); history of its block: %s", at, r.id, r.lo, r.hi, r.out, r.why, describe(h))
					}
					continue bytes
				}
			}
			garbage++
		}
	}
	return lost, garbage, ran, sample
}

// describe lists a block's history for a failure message.
func describe(h []wrec) string {
	var b strings.Builder
	for _, r := range h {
		fmt.Fprintf(&b, "[write %d, bytes %d-%d, %s] ", r.id, r.lo, r.hi, r.out)
	}
	return b.String()
}
