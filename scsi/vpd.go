package scsi

import (
	"encoding/binary"
	"fmt"
)

// VPD page codes (SPC-4, SBC-3).
const (
	VPDSupportedPages            = 0x00
	VPDUnitSerialNumber          = 0x80
	VPDDeviceIdentification      = 0x83
	VPDThirdPartyCopy            = 0x8f
	VPDBlockLimits               = 0xb0
	VPDBlockDeviceCharacteristic = 0xb1
	VPDLogicalBlockProvisioning  = 0xb2
)

// PageName returns a VPD page's name as libiscsi's
// scsi_inquiry_pagecode_to_str spells it ("SUPPORTED_VPD_PAGES",
// "UNIT_SERIAL_NUMBER", "DEVICE_IDENTIFICATION", "BLOCK_LIMITS",
// "BLOCK_DEVICE_CHARACTERISTICS", "LOGICAL_BLOCK_PROVISIONING"), or
// "unknown".
func PageName(page uint8) string {
	switch page {
	case VPDSupportedPages:
		return "SUPPORTED_VPD_PAGES"
	case VPDUnitSerialNumber:
		return "UNIT_SERIAL_NUMBER"
	case VPDDeviceIdentification:
		return "DEVICE_IDENTIFICATION"
	case VPDBlockLimits:
		return "BLOCK_LIMITS"
	case VPDBlockDeviceCharacteristic:
		return "BLOCK_DEVICE_CHARACTERISTICS"
	case VPDLogicalBlockProvisioning:
		return "LOGICAL_BLOCK_PROVISIONING"
	}
	return "unknown"
}

// VPDHeader is the 4-byte header every VPD page starts with.
type VPDHeader struct {
	Qualifier  Qualifier
	DeviceType DeviceType
	PageCode   uint8
	// PageLength is the PAGE LENGTH field: the page is PageLength+4
	// bytes long (see FullLength).
	PageLength uint16
	// Truncated is set when fewer than PageLength+4 bytes were given;
	// ask again with FullLength as the allocation length.
	Truncated bool
}

// FullLength returns the page's whole length as the device announced it.
func (h *VPDHeader) FullLength() int { return int(h.PageLength) + 4 }

// ParseVPDHeader decodes the header of a VPD page and returns it with the
// page's body: the bytes after the header, clipped to PAGE LENGTH. SPC-4
// makes PAGE LENGTH two bytes for every page (older pages had byte 2
// reserved, which is zero), so it is read as two bytes here.
func ParseVPDHeader(b []byte) (VPDHeader, []byte, error) {
	var h VPDHeader
	if len(b) < 4 {
		return h, nil, shortErr("VPD page", len(b), 4)
	}
	h.Qualifier = Qualifier(b[0] >> 5)
	h.DeviceType = DeviceType(b[0] & 0x1f)
	h.PageCode = b[1]
	h.PageLength = binary.BigEndian.Uint16(b[2:4])
	body := b[4:]
	if n := int(h.PageLength); len(body) > n {
		body = body[:n]
	} else if len(body) < n {
		h.Truncated = true
	}
	return h, body, nil
}

func parseVPD(b []byte, page uint8) (VPDHeader, []byte, error) {
	h, body, err := ParseVPDHeader(b)
	if err != nil {
		return h, nil, err
	}
	if h.PageCode != page {
		return h, nil, fmt.Errorf("%w: got page 0x%02x, want 0x%02x", ErrWrongPage, h.PageCode, page)
	}
	return h, body, nil
}

// SupportedPages is the Supported VPD Pages page (0x00, SPC-4).
type SupportedPages struct {
	VPDHeader
	Pages []uint8 // aliases the parsed buffer
}

// ParseSupportedPages decodes VPD page 0x00.
func ParseSupportedPages(b []byte) (SupportedPages, error) {
	h, body, err := parseVPD(b, VPDSupportedPages)
	return SupportedPages{VPDHeader: h, Pages: body}, err
}

// UnitSerialNumber is the Unit Serial Number page (0x80, SPC-4).
type UnitSerialNumber struct {
	VPDHeader
	// Serial is the PRODUCT SERIAL NUMBER as sent (ASCII, possibly
	// space padded; tgtd pads on the left).
	Serial string
}

