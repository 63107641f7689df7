package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memEndpoint is an endpoint in memory: holes are the ranges Extent
// reports as zeros; discard says whether Zero works.
type memEndpoint struct {
	mu        sync.Mutex
	data      []byte
	bs        int64
	holes     [][2]int64 // sorted [start, end)
	discard   bool
	failAt    int64 // ReadAt/WriteAt covering this offset fail; -1: never
	reads     int64 // bytes read
	zeroed    int64 // bytes Zero handled
	extentErr error
}

func (e *memEndpoint) Name() string     { return "mem" }
func (e *memEndpoint) Size() int64      { return int64(len(e.data)) }
func (e *memEndpoint) BlockSize() int64 { return e.bs }
func (e *memEndpoint) Close() error     { return nil }
func (e *memEndpoint) Discards() bool   { return e.discard }

func (e *memEndpoint) check(off, n int64) error {
	if off%e.bs != 0 && e.bs > 1 {
		// Allowed (read-modify-write), but our dispatcher should align.
		return fmt.Errorf("unaligned I/O at %d (block %d)", off, e.bs)
	}
	if e.failAt >= 0 && off <= e.failAt && e.failAt < off+n {
		return errors.New("injected failure")
	}
	return nil
}

func (e *memEndpoint) ReadAt(_ context.Context, p []byte, off int64) error {
	if err := e.check(off, int64(len(p))); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	copy(p, e.data[off:])
	e.reads += int64(len(p))
	return nil
}

func (e *memEndpoint) WriteAt(_ context.Context, p []byte, off int64) error {
	if err := e.check(off, int64(len(p))); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	copy(e.data[off:], p)
	return nil
}

func (e *memEndpoint) Extent(_ context.Context, off int64) (bool, int64, error) {
	if e.extentErr != nil {
		return false, 0, e.extentErr
	}
	for _, h := range e.holes {
		if off < h[0] {
			return false, h[0], nil
		}
		if off < h[1] {
			return true, h[1], nil
		}
	}
	return false, e.Size(), nil
}

func (e *memEndpoint) Zero(_ context.Context, off, n int64) (int64, error) {
	if !e.discard {
		return 0, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.data[off : off+n])
	e.zeroed += n
	return n, nil
}

// image makes size bytes: random except the holes (zeros) and a zero run
// at 3 MiB that is data as far as Extent knows.
func image(t *testing.T, size int64, holes [][2]int64) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	for _, h := range holes {
		clear(b[h[0]:h[1]])
	}
	if size > 3<<20+8192 {
		clear(b[3<<20 : 3<<20+8192])
	}
	return b
}

func TestCopy(t *testing.T) {
	holes := [][2]int64{{1 << 20, 2<<20 + 4096}, {5 << 20, 6 << 20}}
	for _, c := range []struct {
		name            string
		srcBS, dstBS    int64
		chunk           int64
		workers         int
		sparse, discard bool
	}{
		{"sparse discard", 512, 512, 1 << 20, 8, true, true},
		{"sparse write zeros", 512, 4096, 64 << 10, 3, true, false},
		{"dense", 4096, 512, 1 << 20, 16, false, true},
		{"file to lun", 1, 4096, 12288, 2, true, true},
		{"one worker", 512, 1, 7 * 512, 1, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := image(t, 7<<20+512*3, holes)
			src := &memEndpoint{data: append([]byte(nil), want...), bs: c.srcBS, holes: holes, failAt: -1}
			junk := make([]byte, len(want)+4096)
			rand.Read(junk)
			dst := &memEndpoint{data: junk, bs: c.dstBS, discard: c.discard, failAt: -1}
			if c.srcBS == 1 || c.dstBS == 1 {
				// Unaligned tails are fine against a byte-addressed side.
				src.bs, dst.bs = max(src.bs, 1), max(dst.bs, 1)
			}
			cp := &copier{src: src, dst: dst, size: src.Size(), chunk: c.chunk, workers: c.workers, sparse: c.sparse, sum: md5.New()}
			if c.dstBS > 1 && src.Size()%c.dstBS != 0 {
				dst.bs = 1 // the tail block is the session's business
			}
			st, err := cp.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dst.data[:len(want)], want) {
				t.Fatal("destination differs from the source")
			}
			if sum := md5.Sum(want); !bytes.Equal(cp.sum.Sum(nil), sum[:]) {
				t.Error("checksum differs from the md5 of the source")
			}
			if st.done != src.Size() {
				t.Errorf("done %d, want %d", st.done, src.Size())
			}
			holeBytes := int64(2<<20 + 4096)
			switch {
			case !c.sparse:
				if st.skipped != 0 || st.discarded != 0 || src.reads != src.Size() {
					t.Errorf("dense copy: skipped %d, discarded %d, read %d", st.skipped, st.discarded, src.reads)
				}
			default:
				if st.skipped != holeBytes || src.reads != src.Size()-holeBytes {
					t.Errorf("skipped %d (want %d), read %d", st.skipped, holeBytes, src.reads)
				}
				if c.discard && st.discarded < holeBytes {
					t.Errorf("discarded %d, want at least the holes, %d", st.discarded, holeBytes)
				}
				if !c.discard && st.discarded != 0 {
					t.Errorf("discarded %d on a destination that cannot", st.discarded)
				}
			}
		})
	}
}

