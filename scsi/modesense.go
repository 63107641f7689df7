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
	// a direct access device; see ParseBlockDescriptors). It aliases the
	// parsed buffer.
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

// Page returns the first page with the code and subpage given.
func (m *ModeSense6Data) Page(code, subpage uint8) (ModePage, bool) {
	return findPage(m.Pages, code, subpage)
}

// ModeSense10Data is the parameter data of MODE SENSE(10) (SPC-4):
// the 8-byte mode parameter header, block descriptors and mode pages.
type ModeSense10Data struct {
	// ModeDataLength is the MODE DATA LENGTH field: the data is
	// ModeDataLength+2 bytes long (see FullLength).
	ModeDataLength uint16
	MediumType     uint8
	// DeviceSpecific is the DEVICE-SPECIFIC PARAMETER (see
	// WriteProtected and DPOFUA).
	DeviceSpecific uint8
	// LongLBA (LONGLBA) says the block descriptors are 16 bytes long.
	LongLBA bool
	// BlockDescriptors holds the raw block descriptors, aliasing the
	// parsed buffer (see ParseBlockDescriptors).
	BlockDescriptors []byte
	Pages            []ModePage
	// Truncated is set when the data stops before ModeDataLength+2.
	Truncated bool
}

// WriteProtected is the WP bit of a direct access device.
func (m *ModeSense10Data) WriteProtected() bool { return m.DeviceSpecific&0x80 != 0 }

// DPOFUA reports whether a direct access device supports DPO and FUA.
func (m *ModeSense10Data) DPOFUA() bool { return m.DeviceSpecific&0x10 != 0 }

// FullLength returns the whole length the device announced.
func (m *ModeSense10Data) FullLength() int { return int(m.ModeDataLength) + 2 }

// Page returns the first page with the code and subpage given.
func (m *ModeSense10Data) Page(code, subpage uint8) (ModePage, bool) {
	return findPage(m.Pages, code, subpage)
}

func findPage(pages []ModePage, code, subpage uint8) (ModePage, bool) {
	for _, p := range pages {
		if p.Code == code && p.Subpage == subpage {
			return p, true
		}
	}
	return ModePage{}, false
}

// ModePage is one mode page.
type ModePage struct {
	Code    uint8 // PAGE CODE (6 bits)
	Subpage uint8 // SUBPAGE CODE, 0 for a page_0 format page
	PS      bool  // parameters saveable
	SPF     bool  // sub-page format
	// Data is the page after its header (2 bytes, or 4 with SPF). In a
	// parsed page it aliases the parsed buffer.
	Data []byte
}

// AppendTo appends the page, header and data, to dst. The header is the
// page_0 format unless SPF is set or Subpage is not 0. Data longer than the
// page length field can hold (255 bytes, 65535 in sub-page format) is an
// error wrapping ErrFieldRange.
func (p ModePage) AppendTo(dst []byte) ([]byte, error) {
	b0 := p.Code & 0x3f
	if p.PS {
		b0 |= 0x80
	}
	if p.SPF || p.Subpage != 0 {
		if len(p.Data) > 0xffff {
			return dst, fmt.Errorf("%w: mode page 0x%02x/0x%02x has %d bytes, at most 65535 fit", ErrFieldRange, p.Code, p.Subpage, len(p.Data))
		}
		dst = append(dst, b0|0x40, p.Subpage)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Data)))
	} else {
		if len(p.Data) > 0xff {
			return dst, fmt.Errorf("%w: mode page 0x%02x has %d bytes, at most 255 fit", ErrFieldRange, p.Code, len(p.Data))
		}
		dst = append(dst, b0, byte(len(p.Data)))
	}
	return append(dst, p.Data...), nil
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
	var err error
	m.BlockDescriptors, m.Pages, err = parseModeBody(b[4:], int(b[3]), m.Truncated)
	return m, err
}

// ParseModeSense10 decodes MODE SENSE(10) data. It needs the 8-byte
// header; otherwise it behaves as ParseModeSense6.
func ParseModeSense10(b []byte) (ModeSense10Data, error) {
	var m ModeSense10Data
	if len(b) < 8 {
		return m, shortErr("MODE SENSE(10) data", len(b), 8)
	}
	m.ModeDataLength = binary.BigEndian.Uint16(b)
	m.MediumType = b[2]
	m.DeviceSpecific = b[3]
	m.LongLBA = b[4]&0x01 != 0
	if m.ModeDataLength < 6 {
		return m, fmt.Errorf("%w: MODE DATA LENGTH %d is shorter than the header", ErrMalformed, m.ModeDataLength)
	}
	if n := m.FullLength(); len(b) > n {
		b = b[:n]
	} else if len(b) < n {
		m.Truncated = true
	}
	var err error
	m.BlockDescriptors, m.Pages, err = parseModeBody(b[8:], int(binary.BigEndian.Uint16(b[6:8])), m.Truncated)
	return m, err
}

// parseModeBody splits what follows a mode parameter header into block
// descriptors (bdl bytes) and pages.
func parseModeBody(p []byte, bdl int, truncated bool) ([]byte, []ModePage, error) {
	if bdl > len(p) {
		if !truncated {
			return p, nil, fmt.Errorf("%w: block descriptor length %d, %d bytes left", ErrMalformed, bdl, len(p))
		}
		return p, nil, nil
	}
	bd := p[:bdl:bdl]
	p = p[bdl:]
	var pages []ModePage
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
			if truncated {
				return bd, pages, nil
			}
			return bd, pages, fmt.Errorf("%w: mode page 0x%02x runs past the data", ErrMalformed, pg.Code)
		}
		pg.Data = p[hdr : hdr+n : hdr+n]
		pages = append(pages, pg)
		p = p[hdr+n:]
	}
	return bd, pages, nil
}
