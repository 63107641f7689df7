package blockcopy_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/blockcopy"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// image returns size bytes: random data in the given [off, len) ranges,
// zeros elsewhere.
func image(size int64, seed uint64, ranges ...[2]int64) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed))
	for _, x := range ranges {
		for i := x[0]; i < x[0]+x[1]; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
	}
	return b
}

// mem is a destination (and source) in memory that counts writes and
// zeroings, with optional holes it reports as a Mapper.
type mem struct {
	mu      sync.Mutex
	data    []byte
	holes   [][2]int64   // sorted [start, end): Extent reports them
	writes  atomic.Int64 // bytes written
	zeroed  atomic.Int64 // bytes ZeroRange handled
	corrupt int64        // >0: the byte at corrupt-1 is stored wrong
}

func (m *mem) Size() int64 { return int64(len(m.data)) }

func (m *mem) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *mem) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := copy(m.data[off:], p)
	if c := m.corrupt - 1; c >= off && c < off+int64(n) {
		m.data[c] ^= 0xff
	}
	m.writes.Add(int64(n))
	return n, nil
}

// memZeroer is a mem that is a Zeroer.
type memZeroer struct{ *mem }

func (m memZeroer) ZeroRange(_ context.Context, off, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.data[off : off+n])
	m.zeroed.Add(n)
	return nil
}

// memMapper is a mem that is a Mapper.
type memMapper struct{ *mem }

func (m memMapper) Extent(_ context.Context, off int64) (bool, int64, error) {
	for _, h := range m.holes {
		if off < h[0] {
			return false, h[0], nil
		}
		if off < h[1] {
			return true, h[1], nil
		}
	}
	return false, int64(len(m.data)), nil
}

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestCopyMemory(t *testing.T) {
	const size = 8<<20 + 4096
	want := image(size, 1, [2]int64{0, 1 << 20}, [2]int64{3 << 20, 4096}, [2]int64{5<<20 + 512, 1 << 20})
	holes := [][2]int64{{1 << 20, 3 << 20}, {3<<20 + 4096, 5<<20 + 512}, {6<<20 + 512, size}}
	for _, tc := range []struct {
		name       string
		opts       blockcopy.Options
		zeroer     bool
		dirty      bool // destination holds garbage first
		wantZeroed bool
	}{
		{name: "defaults", opts: blockcopy.Options{}},
		{name: "dirty destination", dirty: true},
		{name: "zeroer", zeroer: true, dirty: true, wantZeroed: true},
		{name: "dst zeroed", opts: blockcopy.Options{DstZeroed: true}, wantZeroed: true},
		{name: "dense", opts: blockcopy.Options{Dense: true}, zeroer: true, dirty: true},
		{name: "small chunks, one worker", opts: blockcopy.Options{ChunkSize: 4096, Concurrency: 1}, dirty: true},
		{name: "odd chunk, verify", opts: blockcopy.Options{ChunkSize: 100000, Concurrency: 7, Verify: true}, zeroer: true, dirty: true, wantZeroed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := memMapper{&mem{data: want, holes: holes}}
			d := &mem{data: make([]byte, size)}
			if tc.dirty {
				d.data = image(size, 99, [2]int64{0, size})
			}
			var dst io.WriterAt = d
			if tc.zeroer {
				dst = memZeroer{d}
			}
			h := sha256.New()
			opts := tc.opts
			opts.Hash = h
			res, err := blockcopy.Copy(testCtx(t), dst, src, &opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.data, want) {
				t.Fatal("destination differs from the source")
			}
			if !bytes.Equal(res.Sum, sha(want)) {
				t.Errorf("sum %x, want sha256 %x", res.Sum, sha(want))
			}
			if res.Bytes != size || res.Completed != size {
				t.Errorf("Bytes %d, Completed %d, want %d", res.Bytes, res.Completed, size)
			}
			holeBytes := int64(0)
			for _, x := range holes {
				holeBytes += x[1] - x[0]
			}
			if tc.opts.Dense {
				if res.Skipped != 0 || res.Zeroed != 0 || d.writes.Load() != size {
					t.Errorf("dense: skipped %d, zeroed %d, wrote %d", res.Skipped, res.Zeroed, d.writes.Load())
				}
				return
			}
			if res.Skipped != holeBytes {
				t.Errorf("skipped %d, want the holes' %d", res.Skipped, holeBytes)
			}
			if tc.wantZeroed != (res.Zeroed == holeBytes) || res.Written+res.Zeroed != size {
				t.Errorf("written %d, zeroed %d (holes %d)", res.Written, res.Zeroed, holeBytes)
			}
			if tc.wantZeroed && d.writes.Load() != size-holeBytes {
				t.Errorf("wrote %d bytes, want only the data's %d", d.writes.Load(), size-holeBytes)
			}
		})
	}
}