// ParseUnitSerialNumber decodes VPD page 0x80.
func ParseUnitSerialNumber(b []byte) (UnitSerialNumber, error) {
	h, body, err := parseVPD(b, VPDUnitSerialNumber)
	return UnitSerialNumber{VPDHeader: h, Serial: string(body)}, err
}

// BlockLimits is the Block Limits page (0xb0, SBC-3; SBC-4).
// Lengths are in logical blocks; 0 means "not reported" or "no limit" as
// SBC defines for each field. Fields the page was too short to hold are 0.
type BlockLimits struct {
	VPDHeader
	WSNZ                         bool   // WRITE SAME with 0 blocks not supported
	MaxCompareAndWriteLength     uint8  // MAXIMUM COMPARE AND WRITE LENGTH
	OptimalTransferGranularity   uint16 // OPTIMAL TRANSFER LENGTH GRANULARITY
	MaxTransferLength            uint32 // MAXIMUM TRANSFER LENGTH
	OptimalTransferLength        uint32 // OPTIMAL TRANSFER LENGTH
	MaxPrefetchLength            uint32 // MAXIMUM PREFETCH (XDREAD XDWRITE) TRANSFER LENGTH
	MaxUnmapLBACount             uint32 // MAXIMUM UNMAP LBA COUNT
	MaxUnmapDescriptorCount      uint32 // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
	OptimalUnmapGranularity      uint32 // OPTIMAL UNMAP GRANULARITY
	UGAValid                     bool   // UNMAP GRANULARITY ALIGNMENT is valid
	UnmapGranularityAlignment    uint32 // UNMAP GRANULARITY ALIGNMENT (31 bits)
	MaxWriteSameLength           uint64 // MAXIMUM WRITE SAME LENGTH
	MaxAtomicTransferLength      uint32 // SBC-4
	AtomicAlignment              uint32 // SBC-4
	AtomicTransferGranularity    uint32 // SBC-4
	MaxAtomicTransferLengthBound uint32 // SBC-4: ... WITH ATOMIC BOUNDARY
	MaxAtomicBoundarySize        uint32 // SBC-4
}

// ParseBlockLimits decodes VPD page 0xb0. Early SBC-3 pages were 16 bytes
// long (page length 0x0c); what is present is decoded.
func ParseBlockLimits(b []byte) (BlockLimits, error) {
	h, body, err := parseVPD(b, VPDBlockLimits)
	l := BlockLimits{VPDHeader: h}
	if err != nil {
		return l, err
	}
	// Offsets below are of the whole page; p pads the body with zeros
	// so that absent fields read as 0.
	var p [64]byte
	copy(p[4:], body)
	l.WSNZ = p[4]&0x01 != 0
	l.MaxCompareAndWriteLength = p[5]
	l.OptimalTransferGranularity = binary.BigEndian.Uint16(p[6:])
	l.MaxTransferLength = binary.BigEndian.Uint32(p[8:])
	l.OptimalTransferLength = binary.BigEndian.Uint32(p[12:])
	l.MaxPrefetchLength = binary.BigEndian.Uint32(p[16:])
	l.MaxUnmapLBACount = binary.BigEndian.Uint32(p[20:])
	l.MaxUnmapDescriptorCount = binary.BigEndian.Uint32(p[24:])
	l.OptimalUnmapGranularity = binary.BigEndian.Uint32(p[28:])
	l.UGAValid = p[32]&0x80 != 0
	l.UnmapGranularityAlignment = binary.BigEndian.Uint32(p[32:]) & 0x7fffffff
	l.MaxWriteSameLength = binary.BigEndian.Uint64(p[36:])
	l.MaxAtomicTransferLength = binary.BigEndian.Uint32(p[44:])
	l.AtomicAlignment = binary.BigEndian.Uint32(p[48:])
	l.AtomicTransferGranularity = binary.BigEndian.Uint32(p[52:])
	l.MaxAtomicTransferLengthBound = binary.BigEndian.Uint32(p[56:])
	l.MaxAtomicBoundarySize = binary.BigEndian.Uint32(p[60:])
	return l, nil
}

// Rotation rates with a special meaning (SBC-3).
const (
	RotationNotReported = 0x0000
	RotationNonRotating = 0x0001 // solid state
)

