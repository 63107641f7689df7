package scsi

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Capacity10 is the parameter data of READ CAPACITY(10) (SBC-3).
type Capacity10 struct {
	// ReturnedLBA is the last LBA. 0xffffffff means the capacity does
	// not fit: use READ CAPACITY(16).
	ReturnedLBA uint32
	BlockLength uint32 // bytes per logical block
}

// Blocks returns the number of logical blocks, ReturnedLBA+1.
func (c Capacity10) Blocks() uint64 { return uint64(c.ReturnedLBA) + 1 }

// Bytes returns the capacity in bytes.
func (c Capacity10) Bytes() uint64 { return c.Blocks() * uint64(c.BlockLength) }

// NeedsReadCapacity16 reports whether the device is too large for
// READ CAPACITY(10) to describe.
func (c Capacity10) NeedsReadCapacity16() bool { return c.ReturnedLBA == math.MaxUint32 }

// ParseReadCapacity10 decodes READ CAPACITY(10) data, exactly 8 bytes
// (more is ignored).
func ParseReadCapacity10(b []byte) (Capacity10, error) {
	if len(b) < 8 {
		return Capacity10{}, shortErr("READ CAPACITY(10) data", len(b), 8)
	}
	return Capacity10{
		ReturnedLBA: binary.BigEndian.Uint32(b[0:4]),
		BlockLength: binary.BigEndian.Uint32(b[4:8]),
	}, nil
}

// Capacity16 is the parameter data of READ CAPACITY(16) (SBC-3,
// SBC-4).
type Capacity16 struct {
	ReturnedLBA uint64 // the last LBA
	BlockLength uint32 // bytes per logical block
	RCBasis     uint8  // RC BASIS (SBC-4, 2 bits)
	PType       uint8  // P_TYPE, protection type - 1 (3 bits)
	ProtEn      bool   // PROT_EN, protection information enabled
	// PIExponent is P_I_EXPONENT: 2^PIExponent protection information
	// intervals per logical block.
	PIExponent uint8
	// LBPPBE is LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: a physical
	// block is 2^LBPPBE logical blocks.
	LBPPBE           uint8
	LBPME            bool   // logical block provisioning (thin) enabled
	LBPRZ            bool   // unmapped blocks read as zeros
	LowestAlignedLBA uint16 // LOWEST ALIGNED LOGICAL BLOCK ADDRESS (14 bits)
	// Truncated is set when the data stops before byte 16: the fields
	// after BlockLength were not present and are zero.
	Truncated bool
}

// Blocks returns the number of logical blocks, ReturnedLBA+1 (saturating
// at the largest uint64).
func (c Capacity16) Blocks() uint64 {
	if c.ReturnedLBA == math.MaxUint64 {
		return math.MaxUint64
	}
	return c.ReturnedLBA + 1
}

// Bytes returns the capacity in bytes, saturating at the largest uint64.
func (c Capacity16) Bytes() uint64 {
	hi, lo := bits.Mul64(c.Blocks(), uint64(c.BlockLength))
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// PhysicalBlockLength returns the bytes per physical block.
func (c Capacity16) PhysicalBlockLength() uint64 {
	return uint64(c.BlockLength) << min(c.LBPPBE, 15)
}

// ParseReadCapacity16 decodes READ CAPACITY(16) data. The answer is 32
// bytes; the returned LBA and block length (12 bytes) must be present,
// the rest is decoded when present.
func ParseReadCapacity16(b []byte) (Capacity16, error) {
	var c Capacity16
	if len(b) < 12 {
		return c, shortErr("READ CAPACITY(16) data", len(b), 12)
	}
	c.ReturnedLBA = binary.BigEndian.Uint64(b[0:8])
	c.BlockLength = binary.BigEndian.Uint32(b[8:12])
	if len(b) < 16 {
		c.Truncated = true
		return c, nil
	}
	c.RCBasis = b[12] >> 4 & 0x03
	c.PType = b[12] >> 1 & 0x07
	c.ProtEn = b[12]&0x01 != 0
	c.PIExponent = b[13] >> 4
	c.LBPPBE = b[13] & 0x0f
	c.LBPME = b[14]&0x80 != 0
	c.LBPRZ = b[14]&0x40 != 0
	c.LowestAlignedLBA = binary.BigEndian.Uint16(b[14:16]) & 0x3fff
	return c, nil
}
