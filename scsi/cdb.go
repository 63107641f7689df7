package scsi

import (
	"encoding/binary"
	"fmt"
)

// OpCode is the operation code, byte 0 of a CDB.
type OpCode uint8

// Operation codes of the commands this package builds.
const (
	OpTestUnitReady      OpCode = 0x00
	OpRequestSense       OpCode = 0x03
	OpInquiry            OpCode = 0x12
	OpModeSense6         OpCode = 0x1a
	OpReadCapacity10     OpCode = 0x25
	OpRead10             OpCode = 0x28
	OpWrite10            OpCode = 0x2a
	OpSynchronizeCache10 OpCode = 0x35
	OpRead16             OpCode = 0x88
	OpWrite16            OpCode = 0x8a
	OpSynchronizeCache16 OpCode = 0x91
	OpServiceActionIn16  OpCode = 0x9e
	OpReportLUNs         OpCode = 0xa0
)

// ServiceActionReadCapacity16 is the SERVICE ACTION IN(16) service action of
// READ CAPACITY(16).
const ServiceActionReadCapacity16 = 0x10

var opNames = map[OpCode]string{
	OpTestUnitReady:      "TEST UNIT READY",
	OpRequestSense:       "REQUEST SENSE",
	OpInquiry:            "INQUIRY",
	OpModeSense6:         "MODE SENSE(6)",
	OpReadCapacity10:     "READ CAPACITY(10)",
	OpRead10:             "READ(10)",
	OpWrite10:            "WRITE(10)",
	OpSynchronizeCache10: "SYNCHRONIZE CACHE(10)",
	OpRead16:             "READ(16)",
	OpWrite16:            "WRITE(16)",
	OpSynchronizeCache16: "SYNCHRONIZE CACHE(16)",
	OpServiceActionIn16:  "SERVICE ACTION IN(16)",
	OpReportLUNs:         "REPORT LUNS",
}

// String returns the command's name, or "OPCODE 0xNN" for codes this package
// does not know.
func (o OpCode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("OPCODE 0x%02x", uint8(o))
}

// CDB is a command descriptor block of up to 16 bytes. The zero value is an
// empty CDB. Builders return it by value; it holds no pointers, so building
// one never allocates.
type CDB struct {
	b [16]byte
	n uint8
}

// Len returns the CDB's length in bytes (6, 10, 12 or 16).
func (c *CDB) Len() int { return int(c.n) }

// Bytes returns the CDB's bytes. The slice aliases c.
func (c *CDB) Bytes() []byte { return c.b[:c.n] }

// Array returns the CDB zero-padded to 16 bytes, the form of the CDB field of
// an iSCSI SCSI Command PDU.
func (c CDB) Array() [16]byte { return c.b }

// OpCode returns byte 0 of the CDB.
func (c *CDB) OpCode() OpCode { return OpCode(c.b[0]) }

// String names the command and shows its bytes in hex, for traces.
func (c CDB) String() string {
	return fmt.Sprintf("%v [% x]", OpCode(c.b[0]), c.b[:c.n])
}

func newCDB(op OpCode, n uint8) CDB {
	var c CDB
	c.b[0] = byte(op)
	c.n = n
	return c
}

// RWFlags are the cache control bits of READ and WRITE (byte 1 of the CDB).
type RWFlags uint8

const (
	// DPO (disable page out): the data need not be kept in the cache.
	DPO RWFlags = 0x10
	// FUA (force unit access): read from or write to the medium, not only
	// the cache.
	FUA RWFlags = 0x08
)

const rwFlagMask = DPO | FUA

// Limits of the 10-byte READ and WRITE CDBs.
const (
	MaxLBA10    = 1<<32 - 1 // highest LBA that READ(10)/WRITE(10) can address
	MaxBlocks10 = 1<<16 - 1 // most blocks READ(10)/WRITE(10) can transfer
)

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

func rw10(op OpCode, lba uint32, blocks uint16, f RWFlags) CDB {
	c := newCDB(op, 10)
	c.b[1] = byte(f & rwFlagMask)
	binary.BigEndian.PutUint32(c.b[2:6], lba)
	binary.BigEndian.PutUint16(c.b[7:9], blocks)
	return c
}

