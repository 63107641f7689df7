package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/bench/rawrt"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

const (
	queueDepth = 32
	blockSize  = 512
)

// nullTarget starts an in-process target with a null LUN 1 on loopback TCP
// and returns a session logged in to it.
func nullTarget(tb testing.TB) *session.Session {
	tb.Helper()
	tgt := faketarget.Start(tb, faketarget.Config{
		LUNs: []faketarget.LUN{{Number: 1, BlockSize: blockSize, Blocks: 1 << 31, Null: true}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, tgt.LUNURL(1), nil)
	if err != nil {
		tb.Fatalf("dial the in-process target: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Geometry(ctx); err != nil {
		tb.Fatalf("geometry: %v", err)
	}
	return s
}

// readQD reads n commands of size bytes at queue depth qd, sequentially
// through the LUN: qd goroutines, each with its own buffer and vector.
func readQD(s *session.Session, n, qd, size int) error {
	blocks := uint32(size / blockSize)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, qd)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := 0; i < qd; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := iovector.New(make([]byte, size))
			for {
				k := next.Add(1) - 1
				if k >= int64(n) {
					return
				}
				lba := uint64(k) * uint64(blocks) % (1 << 30)
				f := s.Read(ctx, lba, blocks, v)
				if _, err := f.Wait(); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestReadQD checks that the benchmark's load does what it claims.
func TestReadQD(t *testing.T) {
	s := nullTarget(t)
	for _, size := range []int{4096, 131072} {
		if err := readQD(s, 100, queueDepth, size); err != nil {
			t.Fatalf("%d-byte reads: %v", size, err)
		}
	}
}

// BenchmarkDistance reports, for 4 KiB and 128 KiB at QD32, the raw
// loopback round trips per second (raw-rt/s, measured over the same number
// of operations just before), the session's reads per second (rt/s), both in
// GB/s, and ratio = session / raw.
func BenchmarkDistance(b *testing.B) {
	for _, size := range []int{4096, 131072} {
		b.Run(fmt.Sprintf("%dKiB", size/1024), func(b *testing.B) {
			// (a) the raw round trip, same count of operations.
			srv, err := rawrt.Listen(size)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			c, err := rawrt.Dial(srv.Addr(), size)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			n := max(b.N, 2000)
			t0 := time.Now()
			if err := c.Run(n, queueDepth); err != nil {
				b.Fatal(err)
			}
			rawRate := float64(n) / time.Since(t0).Seconds()
			c.Close()

			// (b) the session.
			s := nullTarget(b)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			if err := readQD(s, b.N, queueDepth, size); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			rate := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "rt/s")
			b.ReportMetric(rawRate, "raw-rt/s")
			b.ReportMetric(rate*float64(size)/1e9, "GB/s")
			b.ReportMetric(rawRate*float64(size)/1e9, "raw-GB/s")
			b.ReportMetric(rate/rawRate, "ratio")
		})
	}
}
