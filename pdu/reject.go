package pdu

import "fmt"

// Reject reasons (RFC 7143 §11.17.1).
const (
	RejectDataDigestError     = 0x02
	RejectSNACKReject         = 0x03
	RejectProtocolError       = 0x04
	RejectCommandNotSupported = 0x05
	RejectImmediateCmdReject  = 0x06
	RejectTaskInProgress      = 0x07
	RejectInvalidDataACK      = 0x08
	RejectInvalidPDUField     = 0x09
	RejectLongOpReject        = 0x0a
	RejectDeprecated          = 0x0b
	RejectWaitingForLogout    = 0x0c
)

// RejectReasonString names a Reject reason code.
func RejectReasonString(r uint8) string {
	switch r {
	case RejectDataDigestError:
		return "data (payload) digest error"
	case RejectSNACKReject:
		return "SNACK reject"
	case RejectProtocolError:
		return "protocol error"
	case RejectCommandNotSupported:
		return "command not supported"
	case RejectImmediateCmdReject:
		return "immediate command reject: too many immediate commands"
	case RejectTaskInProgress:
		return "task in progress"
	case RejectInvalidDataACK:
		return "invalid data ACK"
	case RejectInvalidPDUField:
		return "invalid PDU field"
	case RejectLongOpReject:
		return "long operation reject: out of resources"
	case RejectDeprecated:
		return "deprecated MaxCmdSN reject"
	case RejectWaitingForLogout:
		return "waiting for logout"
	}
	return fmt.Sprintf("reason 0x%02x", r)
}

// Reject is a Reject (RFC 7143 §11.17). Its data segment is the header of the
// rejected PDU, whose ITT names the task the Reject is about.
type Reject struct {
	Reason            uint8
	DataSegmentLength uint32
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
	DataSN            uint32 // or R2TSN
}

// Opcode implements Message.
func (*Reject) Opcode() Opcode { return OpReject }

// Encode implements Message. The ITT is always ReservedITT.
func (m *Reject) Encode(b *BHS) {
	b.reset(OpReject, false)
	b[1] = flagFinal
	b[2] = m.Reason
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put32(16, ReservedITT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
	b.put32(36, m.DataSN)
}

// Decode implements Message.
func (m *Reject) Decode(b *BHS) error {
	if err := checkOpcode(b, OpReject); err != nil {
		return err
	}
	*m = Reject{
		Reason:            b[2],
		DataSegmentLength: uint32(b.DataSegmentLength()),
		StatSN:            b.u32(24),
		ExpCmdSN:          b.u32(28),
		MaxCmdSN:          b.u32(32),
		DataSN:            b.u32(36),
	}
	return nil
}