func rw16(op OpCode, lba uint64, blocks uint32, f RWFlags) CDB {
	c := newCDB(op, 16)
	c.b[1] = byte(f & rwFlagMask)
	binary.BigEndian.PutUint64(c.b[2:10], lba)
	binary.BigEndian.PutUint32(c.b[10:14], blocks)
	return c
}

// Read10 builds READ(10) (SBC-3): blocks logical blocks from lba.
func Read10(lba uint32, blocks uint16, f RWFlags) CDB { return rw10(OpRead10, lba, blocks, f) }

// Read16 builds READ(16) (SBC-3).
func Read16(lba uint64, blocks uint32, f RWFlags) CDB { return rw16(OpRead16, lba, blocks, f) }

// Write10 builds WRITE(10) (SBC-3).
func Write10(lba uint32, blocks uint16, f RWFlags) CDB { return rw10(OpWrite10, lba, blocks, f) }

// Write16 builds WRITE(16) (SBC-3).
func Write16(lba uint64, blocks uint32, f RWFlags) CDB { return rw16(OpWrite16, lba, blocks, f) }

// fits10 reports whether a transfer can be described by a 10-byte CDB. The
// whole range, not only its start, must lie below 2^32 so that every LBA the
// command touches is addressable by READ(10).
func fits10(lba uint64, blocks uint32) bool {
	return blocks <= MaxBlocks10 && lba <= MaxLBA10 && uint64(blocks) <= MaxLBA10+1-lba
}

// Read builds READ(10) when the LBA range lies below 2^32 and blocks is at
// most 65535, READ(16) otherwise. Every SBC device supports READ(10); READ(16)
// is needed above 2 TiB with 512-byte blocks.
func Read(lba uint64, blocks uint32, f RWFlags) CDB {
	if fits10(lba, blocks) {
		return rw10(OpRead10, uint32(lba), uint16(blocks), f)
	}
	return rw16(OpRead16, lba, blocks, f)
}

// Write is Read's counterpart: WRITE(10) when it fits, WRITE(16) otherwise.
func Write(lba uint64, blocks uint32, f RWFlags) CDB {
	if fits10(lba, blocks) {
		return rw10(OpWrite10, uint32(lba), uint16(blocks), f)
	}
	return rw16(OpWrite16, lba, blocks, f)
}

// SynchronizeCache10 builds SYNCHRONIZE CACHE(10) (SBC-3). blocks == 0
// means from lba to the end of the medium; lba 0 and blocks 0 flush all.
// With immed the target answers before the flush completes.
func SynchronizeCache10(lba uint32, blocks uint16, immed bool) CDB {
	c := newCDB(OpSynchronizeCache10, 10)
	if immed {
		c.b[1] = 0x02
	}
	binary.BigEndian.PutUint32(c.b[2:6], lba)
	binary.BigEndian.PutUint16(c.b[7:9], blocks)
	return c
}

// SynchronizeCache16 builds SYNCHRONIZE CACHE(16) (SBC-3).
func SynchronizeCache16(lba uint64, blocks uint32, immed bool) CDB {
	c := newCDB(OpSynchronizeCache16, 16)
	if immed {
		c.b[1] = 0x02
	}
	binary.BigEndian.PutUint64(c.b[2:10], lba)
	binary.BigEndian.PutUint32(c.b[10:14], blocks)
	return c
}

// PageControl is the PC field of MODE SENSE.
type PageControl uint8

// PC values (SPC-4).
const (
	PageCurrent    PageControl = 0
	PageChangeable PageControl = 1
	PageDefault    PageControl = 2
	PageSaved      PageControl = 3
)

// ModePageAll asks MODE SENSE for every mode page (with sub-page 0x00, every
// page without sub-pages; with 0xff, every page and sub-page).
const ModePageAll = 0x3f

// ModeSense6 builds MODE SENSE(6) (SPC-4). dbd disables block
// descriptors; page is 6 bits, pc 2 bits.
func ModeSense6(dbd bool, pc PageControl, page, subpage, allocLen uint8) CDB {
	c := newCDB(OpModeSense6, 6)
	if dbd {
		c.b[1] = 0x08
	}
	c.b[2] = byte(pc&0x3)<<6 | page&0x3f
	c.b[3] = subpage
	c.b[4] = allocLen
	return c
}
