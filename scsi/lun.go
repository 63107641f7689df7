package scsi

import (
	"encoding/binary"
	"fmt"
)

// LUN is the 8-byte SAM LUN structure (SAM-5) read as a big-endian
// integer, the form of the LUN field of pdu.SCSICommand. LUN 1 in the
// peripheral device addressing method is 0x0001000000000000.
type LUN uint64

// AddressMethod is the ADDRESS METHOD of a LUN level (bits 7-6 of its
// first byte).
type AddressMethod uint8

// Address methods (SAM-5).
const (
	AddrPeripheral  AddressMethod = 0 // bus identifier and 8-bit LUN
	AddrFlatSpace   AddressMethod = 1 // 14-bit LUN
	AddrLogicalUnit AddressMethod = 2 // target, bus and 5-bit LUN
	AddrExtended    AddressMethod = 3 // well-known LUNs, extended flat space
)

// String names the method.
func (m AddressMethod) String() string {
	switch m {
	case AddrPeripheral:
		return "peripheral device"
	case AddrFlatSpace:
		return "flat space"
	case AddrLogicalUnit:
		return "logical unit"
	case AddrExtended:
		return "extended logical unit"
	}
	return fmt.Sprintf("address method %d", uint8(m))
}

// Extended address forms (byte 0 of the extended logical unit addressing
// method: LENGTH and EXTENDED ADDRESS METHOD, SAM-5).
const (
	extWellKnown       = 0xc1 // length 0 (2 bytes), method 1
	extFlatSpace       = 0xd2 // length 1 (4 bytes), method 2
	extLongFlatSpace   = 0xe2 // length 2 (6 bytes), method 2
	extLUNNotSpecified = 0xff // length 3 (8 bytes), method 0xf
	maxPeripheralLUN   = 0xff
	maxFlatSpaceLUN    = 0x3fff
)

// WellKnownReportLUNs is the REPORT LUNS well-known logical unit (W-LUN
// 0x01, extended address 0xc101).
const WellKnownReportLUNs LUN = 0xc101_0000_0000_0000

// ErrLUNFormat: a LUN in a reserved address form.
var ErrLUNFormat = fmt.Errorf("%w: reserved LUN address form", ErrMalformed)

// LUNAddress is the first level of a LUN structure, decoded.
type LUNAddress struct {
	Method AddressMethod
	// Bus is the BUS IDENTIFIER (peripheral) or BUS NUMBER (logical
	// unit method).
	Bus uint8
	// Target is the TARGET field of the logical unit method.
	Target uint8
	// Number is the logical unit number at this level: 8 bits
	// (peripheral), 14 (flat space), 5 (logical unit), 24 or 40
	// (extended flat space), or the W-LUN when WellKnown.
	Number uint64
	// WellKnown: a well-known logical unit (extended method).
	WellKnown bool
	// NotSpecified: the "logical unit not specified" form, all bytes 0xff.
	NotSpecified bool
	// MultiLevel: bytes after the first level are not zero, so the LUN
	// has more levels, which this package does not decode.
	MultiLevel bool
}

// EncodeLUN returns the single-level LUN structure for logical unit number
// n the way SAM-5 and the Linux initiator do: the peripheral device method
// (bus 0) for n < 256, the flat space method for n < 16384. Larger numbers
// are ErrLUNRange.
func EncodeLUN(n uint32) (LUN, error) {
	switch {
	case n <= maxPeripheralLUN:
		return LUN(n) << 48, nil
	case n <= maxFlatSpaceLUN:
		return LUN(0x4000|n) << 48, nil
	}
	return 0, fmt.Errorf("%w: %d needs more than the 14 bits of flat space addressing", ErrLUNRange, n)
}

