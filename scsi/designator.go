package scsi

import (
	"encoding/binary"
	"fmt"
)

// CodeSet is the CODE SET of a designation descriptor.
type CodeSet uint8

// Code sets.
const (
	CodeSetBinary CodeSet = 1
	CodeSetASCII  CodeSet = 2
	CodeSetUTF8   CodeSet = 3
)

// String returns "BINARY", "ASCII", "UTF8" (libiscsi's spelling) or
// "unknown".
func (c CodeSet) String() string {
	switch c {
	case CodeSetBinary:
		return "BINARY"
	case CodeSetASCII:
		return "ASCII"
	case CodeSetUTF8:
		return "UTF8"
	}
	return "unknown"
}

// Association says what a designator names.
type Association uint8

// Associations.
const (
	AssocLogicalUnit  Association = 0
	AssocTargetPort   Association = 1
	AssocTargetDevice Association = 2
)

// String returns "LOGICAL_UNIT", "TARGET_PORT", "TARGET_DEVICE" or
// "unknown", as libiscsi spells them.
func (a Association) String() string {
	switch a {
	case AssocLogicalUnit:
		return "LOGICAL_UNIT"
	case AssocTargetPort:
		return "TARGET_PORT"
	case AssocTargetDevice:
		return "TARGET_DEVICE"
	}
	return "unknown"
}

// DesignatorType is the DESIGNATOR TYPE of a designation descriptor
// (SPC-4).
type DesignatorType uint8

// Designator types.
const (
	DesignatorVendorSpecific     DesignatorType = 0x0
	DesignatorT10VendorID        DesignatorType = 0x1
	DesignatorEUI64              DesignatorType = 0x2
	DesignatorNAA                DesignatorType = 0x3
	DesignatorRelativeTargetPort DesignatorType = 0x4
	DesignatorTargetPortGroup    DesignatorType = 0x5
	DesignatorLogicalUnitGroup   DesignatorType = 0x6
	DesignatorMD5LogicalUnitID   DesignatorType = 0x7
	DesignatorSCSINameString     DesignatorType = 0x8
	DesignatorProtocolSpecific   DesignatorType = 0x9 // SPC-4
	DesignatorUUID               DesignatorType = 0xa // SPC-5
)

// String returns the type as libiscsi spells it ("T10_VENDORT_ID" sic,
// "NAA", "SCSI_NAME_STRING", …) and "unknown" for the protocol-specific,
// UUID and reserved types, which libiscsi does not name.
func (t DesignatorType) String() string {
	switch t {
	case DesignatorVendorSpecific:
		return "VENDOR_SPECIFIC"
	case DesignatorT10VendorID:
		return "T10_VENDORT_ID"
	case DesignatorEUI64:
		return "EUI_64"
	case DesignatorNAA:
		return "NAA"
	case DesignatorRelativeTargetPort:
		return "RELATIVE_TARGET_PORT"
	case DesignatorTargetPortGroup:
		return "TARGET_PORT_GROUP"
	case DesignatorLogicalUnitGroup:
		return "LOGICAL_UNIT_GROUP"
	case DesignatorMD5LogicalUnitID:
		return "MD5_LOGICAL_UNIT_IDENTIFIER"
	case DesignatorSCSINameString:
		return "SCSI_NAME_STRING"
	}
	return "unknown"
}

// ProtocolID is a SCSI transport protocol identifier (SPC-4).
type ProtocolID uint8

// Protocol identifiers.
const (
	ProtocolFibreChannel ProtocolID = 0x0
	ProtocolParallelSCSI ProtocolID = 0x1
	ProtocolSSA          ProtocolID = 0x2
	ProtocolIEEE1394     ProtocolID = 0x3
	ProtocolRDMA         ProtocolID = 0x4 // SRP
	ProtocolISCSI        ProtocolID = 0x5
	ProtocolSAS          ProtocolID = 0x6
	ProtocolADT          ProtocolID = 0x7
	ProtocolATA          ProtocolID = 0x8
	ProtocolUAS          ProtocolID = 0x9
	ProtocolSOP          ProtocolID = 0xa
	ProtocolNone         ProtocolID = 0xf
)

// String returns the protocol as libiscsi spells it ("ISCSI",
// "FIBRE_CHANNEL", …) and "unknown" for UAS, SOP and the rest, which
// libiscsi does not name.
func (p ProtocolID) String() string {
	switch p {
	case ProtocolFibreChannel:
		return "FIBRE_CHANNEL"
	case ProtocolParallelSCSI:
		return "PARALLEL_SCSI"
	case ProtocolSSA:
		return "SSA"
	case ProtocolIEEE1394:
		return "IEEE_1394"
	case ProtocolRDMA:
		return "RDMA"
	case ProtocolISCSI:
		return "ISCSI"
	case ProtocolSAS:
		return "SAS"
	case ProtocolADT:
		return "ADT"
	case ProtocolATA:
		return "ATA"
	}
	return "unknown"
}

// Designator is one designation descriptor (SPC-4).
type Designator struct {
	// ProtocolID is meaningful only when PIV is set and Association is
	// a target port or target device.
	ProtocolID  ProtocolID
	CodeSet     CodeSet
	PIV         bool
	Association Association
	Type        DesignatorType
	// Value is the DESIGNATOR, DESIGNATOR LENGTH bytes; it aliases the
	// parsed buffer.
	Value []byte
}

