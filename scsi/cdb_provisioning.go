package scsi

import (
	"encoding/binary"
	"fmt"
)

// WriteSameFlags is byte 1 of WRITE SAME(10) and WRITE SAME(16): the
// WRPROTECT field (bits 7-5, see WriteSameProtect) and the bits below.
type WriteSameFlags uint8

// WRITE SAME bits (SBC-3, 5.43; NDOB from SBC-4).
const (
	// WriteSameAnchor (ANCHOR) with WriteSameUnmap anchors the blocks
	// instead of deallocating them.
	WriteSameAnchor WriteSameFlags = 0x10
	// WriteSameUnmap (UNMAP) asks the device to unmap the blocks when the
	// data is zeros (or the provisioning initialization pattern).
	WriteSameUnmap WriteSameFlags = 0x08
	// WriteSameNDOB (NDOB, no data-out buffer; WRITE SAME(16) only): the
	// command carries no data and the blocks are written with zeros.
	// WriteSame10 drops it.
	WriteSameNDOB WriteSameFlags = 0x01
)

// WriteSameProtect returns the WRPROTECT field (0-7) as WriteSameFlags.
func WriteSameProtect(p uint8) WriteSameFlags { return WriteSameFlags(p&7) << 5 }

// WriteSame10 builds WRITE SAME(10) (SBC-3): one block of data
// written to blocks blocks from lba (0 blocks: to the end of the medium,
// where the device allows it). group is the GROUP NUMBER (5 bits).
func WriteSame10(lba uint32, blocks uint16, f WriteSameFlags, group uint8) CDB {
	c := newCDB(OpWriteSame10, 10)
	c.b[1] = byte(f) & 0xf8
	c.put32(2, lba)
	c.b[6] = group & 0x1f
	c.put16(7, blocks)
	return c
}

// WriteSame16 builds WRITE SAME(16) (SBC-3). With WriteSameNDOB the
// command has no data-out buffer.
func WriteSame16(lba uint64, blocks uint32, f WriteSameFlags, group uint8) CDB {
	c := newCDB(OpWriteSame16, 16)
	c.b[1] = byte(f) & 0xf9
	c.put64(2, lba)
	c.put32(10, blocks)
	c.b[14] = group & 0x1f
	return c
}

// Unmap builds UNMAP (SBC-3). paramLen is the length of the
// parameter list that follows as data-out (UnmapParametersLen); anchor
// asks for anchored instead of deallocated blocks. group is the GROUP
// NUMBER (5 bits).
func Unmap(anchor bool, group uint8, paramLen uint16) CDB {
	c := newCDB(OpUnmap, 10)
	c.setBit(1, 0x01, anchor)
	c.b[6] = group & 0x1f
	c.put16(7, paramLen)
	return c
}

// UnmapDescriptor is one UNMAP block descriptor: Blocks logical blocks from
// LBA.
type UnmapDescriptor struct {
	LBA    uint64
	Blocks uint32
}

// MaxUnmapDescriptors is the most block descriptors one UNMAP parameter list
// can carry: its length must fit the 16-bit PARAMETER LIST LENGTH of the
// CDB. A device may accept fewer (BlockLimits.MaxUnmapDescriptorCount).
const MaxUnmapDescriptors = (1<<16 - 1 - 8) / 16

// UnmapParametersLen returns the length of an UNMAP parameter list of n
// block descriptors: an 8-byte header and 16 bytes per descriptor.
func UnmapParametersLen(n int) int { return 8 + 16*n }

// AppendUnmapParameters appends the UNMAP parameter list (SBC-3)
// of the descriptors d to dst and returns the extended slice. With a dst of
// capacity UnmapParametersLen(len(d)) it does not allocate. More than
// MaxUnmapDescriptors descriptors is an error wrapping ErrFieldRange.
func AppendUnmapParameters(dst []byte, d []UnmapDescriptor) ([]byte, error) {
	if len(d) > MaxUnmapDescriptors {
		return dst, fmt.Errorf("%w: %d UNMAP descriptors, at most %d fit", ErrFieldRange, len(d), MaxUnmapDescriptors)
	}
	n := 16 * len(d)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n+6)) // UNMAP DATA LENGTH
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))   // BLOCK DESCRIPTOR DATA LENGTH
	dst = append(dst, 0, 0, 0, 0)
	for _, x := range d {
		dst = binary.BigEndian.AppendUint64(dst, x.LBA)
		dst = binary.BigEndian.AppendUint32(dst, x.Blocks)
		dst = append(dst, 0, 0, 0, 0)
	}
	return dst, nil
}

