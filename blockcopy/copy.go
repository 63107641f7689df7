package blockcopy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/session"
)

// Defaults of Options. 16 chunks of 1 MiB in flight reach the speed of a
// loopback tgtd (bench/dd.sh).
const (
	DefaultConcurrency      = 16
	DefaultChunkSize        = 1 << 20
	DefaultProgressInterval = 200 * time.Millisecond
)

// maxHoleJob bounds a hole handed to one worker when nothing needs to read
// it (no Base, no Verify).
const maxHoleJob = 1 << 30

// zeros is read-only: the data of zeros that must be written.
var zeros = make([]byte, DefaultChunkSize)

// Options tune a Copy. The zero value copies the whole source, 16 chunks of
// 1 MiB at a time, sparse, and flushes the destination at the end.
type Options struct {
	// Concurrency is how many chunks are read and written at once
	// (default DefaultConcurrency).
	Concurrency int
	// ChunkSize is the bytes of each read and write (default
	// DefaultChunkSize), rounded up to a multiple of the block sizes.
	ChunkSize int64
	// Size is the bytes to copy; zero means the source's size from
	// SourceOffset on (Copy fails when it cannot tell it).
	Size int64
	// SourceOffset is where in the source the copy starts: its byte at
	// SourceOffset goes to offset 0 of the destination (a partition out of
	// a LUN; iscsi-md5sum -o).
	SourceOffset int64

	// Dense reads and writes every byte: no hole of the source is
	// skipped, no zeros are made without writing them.
	Dense bool
	// ZeroDetect treats zeros read from the source as holes at the
	// destination (left, unmapped or punched instead of written): a whole
	// chunk of zeros, or within a chunk a run of zero 4 KiB grains at
	// least 64 KiB long or at its start or end.
	ZeroDetect bool
	// DstZeroed says the destination reads as zeros already (a new LUN, a
	// file just truncated): holes need nothing done to them. Copy knows it
	// by itself of a regular file it found empty.
	DstZeroed bool

	// Hash, when set, receives the logical content of the source in order,
	// holes as zeros: its sum is that of the image (sha256sum, md5sum).
	// With Resume the bytes before it are read and hashed too.
	Hash hash.Hash
	// Verify reads back each range written (or made zero) and compares
	// it; the destination must be an io.ReaderAt.
	Verify bool
	// Resume starts the copy at this offset (rounded down to a block): the
	// destination holds the bytes before it already, from a copy that
	// ended with Result.Completed there.
	Resume int64
	// Base makes the copy incremental: the destination holds Base's
	// content, and only the chunks where the source differs from Base are
	// written (Base and the source are both read).
	Base io.ReaderAt
	// IgnoreErrors goes on past ranges of the source that cannot be read
	// (libiscsi's iscsi-dd -n): they are narrowed down to blocks, logged,
	// written as zeros and reported in Result.Unreadable.
	IgnoreErrors bool
	// NoFlush skips the final flush (SYNCHRONIZE CACHE, fsync).
	NoFlush bool
	// XCopy offloads the copy of data ranges to the target when the source
	// and the destination are LUNs of one target that is a copy manager
	// (VPD page 0x8f lists EXTENDED COPY (LID1) and RECEIVE COPY RESULTS,
	// and its operating parameters list block to block segments and
	// Identification CSCD descriptors): EXTENDED COPY, within the
	// target's limits, and none of the data crosses the network. Holes are
	// handled as without it. When the LUNs do not qualify, or the target
	// refuses a copy, the data is streamed (Result.NoOffload says why).
	// It needs the data not to cross the network: it cannot be combined
	// with Hash, Verify, Base, IgnoreErrors or ZeroDetect.
	XCopy bool

	// Progress, when set, is called from one goroutine every
	// ProgressInterval (default DefaultProgressInterval) and once at the
	// end with Final set.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Logger receives the unreadable ranges (IgnoreErrors); nil is
	// slog.Default().
	Logger *slog.Logger
}

// Progress is a snapshot of a running copy.
type Progress struct {
	Done    int64 // bytes of the source handled (copied, skipped or zeroed), from Resume
	Total   int64 // bytes to handle, from Resume
	Skipped int64 // of Done, bytes of holes of the source (not read)
	Elapsed time.Duration
	Rate    float64 // Done per second
	Final   bool
}