// Text returns Value as a string up to its first NUL byte, which is how a
// SCSI name string (NUL terminated and padded) and ASCII designators read.
func (d *Designator) Text() string {
	for i, c := range d.Value {
		if c == 0 {
			return string(d.Value[:i])
		}
	}
	return string(d.Value)
}

// NAA formats (the top nibble of an NAA designator, SPC-4).
const (
	NAAIEEEExtended           = 0x2
	NAALocallyAssigned        = 0x3
	NAAIEEERegistered         = 0x5
	NAAIEEERegisteredExtended = 0x6
)

// NAAFormat returns the NAA field of an NAA designator and whether d is a
// well-formed one (8 bytes, or 16 for IEEE registered extended).
func (d *Designator) NAAFormat() (uint8, bool) {
	if d.Type != DesignatorNAA || len(d.Value) == 0 {
		return 0, false
	}
	naa := d.Value[0] >> 4
	switch naa {
	case NAAIEEEExtended, NAALocallyAssigned, NAAIEEERegistered:
		return naa, len(d.Value) == 8
	case NAAIEEERegisteredExtended:
		return naa, len(d.Value) == 16
	}
	return naa, false
}

// NAAName names an NAA format: "IEEE Extended", "Locally Assigned",
// "IEEE Registered", "IEEE Registered Extended" or "reserved".
func NAAName(naa uint8) string {
	switch naa {
	case NAAIEEEExtended:
		return "IEEE Extended"
	case NAALocallyAssigned:
		return "Locally Assigned"
	case NAAIEEERegistered:
		return "IEEE Registered"
	case NAAIEEERegisteredExtended:
		return "IEEE Registered Extended"
	}
	return "reserved"
}

// EUI64Format names an EUI-64 based designator by its length: "EUI-64",
// "EUI-64 based 12-byte" or "EUI-64 based 16-byte"; "" when d is not an
// EUI-64 designator of a valid length.
func (d *Designator) EUI64Format() string {
	if d.Type != DesignatorEUI64 {
		return ""
	}
	switch len(d.Value) {
	case 8:
		return "EUI-64"
	case 12:
		return "EUI-64 based 12-byte"
	case 16:
		return "EUI-64 based 16-byte"
	}
	return ""
}

// T10VendorID splits a T10 vendor ID designator into its 8-byte T10
// VENDOR IDENTIFICATION and the vendor specific identifier after it.
func (d *Designator) T10VendorID() (vendor string, specific []byte, ok bool) {
	if d.Type != DesignatorT10VendorID || len(d.Value) < 8 {
		return "", nil, false
	}
	return string(d.Value[:8]), d.Value[8:], true
}

// Number returns the 16-bit identifier of a relative target port, target
// port group or logical unit group designator (4 bytes, bytes 2-3).
func (d *Designator) Number() (uint16, bool) {
	switch d.Type {
	case DesignatorRelativeTargetPort, DesignatorTargetPortGroup, DesignatorLogicalUnitGroup:
		if len(d.Value) == 4 {
			return binary.BigEndian.Uint16(d.Value[2:4]), true
		}
	}
	return 0, false
}

// String formats the designator for logs: "NAA LOGICAL_UNIT 60000000…"
// for binary code sets, the text otherwise.
func (d *Designator) String() string {
	if d.CodeSet == CodeSetBinary {
		return fmt.Sprintf("%v %v %x", d.Type, d.Association, d.Value)
	}
	return fmt.Sprintf("%v %v %s", d.Type, d.Association, d.Text())
}

// DeviceIdentification is the Device Identification page (0x83, SPC-4).
type DeviceIdentification struct {
	VPDHeader
	// Designators in the order the page lists them. (libiscsi builds a
	// linked list by prepending, so iscsi-inq prints them in reverse:
	// its "DEVICE DESIGNATOR #0" is the page's last one.)
	Designators []Designator
}

// ParseDeviceIdentification decodes VPD page 0x83. A designator cut off by
// the end of the data is dropped and, if the page was not truncated, the
// error wraps ErrMalformed; the designators before it are returned.
func ParseDeviceIdentification(b []byte) (DeviceIdentification, error) {
	h, body, err := parseVPD(b, VPDDeviceIdentification)
	d := DeviceIdentification{VPDHeader: h}
	if err != nil {
		return d, err
	}
	d.Designators, err = ParseDesignators(body)
	if err != nil && h.Truncated {
		err = nil // cut by the allocation length, already reported
	}
	return d, err
}

// ParseDesignators decodes a list of designation descriptors. It stops at
// the first descriptor that does not fit in b and returns those before it
// with an error wrapping ErrMalformed.
func ParseDesignators(b []byte) ([]Designator, error) {
	var ds []Designator
	for len(b) > 0 {
		if len(b) < 4 {
			return ds, fmt.Errorf("%w: %d bytes left, a designation descriptor header is 4", ErrMalformed, len(b))
		}
		n := 4 + int(b[3])
		if n > len(b) {
			return ds, fmt.Errorf("%w: designator of %d bytes, %d left", ErrMalformed, b[3], len(b)-4)
		}
		ds = append(ds, Designator{
			ProtocolID:  ProtocolID(b[0] >> 4),
			CodeSet:     CodeSet(b[0] & 0x0f),
			PIV:         b[1]&0x80 != 0,
			Association: Association(b[1] >> 4 & 0x03),
			Type:        DesignatorType(b[1] & 0x0f),
			Value:       b[4:n:n],
		})
		b = b[n:]
	}
	return ds, nil
}