// ParseUnmapParameters decodes an UNMAP parameter list, the data-out of
// UNMAP: what a target (or a test playing one) receives. The block
// descriptors wholly inside the data and the BLOCK DESCRIPTOR DATA LENGTH
// are returned; a length that points beyond the data wraps ErrMalformed.
func ParseUnmapParameters(b []byte) ([]UnmapDescriptor, error) {
	if len(b) < 8 {
		return nil, shortErr("UNMAP parameter list", len(b), 8)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if 8+n > len(b) {
		return nil, fmt.Errorf("%w: UNMAP block descriptor data length %d, %d bytes follow the header", ErrMalformed, n, len(b)-8)
	}
	if n%16 != 0 {
		return nil, fmt.Errorf("%w: UNMAP block descriptor data length %d is not a multiple of 16", ErrMalformed, n)
	}
	d := make([]UnmapDescriptor, n/16)
	for i := range d {
		p := b[8+16*i:]
		d[i] = UnmapDescriptor{LBA: binary.BigEndian.Uint64(p), Blocks: binary.BigEndian.Uint32(p[8:])}
	}
	return d, nil
}

// GetLBAStatus builds GET LBA STATUS (SBC-3), SERVICE ACTION IN(16)
// with service action 0x12: the provisioning status of the blocks from lba
// on. The answer is an 8-byte header and 16 bytes per descriptor.
func GetLBAStatus(lba uint64, allocLen uint32) CDB {
	c := newCDB(OpServiceActionIn16, 16)
	c.b[1] = ServiceActionGetLBAStatus
	c.put64(2, lba)
	c.put32(10, allocLen)
	return c
}

// ProvisioningStatus is the PROVISIONING STATUS of an LBA status
// descriptor.
type ProvisioningStatus uint8

// Provisioning status values (SBC-3; LBAMappedOrUnknown from SBC-4).
const (
	LBAMapped          ProvisioningStatus = 0 // mapped (or unknown, SBC-3)
	LBADeallocated     ProvisioningStatus = 1
	LBAAnchored        ProvisioningStatus = 2
	LBAMappedOrUnknown ProvisioningStatus = 3
)

// String names the status: "MAPPED", "DEALLOCATED", "ANCHORED",
// "MAPPED OR UNKNOWN", or "PROVISIONING STATUS n".
func (s ProvisioningStatus) String() string {
	switch s {
	case LBAMapped:
		return "MAPPED"
	case LBADeallocated:
		return "DEALLOCATED"
	case LBAAnchored:
		return "ANCHORED"
	case LBAMappedOrUnknown:
		return "MAPPED OR UNKNOWN"
	}
	return fmt.Sprintf("PROVISIONING STATUS %d", uint8(s))
}

// LBAStatusDescriptor is one LBA status descriptor: Blocks blocks from LBA
// share a provisioning status.
type LBAStatusDescriptor struct {
	LBA              uint64
	Blocks           uint32
	Status           ProvisioningStatus // 4 bits
	AdditionalStatus uint8              // ADDITIONAL STATUS (SBC-4)
}

// LBAStatus is the parameter data of GET LBA STATUS (SBC-3).
type LBAStatus struct {
	// ParameterDataLength is the PARAMETER DATA LENGTH field: the data
	// is ParameterDataLength+4 bytes long (see FullLength).
	ParameterDataLength uint32
	Descriptors         []LBAStatusDescriptor
	// Truncated is set when the data stops before FullLength; the
	// descriptors wholly present are decoded.
	Truncated bool
}

// FullLength returns the length the device announced.
func (l *LBAStatus) FullLength() int64 { return int64(l.ParameterDataLength) + 4 }

// ParseLBAStatus decodes GET LBA STATUS data. The 8-byte header must be
// present. A descriptor list that is not a whole number of 16-byte
// descriptors is an error wrapping ErrMalformed, unless the data was
// truncated.
func ParseLBAStatus(b []byte) (LBAStatus, error) {
	var l LBAStatus
	if len(b) < 8 {
		return l, shortErr("GET LBA STATUS data", len(b), 8)
	}
	l.ParameterDataLength = binary.BigEndian.Uint32(b)
	if l.ParameterDataLength < 4 {
		return l, fmt.Errorf("%w: GET LBA STATUS parameter data length %d is shorter than the header", ErrMalformed, l.ParameterDataLength)
	}
	if full := l.FullLength(); int64(len(b)) > full {
		b = b[:full]
	} else if int64(len(b)) < full {
		l.Truncated = true
	}
	p := b[8:]
	if len(p)%16 != 0 && !l.Truncated {
		return l, fmt.Errorf("%w: GET LBA STATUS descriptor list of %d bytes is not a multiple of 16", ErrMalformed, len(p))
	}
	l.Descriptors = make([]LBAStatusDescriptor, len(p)/16)
	for i := range l.Descriptors {
		d := p[16*i:]
		l.Descriptors[i] = LBAStatusDescriptor{
			LBA:              binary.BigEndian.Uint64(d),
			Blocks:           binary.BigEndian.Uint32(d[8:]),
			Status:           ProvisioningStatus(d[12] & 0x0f),
			AdditionalStatus: d[13],
		}
	}
	return l, nil
}
