package pdu

// TextRequest is a Text Request (RFC 7143 §11.10).
type TextRequest struct {
	Immediate         bool
	Final             bool
	Continue          bool
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	TTT               uint32
	CmdSN             uint32
	ExpStatSN         uint32
}

// Opcode implements Message.
func (*TextRequest) Opcode() Opcode { return OpTextReq }

// Encode implements Message.
func (m *TextRequest) Encode(b *BHS) {
	b.reset(OpTextReq, m.Immediate)
	b.setBit(1, 0x80, m.Final)
	b.setBit(1, 0x40, m.Continue)
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(24, m.CmdSN)
	b.put32(28, m.ExpStatSN)
}

// Decode implements Message.
func (m *TextRequest) Decode(b *BHS) error {
	if err := checkOpcode(b, OpTextReq); err != nil {
		return err
	}
	*m = TextRequest{
		Immediate:         b.Immediate(),
		Final:             b.bit(1, 0x80),
		Continue:          b.bit(1, 0x40),
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		ITT:               b.u32(16),
		TTT:               b.u32(20),
		CmdSN:             b.u32(24),
		ExpStatSN:         b.u32(28),
	}
	return nil
}

// TextResponse is a Text Response (RFC 7143 §11.11).
type TextResponse struct {
	Final             bool
	Continue          bool
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	TTT               uint32
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
}

// Opcode implements Message.
func (*TextResponse) Opcode() Opcode { return OpTextResp }

// Encode implements Message.
func (m *TextResponse) Encode(b *BHS) {
	b.reset(OpTextResp, false)
	b.setBit(1, 0x80, m.Final)
	b.setBit(1, 0x40, m.Continue)
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
}

// Decode implements Message.
func (m *TextResponse) Decode(b *BHS) error {
	if err := checkOpcode(b, OpTextResp); err != nil {
		return err
	}
	*m = TextResponse{
		Final:             b.bit(1, 0x80),
		Continue:          b.bit(1, 0x40),
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		ITT:               b.u32(16),
		TTT:               b.u32(20),
		StatSN:            b.u32(24),
		ExpCmdSN:          b.u32(28),
		MaxCmdSN:          b.u32(32),
	}
	return nil
}
