package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// errInterrupted ends a run aborted by a second signal.
var errInterrupted = errors.New("interrupted twice: commands in flight aborted")

// maxRetries bounds consecutive BUSY or UNIT ATTENTION retries of one worker,
// like libiscsi's 4 × max_in_flight for the whole client.
const maxRetries = 4

// issuer is what a worker sends commands through: a *session.Session, or a
// *multipath.Device with --path.
type issuer interface {
	ReadFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done session.Done)
	WriteFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done session.Done)
}

// wait sends one command through a future and waits for it (--goroutines).
// The futures of a Session and of a Device are different types: a type
// switch keeps the Session's allocation-free.
func wait(s issuer, ctx context.Context, write bool, lba uint64, blocks uint32, v *iovector.Vector) error {
	switch x := s.(type) {
	case oneSession:
		s = x.Session
	case multiPath:
		s = x.Device
	}
	var err error
	switch s := s.(type) {
	case *session.Session:
		if write {
			_, err = s.Write(ctx, lba, blocks, v).Wait()
		} else {
			_, err = s.Read(ctx, lba, blocks, v).Wait()
		}
	case *multipath.Device:
		if write {
			_, err = s.Write(ctx, lba, blocks, v).Wait()
		} else {
			_, err = s.Read(ctx, lba, blocks, v).Wait()
		}
	default:
		err = fmt.Errorf("iscsi-perf: --goroutines cannot issue through %T", s)
	}
	return err
}

// worker is one of the -m goroutines, each with one command in flight at a
// time, its own buffer and vector (so that the I/O path allocates nothing),
// its own random source and its own counters, read by the progress line.
type worker struct {
	ops      atomic.Uint64
	bytes    atomic.Uint64
	pos      atomic.Uint64 // the LBA after the last command issued
	inFlight atomic.Int32
	busy     atomic.Uint64
	errs     atomic.Uint64
	reads    uint64
	writes   uint64

	buf  []byte
	vec  iovector.Vector
	rng  *rand.Rand
	hist histogram

	// The command in flight of a chain (callbacks, see chain).
	t0      time.Time
	lba, n  uint64
	write   bool
	curLen  int
	retries int
	ctx     context.Context // the run's: a chain stops when it ends
	cmdCtx  context.Context // the commands': Background (see run)
	done    session.Done    // w.complete, made once
	ended   func()          // called once when the chain stops
	_       [64]byte        // keep workers' counters off each other's cache lines
}

// runner runs the load of one invocation.
type runner struct {
	s         issuer
	o         options
	blockSize uint64
	numBlocks uint64
	out       io.Writer // progress lines
	stderr    io.Writer

	workers []*worker
	next    atomic.Uint64 // the next sequential LBA, before wrapping
	issued  atomic.Uint64 // commands claimed, when o.maxIOs is set
	stopped atomic.Bool
	stopCh  chan struct{}
	stop1   sync.Once
	errMu   sync.Mutex
	err     error
	cancel  context.CancelCauseFunc
	start   time.Time
}

// lockedWriter serialises writes of several goroutines to a writer that
// may be shared (stdout and stderr may be one file, or one buffer in tests).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newRunner(s issuer, g session.Geometry, o options, out, stderr io.Writer) *runner {
	mu := new(sync.Mutex)
	r := &runner{
		s:         s,
		o:         o,
		blockSize: uint64(g.BlockSize),
		numBlocks: g.Blocks,
		out:       lockedWriter{mu, out},
		stderr:    lockedWriter{mu, stderr},
		stopCh:    make(chan struct{}),
	}
	seed := uint64(time.Now().UnixNano())
	size := uint64(o.blocks) * r.blockSize
	// One buffer for all READs (see the package doc): a single session's
	// reader fills it one Data-In at a time. Several sessions (--path)
	// could fill it at once, and their data digests would then be computed
	// over bytes another session overwrote.
	var shared []byte
	if !o.write && o.mix == 0 && len(o.paths) == 0 && !o.ownBuffers {
		shared = make([]byte, size)
	}
	for i := 0; i < o.maxInFlight; i++ {
		w := &worker{
			buf: shared,
			rng: rand.New(rand.NewPCG(seed, uint64(i))),
		}
		if w.buf == nil {
			w.buf = make([]byte, size)
		}
		if o.write || o.mix > 0 {
			for j := range w.buf {
				w.buf[j] = byte(j*7 + i)
			}
		}
		r.workers = append(r.workers, w)
	}
	return r
}

