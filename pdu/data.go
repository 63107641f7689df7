package pdu

// DataOut is a SCSI Data-Out (RFC 7143 §11.7): write data, unsolicited
// (TTT 0xffffffff) or answering an R2T (TTT echoed).
type DataOut struct {
	Final             bool
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	TTT               uint32
	ExpStatSN         uint32
	DataSN            uint32
	BufferOffset      uint32
}

// Opcode implements Message.
func (*DataOut) Opcode() Opcode { return OpDataOut }

// Encode implements Message.
func (m *DataOut) Encode(b *BHS) {
	b.reset(OpDataOut, false)
	b.setBit(1, 0x80, m.Final)
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(28, m.ExpStatSN)
	b.put32(36, m.DataSN)
	b.put32(40, m.BufferOffset)
}

// Decode implements Message.
func (m *DataOut) Decode(b *BHS) error {
	if err := checkOpcode(b, OpDataOut); err != nil {
		return err
	}
	*m = DataOut{
		Final:             b.bit(1, 0x80),
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		ITT:               b.u32(16),
		TTT:               b.u32(20),
		ExpStatSN:         b.u32(28),
		DataSN:            b.u32(36),
		BufferOffset:      b.u32(40),
	}
	return nil
}

// DataIn is a SCSI Data-In (RFC 7143 §11.7): read data, carrying the
// command's status when S is set.
type DataIn struct {
	Final             bool
	Acknowledge       bool // A
	Overflow          bool // O
	Underflow         bool // U
	HasStatus         bool // S
	Status            uint8
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	TTT               uint32
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
	DataSN            uint32
	BufferOffset      uint32
	ResidualCount     uint32
}

// Opcode implements Message.
func (*DataIn) Opcode() Opcode { return OpDataIn }

// Encode implements Message.
func (m *DataIn) Encode(b *BHS) {
	b.reset(OpDataIn, false)
	b.setBit(1, 0x80, m.Final)
	b.setBit(1, 0x40, m.Acknowledge)
	b.setBit(1, 0x04, m.Overflow)
	b.setBit(1, 0x02, m.Underflow)
	b.setBit(1, 0x01, m.HasStatus)
	b[3] = m.Status
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
	b.put32(36, m.DataSN)
	b.put32(40, m.BufferOffset)
	b.put32(44, m.ResidualCount)
}

// Decode implements Message.
func (m *DataIn) Decode(b *BHS) error {
	if err := checkOpcode(b, OpDataIn); err != nil {
		return err
	}
	*m = DataIn{
		Final:             b.bit(1, 0x80),
		Acknowledge:       b.bit(1, 0x40),
		Overflow:          b.bit(1, 0x04),
		Underflow:         b.bit(1, 0x02),
		HasStatus:         b.bit(1, 0x01),
		Status:            b[3],
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		ITT:               b.u32(16),
		TTT:               b.u32(20),
		StatSN:            b.u32(24),
		ExpCmdSN:          b.u32(28),
		MaxCmdSN:          b.u32(32),
		DataSN:            b.u32(36),
		BufferOffset:      b.u32(40),
		ResidualCount:     b.u32(44),
	}
	return nil
}

// R2T is a Ready To Transfer (RFC 7143 §11.8).
type R2T struct {
	DataSegmentLength         uint32
	LUN                       uint64
	ITT                       uint32
	TTT                       uint32
	StatSN                    uint32
	ExpCmdSN                  uint32
	MaxCmdSN                  uint32
	R2TSN                     uint32
	BufferOffset              uint32
	DesiredDataTransferLength uint32
}

// Opcode implements Message.
func (*R2T) Opcode() Opcode { return OpR2T }

// Encode implements Message.
func (m *R2T) Encode(b *BHS) {
	b.reset(OpR2T, false)
	b[1] = flagFinal
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
	b.put32(36, m.R2TSN)
	b.put32(40, m.BufferOffset)
	b.put32(44, m.DesiredDataTransferLength)
}

// Decode implements Message.
func (m *R2T) Decode(b *BHS) error {
	if err := checkOpcode(b, OpR2T); err != nil {
		return err
	}
	*m = R2T{
		DataSegmentLength:         uint32(b.DataSegmentLength()),
		LUN:                       b.u64(8),
		ITT:                       b.u32(16),
		TTT:                       b.u32(20),
		StatSN:                    b.u32(24),
		ExpCmdSN:                  b.u32(28),
		MaxCmdSN:                  b.u32(32),
		R2TSN:                     b.u32(36),
		BufferOffset:              b.u32(40),
		DesiredDataTransferLength: b.u32(44),
	}
	return nil
}

// SNACK types (RFC 7143 §11.16.1).
const (
	SNACKData    = 0
	SNACKStatus  = 1
	SNACKDataACK = 2
	SNACKRData   = 3
)

// SNACKRequest is a SNACK Request (RFC 7143 §11.16).
type SNACKRequest struct {
	Type              uint8
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	TTT               uint32 // or SNACK Tag
	ExpStatSN         uint32
	BegRun            uint32
	RunLength         uint32
}

// Opcode implements Message.
func (*SNACKRequest) Opcode() Opcode { return OpSNACKReq }

// Encode implements Message.
func (m *SNACKRequest) Encode(b *BHS) {
	b.reset(OpSNACKReq, false)
	b[1] = flagFinal | m.Type&0x0f
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(28, m.ExpStatSN)
	b.put32(40, m.BegRun)
	b.put32(44, m.RunLength)
}

// Decode implements Message.
func (m *SNACKRequest) Decode(b *BHS) error {
	if err := checkOpcode(b, OpSNACKReq); err != nil {
		return err
	}
	*m = SNACKRequest{
		Type:              b[1] & 0x0f,
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		ITT:               b.u32(16),
		TTT:               b.u32(20),
		ExpStatSN:         b.u32(28),
		BegRun:            b.u32(40),
		RunLength:         b.u32(44),
	}
	return nil
}
