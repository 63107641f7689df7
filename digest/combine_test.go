package digest

import (
	"math/rand/v2"
	"testing"
)

// TestCombine: the combined digest of two parts equals the checksum of the
// whole, on random data split at random points (both ends included), and
// through a Shifter made for the second part's length.
func TestCombine(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 5))
	buf := make([]byte, 70000)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	lens := []int{0, 1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 511, 512, 4095, 4096, 4097, 8192, 65536, 70000}
	for range 200 {
		lens = append(lens, r.IntN(len(buf)+1))
	}
	for _, n := range lens {
		whole := buf[:n]
		want := Checksum(whole)
		for _, cut := range []int{0, n, r.IntN(n + 1), r.IntN(n + 1)} {
			a, b := whole[:cut], whole[cut:]
			if got := Combine(Checksum(a), Checksum(b), int64(len(b))); got != want {
				t.Fatalf("Combine of %d+%d bytes = %#08x, Checksum %#08x", len(a), len(b), got, want)
			}
		}
	}
	for _, n := range []int64{1, 3, 4096, 8192, 65535} {
		s := NewShifter(n)
		if s.Len() != n {
			t.Fatalf("Len %d, want %d", s.Len(), n)
		}
		for range 20 {
			cut := r.IntN(len(buf) - int(n) + 1)
			a, b := buf[:cut], buf[cut:cut+int(n)]
			want := Checksum(buf[:cut+int(n)])
			if got := s.Combine(Checksum(a), Checksum(b)); got != want {
				t.Fatalf("Shifter(%d).Combine after %d bytes = %#08x, Checksum %#08x", n, cut, got, want)
			}
		}
	}
}

// TestCombineMany: a digest built from many 4 KiB pieces and a short last
// one, as the Data-Out path does, equals the checksum of the whole.
func TestCombineMany(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 300001)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	s := NewShifter(4096)
	var crc uint32
	off := 0
	for ; off+4096 <= len(buf); off += 4096 {
		crc = s.Combine(crc, Checksum(buf[off:off+4096]))
	}
	crc = Combine(crc, Checksum(buf[off:]), int64(len(buf)-off))
	if want := Checksum(buf); crc != want {
		t.Fatalf("pieces combined: %#08x, Checksum %#08x", crc, want)
	}
}

// FuzzCombine: for any data and split point, Combine of the parts'
// checksums is the checksum of the whole.
func FuzzCombine(f *testing.F) {
	f.Add([]byte(""), uint16(0))
	f.Add([]byte("a"), uint16(1))
	f.Add([]byte("123456789"), uint16(4))
	f.Add(make([]byte, 4100), uint16(4))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		c := int(cut)
		if c > len(data) {
			c = len(data)
		}
		a, b := data[:c], data[c:]
		want := Checksum(data)
		if got := Combine(Checksum(a), Checksum(b), int64(len(b))); got != want {
			t.Fatalf("Combine of %d+%d bytes = %#08x, Checksum %#08x", len(a), len(b), got, want)
		}
		if len(b) > 0 && len(b) <= 4096 { // a Shifter costs 33 Combines to make
			if got := NewShifter(int64(len(b))).Combine(Checksum(a), Checksum(b)); got != want {
				t.Fatalf("Shifter(%d).Combine = %#08x, Checksum %#08x", len(b), got, want)
			}
		}
	})
}

func BenchmarkShifterCombine(b *testing.B) {
	s := NewShifter(4096)
	crc := uint32(1)
	for b.Loop() {
		crc = s.Combine(crc, 0x12345678)
	}
	_ = crc
}

func BenchmarkCombine4K(b *testing.B) {
	crc := uint32(1)
	for b.Loop() {
		crc = Combine(crc, 0x12345678, 4096)
	}
	_ = crc
}