// stop makes the workers finish the command they have in flight and return.
func (r *runner) stop() {
	r.stop1.Do(func() {
		r.stopped.Store(true)
		close(r.stopCh)
	})
}

// fail records the first fatal error, stops the run and aborts the
// commands in flight.
func (r *runner) fail(err error) {
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
	r.stop()
	r.cancel(err)
}

// summary is the result of a run, printed at the end (as JSON with --json).
type summary struct {
	Mode         string  `json:"mode"`
	Random       bool    `json:"random"`
	RandomBlocks bool    `json:"random_blocks"`
	QueueDepth   int     `json:"queue_depth"`
	BlockSize    uint64  `json:"block_size"`
	Blocks       int     `json:"blocks_per_io"`
	Seconds      float64 `json:"seconds"`
	IOs          uint64  `json:"ios"`
	Reads        uint64  `json:"reads"`
	Writes       uint64  `json:"writes"`
	Bytes        uint64  `json:"bytes"`
	IOPS         float64 `json:"iops"`
	MBps         float64 `json:"mb_per_s"`  // 10^6 bytes per second
	MiBps        float64 `json:"mib_per_s"` // 2^20 bytes per second
	LatP50us     float64 `json:"lat_p50_us"`
	LatP99us     float64 `json:"lat_p99_us"`
	LatP999us    float64 `json:"lat_p999_us"`
	LatMaxus     float64 `json:"lat_max_us"`
	Busy         uint64  `json:"busy"`
	Errors       uint64  `json:"errors"`
	Reconnects   uint64  `json:"reconnects"` // connections replaced during the run
	CPUUser      float64 `json:"cpu_user_s"`
	CPUSys       float64 `json:"cpu_sys_s"`
	CPUPerIOus   float64 `json:"cpu_per_io_us"`
	AllocsPerIO  float64 `json:"allocs_per_io"`
	// ReadCallsPerIO and WriteCallsPerIO are the read-like and write-like
	// system calls of the process per I/O (Linux /proc/self/io syscr and
	// syscw; 0 elsewhere).
	ReadCallsPerIO  float64 `json:"read_calls_per_io"`
	WriteCallsPerIO float64 `json:"write_calls_per_io"`
	// Failovers and Paths are those of a run over several paths (--path):
	// the commands sent again on another path, and each path's counters.
	Failovers uint64        `json:"failovers,omitempty"`
	Paths     []pathSummary `json:"paths,omitempty"`
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "%s: %d I/Os in %.2f s: %.0f IOPS, %.1f MB/s (%.1f MiB/s)",
		s.Mode, s.IOs, s.Seconds, s.IOPS, s.MBps, s.MiBps)
	if s.Reads > 0 && s.Writes > 0 {
		fmt.Fprintf(w, ", %d reads, %d writes", s.Reads, s.Writes)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "latency: p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs\n",
		s.LatP50us, s.LatP99us, s.LatP999us, s.LatMaxus)
	fmt.Fprintf(w, "cpu: user %.3f s, system %.3f s, %.2f µs per I/O; per I/O: %.2f allocations, %.2f read and %.2f write system calls\n",
		s.CPUUser, s.CPUSys, s.CPUPerIOus, s.AllocsPerIO, s.ReadCallsPerIO, s.WriteCallsPerIO)
	if s.Busy > 0 || s.Errors > 0 {
		fmt.Fprintf(w, "busy %d, errors %d\n", s.Busy, s.Errors)
	}
	if s.Reconnects > 0 {
		fmt.Fprintf(w, "reconnects %d\n", s.Reconnects)
	}
	if len(s.Paths) > 0 {
		fmt.Fprintf(w, "paths %d, failovers %d\n", len(s.Paths), s.Failovers)
		for _, p := range s.Paths {
			fmt.Fprintf(w, "path %d %s: %s, %d commands, %d errors, %d failed over, %d fenced, %d reconnects\n",
				p.Path, p.Portal, p.State, p.Commands, p.Errors, p.Failovers, p.Fenced, p.Reconnects)
		}
	}
}