// Range is a byte range.
type Range struct {
	Off, Len int64
}

// Result says what a Copy did.
type Result struct {
	// Bytes is the bytes of the source handled from Resume on: written,
	// skipped, zeroed or left unchanged.
	Bytes int64
	// Written is the bytes written to the destination as data (zeros
	// written included).
	Written int64
	// Skipped is the bytes of holes of the source, not read.
	Skipped int64
	// Zeroed is the bytes of zeros made at the destination without
	// writing them: unmapped, punched, or left in a destination that read
	// as zeros already.
	Zeroed int64
	// Unchanged is the bytes equal in the source and Base, not written.
	Unchanged int64
	// Offloaded is the bytes the target copied itself (XCopy); they are
	// not counted in Written.
	Offloaded int64
	// NoOffload says why XCopy was asked for and some data streamed: the
	// LUNs do not qualify, or the target refused a copy.
	NoOffload string
	// Completed is the offset up to which every byte is at the
	// destination: the source's size after a success; where to Resume
	// after a failure.
	Completed int64
	// Unreadable lists the ranges of the source that could not be read
	// (IgnoreErrors), in order, adjacent ones merged.
	Unreadable []Range
	// Sum is Hash's sum, when Options.Hash was set and the copy succeeded.
	Sum     []byte
	Elapsed time.Duration
}

// job is one range of the copy, cut by the dispatcher.
type job struct {
	seq      uint64
	off, n   int64
	hole     bool   // the source maps it as a hole: not read
	hashOnly bool   // before Resume: read for the hash, not copied
	buf      []byte // the data, for a job that is not a hole

	written, zeroed, unchanged, offloaded int64
	bad                                   []Range
	err                                   error
}

// copier is the state of one Copy.
type copier struct {
	opts       Options
	src, dst   *endpoint
	base       *endpoint
	size       int64
	start      int64 // Resume, aligned
	chunk      int64
	align      int64
	log        *slog.Logger
	zeroFailed bool // dst.zero said ErrUnsupported: write zeros
	zmu        sync.Mutex
	xc         *offload // nil: stream
	noOffload  atomic.Pointer[string]
}

// Copy copies src to dst (see the package documentation for what it finds
// in them) and returns what it did. The Result is never nil: after an
// error it says how far the copy got (Completed). The context ends every
// command in flight.
func Copy(ctx context.Context, dst io.WriterAt, src io.ReaderAt, opts *Options) (*Result, error) {
	start := time.Now()
	res := &Result{}
	var o Options
	if opts != nil {
		o = *opts
	}
	c, err := newCopier(ctx, dst, src, o)
	if c != nil {
		defer c.close()
	}
	if err != nil {
		return res, err
	}
	res.Completed = c.start
	err = c.run(ctx, res, start)
	if err == nil && !o.NoFlush && c.dst.flush != nil {
		if ferr := c.dst.flush(ctx); ferr != nil {
			err = fmt.Errorf("blockcopy: flushing %s: %w", c.dst.name, ferr)
		}
	}
	if err == nil && o.Hash != nil {
		res.Sum = o.Hash.Sum(nil)
	}
	res.Elapsed = time.Since(start)
	return res, err
}

