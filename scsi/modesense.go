package scsi

import (
	"encoding/binary"
	"fmt"
)

// ModeSense6Data is the parameter data of MODE SENSE(6) (SPC-4): the
// 4-byte mode parameter header, block descriptors and mode pages.
type ModeSense6Data struct {
	// ModeDataLength is the MODE DATA LENGTH field: the data is
	// ModeDataLength+1 bytes long (see FullLength).
	ModeDataLength uint8
	MediumType     uint8
	// DeviceSpecific is the DEVICE-SPECIFIC PARAMETER; for a direct
	// access device WriteProtected and DPOFUA decode it.
	DeviceSpecific uint8
	// BlockDescriptors holds the raw block descriptors (8 bytes each for
	// a direct access device). It aliases the parsed buffer.
	BlockDescriptors []byte
	// Pages are the mode pages present, in order.
	Pages []ModePage
	// Truncated is set when the data stops before ModeDataLength+1.
	Truncated bool
}

// WriteProtected is the WP bit of a direct access device: the medium is
// read only (tgtd sets it for a LUN with readonly=1).
func (m *ModeSense6Data) WriteProtected() bool { return m.DeviceSpecific&0x80 != 0 }

// DPOFUA reports whether a direct access device supports the DPO and FUA
// bits.
func (m *ModeSense6Data) DPOFUA() bool { return m.DeviceSpecific&0x10 != 0 }

// FullLength returns the whole length the device announced.
func (m *ModeSense6Data) FullLength() int { return int(m.ModeDataLength) + 1 }

// ModePage is one mode page.
type ModePage struct {
	Code    uint8 // PAGE CODE (6 bits)
	Subpage uint8 // SUBPAGE CODE, 0 for a page_0 format page
	PS      bool  // parameters saveable
	SPF     bool  // sub-page format
	Data    []byte
}

// ParseModeSense6 decodes MODE SENSE(6) data. It needs the 4-byte header.
// A page cut off by the end of the data is dropped; if the data was not
// truncated, the error wraps ErrMalformed.
func ParseModeSense6(b []byte) (ModeSense6Data, error) {
	var m ModeSense6Data
	if len(b) < 4 {
		return m, shortErr("MODE SENSE(6) data", len(b), 4)
	}
	m.ModeDataLength = b[0]
	m.MediumType = b[1]
	m.DeviceSpecific = b[2]
	if m.ModeDataLength < 3 {
		return m, fmt.Errorf("%w: MODE DATA LENGTH %d is shorter than the header", ErrMalformed, m.ModeDataLength)
	}
	if n := m.FullLength(); len(b) > n {
		b = b[:n]
	} else if len(b) < n {
		m.Truncated = true
	}
	p := b[4:]
	bdl := int(b[3])
	if bdl > len(p) {
		m.BlockDescriptors = p
		if !m.Truncated {
			return m, fmt.Errorf("%w: block descriptor length %d, %d bytes left", ErrMalformed, bdl, len(p))
		}
		return m, nil
	}
	m.BlockDescriptors = p[:bdl:bdl]
	p = p[bdl:]
	for len(p) > 0 {
		pg := ModePage{Code: p[0] & 0x3f, PS: p[0]&0x80 != 0, SPF: p[0]&0x40 != 0}
		hdr, n := 2, 0
		if pg.SPF {
			hdr = 4
		}
		if len(p) >= hdr {
			if pg.SPF {
				pg.Subpage = p[1]
				n = int(binary.BigEndian.Uint16(p[2:4]))
			} else {
				n = int(p[1])
			}
		}
		if len(p) < hdr || hdr+n > len(p) {
			if m.Truncated {
				return m, nil
			}
			return m, fmt.Errorf("%w: mode page 0x%02x runs past the data", ErrMalformed, pg.Code)
		}
		pg.Data = p[hdr : hdr+n : hdr+n]
		m.Pages = append(m.Pages, pg)
		p = p[hdr+n:]
	}
	return m, nil
}
