package scsi

import (
	"encoding/binary"
	"fmt"
)

// The parameter list of EXTENDED COPY (LID1) (SPC-4): a 16-byte header,
// CSCD (copy source and copy destination) descriptors that name the
// devices, segment descriptors that say what to copy, and inline data.
// Only the descriptor types a block to block copy needs are encoded and
// decoded here: the Identification CSCD descriptor (0xE4) and the block
// device to block device segment descriptor (0x02).

// EXTENDED COPY descriptor type codes (SPC-4), as listed in the
// ImplementedDescriptorTypes of RECEIVE COPY RESULTS' operating
// parameters.
const (
	XCopySegmentBlockToBlock = 0x02 // block device to block device segment
	XCopyCSCDIdentification  = 0xe4 // Identification CSCD descriptor
)

// Sizes of the parts of an EXTENDED COPY (LID1) parameter list.
const (
	xcopyHeaderLen  = 16
	xcopyCSCDLen    = 32
	xcopySegmentLen = 28
	// MaxCSCDDesignator is the longest designator an Identification CSCD
	// descriptor holds.
	MaxCSCDDesignator = 20
)

// CSCDIdentification is an Identification CSCD descriptor (type 0xE4): a
// logical unit named by one of its designators (VPD page 0x83), for a
// block device with its block length.
type CSCDIdentification struct {
	DeviceType            uint8 // PERIPHERAL DEVICE TYPE (0: direct access block device)
	RelativeInitiatorPort uint16
	CodeSet               CodeSet
	Association           Association
	Type                  DesignatorType
	Designator            []byte // at most MaxCSCDDesignator bytes
	BlockLength           uint32 // DISK BLOCK LENGTH, 24 bits
}

// BlockSegment is a block device to block device segment descriptor
// (type 0x02): Blocks blocks from SourceLBA of CSCD descriptor Source to
// DestinationLBA of CSCD descriptor Destination (indexes into the CSCD
// list). Blocks counts blocks of the source, or of the destination with
// DC set.
type BlockSegment struct {
	Source, Destination       uint16
	DC                        bool
	Blocks                    uint16
	SourceLBA, DestinationLBA uint64
}

// ExtendedCopyParameters is an EXTENDED COPY (LID1) parameter list made of
// Identification CSCD descriptors and block to block segments.
type ExtendedCopyParameters struct {
	ListID uint8
	// NoListID sets LIST ID USAGE to 11b: the list identifier is not used
	// (the device must report SNLID in its operating parameters).
	NoListID bool
	Priority uint8 // 3 bits
	CSCDs    []CSCDIdentification
	Segments []BlockSegment
}

// AppendExtendedCopyParameters appends the parameter list p to dst.
func AppendExtendedCopyParameters(dst []byte, p *ExtendedCopyParameters) ([]byte, error) {
	if len(p.CSCDs)*xcopyCSCDLen > 0xffff {
		return dst, fmt.Errorf("%w: %d CSCD descriptors do not fit", ErrFieldRange, len(p.CSCDs))
	}
	for _, c := range p.CSCDs {
		if len(c.Designator) > MaxCSCDDesignator {
			return dst, fmt.Errorf("%w: a CSCD designator of %d bytes, at most %d fit", ErrFieldRange, len(c.Designator), MaxCSCDDesignator)
		}
		if c.BlockLength > 0xffffff {
			return dst, fmt.Errorf("%w: disk block length %d does not fit in 24 bits", ErrFieldRange, c.BlockLength)
		}
	}
	b1 := p.Priority & 0x07
	if p.NoListID {
		b1 |= 0x18
	}
	dst = append(dst, p.ListID, b1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.CSCDs)*xcopyCSCDLen))
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.Segments)*xcopySegmentLen))
	dst = binary.BigEndian.AppendUint32(dst, 0) // INLINE DATA LENGTH
	for _, c := range p.CSCDs {
		var d [xcopyCSCDLen]byte
		d[0] = XCopyCSCDIdentification
		d[1] = c.DeviceType & 0x1f // LU ID TYPE 00b: the designator
		binary.BigEndian.PutUint16(d[2:], c.RelativeInitiatorPort)
		d[4] = byte(c.CodeSet) & 0x0f
		d[5] = byte(c.Association)&0x03<<4 | byte(c.Type)&0x0f
		d[7] = byte(len(c.Designator))
		copy(d[8:28], c.Designator)
		d[29], d[30], d[31] = byte(c.BlockLength>>16), byte(c.BlockLength>>8), byte(c.BlockLength)
		dst = append(dst, d[:]...)
	}
	for _, s := range p.Segments {
		var d [xcopySegmentLen]byte
		d[0] = XCopySegmentBlockToBlock
		if s.DC {
			d[1] = 0x02
		}
		binary.BigEndian.PutUint16(d[2:], xcopySegmentLen-4)
		binary.BigEndian.PutUint16(d[4:], s.Source)
		binary.BigEndian.PutUint16(d[6:], s.Destination)
		binary.BigEndian.PutUint16(d[10:], s.Blocks)
		binary.BigEndian.PutUint64(d[12:], s.SourceLBA)
		binary.BigEndian.PutUint64(d[20:], s.DestinationLBA)
		dst = append(dst, d[:]...)
	}
	return dst, nil
}