func newCopier(ctx context.Context, dst io.WriterAt, src io.ReaderAt, o Options) (*copier, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	if o.Resume < 0 || o.Size < 0 || o.SourceOffset < 0 {
		return nil, fmt.Errorf("blockcopy: negative Resume (%d), Size (%d) or SourceOffset (%d)", o.Resume, o.Size, o.SourceOffset)
	}
	c := &copier{opts: o, log: o.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	var err error
	if c.src, err = openSource(ctx, src, !o.Dense); err != nil {
		return c, fmt.Errorf("blockcopy: source: %w", err)
	}
	if c.src.read == nil {
		return c, errors.New("blockcopy: the source cannot be read")
	}
	if o.SourceOffset > 0 {
		if c.src.size >= 0 && o.SourceOffset > c.src.size {
			return c, fmt.Errorf("blockcopy: SourceOffset %d is past the end of the source (%d bytes)", o.SourceOffset, c.src.size)
		}
		c.src.shift(o.SourceOffset)
	}
	c.size = o.Size
	if c.size == 0 {
		if c.src.size < 0 {
			return c, fmt.Errorf("blockcopy: the size of the source (%s) is unknown: set Options.Size", c.src.name)
		}
		c.size = c.src.size
	}
	if c.src.size >= 0 && c.size > c.src.size {
		return c, fmt.Errorf("blockcopy: Size %d is past the end of the source (%d bytes)", c.size, c.src.size)
	}
	if c.dst, err = openDestination(ctx, dst, c.size); err != nil {
		return c, fmt.Errorf("blockcopy: destination: %w", err)
	}
	if c.dst.size >= 0 && c.dst.size < c.size {
		return c, &SizeError{Have: c.dst.size, Need: c.size}
	}
	if o.Verify && c.dst.read == nil {
		return c, errors.New("blockcopy: Verify needs a destination that can be read (an io.ReaderAt)")
	}
	if o.Dense {
		c.opts.ZeroDetect = false
	}
	c.align = lcm(c.src.bs, c.dst.bs)
	if o.Base != nil {
		if c.base, err = openSource(ctx, o.Base, false); err != nil {
			return c, fmt.Errorf("blockcopy: base: %w", err)
		}
		if c.base.read == nil {
			return c, errors.New("blockcopy: the base cannot be read")
		}
		if c.base.size >= 0 && c.base.size < c.size {
			return c, fmt.Errorf("blockcopy: the base holds %d bytes, the source %d", c.base.size, c.size)
		}
		c.align = lcm(c.align, c.base.bs)
	}
	if o.XCopy {
		if o.Hash != nil || o.Verify || o.Base != nil || o.IgnoreErrors || o.ZeroDetect {
			return c, errors.New("blockcopy: XCopy cannot be combined with Hash, Verify, Base, IgnoreErrors or ZeroDetect: the data does not cross the network")
		}
		var why string
		if c.xc, why = newOffload(ctx, src, dst, o.SourceOffset); c.xc == nil {
			c.noOffload.Store(&why)
		}
	}
	c.chunk = max(alignUp(o.ChunkSize, c.align), c.align)
	c.start = min(o.Resume/c.align*c.align, c.size)
	return c, nil
}

func (c *copier) close() {
	for _, e := range []*endpoint{c.src, c.dst, c.base} {
		if e != nil && e.close != nil {
			e.close()
		}
	}
}

// SizeError is a destination smaller than the source.
type SizeError struct {
	Have, Need int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("blockcopy: the destination is too small: it holds %d bytes, the source %d", e.Have, e.Need)
}

// run cuts the range into jobs (one goroutine), runs them (Concurrency
// workers) and puts their outcomes in order (this goroutine): the hash,
// Completed, the first error.
func (c *copier) run(ctx context.Context, res *Result, start time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := &c.opts
	nbuf := o.Concurrency
	if o.Hash != nil {
		// Buffers wait to be hashed in order; spare ones keep the workers
		// busy meanwhile.
		nbuf *= 2
	}
	pool := make(chan []byte, nbuf)
	for range nbuf {
		pool <- make([]byte, c.chunk)
	}
	jobs := make(chan *job)
	results := make(chan *job, o.Concurrency)

	var dispatchErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		dispatchErr = c.dispatch(ctx, pool, jobs)
		if dispatchErr != nil {
			cancel()
		}
	}()
	var workers sync.WaitGroup
	for range o.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			var scratch []byte
			if o.Verify || c.base != nil {
				scratch = make([]byte, c.chunk)
			}
			for j := range jobs {
				c.do(ctx, j, scratch)
				results <- j
			}
		}()
	}
	go func() {
		workers.Wait()
		close(results)
	}()

	total := c.size - c.start
	var done, skipped int64
	progress := func(final bool) {
		if o.Progress == nil {
			return
		}
		p := Progress{Done: done, Total: total, Skipped: skipped, Elapsed: time.Since(start), Final: final}
		if s := p.Elapsed.Seconds(); s > 0 {
			p.Rate = float64(done) / s
		}
		o.Progress(p)
	}
	var firstErr error
	pending := map[uint64]*job{}
	var next uint64
	inOrder := true // no failure yet in order: Completed may advance
	tick := time.NewTicker(o.ProgressInterval)
	defer tick.Stop()
