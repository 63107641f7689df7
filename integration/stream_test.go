package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// noWriterTo hides a reader's WriterTo, so that io.Copy uses the
// destination's ReaderFrom.
type noWriterTo struct{ io.Reader }

// TestBulkStreams checks against tgtd's backing files, byte for byte, a
// ReadAt and a WriteAt of many MaxTransfer commands, and io.Copy through
// the Reader and the Writer, from and to unaligned offsets, with 512 and
// 4096-byte blocks.
func TestBulkStreams(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-11.test:bulk"
	const size = 24 << 20
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{
		{Size: size, Random: true},
		{Size: size, Random: true, BlockSize: 4096},
	}})
	ctx := testCtx(t)
	for _, lun := range targets[0].LUNs {
		t.Run(fmt.Sprintf("lun%d", lun.Number), func(t *testing.T) {
			s, err := session.Dial(ctx, inst.TargetURL(iqn, lun.Number), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			u := s.DefaultUnit()
			g, err := u.Geometry(ctx)
			if err != nil {
				t.Fatal(err)
			}
			bs := int64(g.BlockSize)
			t.Logf("block size %d, MaxTransfer %d", bs, g.MaxTransfer)

			all := make([]byte, size)
			if n, err := u.ReadAt(all, 0); n != size || err != nil {
				t.Fatalf("ReadAt of the whole LUN = %d, %v", n, err)
			}
			mustEqual(t, "ReadAt of the whole LUN", all, tgtd.ReadBacking(t, lun.Path, 0, size))

			// Reader: unaligned at both ends, WriteTo and Read.
			off, n := 3*bs+5, int64(size)-3*bs-5-7
			var out bytes.Buffer
			r := u.NewReader(ctx, off, n)
			if got, err := io.Copy(&out, r); got != n || err != nil {
				t.Fatalf("io.Copy from the Reader = %d, %v", got, err)
			}
			r.Close()
			mustEqual(t, "Reader.WriteTo", out.Bytes(), all[off:off+n])
			r = u.NewReader(ctx, off, -1)
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "Reader.Read to the end", got, all[off:])

			// Writer: unaligned at both ends.
			woff := 5*bs + 11
			data := pattern(10<<20+333, uint32(lun.Number))
			w := u.NewWriter(ctx, woff)
			if got, err := io.Copy(w, noWriterTo{bytes.NewReader(data)}); got != int64(len(data)) || err != nil {
				t.Fatalf("io.Copy to the Writer = %d, %v", got, err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := u.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			copy(all[woff:], data)
			mustEqual(t, "LUN after the Writer", tgtd.ReadBacking(t, lun.Path, 0, size), all)

			// WriteAt of many commands, unaligned.
			aoff := int64(size) - 9<<20 - 77 - 3
			data = pattern(9<<20+77, uint32(lun.Number)+10)
			if n, err := u.WriteAt(data, aoff); n != len(data) || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
			if err := u.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			copy(all[aoff:], data)
			mustEqual(t, "LUN after WriteAt", tgtd.ReadBacking(t, lun.Path, 0, size), all)
		})
	}
}

// bulkBytes is what each operation of BenchmarkBulkTgtd moves.
const bulkBytes = 64 << 20

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { return len(p), nil }

type noReaderFrom struct{ io.Writer }

// BenchmarkBulkTgtd is session's BenchmarkBulk against a tgtd null LUN
// (--bstype null): 64 MiB per operation through io.Copy and the Reader or
// Writer, one ReadAt or WriteAt, 8 goroutines of 1 MiB, a loop of 1 MiB
// calls, and io.Copy of 32 KiB through io.NewSectionReader or
// io.NewOffsetWriter. See docs/BENCHMARKS.md, "Bulk I/O".
func BenchmarkBulkTgtd(b *testing.B) {
	inst := tgtd.Start(b)
	const iqn = "iqn.2026-11.test:bulkbench"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Null: true}}})
	s, err := session.Dial(context.Background(), inst.TargetURL(iqn, 1), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u := s.DefaultUnit()
	if _, err := u.Geometry(context.Background()); err != nil {
		b.Fatal(err)
	}
	big, mib, small := make([]byte, bulkBytes), make([]byte, 8<<20), make([]byte, 32<<10)
	goroutines := func(b *testing.B, off int64, op func(p []byte, off int64) (int, error)) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := mib[g<<20 : (g+1)<<20]
				for {
					i := next.Add(1<<20) - 1<<20
					if i >= bulkBytes {
						return
					}
					if n, err := op(p, off+i); n != len(p) || err != nil {
						b.Error(n, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	check := func(b *testing.B, n int64, err error) {
		if n != bulkBytes || err != nil {
			b.Fatal(n, err)
		}
	}
	cases := []struct {
		name string
		run  func(b *testing.B, off int64)
	}{
		{"read/Reader-io.Copy", func(b *testing.B, off int64) {
			n, err := io.Copy(io.Discard, u.NewReader(context.Background(), off, bulkBytes))
			check(b, n, err)
		}},
		{"read/ReadAt-64MiB", func(b *testing.B, off int64) {
			n, err := u.ReadAt(big, off)
			check(b, int64(n), err)
		}},
		{"read/8-goroutines-1MiB", func(b *testing.B, off int64) { goroutines(b, off, u.ReadAt) }},
		{"read/1MiB-ReadAt-loop", func(b *testing.B, off int64) {
			// One command at a time over the same 64 MiB as ReadAt-64MiB:
			// what ReadAt did before it kept several in flight.
			for i := 0; i < bulkBytes; i += 1 << 20 {
				if n, err := u.ReadAt(big[i:i+1<<20], off+int64(i)); n != 1<<20 || err != nil {
					b.Fatal(n, err)
				}
			}
		}},
		{"read/SectionReader-32KiB", func(b *testing.B, off int64) {
			n, err := io.CopyBuffer(noReaderFrom{io.Discard}, io.NewSectionReader(u, off, bulkBytes), small)
			check(b, n, err)
		}},
		{"write/Writer-io.Copy", func(b *testing.B, off int64) {
			w := u.NewWriter(context.Background(), off)
			n, err := io.Copy(w, io.LimitReader(zeros{}, bulkBytes))
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			check(b, n, err)
		}},
		{"write/WriteAt-64MiB", func(b *testing.B, off int64) {
			n, err := u.WriteAt(big, off)
			check(b, int64(n), err)
		}},
		{"write/8-goroutines-1MiB", func(b *testing.B, off int64) { goroutines(b, off, u.WriteAt) }},
		{"write/1MiB-WriteAt-loop", func(b *testing.B, off int64) {
			for i := 0; i < bulkBytes; i += 1 << 20 {
				if n, err := u.WriteAt(big[i:i+1<<20], off+int64(i)); n != 1<<20 || err != nil {
					b.Fatal(n, err)
				}
			}
		}},
		{"write/OffsetWriter-32KiB", func(b *testing.B, off int64) {
			n, err := io.CopyBuffer(io.NewOffsetWriter(u, off), io.LimitReader(zeros{}, bulkBytes), small)
			check(b, n, err)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(bulkBytes)
			b.ReportAllocs()
			var off int64
			for b.Loop() {
				c.run(b, off)
				off = (off + bulkBytes) % (1 << 36)
			}
		})
	}
}

// TestBulkStreamsReadOnly: tgtd refuses every WRITE to a read-only LUN.
// A large WriteAt and a Writer report WRITE PROTECTED with nothing written
// (n, Written) and the file unchanged; the Reader still reads.
func TestBulkStreamsReadOnly(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-11.test:bulkro"
	const size = 8 << 20
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: size, Random: true, ReadOnly: true}}})
	lun := targets[0].LUNs[0]
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL(iqn, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := s.DefaultUnit()
	before := tgtd.ReadBacking(t, lun.Path, 0, size)
	data := pattern(5<<20+100, 3)
	if n, err := u.WriteAt(data, 4096); n != 0 || !errors.Is(err, scsi.ErrWriteProtected) {
		t.Fatalf("WriteAt = %d, %v; want 0, WRITE PROTECTED", n, err)
	}
	w := u.NewWriter(ctx, 1000)
	_, err = io.Copy(w, noWriterTo{bytes.NewReader(data)})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, scsi.ErrWriteProtected) || w.Written() != 0 {
		t.Fatalf("Writer: %v, Written %d; want WRITE PROTECTED, 0", err, w.Written())
	}
	mustEqual(t, "read-only LUN", tgtd.ReadBacking(t, lun.Path, 0, size), before)
	got, err := io.ReadAll(u.NewReader(ctx, 777, -1))
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "Reader of the read-only LUN", got, before[777:])
}