// pathSummary is one path's counters in a run over several paths: the
// commands that ended on it (the run's, and the few of the set-up), those
// of them that failed there, those taken off it when it failed and sent on
// another path, and the times its lost session was fenced through another
// portal.
type pathSummary struct {
	Path       int    `json:"path"`
	Portal     string `json:"portal"`
	State      string `json:"state"`
	Commands   uint64 `json:"commands"`
	Errors     uint64 `json:"errors"`
	Failovers  uint64 `json:"failovers"`
	Fenced     uint64 `json:"fenced"`
	Reconnects uint64 `json:"reconnects"`
}

// ioCalls returns the process's read-like and write-like system calls so
// far, from /proc/self/io (zeros where that file does not exist).
func ioCalls() (reads, writes uint64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// run issues commands until -t seconds pass, a signal arrives or
// o.maxIOs commands are done, waits for those in flight, and sums up.
func (r *runner) run(ctx context.Context, sigs <-chan os.Signal) (*summary, error) {
	ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)

	m0 := mallocs()
	r0, w0 := ioCalls()
	u0, s0 := cpuTimes()
	r.start = time.Now()
	if r.o.runtime > 0 {
		t := time.AfterFunc(time.Duration(r.o.runtime)*time.Second, r.stop)
		defer t.Stop()
	}
	var wg sync.WaitGroup
	chains := make(chan struct{})
	if !r.o.goroutines {
		// Chains issue their commands with a context that never ends (a
		// command then allocates nothing) and stop issuing once the run's
		// context ends. When the run is cut short (an error, a second
		// signal), the session is closed to end the commands in flight at
		// once, as the run's context does for goroutines.
		go func() {
			select {
			case <-chains:
				return
			case <-ctx.Done():
			}
			select {
			case <-chains:
				return // the run ended first: the context ends with it
			default:
			}
			if c, ok := r.s.(io.Closer); ok {
				c.Close()
			}
		}()
	}
	for _, w := range r.workers {
		wg.Add(1)
		if r.o.goroutines {
			go func() {
				defer wg.Done()
				r.work(ctx, w)
			}()
		} else {
			w.ended = wg.Done
			r.chain(ctx, w)
		}
	}
	done := make(chan struct{})
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		r.monitor(done, sigs)
	}()
	wg.Wait()
	close(chains)
	end := time.Now()
	u1, s1 := cpuTimes()
	r1, w1 := ioCalls()
	m1 := mallocs()
	close(done)
	pwg.Wait()

	r.errMu.Lock()
	err := r.err
	r.errMu.Unlock()

	total := &histogram{}
	sum := &summary{
		Mode:         modeName(r.o),
		Random:       r.o.random,
		RandomBlocks: r.o.randomBlocks,
		QueueDepth:   r.o.maxInFlight,
		BlockSize:    r.blockSize,
		Blocks:       r.o.blocks,
		Seconds:      end.Sub(r.start).Seconds(),
		CPUUser:      (u1 - u0).Seconds(),
		CPUSys:       (s1 - s0).Seconds(),
	}
	for _, w := range r.workers {
		total.merge(&w.hist)
		sum.IOs += w.ops.Load()
		sum.Bytes += w.bytes.Load()
		sum.Reads += w.reads
		sum.Writes += w.writes
		sum.Busy += w.busy.Load()
		sum.Errors += w.errs.Load()
	}
	if sum.Seconds > 0 {
		sum.IOPS = float64(sum.IOs) / sum.Seconds
		sum.MBps = float64(sum.Bytes) / sum.Seconds / 1e6
		sum.MiBps = float64(sum.Bytes) / sum.Seconds / (1 << 20)
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	sum.LatP50us = us(total.quantile(0.5))
	sum.LatP99us = us(total.quantile(0.99))
	sum.LatP999us = us(total.quantile(0.999))
	sum.LatMaxus = us(time.Duration(total.max))
	if sum.IOs > 0 {
		sum.CPUPerIOus = us(u1-u0+s1-s0) / float64(sum.IOs)
		sum.AllocsPerIO = float64(m1-m0) / float64(sum.IOs)
		sum.ReadCallsPerIO = float64(r1-r0) / float64(sum.IOs)
		sum.WriteCallsPerIO = float64(w1-w0) / float64(sum.IOs)
	}
	return sum, err
}