loop:
	for {
		select {
		case j, ok := <-results:
			if !ok {
				break loop
			}
			if j.err != nil && firstErr == nil {
				firstErr = j.err
				cancel()
			}
			if j.err == nil && !j.hashOnly {
				done += j.n
				if j.hole {
					skipped += j.n
				}
				res.Written += j.written
				res.Zeroed += j.zeroed
				res.Unchanged += j.unchanged
				res.Offloaded += j.offloaded
			}
			pending[j.seq] = j
			for {
				j, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				if j.err != nil {
					inOrder = false
				}
				if inOrder {
					if o.Hash != nil {
						hashJob(o.Hash, j)
					}
					res.Completed = max(res.Completed, j.off+j.n)
					res.Unreadable = addRanges(res.Unreadable, j.bad)
				}
				if j.buf != nil {
					pool <- j.buf
				}
			}
		case <-tick.C:
			progress(false)
		}
	}
	wg.Wait()
	res.Bytes, res.Skipped = done, skipped
	if firstErr == nil {
		firstErr = dispatchErr
	}
	if firstErr == nil && res.Completed != c.size {
		firstErr = fmt.Errorf("blockcopy: internal error: completed %d bytes of %d", res.Completed, c.size)
	}
	if why := c.noOffload.Load(); why != nil {
		res.NoOffload = *why
	}
	progress(true)
	return firstErr
}

// hashJob adds j's bytes to h: its data, or zeros for a hole.
func hashJob(h hash.Hash, j *job) {
	if !j.hole {
		h.Write(j.buf[:j.n])
		return
	}
	for left := j.n; left > 0; {
		k := min(left, int64(len(zeros)))
		h.Write(zeros[:k])
		left -= k
	}
}

// addRanges appends rs to list, merging a range that continues the last.
func addRanges(list, rs []Range) []Range {
	for _, r := range rs {
		if n := len(list); n > 0 && list[n-1].Off+list[n-1].Len == r.Off {
			list[n-1].Len += r.Len
			continue
		}
		list = append(list, r)
	}
	return list
}

