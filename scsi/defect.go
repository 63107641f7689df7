package scsi

import "encoding/binary"

// DefectData is the parameter data of READ DEFECT DATA (SBC-3): the header
// and the raw address descriptors, whose layout Format gives.
type DefectData struct {
	PListValid bool  // PLISTV: the primary list is included
	GListValid bool  // GLISTV: the grown list is included
	Format     uint8 // DEFECT LIST FORMAT (3 bits; DefectShortBlock, ...)
	Generation uint16
	// ListLength is the DEFECT LIST LENGTH: bytes of address descriptors
	// the device has.
	ListLength uint32
	// Descriptors are the address descriptors present, aliasing the
	// parsed buffer.
	Descriptors []byte
	// Truncated is set when fewer than ListLength descriptor bytes were
	// given.
	Truncated bool
}

func (d *DefectData) body(p []byte) {
	if int64(len(p)) > int64(d.ListLength) {
		p = p[:d.ListLength]
	} else if int64(len(p)) < int64(d.ListLength) {
		d.Truncated = true
	}
	d.Descriptors = p
}

// ParseDefectData10 decodes READ DEFECT DATA(10) data; the 4-byte header
// must be present.
func ParseDefectData10(b []byte) (DefectData, error) {
	var d DefectData
	if len(b) < 4 {
		return d, shortErr("READ DEFECT DATA(10) data", len(b), 4)
	}
	d.PListValid, d.GListValid, d.Format = b[1]&0x10 != 0, b[1]&0x08 != 0, b[1]&0x07
	d.ListLength = uint32(binary.BigEndian.Uint16(b[2:]))
	d.body(b[4:])
	return d, nil
}

// ParseDefectData12 decodes READ DEFECT DATA(12) data; the 8-byte header
// must be present.
func ParseDefectData12(b []byte) (DefectData, error) {
	var d DefectData
	if len(b) < 8 {
		return d, shortErr("READ DEFECT DATA(12) data", len(b), 8)
	}
	d.PListValid, d.GListValid, d.Format = b[1]&0x10 != 0, b[1]&0x08 != 0, b[1]&0x07
	d.Generation = binary.BigEndian.Uint16(b[2:])
	d.ListLength = binary.BigEndian.Uint32(b[4:])
	d.body(b[8:])
	return d, nil
}