// work is one worker's loop on its own goroutine (--goroutines): one
// command at a time, waiting for each with Future.Wait, until stopped.
func (r *runner) work(ctx context.Context, w *worker) {
	w.curLen = -1
	for r.prepare(w) {
		w.inFlight.Store(1)
		w.t0 = time.Now()
		err := wait(r.s, ctx, w.write, w.lba, uint32(w.n), &w.vec)
		w.inFlight.Store(0)
		if !r.after(ctx, w, err) {
			return
		}
	}
}

// chain runs one worker as a chain of callbacks, as libiscsi's iscsi-perf
// does with its event loop: each command is issued from the callback of
// the one before, on the session's goroutine that read its answer, so
// that no goroutine waits (the default). w.ended is called when it stops.
func (r *runner) chain(ctx context.Context, w *worker) {
	w.curLen = -1
	w.ctx = ctx
	w.done = func(_ session.Result, err error) { r.complete(w, err) }
	if w.cmdCtx == nil {
		w.cmdCtx = context.Background()
	}
	r.issue(w)
}

// issue sends the worker's next command, or ends the chain.
func (r *runner) issue(w *worker) {
	if !r.prepare(w) {
		w.ended()
		return
	}
	w.inFlight.Store(1)
	w.t0 = time.Now()
	if w.write {
		r.s.WriteFunc(w.cmdCtx, w.lba, uint32(w.n), &w.vec, w.done)
	} else {
		r.s.ReadFunc(w.cmdCtx, w.lba, uint32(w.n), &w.vec, w.done)
	}
}

// complete is the callback of a chain's command.
func (r *runner) complete(w *worker, err error) {
	w.inFlight.Store(0)
	if !r.after(w.ctx, w, err) {
		w.ended()
		return
	}
	r.issue(w)
}

// prepare picks the worker's next command (w.lba, w.n, w.write), or
// reports false when the run is over.
func (r *runner) prepare(w *worker) bool {
	if r.stopped.Load() {
		return false
	}
	if r.o.maxIOs > 0 && r.issued.Add(1) > r.o.maxIOs {
		r.stop()
		return false
	}
	bs := r.blockSize
	n := uint64(r.o.blocks)
	if r.o.randomBlocks {
		n = w.rng.Uint64N(uint64(r.o.blocks)) + 1
	}
	var lba uint64
	if r.o.random {
		lba = w.rng.Uint64N(r.numBlocks)
	} else {
		lba = (r.next.Add(n) - n) % r.numBlocks
	}
	n = min(n, r.numBlocks-lba)
	w.pos.Store(lba + n)
	if int(n) != w.curLen {
		w.vec.Set(w.buf[:n*bs])
		w.curLen = int(n)
	}
	w.lba, w.n = lba, n
	w.write = r.o.write || (r.o.mix > 0 && w.rng.IntN(100) < r.o.mix)
	return true
}

// after records the outcome of the worker's command and reports whether
// the worker goes on.
func (r *runner) after(ctx context.Context, w *worker, err error) bool {
	lat := time.Since(w.t0)
	if err != nil {
		if ctx.Err() != nil {
			return false // the run was aborted; fail recorded why
		}
		if errors.Is(err, scsi.ErrBusy) || errors.Is(err, scsi.ErrUnitAttention) {
			w.busy.Add(1)
			if w.retries++; w.retries > maxRetries {
				r.fail(fmt.Errorf("maximum number of command retries reached at lba %d: %w", w.lba, err))
				return false
			}
			return true
		}
		op := "READ"
		if w.write {
			op = "WRITE"
		}
		err = fmt.Errorf("%s of %d blocks at lba %d failed: %w", op, w.n, w.lba, err)
		w.errs.Add(1)
		if r.o.ignoreErrors && !errors.Is(err, session.ErrSessionClosed) {
			fmt.Fprintf(r.stderr, "%v\n", err)
			return true
		}
		r.fail(err)
		return false
	}
	w.retries = 0
	w.hist.record(lat)
	w.ops.Add(1)
	w.bytes.Add(w.n * r.blockSize)
	if w.write {
		w.writes++
	} else {
		w.reads++
	}
	return true
}