func TestCopyZeroDetect(t *testing.T) {
	const size = 4 << 20
	want := image(size, 2, [2]int64{1 << 20, 1 << 20})
	src := bytes.NewReader(want) // no map: all data
	d := &mem{data: image(size, 3, [2]int64{0, size})}
	res, err := blockcopy.Copy(testCtx(t), memZeroer{d}, src, &blockcopy.Options{ZeroDetect: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.data, want) {
		t.Fatal("destination differs")
	}
	if res.Zeroed != 3<<20 || res.Written != 1<<20 || d.zeroed.Load() != 3<<20 || res.Skipped != 0 {
		t.Errorf("zeroed %d (ZeroRange %d), written %d, skipped %d", res.Zeroed, d.zeroed.Load(), res.Written, res.Skipped)
	}
}

// TestCopyZeroRuns: within a chunk, runs of zeros of 64 KiB and more, or
// at its ends, become holes; shorter ones amid data are written.
func TestCopyZeroRuns(t *testing.T) {
	const size = 1 << 20
	// zeros [0, 8K), data [8K, 12K), zeros 8K, data [20K, 24K), zeros
	// [24K, 24K+100K), data 4K, zeros to the end.
	want := image(size, 14, [2]int64{8 << 10, 4 << 10}, [2]int64{20 << 10, 4 << 10}, [2]int64{124 << 10, 4 << 10})
	d := &mem{data: image(size, 15, [2]int64{0, size})}
	res, err := blockcopy.Copy(testCtx(t), memZeroer{d}, bytes.NewReader(want), &blockcopy.Options{ZeroDetect: true, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.data, want) {
		t.Fatal("destination differs")
	}
	if wantZeroed := int64(8<<10 + 100<<10 + size - 128<<10); res.Zeroed != wantZeroed || res.Written != size-wantZeroed {
		t.Errorf("zeroed %d, written %d; want %d zeroed", res.Zeroed, res.Written, wantZeroed)
	}
}

func TestCopyVerifyFails(t *testing.T) {
	want := image(2<<20, 4, [2]int64{0, 2 << 20})
	d := &mem{data: make([]byte, 2<<20), corrupt: 1<<20 + 77 + 1}
	res, err := blockcopy.Copy(testCtx(t), d, bytes.NewReader(want), &blockcopy.Options{Verify: true})
	var ve *blockcopy.VerifyError
	if !errors.As(err, &ve) || ve.Offset != 1<<20+77 {
		t.Fatalf("err %v, want a VerifyError at %d", err, 1<<20+77)
	}
	if res.Completed > 1<<20 {
		t.Errorf("Completed %d past the bad byte", res.Completed)
	}
}

func TestCopyBase(t *testing.T) {
	const size = 8 << 20
	base := image(size, 5, [2]int64{0, 6 << 20})
	src := bytes.Clone(base)
	copy(src[1<<20+100:], []byte("changed"))
	clear(src[4<<20 : 5<<20]) // now zeros
	copy(src[7<<20:], []byte("new data"))
	d := &mem{data: bytes.Clone(base)}
	res, err := blockcopy.Copy(testCtx(t), d, bytes.NewReader(src), &blockcopy.Options{Base: bytes.NewReader(base), ZeroDetect: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.data, src) {
		t.Fatal("destination differs")
	}
	// Chunks 1, 4 and 7 changed.
	if res.Written+res.Zeroed != 3<<20 || res.Unchanged != 5<<20 || d.writes.Load() != 3<<20 {
		t.Errorf("written %d, zeroed %d, unchanged %d, bytes written %d", res.Written, res.Zeroed, res.Unchanged, d.writes.Load())
	}
}

func TestCopyErrors(t *testing.T) {
	ctx := testCtx(t)
	small := &mem{data: make([]byte, 1<<20)}
	if _, err := blockcopy.Copy(ctx, small, bytes.NewReader(make([]byte, 2<<20)), nil); !errors.As(err, new(*blockcopy.SizeError)) {
		t.Errorf("small destination: %v", err)
	}
	if _, err := blockcopy.Copy(ctx, small, io.NewSectionReader(bytes.NewReader(nil), 0, 0), &blockcopy.Options{Size: 10}); err == nil {
		t.Error("Size past the source: no error")
	}
	type writerOnly struct{ io.WriterAt }
	if _, err := blockcopy.Copy(ctx, writerOnly{small}, bytes.NewReader(make([]byte, 10)), &blockcopy.Options{Verify: true}); err == nil {
		t.Error("Verify with a write-only destination: no error")
	}
	type readerOnly struct{ io.ReaderAt }
	if _, err := blockcopy.Copy(ctx, small, readerOnly{bytes.NewReader(nil)}, nil); err == nil {
		t.Error("source of unknown size: no error")
	}
}

// stallAt is a source whose reads at or past at wait for their context,
// after calling reached once: a copy cancelled there stops midway.
type stallAt struct {
	*bytes.Reader
	at      int64
	reached func()
}

func (s stallAt) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.at {
		s.reached()
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return s.ReadAt(p, off)
}

// TestCopyResume cancels a copy when it reaches the middle of the source,
// then resumes it from Result.Completed: the image and the hash are those
// of the source.
func TestCopyResume(t *testing.T) {
	const size = 16 << 20
	want := image(size, 6, [2]int64{0, size})
	d := &mem{data: make([]byte, size)}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var once sync.Once
	src := stallAt{Reader: bytes.NewReader(want), at: 9 << 20, reached: func() { once.Do(cancel) }}
	res, err := blockcopy.Copy(ctx, d, src, &blockcopy.Options{ChunkSize: 64 << 10, Concurrency: 4, Hash: sha256.New()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if res.Completed <= 0 || res.Completed > 9<<20 || res.Sum != nil {
		t.Fatalf("after cancel: Completed %d, Sum %x", res.Completed, res.Sum)
	}
	if !bytes.Equal(d.data[:res.Completed], want[:res.Completed]) {
		t.Fatal("bytes before Completed are not the source's")
	}
	res2, err := blockcopy.Copy(testCtx(t), d, bytes.NewReader(want), &blockcopy.Options{Resume: res.Completed, Hash: sha256.New()})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.data, want) {
		t.Fatal("image differs after resume")
	}
	if !bytes.Equal(res2.Sum, sha(want)) || res2.Bytes != size-res.Completed {
		t.Errorf("resumed: sum %x (want %x), Bytes %d (want %d)", res2.Sum, sha(want), res2.Bytes, size-res.Completed)
	}
}

func TestCopyFiles(t *testing.T) {
	dir := t.TempDir()
	const size = 8 << 20
	want := image(size, 7, [2]int64{0, 1 << 20}, [2]int64{5<<20 + 4096, 512 << 10}, [2]int64{7 << 20, 4096})
	srcPath := filepath.Join(dir, "src.img")
	writeSparse(t, srcPath, want)
	src, err := os.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, "dst.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	h := md5.New()
	res, err := blockcopy.Copy(testCtx(t), dst, src, &blockcopy.Options{Hash: h, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst.Name())
	if !bytes.Equal(got, want) {
		t.Fatal("file copy differs")
	}
	if s := md5.Sum(want); !bytes.Equal(res.Sum, s[:]) {
		t.Errorf("md5 %x, want %x", res.Sum, s)
	}
	checkSparse(t, dst.Name(), res, size)

	// Copy over a dirty file of the same size: holes are punched.
	dirty := filepath.Join(dir, "dirty.img")
	if err := os.WriteFile(dirty, image(size, 8, [2]int64{0, size}), 0o644); err != nil {
		t.Fatal(err)
	}
	df, err := os.OpenFile(dirty, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	if _, err := blockcopy.Copy(testCtx(t), df, src, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(dirty)
	if !bytes.Equal(got, want) {
		t.Fatal("copy over a dirty file differs")
	}
}

func writeSparse(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	const blk = 4096
	for off := 0; off < len(data); off += blk {
		b := data[off:min(off+blk, len(data))]
		if !bytes.Equal(b, make([]byte, len(b))) {
			if _, err := f.WriteAt(b, int64(off)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// dial opens a session to url and returns its default unit.
func dial(t *testing.T, url string) *session.LogicalUnit {
	t.Helper()
	s, err := session.Dial(testCtx(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.DefaultUnit()
}

// writeCounter returns a Fault.Match that counts the WRITE commands and
// their blocks, and picks none.
func writeCounter(cmds, blocks *atomic.Int64) func(cdb []byte) bool {
	return func(cdb []byte) bool {
		switch scsi.OpCode(cdb[0]) {
		case scsi.OpWrite10:
			cmds.Add(1)
			blocks.Add(int64(binary.BigEndian.Uint16(cdb[7:9])))
		case scsi.OpWrite16:
			cmds.Add(1)
			blocks.Add(int64(binary.BigEndian.Uint32(cdb[10:14])))
		}
		return false
	}
}

// TestCopyLUNs copies file→LUN, LUN→file and LUN→LUN on iscsitest, 512
// and 4096-byte blocks, and checks the bytes and the hash.
func TestCopyLUNs(t *testing.T) {
	const size = 4 << 20
	want := image(size, 9, [2]int64{0, 1 << 20}, [2]int64{2<<20 + 4096, 8192})
	for _, bs := range []int{512, 4096} {
		t.Run("bs="+strconv.Itoa(bs), func(t *testing.T) {
			srv := iscsitest.NewServer(iscsitest.WithLUN(size, bs), iscsitest.WithLUN(size, 4096))
			defer srv.Close()
			a, b := dial(t, srv.LUNURL(1)), dial(t, srv.LUNURL(2))
			ctx := testCtx(t)

			// file → LUN 1
			dir := t.TempDir()
			writeSparse(t, filepath.Join(dir, "in"), want)
			in, err := os.Open(filepath.Join(dir, "in"))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if _, err := blockcopy.Copy(ctx, a, in, &blockcopy.Options{Verify: true}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(srv.Contents(1), want) {
				t.Fatal("LUN 1 differs after file → LUN")
			}
			// LUN 1 → LUN 2 (different block sizes when bs is 512)
			res, err := blockcopy.Copy(ctx, b, a, &blockcopy.Options{Hash: sha256.New()})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(srv.Contents(2), want) || !bytes.Equal(res.Sum, sha(want)) {
				t.Fatal("LUN 2 or the hash differs after LUN → LUN")
			}
			// LUN 2 → file
			out, err := os.Create(filepath.Join(dir, "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			if _, err := blockcopy.Copy(ctx, out, b.Session(), &blockcopy.Options{ZeroDetect: true}); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(out.Name())
			if !bytes.Equal(got, want) {
				t.Fatal("file differs after LUN → file")
			}
		})
	}
}

// TestCopyIncrementalWrites counts the WRITEs of an incremental copy to a
// LUN: only the chunks that differ from the base are written.
func TestCopyIncrementalWrites(t *testing.T) {
	const size = 8 << 20
	base := image(size, 10, [2]int64{0, size})
	srv := iscsitest.NewServer(iscsitest.WithLUNData(bytes.Clone(base), 512))
	defer srv.Close()
	var cmds, blocks atomic.Int64
	srv.Inject(iscsitest.Fault{Match: writeCounter(&cmds, &blocks)})
	u := dial(t, srv.URL())
	src := bytes.Clone(base)
	for _, off := range []int{100, 3<<20 + 5, 3<<20 + 1000, size - 1} {
		src[off] ^= 0x5a
	}
	res, err := blockcopy.Copy(testCtx(t), u, bytes.NewReader(src), &blockcopy.Options{Base: bytes.NewReader(base), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(srv.Contents(1), src) {
		t.Fatal("LUN differs")
	}
	// Three chunks of 1 MiB changed: chunks 0, 3 and 7.
	if cmds.Load() != 3 || blocks.Load() != 3*2048 || res.Written != 3<<20 || res.Unchanged != 5<<20 {
		t.Errorf("%d WRITEs of %d blocks, Written %d, Unchanged %d; want 3 of 6144, 3 MiB, 5 MiB",
			cmds.Load(), blocks.Load(), res.Written, res.Unchanged)
	}
}

// lbaRange decodes the LBA and block count of a READ(10)/(16) CDB; ok is
// false for anything else.
func lbaRange(cdb []byte) (lba, n uint64, ok bool) {
	switch scsi.OpCode(cdb[0]) {
	case scsi.OpRead10:
		return uint64(binary.BigEndian.Uint32(cdb[2:6])), uint64(binary.BigEndian.Uint16(cdb[7:9])), true
	case scsi.OpRead16:
		return binary.BigEndian.Uint64(cdb[2:10]), uint64(binary.BigEndian.Uint32(cdb[10:14])), true
	}
	return 0, 0, false
}

// TestCopyIgnoreErrors fails every READ that touches one range of blocks:
// the copy goes on, writes zeros there and reports exactly that range.
func TestCopyIgnoreErrors(t *testing.T) {
	const size = 4 << 20
	data := image(size, 11, [2]int64{0, size})
	srv := iscsitest.NewServer(iscsitest.WithLUNData(bytes.Clone(data), 512))
	defer srv.Close()
	const badLBA, badN = 2500, 37 // bytes 1280000 to 1298944
	srv.Inject(iscsitest.Fault{
		Match: func(cdb []byte) bool {
			lba, n, ok := lbaRange(cdb)
			return ok && lba < badLBA+badN && badLBA < lba+n
		},
		Action: iscsitest.Respond, Status: scsi.StatusCheckCondition,
		Sense: iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError),
	})
	u := dial(t, srv.URL())
	ctx := testCtx(t)
	d := &mem{data: image(size, 12, [2]int64{0, size})}
	if _, err := blockcopy.Copy(ctx, d, u, nil); !errors.Is(err, scsi.ErrMediumError) {
		t.Fatalf("without IgnoreErrors: %v, want a MEDIUM ERROR", err)
	}
	h := sha256.New()
	res, err := blockcopy.Copy(ctx, d, u, &blockcopy.Options{IgnoreErrors: true, Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(data)
	clear(want[badLBA*512 : (badLBA+badN)*512])
	if !bytes.Equal(d.data, want) {
		t.Fatal("destination is not the source with zeros in the bad range")
	}
	if len(res.Unreadable) != 1 || res.Unreadable[0] != (blockcopy.Range{Off: badLBA * 512, Len: badN * 512}) {
		t.Errorf("Unreadable %v, want [{%d %d}]", res.Unreadable, badLBA*512, badN*512)
	}
	if !bytes.Equal(res.Sum, sha(want)) {
		t.Error("hash is not that of the image with zeros in the bad range")
	}
}

// TestCopySourceOffset hashes ranges of a LUN, aligned and not, through
// Discard, and copies a range out to memory.
func TestCopySourceOffset(t *testing.T) {
	const size = 4 << 20
	data := image(size, 13, [2]int64{0, size})
	srv := iscsitest.NewServer(iscsitest.WithLUNData(bytes.Clone(data), 4096))
	defer srv.Close()
	u := dial(t, srv.URL())
	ctx := testCtx(t)
	for _, r := range [][2]int64{{0, 0}, {1000, 3000000}, {1 << 20, 0}, {4096, 8192}} {
		h := md5.New()
		res, err := blockcopy.Copy(ctx, blockcopy.Discard, u, &blockcopy.Options{SourceOffset: r[0], Size: r[1], Hash: h, Concurrency: 3})
		if err != nil {
			t.Fatal(err)
		}
		end := int64(size)
		if r[1] > 0 {
			end = r[0] + r[1]
		}
		if want := md5.Sum(data[r[0]:end]); !bytes.Equal(res.Sum, want[:]) {
			t.Errorf("offset %d, size %d: md5 %x, want %x", r[0], r[1], res.Sum, want)
		}
	}
	d := &mem{data: make([]byte, 5000)}
	if _, err := blockcopy.Copy(ctx, d, u, &blockcopy.Options{SourceOffset: 777, Size: 5000, Verify: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.data, data[777:777+5000]) {
		t.Error("range copied differs")
	}
	if _, err := blockcopy.Copy(ctx, blockcopy.Discard, u, &blockcopy.Options{SourceOffset: size + 1}); err == nil {
		t.Error("SourceOffset past the end: no error")
	}
}

// TestCopyFlush: a copy to a LUN ends with one SYNCHRONIZE CACHE, none
// with NoFlush.
func TestCopyFlush(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer srv.Close()
	var syncs atomic.Int64
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		if op := scsi.OpCode(cdb[0]); op == scsi.OpSynchronizeCache10 || op == scsi.OpSynchronizeCache16 {
			syncs.Add(1)
		}
		return false
	}})
	u := dial(t, srv.URL())
	src := bytes.NewReader(image(1<<20, 23, [2]int64{0, 1 << 20}))
	for _, noFlush := range []bool{false, true} {
		syncs.Store(0)
		if _, err := blockcopy.Copy(testCtx(t), u, src, &blockcopy.Options{NoFlush: noFlush}); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int64{false: 1, true: 0}[noFlush]; syncs.Load() != want {
			t.Errorf("NoFlush %v: %d SYNCHRONIZE CACHE, want %d", noFlush, syncs.Load(), want)
		}
	}
}
