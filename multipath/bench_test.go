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