func (r *runner) counts() (ops, bytes uint64, inFlight int, busy uint64) {
	for _, w := range r.workers {
		ops += w.ops.Load()
		bytes += w.bytes.Load()
		inFlight += int(w.inFlight.Load())
		busy += w.busy.Load()
	}
	return
}

// monitor prints the progress line once a second, the final average when
// the run stops, handles signals, and aborts a run in which nothing
// completes for o.stall.
func (r *runner) monitor(done <-chan struct{}, sigs <-chan os.Signal) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	stopCh := r.stopCh
	lastTime := r.start
	var lastOps, lastBytes uint64
	lastProgress := r.start
	for {
		select {
		case <-done:
			if stopCh != nil { // ended by -n's limit or an error before the stop line
				r.printFinal(time.Now())
			}
			return
		case sig := <-sigs:
			if r.stopped.Load() {
				r.fail(fmt.Errorf("%w (%v)", errInterrupted, sig))
			} else {
				r.stop()
			}
		case <-stopCh:
			stopCh = nil
			r.printFinal(time.Now())
		case now := <-tick.C:
			ops, bytes, inFlight, busy := r.counts()
			if ops != lastOps {
				lastProgress = now
			} else if inFlight > 0 && now.Sub(lastProgress) >= r.o.stall {
				r.fail(fmt.Errorf("no command completed for %v", r.o.stall))
			}
			if stopCh != nil {
				r.printProgress(now, ops, bytes, inFlight, busy, lastTime, lastOps, lastBytes)
			}
			lastTime, lastOps, lastBytes = now, ops, bytes
		}
	}
}

// printProgress prints libiscsi's progress line.
func (r *runner) printProgress(now time.Time, ops, bytes uint64, inFlight int, busy uint64, lastTime time.Time, lastOps, lastBytes uint64) {
	elapsed := now.Sub(r.start)
	secs := uint64(elapsed / time.Second)
	if r.o.runtime > 0 {
		secs = uint64(r.o.runtime) - min(secs, uint64(r.o.runtime))
	}
	var pos uint64
	if r.o.random {
		pos = r.workers[0].pos.Load()
	} else {
		pos = r.next.Load() % r.numBlocks
	}
	aiops := rate(ops, elapsed)
	ambps := rate(bytes, elapsed) >> 20
	dt := now.Sub(lastTime)
	iops := rate(ops-lastOps, dt)
	mbps := rate(bytes-lastBytes, dt) >> 20
	fmt.Fprintf(r.out, "\r%s - lba %d, iops current %d (%d MB/s), iops average %d (%d MB/s), in_flight %d, busy %d        %s",
		progressClock(secs), pos, iops, mbps, aiops, ambps, inFlight, busy, r.newline())
}

// printFinal prints libiscsi's last line: the average over the run.
func (r *runner) printFinal(now time.Time) {
	ops, _, _, _ := r.counts()
	aiops := rate(ops, now.Sub(r.start))
	fmt.Fprintf(r.out, "\riops average %d (%d MB/s)                                                        %s",
		aiops, (aiops*uint64(r.o.blocks)*r.blockSize)>>20, r.newline())
}

func (r *runner) newline() string {
	if r.o.logging {
		return "\n"
	}
	return ""
}

// rate returns n per second over d, 0 for a zero d.
func rate(n uint64, d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(float64(n) * float64(time.Second) / float64(d))
}

// progressClock formats seconds as HH:MM:SS.
func progressClock(secs uint64) string {
	return fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs%3600/60, secs%60)
}
