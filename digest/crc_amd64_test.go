//go:build amd64 && !purego

package digest

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestAVX512Kernel calls the assembly directly for every length it accepts
// (multiples of 16 from 64) up to 4 KiB, so its one-accumulator path below
// 512 bytes, which Update does not reach, is tested too.
func TestAVX512Kernel(t *testing.T) {
	if !hasAVX512 {
		t.Skip("the CPU or OS lacks AVX-512 with VPCLMULQDQ")
	}
	r := rand.New(rand.NewPCG(1, 16))
	buf := randomBytes(r, 4096+64)
	for n := 64; n <= 4096; n += 16 {
		for _, off := range []int{0, 1, 7, 16, 63} {
			p := buf[off : off+n]
			init := r.Uint32()
			want := crc32.Update(init, castagnoliTable, p)
			if got := ^castagnoliAVX512(^init, p); got != want {
				t.Fatalf("castagnoliAVX512 of %d bytes at offset %d from %#08x = %#08x, hash/crc32 %#08x", n, off, init, got, want)
			}
		}
	}
}