// BlockDeviceCharacteristics is the Block Device Characteristics page
// (0xb1, SBC-3; SBC-4).
type BlockDeviceCharacteristics struct {
	VPDHeader
	// MediumRotationRate is in rpm (0x0401-0xfffe), or
	// RotationNotReported, or RotationNonRotating.
	MediumRotationRate uint16
	ProductType        uint8 // PRODUCT TYPE (0: not indicated; SBC-4)
	WABEREQ            uint8 // write after block erase required (2 bits)
	WACEREQ            uint8 // write after cryptographic erase required (2 bits)
	// NominalFormFactor: 0 not reported, 1 5.25", 2 3.5", 3 2.5",
	// 4 1.8", 5 less than 1.8".
	NominalFormFactor uint8
	Zoned             uint8 // ZONED (2 bits, SBC-4)
	FUAB              bool  // FUA behaviour of SYNCHRONIZE CACHE
	VBULS             bool  // verify byte check unmapped LBA supported
}

// ParseBlockDeviceCharacteristics decodes VPD page 0xb1.
func ParseBlockDeviceCharacteristics(b []byte) (BlockDeviceCharacteristics, error) {
	h, body, err := parseVPD(b, VPDBlockDeviceCharacteristic)
	c := BlockDeviceCharacteristics{VPDHeader: h}
	if err != nil {
		return c, err
	}
	var p [9]byte
	copy(p[4:], body)
	c.MediumRotationRate = binary.BigEndian.Uint16(p[4:])
	c.ProductType = p[6]
	c.WABEREQ = p[7] >> 6
	c.WACEREQ = p[7] >> 4 & 0x03
	c.NominalFormFactor = p[7] & 0x0f
	c.Zoned = p[8] >> 4 & 0x03
	c.FUAB = p[8]&0x02 != 0
	c.VBULS = p[8]&0x01 != 0
	return c, nil
}

// Provisioning types (SBC-4).
const (
	ProvisioningFull = 0 // fully provisioned (or not reported)
	ProvisioningRes  = 1 // resource provisioned
	ProvisioningThin = 2 // thin provisioned
)

// LogicalBlockProvisioning is the Logical Block Provisioning page (0xb2,
// SBC-3; SBC-4).
type LogicalBlockProvisioning struct {
	VPDHeader
	ThresholdExponent uint8
	LBPU              bool // UNMAP supported
	LBPWS             bool // WRITE SAME(16) with UNMAP supported
	LBPWS10           bool // WRITE SAME(10) with UNMAP supported
	// LBPRZ is the 3-bit field of SBC-4 (bits 4-2 of byte 5); SBC-3 had
	// one bit, bit 2, which is LBPRZ&1. libiscsi prints only that bit.
	LBPRZ               uint8
	ANCSup              bool  // ANC_SUP: anchored LBAs supported
	DP                  bool  // a provisioning group descriptor follows
	MinimumPercentage   uint8 // MINIMUM PERCENTAGE (5 bits, SBC-4)
	ProvisioningType    uint8 // ProvisioningFull, ProvisioningRes, ProvisioningThin
	ThresholdPercentage uint8 // THRESHOLD PERCENTAGE (SBC-4)
	// ProvisioningGroupDescriptor is the raw designation descriptor that
	// follows when DP is set (parse it with ParseDesignators). It
	// aliases the parsed buffer.
	ProvisioningGroupDescriptor []byte
}

// ParseLogicalBlockProvisioning decodes VPD page 0xb2.
func ParseLogicalBlockProvisioning(b []byte) (LogicalBlockProvisioning, error) {
	h, body, err := parseVPD(b, VPDLogicalBlockProvisioning)
	l := LogicalBlockProvisioning{VPDHeader: h}
	if err != nil {
		return l, err
	}
	var p [8]byte
	copy(p[4:], body)
	l.ThresholdExponent = p[4]
	l.LBPU = p[5]&0x80 != 0
	l.LBPWS = p[5]&0x40 != 0
	l.LBPWS10 = p[5]&0x20 != 0
	l.LBPRZ = p[5] >> 2 & 0x07
	l.ANCSup = p[5]&0x02 != 0
	l.DP = p[5]&0x01 != 0
	l.MinimumPercentage = p[6] >> 3
	l.ProvisioningType = p[6] & 0x07
	l.ThresholdPercentage = p[7]
	if l.DP && len(body) > 4 {
		l.ProvisioningGroupDescriptor = body[4:len(body):len(body)]
	}
	return l, nil
}
