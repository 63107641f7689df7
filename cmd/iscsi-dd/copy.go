package main

import (
	"bytes"
	"context"
	"fmt"
	"hash"
	"sync"
	"time"
)

// copier copies src to dst with several commands in flight.
type copier struct {
	src, dst endpoint
	size     int64 // bytes to copy
	chunk    int64 // bytes per read/write
	workers  int
	sparse   bool
	sum      hash.Hash // nil: no checksum
	// progress, when set, is called from the copying goroutine about
	// five times a second and once at the end.
	progress func(st stats, final bool)
}

// stats counts what a copy did.
type stats struct {
	done      int64 // bytes of the source handled (copied, skipped or discarded)
	skipped   int64 // bytes not read: deallocated or holes at the source
	discarded int64 // zero bytes not written: unmapped or left as holes at the destination
	elapsed   time.Duration
}

// job is one range of the copy.
type job struct {
	seq  uint64
	off  int64
	n    int64
	zero bool   // known zero at the source: not read
	buf  []byte // nil for a zero job
}

type result struct {
	job       job
	discarded int64
	err       error
}

// maxZeroJob bounds a run of zeros handed to one worker.
const maxZeroJob = 1 << 30

// zeros is read-only: the data of zero runs that must be written.
var zeros = make([]byte, 1<<20)

func (c *copier) run(ctx context.Context) (stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()

	nbuf := c.workers
	if c.sum != nil {
		// Buffers wait to be hashed in order; spare ones keep the
		// workers busy meanwhile.
		nbuf *= 2
	}
	pool := make(chan []byte, nbuf)
	for range nbuf {
		pool <- make([]byte, c.chunk)
	}
	jobs := make(chan job)
	results := make(chan result, c.workers)

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
	for range c.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				results <- c.do(ctx, j)
			}
		}()
	}
	go func() {
		workers.Wait()
		close(results)
	}()

	var st stats
	var firstErr error
	pending := map[uint64]job{}
	var next uint64
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case r, ok := <-results:
			if !ok {
				break loop
			}
			if r.err != nil {
				if firstErr == nil {
					firstErr = r.err
					cancel()
				}
			} else {
				st.done += r.job.n
				st.discarded += r.discarded
				if r.job.zero {
					st.skipped += r.job.n
				}
			}
			if c.sum == nil || firstErr != nil {
				if r.job.buf != nil {
					pool <- r.job.buf
				}
				continue
			}
			pending[r.job.seq] = r.job
			for {
				j, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				c.hash(j)
				if j.buf != nil {
					pool <- j.buf
				}
			}
		case <-tick.C:
			if c.progress != nil {
				st.elapsed = time.Since(start)
				c.progress(st, false)
			}
		}
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	if firstErr == nil {
		firstErr = dispatchErr
	}
	if firstErr == nil && st.done != c.size {
		firstErr = fmt.Errorf("internal error: copied %d bytes of %d", st.done, c.size)
	}
	if c.progress != nil {
		c.progress(st, true)
	}
	return st, firstErr
}

// hash adds j's bytes, in order, to the checksum.
func (c *copier) hash(j job) {
	if j.buf != nil {
		c.sum.Write(j.buf[:j.n])
		return
	}
	for left := j.n; left > 0; {
		k := min(left, int64(len(zeros)))
		c.sum.Write(zeros[:k])
		left -= k
	}
}

// dispatch cuts the source into jobs: runs the source reports as zeros
// (when sparse), and data in chunks of c.chunk, with boundaries on
// multiples of both block sizes.
func (c *copier) dispatch(ctx context.Context, pool chan []byte, jobs chan<- job) error {
	align := lcm(c.src.BlockSize(), c.dst.BlockSize())
	var seq uint64
	var runEnd int64 // end of the current extent
	var runZero bool
	for off := int64(0); off < c.size; {
		if c.sparse && off >= runEnd {
			zero, end, err := c.src.Extent(ctx, off)
			if err != nil {
				return fmt.Errorf("reading the allocation map of %s at offset %d: %w", c.src.Name(), off, err)
			}
			if end <= off {
				zero, end = false, c.size
			}
			if zero {
				end = end / align * align
				if end <= off {
					zero, end = false, alignUp(off+1, align)
				}
			} else {
				end = alignUp(end, align)
			}
			runZero, runEnd = zero, min(end, c.size)
		}
		limit := c.size
		if c.sparse {
			limit = runEnd
		}
		j := job{seq: seq, off: off}
		if c.sparse && runZero {
			j.zero = true
			j.n = min(limit-off, c.chunk)
			if c.dst.Discards() {
				j.n = min(limit-off, maxZeroJob)
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

// do runs one job: read (unless known zero), then discard a run of zeros
// where the destination can, else write.
func (c *copier) do(ctx context.Context, j job) result {
	r := result{job: j}
	if ctx.Err() != nil {
		r.err = ctx.Err()
		return r
	}
	if !j.zero {
		if err := c.src.ReadAt(ctx, j.buf[:j.n], j.off); err != nil {
			r.err = fmt.Errorf("reading %s at offset %d: %w", c.src.Name(), j.off, err)
			return r
		}
		if !c.sparse || !allZero(j.buf[:j.n]) {
			if err := c.dst.WriteAt(ctx, j.buf[:j.n], j.off); err != nil {
				r.err = fmt.Errorf("writing %s at offset %d: %w", c.dst.Name(), j.off, err)
			}
			return r
		}
	}
	// A run of zeros.
	n, err := c.dst.Zero(ctx, j.off, j.n)
	if err != nil {
		r.err = fmt.Errorf("discarding %d bytes of %s at offset %d: %w", j.n, c.dst.Name(), j.off, err)
		return r
	}
	r.discarded = n
	for off := j.off + n; off < j.off+j.n; {
		k := min(j.off+j.n-off, int64(len(zeros)))
		if err := c.dst.WriteAt(ctx, zeros[:k], off); err != nil {
			r.err = fmt.Errorf("writing %s at offset %d: %w", c.dst.Name(), off, err)
			return r
		}
		off += k
	}
	return r
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
