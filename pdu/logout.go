package pdu

// Logout reason codes (RFC 7143 §11.14.1).
const (
	LogoutCloseSession      = 0
	LogoutCloseConnection   = 1
	LogoutRemoveForRecovery = 2
)

// Logout response codes (RFC 7143 §11.15.1).
const (
	LogoutSuccess              = 0
	LogoutCIDNotFound          = 1
	LogoutRecoveryNotSupported = 2
	LogoutCleanupFailed        = 3
)

// LogoutRequest is a Logout Request (RFC 7143 §11.14).
type LogoutRequest struct {
	Immediate         bool
	ReasonCode        uint8
	DataSegmentLength uint32
	ITT               uint32
	CID               uint16
	CmdSN             uint32
	ExpStatSN         uint32
}

// Opcode implements Message.
func (*LogoutRequest) Opcode() Opcode { return OpLogoutReq }

// Encode implements Message.
func (m *LogoutRequest) Encode(b *BHS) {
	b.reset(OpLogoutReq, m.Immediate)
	b[1] = flagFinal | m.ReasonCode&0x7f
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put32(16, m.ITT)
	b.put16(20, m.CID)
	b.put32(24, m.CmdSN)
	b.put32(28, m.ExpStatSN)
}

// Decode implements Message.
func (m *LogoutRequest) Decode(b *BHS) error {
	if err := checkOpcode(b, OpLogoutReq); err != nil {
		return err
	}
	*m = LogoutRequest{
		Immediate:         b.Immediate(),
		ReasonCode:        b[1] & 0x7f,
		DataSegmentLength: uint32(b.DataSegmentLength()),
		ITT:               b.u32(16),
		CID:               b.u16(20),
		CmdSN:             b.u32(24),
		ExpStatSN:         b.u32(28),
	}
	return nil
}

// LogoutResponse is a Logout Response (RFC 7143 §11.15).
type LogoutResponse struct {
	Response          uint8
	DataSegmentLength uint32
	ITT               uint32
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
	Time2Wait         uint16
	Time2Retain       uint16
}

// Opcode implements Message.
func (*LogoutResponse) Opcode() Opcode { return OpLogoutResp }

// Encode implements Message.
func (m *LogoutResponse) Encode(b *BHS) {
	b.reset(OpLogoutResp, false)
	b[1] = flagFinal
	b[2] = m.Response
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put32(16, m.ITT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
	b.put16(40, m.Time2Wait)
	b.put16(42, m.Time2Retain)
}

// Decode implements Message.
func (m *LogoutResponse) Decode(b *BHS) error {
	if err := checkOpcode(b, OpLogoutResp); err != nil {
		return err
	}
	*m = LogoutResponse{
		Response:          b[2],
		DataSegmentLength: uint32(b.DataSegmentLength()),
		ITT:               b.u32(16),
		StatSN:            b.u32(24),
		ExpCmdSN:          b.u32(28),
		MaxCmdSN:          b.u32(32),
		Time2Wait:         b.u16(40),
		Time2Retain:       b.u16(42),
	}
	return nil
}
