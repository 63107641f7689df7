package pdu

// Asynchronous events (RFC 7143 §11.9.1).
const (
	AsyncSCSIEvent          = 0
	AsyncLogoutRequest      = 1
	AsyncDropConnection     = 2
	AsyncDropAllConnections = 3
	AsyncRenegotiate        = 4
	AsyncVendorSpecific     = 255
)

// AsyncMessage is an Asynchronous Message (RFC 7143 §11.9). Its data segment
// holds sense data and iSCSI event data.
type AsyncMessage struct {
	DataSegmentLength uint32
	LUN               uint64
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
	AsyncEvent        uint8
	AsyncVCode        uint8
	Parameter1        uint16
	Parameter2        uint16
	Parameter3        uint16
}

// Opcode implements Message.
func (*AsyncMessage) Opcode() Opcode { return OpAsyncMsg }

// Encode implements Message. The ITT is always ReservedITT.
func (m *AsyncMessage) Encode(b *BHS) {
	b.reset(OpAsyncMsg, false)
	b[1] = flagFinal
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, ReservedITT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
	b[36] = m.AsyncEvent
	b[37] = m.AsyncVCode
	b.put16(38, m.Parameter1)
	b.put16(40, m.Parameter2)
	b.put16(42, m.Parameter3)
}

// Decode implements Message.
func (m *AsyncMessage) Decode(b *BHS) error {
	if err := checkOpcode(b, OpAsyncMsg); err != nil {
		return err
	}
	*m = AsyncMessage{
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		StatSN:            b.u32(24),
		ExpCmdSN:          b.u32(28),
		MaxCmdSN:          b.u32(32),
		AsyncEvent:        b[36],
		AsyncVCode:        b[37],
		Parameter1:        b.u16(38),
		Parameter2:        b.u16(40),
		Parameter3:        b.u16(42),
	}
	return nil
}