// dispatch cuts [0, size) into jobs: the part before the resume offset for
// the hash only (when hashing), then holes of the source and chunks of
// data, on multiples of the block sizes.
func (c *copier) dispatch(ctx context.Context, pool chan []byte, jobs chan<- *job) error {
	from := c.start
	if c.opts.Hash != nil {
		from = 0
	}
	var seq uint64
	var runEnd int64 // end of the current extent of the source
	var runHole bool
	for off := from; off < c.size; {
		if c.src.extent != nil && off >= runEnd {
			hole, end, err := c.src.extent(ctx, off)
			if err != nil {
				return fmt.Errorf("blockcopy: mapping %s at offset %d: %w", c.src.name, off, err)
			}
			if end <= off {
				hole, end = false, c.size
			}
			if hole {
				end = end / c.align * c.align
				if end <= off {
					hole, end = false, alignUp(off+1, c.align)
				}
			} else {
				end = alignUp(end, c.align)
			}
			runHole, runEnd = hole, min(end, c.size)
		}
		limit := c.size
		if c.src.extent != nil {
			limit = runEnd
		}
		if off < c.start {
			limit = min(limit, c.start)
		}
		j := &job{seq: seq, off: off, hashOnly: off < c.start}
		if c.src.extent != nil && runHole {
			j.hole = true
			j.n = min(limit-off, c.chunk)
			if !c.opts.Verify && c.base == nil {
				j.n = min(limit-off, maxHoleJob)
			}
		} else {
			j.n = min(limit-off, c.chunk)
			select {
			case j.buf = <-pool:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
		seq++
		off += j.n
	}
	return nil
}

// do runs one job.
func (c *copier) do(ctx context.Context, j *job, scratch []byte) {
	if err := ctx.Err(); err != nil {
		j.err = err
		return
	}
	j.err = c.doJob(ctx, j, scratch)
}

func (c *copier) doJob(ctx context.Context, j *job, scratch []byte) error {
	if j.hole {
		if j.hashOnly {
			return nil
		}
		if c.base != nil {
			b := scratch[:j.n]
			if err := c.base.read(ctx, b, j.off); err != nil {
				return fmt.Errorf("blockcopy: reading the base at offset %d: %w", j.off, err)
			}
			if allZero(b) {
				j.unchanged = j.n
				return nil
			}
		}
		if err := c.zero(ctx, j, j.off, j.n); err != nil {
			return err
		}
		return c.verify(ctx, j.off, nil, j.n, scratch)
	}
	if c.xc != nil && !j.hashOnly && !c.xc.refused.Load() {
		err := c.xc.copy(ctx, j.off, j.n)
		if err == nil {
			j.offloaded = j.n
			return nil
		}
		if !refusal(err) || ctx.Err() != nil {
			return fmt.Errorf("blockcopy: EXTENDED COPY of %d bytes at offset %d: %w", j.n, j.off, err)
		}
		// Refused: stream this chunk and the rest.
		if c.xc.refused.CompareAndSwap(false, true) {
			why := "the target refused EXTENDED COPY: " + err.Error()
			c.noOffload.Store(&why)
			c.log.Info("blockcopy: EXTENDED COPY refused, streaming", "err", err)
		}
	}
	data := j.buf[:j.n]
	if err := c.read(ctx, j, data); err != nil {
		return err
	}
	if j.hashOnly {
		return nil
	}
	if c.base != nil {
		b := scratch[:j.n]
		if err := c.base.read(ctx, b, j.off); err != nil {
			return fmt.Errorf("blockcopy: reading the base at offset %d: %w", j.off, err)
		}
		if bytes.Equal(b, data) {
			j.unchanged = j.n
			return nil
		}
	}
	if c.opts.ZeroDetect {
		for _, r := range c.zeroRuns(data) {
			if err := c.put(ctx, j, data[r.Off:r.Off+r.Len], j.off+r.Off, r.zero, scratch); err != nil {
				return err
			}
		}
		return nil
	}
	return c.put(ctx, j, data, j.off, false, scratch)
}

// put writes data at off, or makes it zero at the destination, and
// verifies it.
func (c *copier) put(ctx context.Context, j *job, data []byte, off int64, zero bool, scratch []byte) error {
	n := int64(len(data))
	if zero {
		if err := c.zero(ctx, j, off, n); err != nil {
			return err
		}
		return c.verify(ctx, off, nil, n, scratch)
	}
	if err := c.dst.write(ctx, data, off); err != nil {
		return fmt.Errorf("blockcopy: writing %s at offset %d: %w", c.dst.name, off, err)
	}
	j.written += n
	return c.verify(ctx, off, data, n, scratch)
}

// Zero detection looks at grains of zeroGrain bytes (or the block size);
// a run of zero grains becomes a hole when it is at least minZeroRun long
// or reaches an end of the chunk, so that small runs of zeros amid data do
// not cost a command each.
const (
	zeroGrain  = 4096
	minZeroRun = 64 << 10
)

// run is a piece of a chunk: data, or zeros to make a hole of.
type run struct {
	Range
	zero bool
}

// zeroRuns cuts data into runs of data and of zeros.
func (c *copier) zeroRuns(data []byte) []run {
	if allZero(data) {
		return []run{{Range{0, int64(len(data))}, true}}
	}
	grain := lcm(c.align, zeroGrain)
	var runs []run
	add := func(off, n int64, zero bool) {
		if k := len(runs); k > 0 && runs[k-1].zero == zero {
			runs[k-1].Len += n
			return
		}
		runs = append(runs, run{Range{off, n}, zero})
	}
	size := int64(len(data))
	for off := int64(0); off < size; off += grain {
		add(off, min(grain, size-off), allZero(data[off:min(off+grain, size)]))
	}
	// Short runs of zeros amid data are written as data.
	var out []run
	for i, r := range runs {
		if r.zero && r.Len < minZeroRun && i > 0 && i < len(runs)-1 {
			r.zero = false
		}
		if k := len(out); k > 0 && out[k-1].zero == r.zero {
			out[k-1].Len += r.Len
			continue
		}
		out = append(out, r)
	}
	return out
}

// read reads data at j.off from the source. With IgnoreErrors a failed
// read is narrowed down to the blocks that fail, which are zeroed in data
// and recorded in j.bad.
func (c *copier) read(ctx context.Context, j *job, data []byte) error {
	err := c.src.read(ctx, data, j.off)
	if err == nil {
		return nil
	}
	if !c.opts.IgnoreErrors || !unreadable(ctx, err) {
		return fmt.Errorf("blockcopy: reading %s at offset %d: %w", c.src.name, j.off, err)
	}
	return c.narrow(ctx, j, data, j.off, err)
}

// unreadable reports whether err is the source failing to read a range
// (not the context, not a session that ended).
func unreadable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, session.ErrSessionClosed) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// narrow reads data at off, which failed with err, in halves down to the
// source's block (512 bytes for a file), zeroing and recording what fails.
func (c *copier) narrow(ctx context.Context, j *job, data []byte, off int64, err error) error {
	unit := max(c.src.bs, 512)
	if int64(len(data)) <= unit {
		clear(data)
		c.log.Warn("blockcopy: unreadable range of the source, zeros written instead",
			"source", c.src.name, "offset", off, "length", len(data), "err", err)
		j.bad = addRanges(j.bad, []Range{{off, int64(len(data))}})
		return nil
	}
	half := max(int64(len(data))/2/unit*unit, unit)
	for _, part := range [][]byte{data[:half], data[half:]} {
		if err := c.src.read(ctx, part, off); err != nil {
			if !unreadable(ctx, err) {
				return fmt.Errorf("blockcopy: reading %s at offset %d: %w", c.src.name, off, err)
			}
			if err := c.narrow(ctx, j, part, off, err); err != nil {
				return err
			}
		}
		off += int64(len(part))
	}
	return nil
}

// zero makes [off, off+n) of the destination read as zeros: nothing when
// it does already, its cheap way when it has one, else zeros written.
func (c *copier) zero(ctx context.Context, j *job, off, n int64) error {
	if c.opts.DstZeroed || c.dst.wasEmpty {
		j.zeroed += n
		return nil
	}
	if c.dst.zero != nil && !c.opts.Dense {
		c.zmu.Lock()
		failed := c.zeroFailed
		c.zmu.Unlock()
		if !failed {
			err := c.dst.zero(ctx, off, n)
			if err == nil {
				j.zeroed += n
				return nil
			}
			if !errors.Is(err, errors.ErrUnsupported) {
				return fmt.Errorf("blockcopy: zeroing %d bytes of %s at offset %d: %w", n, c.dst.name, off, err)
			}
			c.zmu.Lock()
			c.zeroFailed = true
			c.zmu.Unlock()
		}
	}
	if err := writeZeros(ctx, c.dst.write, off, n); err != nil {
		return fmt.Errorf("blockcopy: writing %s at offset %d: %w", c.dst.name, off, err)
	}
	j.written += n
	return nil
}

// writeZeros writes n zero bytes at off with write.
func writeZeros(ctx context.Context, write func(context.Context, []byte, int64) error, off, n int64) error {
	for end := off + n; off < end; {
		k := min(end-off, int64(len(zeros)))
		if err := write(ctx, zeros[:k], off); err != nil {
			return err
		}
		off += k
	}
	return nil
}

// verify reads [off, off+n) of the destination back and compares it with
// want (nil: zeros).
func (c *copier) verify(ctx context.Context, off int64, want []byte, n int64, scratch []byte) error {
	if !c.opts.Verify {
		return nil
	}
	for done := int64(0); done < n; {
		k := min(n-done, int64(len(scratch)))
		got := scratch[:k]
		if err := c.dst.read(ctx, got, off+done); err != nil {
			return fmt.Errorf("blockcopy: verifying %s at offset %d: %w", c.dst.name, off+done, err)
		}
		var w []byte
		if want != nil {
			w = want[done : done+k]
		}
		if i := firstDiff(got, w); i >= 0 {
			return &VerifyError{Offset: off + done + int64(i)}
		}
		done += k
	}
	return nil
}

// VerifyError is a byte of the destination that does not read back as
// the source's (Options.Verify).
type VerifyError struct {
	Offset int64
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("blockcopy: verify: the destination differs from the source at offset %d", e.Offset)
}

// firstDiff returns the index of the first byte of got that differs from
// want (nil: zeros), or -1.
func firstDiff(got, want []byte) int {
	if want == nil {
		if allZero(got) {
			return -1
		}
		for i, b := range got {
			if b != 0 {
				return i
			}
		}
	}
	if bytes.Equal(got, want) {
		return -1
	}
	for i := range got {
		if got[i] != want[i] {
			return i
		}
	}
	return -1
}

// allZero compares b with the zeros buffer (bytes.Equal is vectorised).
func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lcm(a, b int64) int64 { return a / gcd(a, b) * b }

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
