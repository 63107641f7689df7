package pdu

import "fmt"

// Login stages (CSG/NSG, RFC 7143 §11.12.3).
const (
	StageSecurity    = 0
	StageOperational = 1
	StageFullFeature = 3
)

// ISID is the 6-byte Initiator Session ID (RFC 7143 §11.12.5).
type ISID [6]byte

// LoginRequest is a Login Request (RFC 7143 §11.12). The I bit is always set.
type LoginRequest struct {
	Transit           bool
	Continue          bool
	CSG               uint8
	NSG               uint8
	VersionMax        uint8
	VersionMin        uint8
	DataSegmentLength uint32
	ISID              ISID
	TSIH              uint16
	ITT               uint32
	CID               uint16
	CmdSN             uint32
	ExpStatSN         uint32
}

// Opcode implements Message.
func (*LoginRequest) Opcode() Opcode { return OpLoginReq }

// Encode implements Message.
func (m *LoginRequest) Encode(b *BHS) {
	b.reset(OpLoginReq, true)
	b.setBit(1, 0x80, m.Transit)
	b.setBit(1, 0x40, m.Continue)
	b[1] |= (m.CSG&3)<<2 | m.NSG&3
	b[2] = m.VersionMax
	b[3] = m.VersionMin
	b.setDataSegmentLength(m.DataSegmentLength)
	copy(b[8:14], m.ISID[:])
	b.put16(14, m.TSIH)
	b.put32(16, m.ITT)
	b.put16(20, m.CID)
	b.put32(24, m.CmdSN)
	b.put32(28, m.ExpStatSN)
}

// Decode implements Message.
func (m *LoginRequest) Decode(b *BHS) error {
	if err := checkOpcode(b, OpLoginReq); err != nil {
		return err
	}
	*m = LoginRequest{
		Transit:           b.bit(1, 0x80),
		Continue:          b.bit(1, 0x40),
		CSG:               b[1] >> 2 & 3,
		NSG:               b[1] & 3,
		VersionMax:        b[2],
		VersionMin:        b[3],
		DataSegmentLength: uint32(b.DataSegmentLength()),
		TSIH:              b.u16(14),
		ITT:               b.u32(16),
		CID:               b.u16(20),
		CmdSN:             b.u32(24),
		ExpStatSN:         b.u32(28),
	}
	copy(m.ISID[:], b[8:14])
	return nil
}

// Login status classes (RFC 7143 §11.13.5).
const (
	LoginSuccess      = 0
	LoginRedirect     = 1
	LoginInitiatorErr = 2
	LoginTargetErr    = 3
)

// LoginResponse is a Login Response (RFC 7143 §11.13).
type LoginResponse struct {
	Transit           bool
	Continue          bool
	CSG               uint8
	NSG               uint8
	VersionMax        uint8
	VersionActive     uint8
	DataSegmentLength uint32
	ISID              ISID
	TSIH              uint16
	ITT               uint32
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
	StatusClass       uint8
	StatusDetail      uint8
}

// Opcode implements Message.
func (*LoginResponse) Opcode() Opcode { return OpLoginResp }

// Encode implements Message.
func (m *LoginResponse) Encode(b *BHS) {
	b.reset(OpLoginResp, false)
	b.setBit(1, 0x80, m.Transit)
	b.setBit(1, 0x40, m.Continue)
	b[1] |= (m.CSG&3)<<2 | m.NSG&3
	b[2] = m.VersionMax
	b[3] = m.VersionActive
	b.setDataSegmentLength(m.DataSegmentLength)
	copy(b[8:14], m.ISID[:])
	b.put16(14, m.TSIH)
	b.put32(16, m.ITT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
	b[36] = m.StatusClass
	b[37] = m.StatusDetail
}

// Decode implements Message.
func (m *LoginResponse) Decode(b *BHS) error {
	if err := checkOpcode(b, OpLoginResp); err != nil {
		return err
	}
	*m = LoginResponse{
		Transit:           b.bit(1, 0x80),
		Continue:          b.bit(1, 0x40),
		CSG:               b[1] >> 2 & 3,
		NSG:               b[1] & 3,
		VersionMax:        b[2],
		VersionActive:     b[3],
		DataSegmentLength: uint32(b.DataSegmentLength()),
		TSIH:              b.u16(14),
		ITT:               b.u32(16),
		StatSN:            b.u32(24),
		ExpCmdSN:          b.u32(28),
		MaxCmdSN:          b.u32(32),
		StatusClass:       b[36],
		StatusDetail:      b[37],
	}
	copy(m.ISID[:], b[8:14])
	return nil
}

// String returns the ISID as 12 hex digits, e.g. "80123456000a", the way
// targets print it in their logs.
func (i ISID) String() string { return fmt.Sprintf("%012x", i[:]) }
