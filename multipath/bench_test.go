package multipath_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/session"
)

// The cost of the Device over a bare session: 4 KiB ReadAt and WriteAt
// through one in-process target, one path.
func BenchmarkOverhead(b *testing.B) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(16<<20, 512))
	defer srv.Close()
	ctx := context.Background()
	s, err := session.Dial(ctx, srv.URL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d, err := multipath.Dial(ctx, []string{srv.URL()}, &multipath.Config{CheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 4096)
	for _, tc := range []struct {
		name string
		fn   func(p []byte, off int64) (int, error)
	}{
		{"session/ReadAt", s.ReadAt}, {"multipath/ReadAt", d.ReadAt},
		{"session/WriteAt", s.WriteAt}, {"multipath/WriteAt", d.WriteAt},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := tc.fn(buf, int64(i%1024)*4096); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The streams of a Device: io.Copy of 16 MiB through a Reader and a
// Writer, one path, commands of 1 MiB; allocs/op counts the commands'.
func BenchmarkStream(b *testing.B) {
	const n = 16 << 20
	srv := iscsitest.NewServer(iscsitest.WithLUN(n, 512))
	defer srv.Close()
	ctx := context.Background()
	d, err := multipath.Dial(ctx, []string{srv.URL()}, &multipath.Config{CheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	src := make([]byte, n)
	b.Run("Reader", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			if m, err := io.Copy(io.Discard, d.NewReader(ctx, 0, n)); m != n || err != nil {
				b.Fatal(m, err)
			}
		}
	})
	b.Run("Writer", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			w := d.NewWriter(ctx, 0)
			if m, err := io.Copy(w, bytes.NewReader(src)); m != n || err != nil {
				b.Fatal(m, err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// deviceAtAllocs bounds the allocations of a 4 KiB ReadAt or WriteAt of a
// Device (the commands are pooled): the attempt's registration and its
// context, which carries the CommandTimeout deadline (the context, its
// timer, its Done channel), the session's watch of that context and the
// task it then leaves to the garbage collector. A bare session's ReadAt
// makes 7 (session.smallReadAtAllocs).
const deviceAtAllocs = 14

// deviceCtxAllocs bounds those of a 4 KiB ReadAtContext: without a
// deadline the attempt's context is a context.WithCancel of the caller's
// (its cancel function instead of a timer), which the session watches as
// well.
const deviceCtxAllocs = 12

// TestDeviceAtAllocs: a Device's ReadAt and WriteAt of 4 KiB allocate no
// more than deviceAtAllocs times, and a ReadAtContext no more than
// deviceCtxAllocs.
func TestDeviceAtAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not those of a real build")
	}
	d, _ := onePath(t)
	p := make([]byte, 4096)
	for _, tc := range []struct {
		name  string
		fn    func() (int, error)
		bound float64
	}{
		{"ReadAt", func() (int, error) { return d.ReadAt(p, 8192) }, deviceAtAllocs},
		{"WriteAt", func() (int, error) { return d.WriteAt(p, 8192) }, deviceAtAllocs},
		{"ReadAtContext(Background)", func() (int, error) { return d.ReadAtContext(context.Background(), p, 8192) }, deviceCtxAllocs},
	} {
		run := func() {
			if n, err := tc.fn(); n != len(p) || err != nil {
				t.Fatalf("%s: %d, %v", tc.name, n, err)
			}
		}
		run()
		if n := testing.AllocsPerRun(200, run); n > tc.bound {
			t.Errorf("a %s of %d bytes allocated %v times, bound %v", tc.name, len(p), n, tc.bound)
		}
	}
}
