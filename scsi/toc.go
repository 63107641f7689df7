package scsi

import (
	"encoding/binary"
	"fmt"
)

// TOC is the formatted table of contents of READ TOC/PMA/ATIP, format
// TOCFormatted (MMC-6).
type TOC struct {
	// DataLength is the TOC DATA LENGTH: the data is DataLength+2 bytes
	// long.
	DataLength uint16
	FirstTrack uint8
	LastTrack  uint8
	Tracks     []TOCTrack
	// Truncated is set when the data stops before DataLength+2.
	Truncated bool
}

// TOCTrack is a track descriptor of the formatted TOC.
type TOCTrack struct {
	ADR     uint8 // 4 bits
	Control uint8 // 4 bits
	Track   uint8 // TRACK NUMBER (0xaa: the lead-out)
	// Address is the TRACK START ADDRESS: an LBA, or with MSF set in
	// the CDB, minute/second/frame in bytes 1-3 (see MSF).
	Address uint32
}

// MSF splits Address into minute, second and frame, for a TOC read with
// MSF set.
func (t TOCTrack) MSF() (m, s, f uint8) {
	return uint8(t.Address >> 16), uint8(t.Address >> 8), uint8(t.Address)
}

// ParseTOC decodes a formatted TOC. The 4-byte header must be present; a
// descriptor list that is not a whole number of 8-byte descriptors is an
// error wrapping ErrMalformed unless truncated.
func ParseTOC(b []byte) (TOC, error) {
	var t TOC
	if len(b) < 4 {
		return t, shortErr("READ TOC data", len(b), 4)
	}
	t.DataLength = binary.BigEndian.Uint16(b)
	t.FirstTrack, t.LastTrack = b[2], b[3]
	if t.DataLength < 2 {
		return t, fmt.Errorf("%w: TOC data length %d is shorter than the header", ErrMalformed, t.DataLength)
	}
	if full := int(t.DataLength) + 2; len(b) > full {
		b = b[:full]
	} else if len(b) < full {
		t.Truncated = true
	}
	p := b[4:]
	if len(p)%8 != 0 && !t.Truncated {
		return t, fmt.Errorf("%w: TOC descriptors of %d bytes, not a multiple of 8", ErrMalformed, len(p))
	}
	t.Tracks = make([]TOCTrack, len(p)/8)
	for i := range t.Tracks {
		d := p[8*i:]
		t.Tracks[i] = TOCTrack{ADR: d[1] >> 4, Control: d[1] & 0x0f, Track: d[2], Address: binary.BigEndian.Uint32(d[4:])}
	}
	return t, nil
}