// ParseExtendedCopyParameters decodes an EXTENDED COPY (LID1) parameter
// list, the data-out of EXTENDED COPY: what a target (or a test playing
// one) receives. Descriptors of other types than the two above, inline
// data, and lengths that disagree with the data are errors wrapping
// ErrMalformed.
func ParseExtendedCopyParameters(b []byte) (ExtendedCopyParameters, error) {
	var p ExtendedCopyParameters
	if len(b) < xcopyHeaderLen {
		return p, shortErr("EXTENDED COPY parameter list", len(b), xcopyHeaderLen)
	}
	p.ListID = b[0]
	p.NoListID = b[1]&0x18 == 0x18
	p.Priority = b[1] & 0x07
	cscdLen := int(binary.BigEndian.Uint16(b[2:]))
	segLen := int64(binary.BigEndian.Uint32(b[8:]))
	inline := int64(binary.BigEndian.Uint32(b[12:]))
	rest := int64(len(b) - xcopyHeaderLen)
	switch {
	case inline != 0:
		return p, fmt.Errorf("%w: %d bytes of inline data (not supported)", ErrMalformed, inline)
	case int64(cscdLen)+segLen > rest:
		return p, fmt.Errorf("%w: CSCD list of %d bytes and segment list of %d bytes, %d bytes follow the header", ErrMalformed, cscdLen, segLen, rest)
	case cscdLen%xcopyCSCDLen != 0:
		return p, fmt.Errorf("%w: CSCD descriptor list length %d is not a multiple of %d", ErrMalformed, cscdLen, xcopyCSCDLen)
	}
	for d := b[xcopyHeaderLen : xcopyHeaderLen+cscdLen]; len(d) > 0; d = d[xcopyCSCDLen:] {
		if d[0] != XCopyCSCDIdentification {
			return p, fmt.Errorf("%w: CSCD descriptor type 0x%02x (not supported)", ErrMalformed, d[0])
		}
		n := int(d[7])
		if n > MaxCSCDDesignator {
			return p, fmt.Errorf("%w: CSCD designator length %d, at most %d", ErrMalformed, n, MaxCSCDDesignator)
		}
		p.CSCDs = append(p.CSCDs, CSCDIdentification{
			DeviceType:            d[1] & 0x1f,
			RelativeInitiatorPort: binary.BigEndian.Uint16(d[2:]),
			CodeSet:               CodeSet(d[4] & 0x0f),
			Association:           Association(d[5] >> 4 & 0x03),
			Type:                  DesignatorType(d[5] & 0x0f),
			Designator:            d[8 : 8+n : 8+n],
			BlockLength:           uint32(d[29])<<16 | uint32(d[30])<<8 | uint32(d[31]),
		})
	}
	for d := b[xcopyHeaderLen+cscdLen : xcopyHeaderLen+int64(cscdLen)+segLen]; len(d) > 0; d = d[xcopySegmentLen:] {
		if len(d) < 4 || d[0] != XCopySegmentBlockToBlock || binary.BigEndian.Uint16(d[2:]) != xcopySegmentLen-4 || len(d) < xcopySegmentLen {
			return p, fmt.Errorf("%w: segment descriptor of type 0x%02x or length (only block to block, 24 bytes, is supported)", ErrMalformed, d[0])
		}
		p.Segments = append(p.Segments, BlockSegment{
			DC:             d[1]&0x02 != 0,
			Source:         binary.BigEndian.Uint16(d[4:]),
			Destination:    binary.BigEndian.Uint16(d[6:]),
			Blocks:         binary.BigEndian.Uint16(d[10:]),
			SourceLBA:      binary.BigEndian.Uint64(d[12:]),
			DestinationLBA: binary.BigEndian.Uint64(d[20:]),
		})
	}
	return p, nil
}