// Decode decodes the first level of l. libiscsi does not decode LUNs: it
// keeps the first two bytes as a number (see FirstLevel). Reserved forms
// are errors wrapping ErrLUNFormat.
func (l LUN) Decode() (LUNAddress, error) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(l))
	a := LUNAddress{Method: AddressMethod(b[0] >> 6)}
	levelLen := 2
	switch a.Method {
	case AddrPeripheral:
		a.Bus = b[0] & 0x3f
		a.Number = uint64(b[1])
	case AddrFlatSpace:
		a.Number = uint64(b[0]&0x3f)<<8 | uint64(b[1])
	case AddrLogicalUnit:
		a.Target = b[0] & 0x3f
		a.Bus = b[1] >> 5
		a.Number = uint64(b[1] & 0x1f)
	case AddrExtended:
		switch b[0] {
		case extWellKnown:
			a.WellKnown = true
			a.Number = uint64(b[1])
		case extFlatSpace:
			levelLen = 4
			a.Number = uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		case extLongFlatSpace:
			levelLen = 6
			a.Number = uint64(binary.BigEndian.Uint32(b[2:6])) | uint64(b[1])<<32
		case extLUNNotSpecified:
			levelLen = 8
			a.NotSpecified = uint64(l) == 1<<64-1
			if !a.NotSpecified {
				return a, fmt.Errorf("%w: 0x%016x", ErrLUNFormat, uint64(l))
			}
		default:
			return a, fmt.Errorf("%w: extended address byte 0x%02x", ErrLUNFormat, b[0])
		}
	}
	for _, c := range b[levelLen:] {
		if c != 0 {
			a.MultiLevel = true
		}
	}
	return a, nil
}

// FirstLevel returns the LUN's first two bytes. This is what libiscsi
// calls the LUN: its REPORT LUNS parser keeps these 16 bits, address method
// included, and iscsi-ls prints them in decimal, so flat-space LUN 300
// (0x412c) appears as "Lun:16684".
func (l LUN) FirstLevel() uint16 { return uint16(l >> 48) }

// String returns the logical unit number in decimal for a single-level
// peripheral (bus 0) or flat space LUN, "W-LUN 0xNN" for a well-known one,
// and the 16 hex digits of the structure otherwise.
func (l LUN) String() string {
	a, err := l.Decode()
	if err == nil && !a.MultiLevel {
		switch {
		case a.Method == AddrPeripheral && a.Bus == 0, a.Method == AddrFlatSpace:
			return fmt.Sprint(a.Number)
		case a.WellKnown:
			return fmt.Sprintf("W-LUN 0x%02x", a.Number)
		}
	}
	return fmt.Sprintf("%016x", uint64(l))
}

// ReportLUNsData is the parameter data of REPORT LUNS (SPC-4).
type ReportLUNsData struct {
	// ListLength is the LUN LIST LENGTH: 8 times the number of LUNs the
	// target has.
	ListLength uint32
	// LUNs are the LUNs present in the data, in order.
	LUNs []LUN
	// Truncated is set when the data holds fewer LUNs than ListLength
	// announces: ask again with FullLength as the allocation length.
	Truncated bool
}

// FullLength returns the length of the whole answer as the target
// announced it: 8 + LUN LIST LENGTH.
func (r *ReportLUNsData) FullLength() int64 { return 8 + int64(r.ListLength) }

// ParseReportLUNs decodes REPORT LUNS parameter data. It needs the 4-byte
// LUN LIST LENGTH. A list length that is not a multiple of 8 returns the
// whole LUNs present with an error wrapping ErrMalformed.
func ParseReportLUNs(b []byte) (ReportLUNsData, error) {
	var r ReportLUNsData
	if len(b) < 4 {
		return r, shortErr("REPORT LUNS data", len(b), 4)
	}
	r.ListLength = binary.BigEndian.Uint32(b[0:4])
	var list []byte
	if len(b) > 8 {
		list = b[8:]
	}
	if uint64(len(list)) > uint64(r.ListLength) {
		list = list[:r.ListLength]
	} else if uint64(len(list)) < uint64(r.ListLength) || len(b) < 8 {
		r.Truncated = true
	}
	if n := len(list) / 8; n > 0 {
		r.LUNs = make([]LUN, n)
		for i := range r.LUNs {
			r.LUNs[i] = LUN(binary.BigEndian.Uint64(list[i*8:]))
		}
	}
	if r.ListLength%8 != 0 {
		return r, fmt.Errorf("%w: LUN LIST LENGTH %d is not a multiple of 8", ErrMalformed, r.ListLength)
	}
	return r, nil
}
