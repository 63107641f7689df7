package pdu

// Task attributes of a SCSI Command (byte 1, bits 0-2).
const (
	AttrUntagged    = 0
	AttrSimple      = 1
	AttrOrdered     = 2
	AttrHeadOfQueue = 3
	AttrACA         = 4
)

// SCSICommand is a SCSI Command (RFC 7143 §11.3). CDBs longer than 16 bytes
// carry their tail in an Extended CDB AHS, and bidirectional commands their
// expected read length in a Bidirectional Read AHS; see AHS.
type SCSICommand struct {
	Immediate                  bool
	Final                      bool
	Read                       bool
	Write                      bool
	Attr                       uint8 // AttrSimple …
	TotalAHSLength             uint8 // in 4-byte words, as on the wire
	DataSegmentLength          uint32
	LUN                        uint64
	ITT                        uint32
	ExpectedDataTransferLength uint32
	CmdSN                      uint32
	ExpStatSN                  uint32
	CDB                        [16]byte
}

// Opcode implements Message.
func (*SCSICommand) Opcode() Opcode { return OpSCSICommand }

// Encode implements Message.
func (m *SCSICommand) Encode(b *BHS) {
	b.reset(OpSCSICommand, m.Immediate)
	b.setBit(1, 0x80, m.Final)
	b.setBit(1, 0x40, m.Read)
	b.setBit(1, 0x20, m.Write)
	b[1] |= m.Attr & 0x07
	b[4] = m.TotalAHSLength
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.ExpectedDataTransferLength)
	b.put32(24, m.CmdSN)
	b.put32(28, m.ExpStatSN)
	copy(b[32:48], m.CDB[:])
}

// Decode implements Message.
func (m *SCSICommand) Decode(b *BHS) error {
	if err := checkOpcode(b, OpSCSICommand); err != nil {
		return err
	}
	*m = SCSICommand{
		Immediate:                  b.Immediate(),
		Final:                      b.bit(1, 0x80),
		Read:                       b.bit(1, 0x40),
		Write:                      b.bit(1, 0x20),
		Attr:                       b[1] & 0x07,
		TotalAHSLength:             b[4],
		DataSegmentLength:          uint32(b.DataSegmentLength()),
		LUN:                        b.u64(8),
		ITT:                        b.u32(16),
		ExpectedDataTransferLength: b.u32(20),
		CmdSN:                      b.u32(24),
		ExpStatSN:                  b.u32(28),
	}
	copy(m.CDB[:], b[32:48])
	return nil
}

// Response codes of a SCSI Response (byte 2).
const (
	RespCommandCompleted = 0x00
	RespTargetFailure    = 0x01
)

// SCSIResponse is a SCSI Response (RFC 7143 §11.4). Its data segment holds a
// 2-byte SenseLength, the sense data, and any response data.
type SCSIResponse struct {
	BidiOverflow          bool // o
	BidiUnderflow         bool // u
	Overflow              bool // O
	Underflow             bool // U
	Response              uint8
	Status                uint8
	TotalAHSLength        uint8
	DataSegmentLength     uint32
	ITT                   uint32
	SNACKTag              uint32
	StatSN                uint32
	ExpCmdSN              uint32
	MaxCmdSN              uint32
	ExpDataSN             uint32
	BidiReadResidualCount uint32
	ResidualCount         uint32
}

// Opcode implements Message.
func (*SCSIResponse) Opcode() Opcode { return OpSCSIResponse }

// Encode implements Message.
func (m *SCSIResponse) Encode(b *BHS) {
	b.reset(OpSCSIResponse, false)
	b[1] = flagFinal
	b.setBit(1, 0x10, m.BidiOverflow)
	b.setBit(1, 0x08, m.BidiUnderflow)
	b.setBit(1, 0x04, m.Overflow)
	b.setBit(1, 0x02, m.Underflow)
	b[2] = m.Response
	b[3] = m.Status
	b[4] = m.TotalAHSLength
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put32(16, m.ITT)
	b.put32(20, m.SNACKTag)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
	b.put32(36, m.ExpDataSN)
	b.put32(40, m.BidiReadResidualCount)
	b.put32(44, m.ResidualCount)
}

// Decode implements Message.
func (m *SCSIResponse) Decode(b *BHS) error {
	if err := checkOpcode(b, OpSCSIResponse); err != nil {
		return err
	}
	*m = SCSIResponse{
		BidiOverflow:          b.bit(1, 0x10),
		BidiUnderflow:         b.bit(1, 0x08),
		Overflow:              b.bit(1, 0x04),
		Underflow:             b.bit(1, 0x02),
		Response:              b[2],
		Status:                b[3],
		TotalAHSLength:        b[4],
		DataSegmentLength:     uint32(b.DataSegmentLength()),
		ITT:                   b.u32(16),
		SNACKTag:              b.u32(20),
		StatSN:                b.u32(24),
		ExpCmdSN:              b.u32(28),
		MaxCmdSN:              b.u32(32),
		ExpDataSN:             b.u32(36),
		BidiReadResidualCount: b.u32(40),
		ResidualCount:         b.u32(44),
	}
	return nil
}
