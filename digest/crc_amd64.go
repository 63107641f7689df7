//go:build amd64 && !purego

package digest

import (
	"hash/crc32"

	"golang.org/x/sys/cpu"
)

// castagnoliAVX512 updates the non-inverted crc with p, whose length is at
// least 64 and a multiple of 16, by folding 256 bytes at a time with
// VPCLMULQDQ on ZMM registers (crc_amd64.s).
//
//go:noescape
func castagnoliAVX512(crc uint32, p []byte) uint32

// hasAVX512 reports whether the CPU and OS can run castagnoliAVX512: the
// x/sys/cpu AVX-512 flags are only set when the OS saves the opmask and ZMM
// state (XCR0), and the kernel also uses VPCLMULQDQ, PCLMULQDQ and AVX.
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPCLMULQDQ &&
	cpu.X86.HasPCLMULQDQ && cpu.X86.HasAVX

// useAVX512 selects castagnoliAVX512 for long buffers. It is hasAVX512 but
// for tests, which clear it to run the hash/crc32 path on the same machine.
var useAVX512 = hasAVX512

// avx512Min is the length from which castagnoliAVX512 is used: it runs its
// 256-byte loop from 512 bytes on, where it was measured as fast as
// hash/crc32's three-way CRC32 instruction or faster, and twice as fast from
// 4 KiB (AMD EPYC Zen 4; docs/BENCHMARKS.md).
const avx512Min = 512

func update(crc uint32, p []byte) uint32 {
	if useAVX512 && len(p) >= avx512Min {
		n := len(p) &^ 15
		crc = ^castagnoliAVX512(^crc, p[:n])
		if n == len(p) {
			return crc
		}
		p = p[n:]
	}
	return crc32.Update(crc, table, p)
}
