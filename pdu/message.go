package pdu

import (
	"errors"
	"fmt"
)

// Message is one PDU header type. Encode writes all 48 bytes of b (reserved
// bytes zero); Decode reads them and fails only when b holds another opcode.
type Message interface {
	Opcode() Opcode
	Encode(b *BHS)
	Decode(b *BHS) error
}

// ErrOpcode is returned by Decode for a BHS of another opcode, and by
// Decoder.Decode for an opcode RFC 7143 does not define.
var ErrOpcode = errors.New("pdu: unexpected opcode")

func checkOpcode(b *BHS, want Opcode) error {
	if got := b.Opcode(); got != want {
		return fmt.Errorf("%w: %v, want %v", ErrOpcode, got, want)
	}
	return nil
}

// Decoder decodes a BHS into one reused value per opcode, as pgproto3's
// Frontend does: the Message returned is valid until the next Decode call.
// A Decoder allocates nothing.
type Decoder struct {
	nopOut   NOPOut
	cmd      SCSICommand
	tmReq    TaskMgmtRequest
	loginReq LoginRequest
	textReq  TextRequest
	dataOut  DataOut
	logout   LogoutRequest
	snack    SNACKRequest

	nopIn     NOPIn
	rsp       SCSIResponse
	tmRsp     TaskMgmtResponse
	loginRsp  LoginResponse
	textRsp   TextResponse
	dataIn    DataIn
	logoutRsp LogoutResponse
	r2t       R2T
	async     AsyncMessage
	reject    Reject
}

// Decode decodes b into the Decoder's value for b's opcode.
func (d *Decoder) Decode(b *BHS) (Message, error) {
	var m Message
	switch b.Opcode() {
	case OpNOPOut:
		m = &d.nopOut
	case OpSCSICommand:
		m = &d.cmd
	case OpTaskMgmtReq:
		m = &d.tmReq
	case OpLoginReq:
		m = &d.loginReq
	case OpTextReq:
		m = &d.textReq
	case OpDataOut:
		m = &d.dataOut
	case OpLogoutReq:
		m = &d.logout
	case OpSNACKReq:
		m = &d.snack
	case OpNOPIn:
		m = &d.nopIn
	case OpSCSIResponse:
		m = &d.rsp
	case OpTaskMgmtResp:
		m = &d.tmRsp
	case OpLoginResp:
		m = &d.loginRsp
	case OpTextResp:
		m = &d.textRsp
	case OpDataIn:
		m = &d.dataIn
	case OpLogoutResp:
		m = &d.logoutRsp
	case OpR2T:
		m = &d.r2t
	case OpAsyncMsg:
		m = &d.async
	case OpReject:
		m = &d.reject
	default:
		return nil, fmt.Errorf("%w: %v", ErrOpcode, b.Opcode())
	}
	return m, m.Decode(b)
}

// New returns a new zero Message for opcode op, or nil for an unknown opcode.
func New(op Opcode) Message {
	switch op {
	case OpNOPOut:
		return new(NOPOut)
	case OpSCSICommand:
		return new(SCSICommand)
	case OpTaskMgmtReq:
		return new(TaskMgmtRequest)
	case OpLoginReq:
		return new(LoginRequest)
	case OpTextReq:
		return new(TextRequest)
	case OpDataOut:
		return new(DataOut)
	case OpLogoutReq:
		return new(LogoutRequest)
	case OpSNACKReq:
		return new(SNACKRequest)
	case OpNOPIn:
		return new(NOPIn)
	case OpSCSIResponse:
		return new(SCSIResponse)
	case OpTaskMgmtResp:
		return new(TaskMgmtResponse)
	case OpLoginResp:
		return new(LoginResponse)
	case OpTextResp:
		return new(TextResponse)
	case OpDataIn:
		return new(DataIn)
	case OpLogoutResp:
		return new(LogoutResponse)
	case OpR2T:
		return new(R2T)
	case OpAsyncMsg:
		return new(AsyncMessage)
	case OpReject:
		return new(Reject)
	}
	return nil
}
