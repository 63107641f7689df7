package iovector

import (
	"fmt"
	"testing"
)

// benchBufSize is the size of each buffer in the benchmarks' vectors.
const benchBufSize = 4096

// benchVector returns a Vector of n buffers of benchBufSize bytes and 1024
// pseudo-random offsets into it.
func benchVector(n int) (*Vector, []int64) {
	backing := make([]byte, n*benchBufSize)
	v := new(Vector)
	for i := range n {
		v.Append(backing[i*benchBufSize : (i+1)*benchBufSize])
	}
	offs := make([]int64, 1024)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range offs {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		offs[i] = int64(x % uint64(v.Len()))
	}
	return v, offs
}

var benchCounts = []int{1, 16, 256, 4096}

// BenchmarkLocate measures the binary search at growing buffer counts.
func BenchmarkLocate(b *testing.B) {
	for _, n := range benchCounts {
		v, offs := benchVector(n)
		b.Run(fmt.Sprintf("buffers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var sink, k int
			for b.Loop() {
				i, inner, _ := v.Locate(offs[k&1023])
				sink += i + inner
				k++
			}
			_ = sink
		})
	}
}

// BenchmarkLocateLinear is the O(n) walk over the buffers that the binary
// search replaces (the linked list of libiscsi before scsi_iovector), for
// comparison.
func BenchmarkLocateLinear(b *testing.B) {
	for _, n := range benchCounts {
		v, offs := benchVector(n)
		b.Run(fmt.Sprintf("buffers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var sink, k int
			for b.Loop() {
				i, inner := linearLocate(v, offs[k&1023])
				sink += i + inner
				k++
			}
			_ = sink
		})
	}
}

// BenchmarkReadAt measures 512-byte reads at random offsets, some of which
// cross a buffer boundary.
func BenchmarkReadAt(b *testing.B) {
	for _, n := range benchCounts {
		v, offs := benchVector(n)
		p := make([]byte, 512)
		b.Run(fmt.Sprintf("buffers=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				_, _ = v.ReadAt(p, offs[k&1023])
				k++
			}
		})
	}
}
