package pdu

import (
	"encoding/binary"
	"fmt"
)

// BHSLen is the length of the Basic Header Segment.
const BHSLen = 48

// BHS is the Basic Header Segment of a PDU.
type BHS [BHSLen]byte

// Opcode is the PDU opcode (the low 6 bits of byte 0).
type Opcode uint8

// Initiator opcodes (RFC 7143 §11.1.1).
const (
	OpNOPOut      Opcode = 0x00
	OpSCSICommand Opcode = 0x01
	OpTaskMgmtReq Opcode = 0x02
	OpLoginReq    Opcode = 0x03
	OpTextReq     Opcode = 0x04
	OpDataOut     Opcode = 0x05
	OpLogoutReq   Opcode = 0x06
	OpSNACKReq    Opcode = 0x10
)

// Target opcodes (RFC 7143 §11.1.1).
const (
	OpNOPIn        Opcode = 0x20
	OpSCSIResponse Opcode = 0x21
	OpTaskMgmtResp Opcode = 0x22
	OpLoginResp    Opcode = 0x23
	OpTextResp     Opcode = 0x24
	OpDataIn       Opcode = 0x25
	OpLogoutResp   Opcode = 0x26
	OpR2T          Opcode = 0x31
	OpAsyncMsg     Opcode = 0x32
	OpReject       Opcode = 0x3f
)

var opNames = [64]string{
	OpNOPOut: "NOP-Out", OpSCSICommand: "SCSI Command", OpTaskMgmtReq: "Task Management Request",
	OpLoginReq: "Login Request", OpTextReq: "Text Request", OpDataOut: "SCSI Data-Out",
	OpLogoutReq: "Logout Request", OpSNACKReq: "SNACK Request",
	OpNOPIn: "NOP-In", OpSCSIResponse: "SCSI Response", OpTaskMgmtResp: "Task Management Response",
	OpLoginResp: "Login Response", OpTextResp: "Text Response", OpDataIn: "SCSI Data-In",
	OpLogoutResp: "Logout Response", OpR2T: "R2T", OpAsyncMsg: "Asynchronous Message", OpReject: "Reject",
}

func (o Opcode) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("opcode 0x%02x", uint8(o))
}

// Known reports whether o is an opcode defined by RFC 7143.
func (o Opcode) Known() bool { return int(o) < len(opNames) && opNames[o] != "" }

// FromTarget reports whether o is sent by targets (bit 5 set).
func (o Opcode) FromTarget() bool { return o&0x20 != 0 }

// ReservedITT is the Initiator Task Tag value 0xffffffff, used where no task is meant.
const ReservedITT uint32 = 0xffffffff

// Common BHS flag bits.
const (
	flagImmediate = 0x40 // byte 0
	flagFinal     = 0x80 // byte 1
)

// Opcode returns the opcode.
func (b *BHS) Opcode() Opcode { return Opcode(b[0] & 0x3f) }

// Immediate reports the I bit.
func (b *BHS) Immediate() bool { return b[0]&flagImmediate != 0 }

// Final reports the F bit.
func (b *BHS) Final() bool { return b[1]&flagFinal != 0 }

// TotalAHSLength returns the length in bytes of the AHS that follow the BHS.
func (b *BHS) TotalAHSLength() int { return int(b[4]) * 4 }

// DataSegmentLength returns the length of the data segment, padding excluded.
func (b *BHS) DataSegmentLength() int {
	return int(b[5])<<16 | int(b[6])<<8 | int(b[7])
}

// LUN returns bytes 8..15 (the LUN field, for PDUs that have one).
func (b *BHS) LUN() uint64 { return binary.BigEndian.Uint64(b[8:16]) }

// ITT returns the Initiator Task Tag.
func (b *BHS) ITT() uint32 { return binary.BigEndian.Uint32(b[16:20]) }

// setCommon writes byte 0 and the lengths; the rest of the header is zeroed.
func (b *BHS) reset(op Opcode, immediate bool) {
	*b = BHS{}
	b[0] = byte(op)
	if immediate {
		b[0] |= flagImmediate
	}
}

func (b *BHS) setDataSegmentLength(n uint32) {
	b[5], b[6], b[7] = byte(n>>16), byte(n>>8), byte(n)
}

func (b *BHS) u16(off int) uint16       { return binary.BigEndian.Uint16(b[off:]) }
func (b *BHS) u32(off int) uint32       { return binary.BigEndian.Uint32(b[off:]) }
func (b *BHS) u64(off int) uint64       { return binary.BigEndian.Uint64(b[off:]) }
func (b *BHS) put16(off int, v uint16)  { binary.BigEndian.PutUint16(b[off:], v) }
func (b *BHS) put32(off int, v uint32)  { binary.BigEndian.PutUint32(b[off:], v) }
func (b *BHS) put64(off int, v uint64)  { binary.BigEndian.PutUint64(b[off:], v) }
func (b *BHS) bit(off int, m byte) bool { return b[off]&m != 0 }
func (b *BHS) setBit(off int, m byte, v bool) {
	if v {
		b[off] |= m
	}
}

// MaxDataSegmentLength is the largest value the 24-bit DataSegmentLength field holds.
const MaxDataSegmentLength = 1<<24 - 1

// Pad4 returns n rounded up to a multiple of 4.
func Pad4(n int) int { return (n + 3) &^ 3 }