// TestCopyErrors: a failing read, write or allocation map ends the copy
// with that error, every goroutine gone (goleak).
func TestCopyErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		src  func(*memEndpoint)
		dst  func(*memEndpoint)
		want string
	}{
		{"read", func(e *memEndpoint) { e.failAt = 5<<20 + 100 }, nil, "reading mem at offset"},
		{"write", nil, func(e *memEndpoint) { e.failAt = 1 << 20 }, "writing mem at offset"},
		{"map", func(e *memEndpoint) { e.extentErr = errors.New("map broken") }, nil, "allocation map"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := image(t, 8<<20, nil)
			src := &memEndpoint{data: data, bs: 512, failAt: -1}
			dst := &memEndpoint{data: make([]byte, len(data)), bs: 512, failAt: -1}
			if c.src != nil {
				c.src(src)
			}
			if c.dst != nil {
				c.dst(dst)
			}
			cp := &copier{src: src, dst: dst, size: src.Size(), chunk: 256 << 10, workers: 4, sparse: true, sum: md5.New()}
			_, err := cp.run(context.Background())
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		data := image(t, 4<<20, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		cp := &copier{src: &memEndpoint{data: data, bs: 512, failAt: -1}, dst: &memEndpoint{data: make([]byte, len(data)), bs: 512, failAt: -1},
			size: int64(len(data)), chunk: 1 << 20, workers: 4}
		if _, err := cp.run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

func TestAllZero(t *testing.T) {
	b := make([]byte, 3<<20+5)
	if !allZero(b) || !allZero(nil) {
		t.Fatal("zeros not seen as zeros")
	}
	for _, i := range []int{0, 7, 1 << 20, 3<<20 + 4} {
		b[i] = 1
		if allZero(b) {
			t.Errorf("a 1 at %d not seen", i)
		}
		b[i] = 0
	}
}

func BenchmarkAllZero(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		allZero(buf)
	}
}

func TestProgress(t *testing.T) {
	st := stats{done: 3 << 29, elapsed: 2 * time.Second}
	if got, want := progressLine(st, 1<<31), "\r1.5 GiB / 2.0 GiB  75% [======================        ] 805.3 MB/s"; got != want {
		t.Errorf("progressLine = %q, want %q", got, want)
	}
	var b bytes.Buffer
	drawProgress(&b, st, 1<<31, false, false)
	drawProgress(&b, st, 1<<31, true, false)
	if s := b.String(); strings.Contains(s, "\033") || !strings.HasSuffix(s, "MB/s\n") {
		t.Errorf("-p without a terminal: %q", s)
	}
	b.Reset()
	drawProgress(&b, st, 1<<31, true, true)
	if b.String() != "\r\033[K" {
		t.Errorf("final on a terminal: %q", b.String())
	}
	if got := summary(stats{done: 1e6, skipped: 5, discarded: 7, elapsed: time.Second}); got != "1000000 bytes copied in 1.000 s, 1.0 MB/s; 5 bytes skipped (deallocated at the source), 7 bytes discarded (zeros not written)" {
		t.Errorf("summary = %q", got)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1 << 40: "1.0 TiB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}
