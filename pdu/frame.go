package pdu

import (
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/digest"
)

// Digests says which digests a connection negotiated.
type Digests struct {
	Header bool
	Data   bool
}

// AppendHeader appends m's BHS, the AHS ahs (already padded: see
// AppendCommandAHS) and, when hd, the header digest. The BHS's
// DataSegmentLength is set to dataLen and its TotalAHSLength to len(ahs)/4,
// whatever m says. It allocates nothing when dst has room.
func AppendHeader(dst []byte, m Message, ahs []byte, dataLen int, hd bool) []byte {
	if len(ahs)%4 != 0 || len(ahs) > MaxAHSLength || dataLen < 0 || dataLen > MaxDataSegmentLength {
		panic("pdu: AppendHeader: AHS not padded, or a length out of range")
	}
	start := len(dst)
	dst = append(dst, zeroBHS[:]...)
	b := (*BHS)(dst[start : start+BHSLen])
	m.Encode(b)
	b[4] = byte(len(ahs) / 4)
	b.setDataSegmentLength(uint32(dataLen))
	dst = append(dst, ahs...)
	if hd {
		dst = digest.Append(dst, digest.Checksum(dst[start:]))
	}
	return dst
}

var zeroBHS BHS

// AppendData appends a data segment, its padding and, when dd and data is not
// empty, the data digest.
func AppendData(dst []byte, data []byte, dd bool) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = append(dst, data...)
	dst = appendPad(dst, len(data))
	if dd {
		crc := digest.Update(0, data)
		crc = digest.UpdatePadding(crc, len(data))
		dst = digest.Append(dst, crc)
	}
	return dst
}

// Append appends a whole PDU: m's header with ahs, then data. See AppendHeader.
func Append(dst []byte, m Message, ahs, data []byte, d Digests) []byte {
	dst = AppendHeader(dst, m, ahs, len(data), d.Header)
	return AppendData(dst, data, d.Data)
}

// PadLen returns the number of padding bytes after a data segment of n bytes.
func PadLen(n int) int { return Pad4(n) - n }

// Padding returns the zero padding for a data segment of n bytes.
func Padding(n int) []byte { return zeros[:PadLen(n)] }

// Errors of Limits.Check.
var (
	ErrDataSegmentTooLong = errors.New("pdu: data segment longer than allowed")
	ErrAHSTooLong         = errors.New("pdu: AHS longer than allowed")
)

// Limits bounds what a receiver accepts before it reads anything after the BHS.
type Limits struct {
	// MaxDataSegmentLength is the longest data segment accepted: the
	// MaxRecvDataSegmentLength we declared.
	MaxDataSegmentLength int
	// MaxAHSLength is the longest AHS area accepted; 0 means none.
	MaxAHSLength int
}

// Check returns an error when b announces more than l allows.
func (l Limits) Check(b *BHS) error {
	if n := b.DataSegmentLength(); n > l.MaxDataSegmentLength {
		return fmt.Errorf("%w: %v announces %d bytes, limit %d", ErrDataSegmentTooLong, b.Opcode(), n, l.MaxDataSegmentLength)
	}
	if n := b.TotalAHSLength(); n > l.MaxAHSLength {
		return fmt.Errorf("%w: %v announces %d bytes of AHS, limit %d", ErrAHSTooLong, b.Opcode(), n, l.MaxAHSLength)
	}
	return nil
}

// WireLength returns the total length on the wire of the PDU whose BHS is b.
func (b *BHS) WireLength(d Digests) int {
	n := BHSLen + b.TotalAHSLength()
	if d.Header {
		n += digest.Size
	}
	if dl := b.DataSegmentLength(); dl > 0 {
		n += Pad4(dl)
		if d.Data {
			n += digest.Size
		}
	}
	return n
}
