package main

import (
	"math"
	"testing"
	"time"
)

func TestBucketOfRange(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 4095, 4096, 123456789, 1 << 40, math.MaxUint64 >> 1, math.MaxUint64}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, histBuckets)
		}
		low, width := bucketRange(i)
		if v < low || v-low >= width {
			t.Errorf("bucketOf(%d) = %d, whose range is [%d, %d+%d)", v, i, low, low, width)
		}
		if v >= 2*histSub && float64(width)/float64(low) > 1.0/histSub {
			t.Errorf("bucket %d of %d is %d wide at %d: coarser than 1/%d", i, v, width, low, histSub)
		}
	}
}

func TestBucketsContiguous(t *testing.T) {
	prevEnd := uint64(0)
	for i := 0; i < histBuckets; i++ {
		low, width := bucketRange(i)
		if low != prevEnd {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, low, prevEnd)
		}
		if bucketOf(low) != i || bucketOf(low+width-1) != i {
			t.Fatalf("bucket %d [%d, %d] maps back to %d and %d", i, low, low+width-1, bucketOf(low), bucketOf(low+width-1))
		}
		prevEnd = low + width
	}
}

func TestQuantile(t *testing.T) {
	// 1000 values: 1 µs .. 1000 µs.
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Microsecond},
		{0.99, 990 * time.Microsecond},
		{0.999, 999 * time.Microsecond},
		{1, 1000 * time.Microsecond},
		{0.001, 1 * time.Microsecond},
	}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		if diff := math.Abs(float64(got-tt.want)) / float64(tt.want); diff > 1.0/histSub {
			t.Errorf("quantile(%v) = %v, want %v within 1/%d", tt.q, got, tt.want, histSub)
		}
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}

func TestQuantileNeverAboveMax(t *testing.T) {
	var h histogram
	h.record(1000003 * time.Nanosecond)
	if got := h.quantile(0.999); got != 1000003*time.Nanosecond {
		t.Errorf("single-value quantile = %v, want the value itself", got)
	}
}

func TestMerge(t *testing.T) {
	var a, b histogram
	a.record(10 * time.Microsecond)
	b.record(20 * time.Microsecond)
	b.record(30 * time.Microsecond)
	a.merge(&b)
	if a.total != 3 || a.max != uint64(30*time.Microsecond) {
		t.Fatalf("merged total %d max %d", a.total, a.max)
	}
	if got := a.quantile(0.5); got < 19*time.Microsecond || got > 21*time.Microsecond {
		t.Errorf("merged median %v, want about 20µs", got)
	}
}

func TestRecordAllocatesNothing(t *testing.T) {
	h := new(histogram)
	if n := testing.AllocsPerRun(1000, func() { h.record(1234 * time.Nanosecond) }); n != 0 {
		t.Fatalf("record allocates %v times", n)
	}
}
