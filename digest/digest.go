// Package digest computes the CRC32C (Castagnoli) checksum that iSCSI uses for
// its optional header and data digests (RFC 7143 section 13.1), and encodes it
// in its 4-byte wire form.
//
// Which implementation runs where:
//
//   - On amd64 with AVX-512 (AVX512F, AVX512VL, VPCLMULQDQ, and an OS that
//     saves the ZMM state, as golang.org/x/sys/cpu reports at init), a
//     buffer of 512 bytes or more is summed by an assembly folding loop:
//     carry-less multiplication (VPCLMULQDQ) on four ZMM accumulators, 256
//     bytes per iteration, adapted from github.com/klauspost/crc32. Its last
//     len%16 bytes, and every shorter buffer, go to hash/crc32. On an AMD
//     EPYC (Zen 4) this is about twice hash/crc32's speed from 4 KiB on
//     (docs/BENCHMARKS.md).
//   - Everywhere else, and with the purego build tag, hash/crc32 with the
//     Castagnoli polynomial does it all; the standard library uses the CPU's
//     CRC32 instruction where there is one (SSE4.2 on amd64, the CRC
//     extension on arm64).
//
// Both give the same checksums; nothing here allocates.
//
// A digest is computed incrementally with Update, so a data segment, its zero
// padding and the buffers of a scatter-gather vector can be covered without
// copying them into one slice:
//
//	crc := digest.Update(0, seg1)
//	crc = digest.Update(crc, seg2)
//	crc = digest.UpdatePadding(crc, len(seg1)+len(seg2))
//	dst = digest.Append(dst, crc)
//
// On the wire the digest is sent least significant byte first (RFC 7143
// section 13.1 and the examples of RFC 3720 appendix B.4).
package digest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Size is the length in bytes of a digest on the wire.
const Size = 4

// table is the Castagnoli table. crc32.MakeTable returns the package's shared
// table for this polynomial, which is what selects the hardware path.
var table = crc32.MakeTable(crc32.Castagnoli)

// zeros supplies the padding bytes for UpdatePadding.
var zeros [3]byte

// Checksum returns the CRC32C of b.
func Checksum(b []byte) uint32 {
	return update(0, b)
}

// Update returns the CRC32C of the bytes already summed into crc followed by
// b. Update(0, b) equals Checksum(b), and Update(Update(0, a), b) equals the
// checksum of a and b concatenated.
func Update(crc uint32, b []byte) uint32 {
	return update(crc, b)
}

// UpdatePadding adds to crc the zero bytes that pad a data segment of
// segmentLen bytes to a multiple of 4, as the data digest covers them.
// It returns crc unchanged when segmentLen is already a multiple of 4.
func UpdatePadding(crc uint32, segmentLen int) uint32 {
	return crc32.Update(crc, table, zeros[:(4-segmentLen&3)&3])
}

// Append appends the wire form of crc (least significant byte first) to dst
// and returns the extended slice.
func Append(dst []byte, crc uint32) []byte {
	return binary.LittleEndian.AppendUint32(dst, crc)
}

// Put writes the wire form of crc into b[:Size]. It panics if len(b) < Size.
func Put(b []byte, crc uint32) {
	binary.LittleEndian.PutUint32(b, crc)
}

// Get decodes a digest from the first Size bytes of b, the wire form written
// by Append. It panics if len(b) < Size, like binary.LittleEndian.Uint32; use
// Verify for bytes of unknown length.
func Get(b []byte) uint32 {
	return binary.LittleEndian.Uint32(b)
}

// ErrMismatch is the error that a digest received from the peer does not
// match the one computed over the bytes received. A *MismatchError matches it
// with errors.Is.
var ErrMismatch = errors.New("digest: CRC32C mismatch")

// ErrShort is returned by Verify when fewer than Size bytes are given.
var ErrShort = errors.New("digest: fewer than 4 bytes")

// MismatchError reports a digest that failed to verify, with both values.
type MismatchError struct {
	Computed uint32 // the CRC32C computed over the received bytes
	Received uint32 // the CRC32C the peer sent
}

// Error implements error.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("digest: CRC32C mismatch: computed %#08x, received %#08x", e.Computed, e.Received)
}

// Is reports whether target is ErrMismatch.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// Verify checks that the first Size bytes of wire hold the wire form of
// computed. It returns nil when they do, an error wrapping ErrShort when wire
// is too short, and a *MismatchError otherwise. It allocates only on failure.
func Verify(wire []byte, computed uint32) error {
	if len(wire) < Size {
		return fmt.Errorf("%w: got %d", ErrShort, len(wire))
	}
	if got := Get(wire); got != computed {
		return &MismatchError{Computed: computed, Received: got}
	}
	return nil
}
