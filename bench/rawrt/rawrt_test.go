package rawrt

import (
	"fmt"
	"testing"
)

func TestRoundTrips(t *testing.T) {
	tests := []struct {
		payload, n, outstanding int
	}{
		{0, 10, 1},
		{4096, 1000, 32},
		{131072, 100, 32},
		{4096, 5, 32}, // fewer requests than credits
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d/%d", tt.payload, tt.n, tt.outstanding), func(t *testing.T) {
			s, err := Listen(tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c, err := Dial(s.Addr(), tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Run(tt.n, tt.outstanding); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPayloadMismatch(t *testing.T) {
	s, err := Listen(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := Dial(s.Addr(), 512)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Run(1, 1); err == nil {
		t.Fatal("Run with a payload size the server does not send succeeded")
	}
}

// BenchmarkRoundTrip measures round trips per second and payload GB/s of the
// zero-work server at 32 outstanding requests: the yardstick for the
// session benchmarks in package bench.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{4096, 131072} {
		b.Run(fmt.Sprintf("%dKiB", size/1024), func(b *testing.B) {
			s, err := Listen(size)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c, err := Dial(s.Addr(), size)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(size))
			b.ResetTimer()
			if err := c.Run(b.N, 32); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "rt/s")
			b.ReportMetric(float64(b.N)*float64(size)/sec/1e9, "GB/s")
		})
	}
}
