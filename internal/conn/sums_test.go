package conn

import (
	"math/rand/v2"
	"testing"

	"github.com/iscsi-go/iscsi/digest"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
)

// randomVector returns n random bytes, and a vector over them cut into
// buffers of random lengths (so that pieces straddle buffers).
func randomVector(r *rand.Rand, n int) ([]byte, *iovector.Vector) {
	flat := make([]byte, n)
	for i := range flat {
		flat[i] = byte(r.Uint32())
	}
	v := iovector.New()
	for rest := flat; len(rest) > 0; {
		k := min(len(rest), 1+r.IntN(10000))
		v.Append(rest[:k])
		rest = rest[k:]
	}
	return flat, v
}

// TestDataCRCFromPieces: the digest of any range of a vector, combined
// from SumPieces wherever the range starts and ends, equals the checksum
// of those bytes; so does the one summed without pieces, or with pieces
// of another vector's length (not used).
func TestDataCRCFromPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 22))
	for _, size := range []int{1, 4095, 4096, 4097, 12288, 131072, 131072 + 512, 300000} {
		flat, v := randomVector(r, size)
		sums := SumPieces(nil, v)
		if want := (size + PieceSize - 1) / PieceSize; len(sums) != want {
			t.Fatalf("%d bytes: %d sums, want %d", size, len(sums), want)
		}
		for i, s := range sums {
			if want := digest.Checksum(flat[i*PieceSize : min((i+1)*PieceSize, size)]); s != want {
				t.Fatalf("%d bytes: piece %d sum %#08x, want %#08x", size, i, s, want)
			}
		}
		ranges := [][2]int{{0, size}, {0, 0}, {size, 0}}
		for range 40 {
			off := r.IntN(size + 1)
			ranges = append(ranges, [2]int{off, r.IntN(size - off + 1)})
			if a := r.IntN(size/PieceSize+1) * PieceSize; a < size {
				ranges = append(ranges, [2]int{a, min(size-a, r.IntN(4)*PieceSize+r.IntN(2)*512)})
			}
		}
		for _, rg := range ranges {
			off, n := rg[0], rg[1]
			want := digest.Checksum(flat[off : off+n])
			for _, s := range [][]uint32{sums, nil, sums[:len(sums)-1]} {
				if got := dataCRC(v, int64(off), n, s); got != want {
					t.Fatalf("%d bytes, range %d+%d, %d sums: %#08x, want %#08x", size, off, n, len(s), got, want)
				}
			}
		}
	}
}

// TestQueueVectorSums: Data-Out PDUs cut at arbitrary offsets, queued with
// the pieces' sums and data digests on, arrive with digests the receiver
// accepts and the caller's bytes.
func TestQueueVectorSums(t *testing.T) {
	a, b := tcpPair(t)
	d := pdu.Digests{Header: true, Data: true}
	a.SetDigests(d)
	b.SetDigests(d)
	b.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
	r := rand.New(rand.NewPCG(1, 2))
	flat, v := randomVector(r, 200000)
	sums := SumPieces(nil, v)
	cuts := []int{0, 1000, 4096, 8192 + 7, 70000, 131072, 199999, 200000}
	errc := make(chan error, 1)
	go func() {
		for i := 0; i+1 < len(cuts); i++ {
			off, n := cuts[i], cuts[i+1]-cuts[i]
			if err := a.QueueVectorSums(&pdu.DataOut{ITT: 9, BufferOffset: uint32(off)}, v, int64(off), n, sums); err != nil {
				errc <- err
				return
			}
		}
		errc <- a.Flush()
	}()
	for i := 0; i+1 < len(cuts); i++ {
		readDataOut(t, b, 9, flat[cuts[i]:cuts[i+1]])
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkDataCRC128K(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	_, v := randomVector(r, 128<<10)
	sums := SumPieces(nil, v)
	b.Run("sums", func(b *testing.B) {
		b.SetBytes(128 << 10)
		b.ReportAllocs()
		for b.Loop() {
			dataCRC(v, 0, 128<<10, sums)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(128 << 10)
		b.ReportAllocs()
		for b.Loop() {
			dataCRC(v, 0, 128<<10, nil)
		}
	})
	b.Run("SumPieces", func(b *testing.B) {
		b.SetBytes(128 << 10)
		b.ReportAllocs()
		dst := make([]uint32, 0, 32)
		for b.Loop() {
			dst = SumPieces(dst[:0], v)
		}
	})
}
