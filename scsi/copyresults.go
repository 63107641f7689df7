package scsi

import "encoding/binary"

// CopyOperatingParameters is the parameter data of RECEIVE COPY RESULTS,
// OPERATING PARAMETERS (SPC-4): the limits of EXTENDED COPY (LID1).
type CopyOperatingParameters struct {
	AvailableData               uint32 // AVAILABLE DATA: the data is AvailableData+4 bytes
	SNLID                       bool   // supports no list identifier
	MaxCSCDDescriptorCount      uint16 // MAXIMUM CSCD (target) DESCRIPTOR COUNT
	MaxSegmentDescriptorCount   uint16
	MaxDescriptorListLength     uint32
	MaxSegmentLength            uint32
	MaxInlineDataLength         uint32
	HeldDataLimit               uint32
	MaxStreamDeviceTransferSize uint32
	TotalConcurrentCopies       uint16
	MaxConcurrentCopies         uint8
	DataSegmentGranularity      uint8 // log2 of bytes
	InlineDataGranularity       uint8 // log2 of bytes
	HeldDataGranularity         uint8 // log2 of bytes
	// ImplementedDescriptorTypes lists the descriptor type codes
	// implemented, aliasing the parsed buffer.
	ImplementedDescriptorTypes []byte
	// Truncated is set when the data stops inside the list of
	// implemented descriptor types.
	Truncated bool
}

// ParseCopyOperatingParameters decodes OPERATING PARAMETERS data. The 44
// bytes up to the IMPLEMENTED DESCRIPTOR LIST LENGTH must be present.
func ParseCopyOperatingParameters(b []byte) (CopyOperatingParameters, error) {
	var o CopyOperatingParameters
	if len(b) < 44 {
		return o, shortErr("RECEIVE COPY RESULTS operating parameters", len(b), 44)
	}
	o.AvailableData = binary.BigEndian.Uint32(b)
	o.SNLID = b[4]&0x01 != 0
	o.MaxCSCDDescriptorCount = binary.BigEndian.Uint16(b[8:])
	o.MaxSegmentDescriptorCount = binary.BigEndian.Uint16(b[10:])
	o.MaxDescriptorListLength = binary.BigEndian.Uint32(b[12:])
	o.MaxSegmentLength = binary.BigEndian.Uint32(b[16:])
	o.MaxInlineDataLength = binary.BigEndian.Uint32(b[20:])
	o.HeldDataLimit = binary.BigEndian.Uint32(b[24:])
	o.MaxStreamDeviceTransferSize = binary.BigEndian.Uint32(b[28:])
	o.TotalConcurrentCopies = binary.BigEndian.Uint16(b[34:])
	o.MaxConcurrentCopies = b[36]
	o.DataSegmentGranularity = b[37]
	o.InlineDataGranularity = b[38]
	o.HeldDataGranularity = b[39]
	n := int(b[43])
	p := b[44:]
	if n > len(p) {
		o.Truncated = true
		n = len(p)
	}
	o.ImplementedDescriptorTypes = p[:n:n]
	return o, nil
}

// CopyStatus is the parameter data of RECEIVE COPY RESULTS, COPY STATUS
// (SPC-4).
type CopyStatus struct {
	AvailableData      uint32
	HDD                bool  // held data discarded
	CopyManagerStatus  uint8 // 7 bits: 0 in progress, 1 done, 2 failed, ...
	SegmentsProcessed  uint16
	TransferCountUnits uint8 // 0 bytes, 1 KiB, 2 MiB, ... (power of 2^10)
	TransferCount      uint32
}

// ParseCopyStatus decodes COPY STATUS data, 12 bytes.
func ParseCopyStatus(b []byte) (CopyStatus, error) {
	if len(b) < 12 {
		return CopyStatus{}, shortErr("RECEIVE COPY RESULTS copy status", len(b), 12)
	}
	return CopyStatus{
		AvailableData:      binary.BigEndian.Uint32(b),
		HDD:                b[4]&0x80 != 0,
		CopyManagerStatus:  b[4] & 0x7f,
		SegmentsProcessed:  binary.BigEndian.Uint16(b[5:]),
		TransferCountUnits: b[7],
		TransferCount:      binary.BigEndian.Uint32(b[8:]),
	}, nil
}
