package scsi

import "encoding/binary"

// TestUnitReady builds TEST UNIT READY (SPC-4).
func TestUnitReady() CDB { return newCDB(OpTestUnitReady, 6) }

// Inquiry builds INQUIRY (SPC-4) for the standard INQUIRY data.
// SPC-4 asks for an allocation length of at least 5; 36 or more returns the
// vendor, product and revision, 96 everything a target is likely to send.
func Inquiry(allocLen uint16) CDB {
	c := newCDB(OpInquiry, 6)
	binary.BigEndian.PutUint16(c.b[3:5], allocLen)
	return c
}

// InquiryVPD builds INQUIRY with the EVPD bit set, asking for the vital
// product data page page (VPDSupportedPages, VPDDeviceIdentification, …).
func InquiryVPD(page uint8, allocLen uint16) CDB {
	c := newCDB(OpInquiry, 6)
	c.b[1] = 0x01 // EVPD
	c.b[2] = page
	binary.BigEndian.PutUint16(c.b[3:5], allocLen)
	return c
}

// ReadCapacity10 builds READ CAPACITY(10) (SBC-3). It returns 8 bytes.
func ReadCapacity10() CDB { return newCDB(OpReadCapacity10, 10) }

// ReadCapacity16 builds READ CAPACITY(16) (SBC-3), SERVICE ACTION IN(16)
// with service action 0x10. The answer is 32 bytes.
func ReadCapacity16(allocLen uint32) CDB {
	c := newCDB(OpServiceActionIn16, 16)
	c.b[1] = ServiceActionReadCapacity16
	binary.BigEndian.PutUint32(c.b[10:14], allocLen)
	return c
}

// ReportSelect is the SELECT REPORT field of REPORT LUNS.
type ReportSelect uint8

// SELECT REPORT values (SPC-4).
const (
	ReportAllLUNs               ReportSelect = 0x00 // logical units, no well-known LUs
	ReportWellKnownLUNs         ReportSelect = 0x01 // well-known logical units only
	ReportAllIncludingWellKnown ReportSelect = 0x02 // all logical units
)

// ReportLUNs builds REPORT LUNS (SPC-4). SPC-4 requires an allocation
// length of at least 16; targets (tgtd among them) answer a smaller one with
// CHECK CONDITION, ILLEGAL REQUEST.
func ReportLUNs(sel ReportSelect, allocLen uint32) CDB {
	c := newCDB(OpReportLUNs, 12)
	c.b[2] = byte(sel)
	binary.BigEndian.PutUint32(c.b[6:10], allocLen)
	return c
}

// Reserve6 builds RESERVE(6) (SPC-2; obsolete in SPC-4): reserve the
// logical unit for this I_T nexus. Persistent reservations replace it.
func Reserve6() CDB { return newCDB(OpReserve6, 6) }

// Release6 builds RELEASE(6) (SPC-2; obsolete in SPC-4).
func Release6() CDB { return newCDB(OpRelease6, 6) }

// ReportSupportedOpCodes builds REPORT SUPPORTED OPERATION CODES (SPC-4),
// MAINTENANCE IN service action 0x0c, with reporting options 000b: every
// command the logical unit supports (ParseSupportedOpCodes). With rctd
// each descriptor carries a command timeouts descriptor.
func ReportSupportedOpCodes(rctd bool, allocLen uint32) CDB {
	return rsoc(0, 0, 0, rctd, allocLen)
}

// ReportSupportedOpCode builds REPORT SUPPORTED OPERATION CODES with
// reporting options 001b: one command without service actions
// (ParseOneCommand).
func ReportSupportedOpCode(op OpCode, rctd bool, allocLen uint32) CDB {
	return rsoc(1, op, 0, rctd, allocLen)
}

// ReportSupportedServiceAction builds REPORT SUPPORTED OPERATION CODES
// with reporting options 010b: one command with its service action
// (ParseOneCommand).
func ReportSupportedServiceAction(op OpCode, sa uint16, rctd bool, allocLen uint32) CDB {
	return rsoc(2, op, sa, rctd, allocLen)
}

func rsoc(options uint8, op OpCode, sa uint16, rctd bool, allocLen uint32) CDB {
	c := newCDB(OpMaintenanceIn, 12)
	c.b[1] = ServiceActionReportSupportedOpCodes
	c.b[2] = options & 0x07
	c.setBit(2, 0x80, rctd)
	c.b[3] = byte(op)
	c.put16(4, sa)
	c.put32(6, allocLen)
	return c
}

// ReportTargetPortGroups builds REPORT TARGET PORT GROUPS (SPC-4),
// MAINTENANCE IN service action 0x0a. extended asks for the extended
// header format (PARAMETER DATA FORMAT 001b), which adds the implicit
// transition time; ParseTargetPortGroups reads both.
func ReportTargetPortGroups(extended bool, allocLen uint32) CDB {
	c := newCDB(OpMaintenanceIn, 12)
	c.b[1] = ServiceActionReportTargetPortGroups
	c.setBit(1, 0x20, extended)
	c.put32(6, allocLen)
	return c
}

// SetTargetPortGroups builds SET TARGET PORT GROUPS (SPC-4), MAINTENANCE
// OUT service action 0x0a: an explicit transition of target port groups
// to the states of the parameter list (AppendSetTargetPortGroups), of
// paramLen bytes.
func SetTargetPortGroups(paramLen uint32) CDB {
	c := newCDB(OpMaintenanceOut, 12)
	c.b[1] = ServiceActionSetTargetPortGroups
	c.put32(6, paramLen)
	return c
}
