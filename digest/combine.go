package digest

// Combining digests: the CRC32C of a concatenation from the CRC32C of its
// parts. CRC32C is linear over GF(2): appending len2 bytes to a message
// multiplies its CRC register by x^(8*len2) modulo the polynomial, a fixed
// 32×32 bit matrix, and the pre- and post-inversion cancel out, so
//
//	Checksum(a ‖ b) = M^len(b) · Checksum(a) ⊕ Checksum(b).
//
// Combine builds M^len2 by repeated squaring of the one-bit operator, as
// zlib's crc32_combine first did (the GF(2) matrix method): about a
// thousand operations per squaring, a dozen squarings for a few KiB. A
// Shifter precomputes one length's matrix as four 256-entry tables, so that
// combining with a part of that length is four table lookups.

// castagnoli is the reversed CRC32C polynomial.
const castagnoli = 0x82f63b78

// gf2Times returns mat · vec over GF(2): the XOR of the columns of mat
// whose bit is set in vec.
func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

// gf2Square sets square to mat · mat.
func gf2Square(square, mat *[32]uint32) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}

// Combine returns the CRC32C of a ‖ b from crc1 = Checksum(a),
// crc2 = Checksum(b) and len2 = len(b). A len2 of zero or less returns
// crc1 (b is empty).
func Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	// odd: the operator for one zero bit.
	odd[0] = castagnoli
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	// Each pass squares once more (one zero byte first, then two, four...)
	// and applies the operator for each bit set in len2.
	for {
		gf2Square(&even, &odd)
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

// A Shifter combines digests with a part of one fixed length: Combine for
// that len2, with the matrix precomputed as tables (4 KiB). It is
// read-only after NewShifter and safe for concurrent use.
type Shifter struct {
	n int64
	t [4][256]uint32
}

// NewShifter returns the Shifter for parts of n bytes (n > 0).
func NewShifter(n int64) *Shifter {
	s := &Shifter{n: n}
	var col [32]uint32 // col[j]: the operator applied to bit j
	for j := range col {
		col[j] = Combine(1<<j, 0, n)
	}
	for k := range s.t {
		for b := 1; b < 256; b++ {
			var v uint32
			for bit := range 8 {
				if b&(1<<bit) != 0 {
					v ^= col[8*k+bit]
				}
			}
			s.t[k][b] = v
		}
	}
	return s
}

// Len returns the part length the Shifter was made for.
func (s *Shifter) Len() int64 { return s.n }

// Combine returns the CRC32C of a ‖ b from crc1 = Checksum(a) and
// crc2 = Checksum(b), where len(b) is s.Len().
func (s *Shifter) Combine(crc1, crc2 uint32) uint32 {
	return s.t[0][crc1&0xff] ^ s.t[1][crc1>>8&0xff] ^ s.t[2][crc1>>16&0xff] ^ s.t[3][crc1>>24] ^ crc2
}
