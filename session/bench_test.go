package session_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// benchSession logs in to an in-process null target over loopback TCP.
func benchSession(b *testing.B, cfg *session.Config, digests bool) *session.Session {
	b.Helper()
	tg := faketarget.Start(b, faketarget.Config{Name: tgtName, MaxRecvDataSegmentLength: 262144,
		PreferCRC32C: digests, LUNs: []faketarget.LUN{{Number: 1, Blocks: 1 << 30, Null: true}}})
	s, err := session.Dial(context.Background(), url(tg, ""), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.Geometry(context.Background()); err != nil {
		b.Fatal(err)
	}
	if p := s.Params(); p.HeaderDigest != digests || p.DataDigest != digests {
		b.Fatalf("digests negotiated: header %v, data %v; want %v", p.HeaderDigest, p.DataDigest, digests)
	}
	return s
}

// BenchmarkIODigests runs the same I/O with header and data digests
// (CRC32C) negotiated and without, against the in-process target (which
// computes CRC32C with the same hardware-accelerated code): the ratio of
// the two is what the digests cost the initiator and the target together.
func BenchmarkIODigests(b *testing.B) {
	for _, digests := range []bool{false, true} {
		b.Run(fmt.Sprintf("digests=%v", digests), func(b *testing.B) {
			benchIODigests(b, nil, digests, []benchCase{
				{false, 4096, 32}, {false, 128 << 10, 32}, {true, 128 << 10, 32},
			})
		})
	}
}

// BenchmarkIO measures reads and writes with caller vectors at queue depth
// 1 and 32 against the null target. allocs/op must be 0.
func BenchmarkIO(b *testing.B) {
	benchIO(b, nil, []benchCase{
		{false, 4096, 1}, {false, 4096, 32}, {false, 128 << 10, 32},
		{true, 4096, 1}, {true, 4096, 32}, {true, 128 << 10, 32},
	})
}

// BenchmarkIONetpoller is BenchmarkIO through Go's netpoller (a
// net.Dialer) instead of the default BlockingDialer. The in-process
// target here (internal/faketarget, unlike package iscsitest's Server) is
// not marked as such, so BenchmarkIO runs on the blocking socket: the
// target's goroutines then need the P that a reader blocked in read(2)
// holds until sysmon takes it back (docs/BENCHMARKS.md, "A target in the
// same process").
func BenchmarkIONetpoller(b *testing.B) {
	benchIO(b, &session.Config{Dialer: &net.Dialer{}}, []benchCase{
		{false, 4096, 1}, {false, 4096, 32}, {false, 128 << 10, 32},
		{true, 4096, 1}, {true, 4096, 32}, {true, 128 << 10, 32},
	})
}

// BenchmarkIOWithHook is BenchmarkIO with a CommandHook and a PDUHook
// that do next to nothing: the cost of the hooks themselves (a clock
// reading per command, a call per command and per PDU).
func BenchmarkIOWithHook(b *testing.B) {
	benchIO(b, &session.Config{Hooks: []session.Hook{&noopHook{}}}, []benchCase{
		{false, 4096, 1}, {false, 4096, 32}, {true, 4096, 1}, {true, 4096, 32},
	})
}

type benchCase struct {
	write bool
	size  int
	qd    int
}

func benchIO(b *testing.B, cfg *session.Config, cases []benchCase) {
	benchIODigests(b, cfg, false, cases)
}

func benchIODigests(b *testing.B, cfg *session.Config, digests bool, cases []benchCase) {
	for _, c := range cases {
		op := "read"
		if c.write {
			op = "write"
		}
		b.Run(fmt.Sprintf("%s/%dK/qd%d", op, c.size>>10, c.qd), func(b *testing.B) {
			s := benchSession(b, cfg, digests)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			blocks := uint32(c.size / 512)
			vecs := make([]*iovector.Vector, c.qd)
			for i := range vecs {
				vecs[i] = iovector.New(make([]byte, c.size))
			}
			var left atomic.Int64
			left.Store(int64(b.N))
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i := 0; i < c.qd; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v := vecs[i]
					lba := uint64(i) * uint64(blocks)
					for left.Add(-1) >= 0 {
						var f session.Future
						if c.write {
							f = s.Write(ctx, lba, blocks, v)
						} else {
							f = s.Read(ctx, lba, blocks, v)
						}
						if _, err := f.Wait(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
