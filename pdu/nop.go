package pdu

// NOPOut is a NOP-Out (RFC 7143 §11.18): a ping from the initiator, or the
// answer to a target's NOP-In (then ITT is ReservedITT and TTT echoes the target's).
type NOPOut struct {
	Immediate         bool
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	TTT               uint32
	CmdSN             uint32
	ExpStatSN         uint32
}

// Opcode implements Message.
func (*NOPOut) Opcode() Opcode { return OpNOPOut }

// Encode implements Message.
func (m *NOPOut) Encode(b *BHS) {
	b.reset(OpNOPOut, m.Immediate)
	b[1] = flagFinal
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(24, m.CmdSN)
	b.put32(28, m.ExpStatSN)
}

// Decode implements Message.
func (m *NOPOut) Decode(b *BHS) error {
	if err := checkOpcode(b, OpNOPOut); err != nil {
		return err
	}
	*m = NOPOut{
		Immediate:         b.Immediate(),
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		ITT:               b.u32(16),
		TTT:               b.u32(20),
		CmdSN:             b.u32(24),
		ExpStatSN:         b.u32(28),
	}
	return nil
}

// NOPIn is a NOP-In (RFC 7143 §11.19): the answer to a NOP-Out, or a ping
// from the target (ITT ReservedITT, TTT not 0xffffffff: the initiator must answer).
type NOPIn struct {
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	TTT               uint32
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
}

// Opcode implements Message.
func (*NOPIn) Opcode() Opcode { return OpNOPIn }

// Encode implements Message.
func (m *NOPIn) Encode(b *BHS) {
	b.reset(OpNOPIn, false)
	b[1] = flagFinal
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.TTT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
}

// Decode implements Message.
func (m *NOPIn) Decode(b *BHS) error {
	if err := checkOpcode(b, OpNOPIn); err != nil {
		return err
	}
	*m = NOPIn{
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
