//go:build linux

package session_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// digestTargetEnv makes the test binary the target of
// BenchmarkWriteDigestCost, in a process of its own so that its CPU (its
// own CRC32C of every segment among it) is not counted as the initiator's.
const digestTargetEnv = "ISCSI_DIGEST_TARGET"

func init() {
	if os.Getenv(digestTargetEnv) != "" {
		// A null LUN that takes CRC32C digests when offered.
		serveChild(faketarget.Config{Name: tgtName, MaxRecvDataSegmentLength: 262144, PreferCRC32C: true,
			LUNs: []faketarget.LUN{{Number: 1, Blocks: 1 << 30, Null: true}}})
	}
}

// BenchmarkWriteDigestCost writes 128 KiB at queue depth 32 (32
// goroutines, each with its own buffer) with header and data digests and
// without, to an in-process target running in another process, and
// reports the CPU this process (the initiator alone) spent per write:
// user+system from getrusage, as cpu-µs/op. The difference is what the
// digests cost the initiator. See docs/BENCHMARKS.md, "Digests".
func BenchmarkWriteDigestCost(b *testing.B) {
	addr := childTarget(b, digestTargetEnv)
	base := "iscsi://" + addr + "/" + tgtName + "/1"
	for _, digests := range []bool{false, true} {
		b.Run(fmt.Sprintf("digests=%v", digests), func(b *testing.B) {
			url := base + "?header_digest=none&data_digest=none"
			if digests {
				url = base + "?header_digest=crc32c&data_digest=crc32c"
			}
			s, err := session.Dial(context.Background(), url, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if p := s.Params(); p.HeaderDigest != digests || p.DataDigest != digests {
				b.Fatalf("digests negotiated: header %v, data %v; want %v", p.HeaderDigest, p.DataDigest, digests)
			}
			const qd, size = 32, 128 << 10
			vecs := make([]*iovector.Vector, qd)
			for i := range vecs {
				buf := make([]byte, size)
				for j := range buf {
					buf[j] = byte(i + j)
				}
				vecs[i] = iovector.New(buf)
			}
			ctx := context.Background()
			var left atomic.Int64
			left.Store(int64(b.N))
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			var wg sync.WaitGroup
			for g := range qd {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						if _, err := s.Write(ctx, uint64(g)*256, 256, vecs[g]).Wait(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}
