package pdu

// Task management functions (RFC 7143 §11.5.1).
const (
	TMFAbortTask        = 1
	TMFAbortTaskSet     = 2
	TMFClearACA         = 3
	TMFClearTaskSet     = 4
	TMFLogicalUnitReset = 5
	TMFTargetWarmReset  = 6
	TMFTargetColdReset  = 7
	TMFTaskReassign     = 8
)

// Task management responses (RFC 7143 §11.6.1).
const (
	TMRFunctionComplete     = 0
	TMRTaskDoesNotExist     = 1
	TMRLUNDoesNotExist      = 2
	TMRTaskStillAllegiant   = 3
	TMRReassignNotSupported = 4
	TMRFunctionNotSupported = 5
	TMRAuthorizationFailed  = 6
	TMRFunctionRejected     = 255
)

// TaskMgmtRequest is a Task Management Function Request (RFC 7143 §11.5).
type TaskMgmtRequest struct {
	Immediate         bool
	Function          uint8
	DataSegmentLength uint32
	LUN               uint64
	ITT               uint32
	ReferencedTaskTag uint32
	CmdSN             uint32
	ExpStatSN         uint32
	RefCmdSN          uint32
	ExpDataSN         uint32
}

// Opcode implements Message.
func (*TaskMgmtRequest) Opcode() Opcode { return OpTaskMgmtReq }

// Encode implements Message.
func (m *TaskMgmtRequest) Encode(b *BHS) {
	b.reset(OpTaskMgmtReq, m.Immediate)
	b[1] = flagFinal | m.Function&0x7f
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put64(8, m.LUN)
	b.put32(16, m.ITT)
	b.put32(20, m.ReferencedTaskTag)
	b.put32(24, m.CmdSN)
	b.put32(28, m.ExpStatSN)
	b.put32(32, m.RefCmdSN)
	b.put32(36, m.ExpDataSN)
}

// Decode implements Message.
func (m *TaskMgmtRequest) Decode(b *BHS) error {
	if err := checkOpcode(b, OpTaskMgmtReq); err != nil {
		return err
	}
	*m = TaskMgmtRequest{
		Immediate:         b.Immediate(),
		Function:          b[1] & 0x7f,
		DataSegmentLength: uint32(b.DataSegmentLength()),
		LUN:               b.u64(8),
		ITT:               b.u32(16),
		ReferencedTaskTag: b.u32(20),
		CmdSN:             b.u32(24),
		ExpStatSN:         b.u32(28),
		RefCmdSN:          b.u32(32),
		ExpDataSN:         b.u32(36),
	}
	return nil
}

// TaskMgmtResponse is a Task Management Function Response (RFC 7143 §11.6).
type TaskMgmtResponse struct {
	Response          uint8
	DataSegmentLength uint32
	ITT               uint32
	StatSN            uint32
	ExpCmdSN          uint32
	MaxCmdSN          uint32
}

// Opcode implements Message.
func (*TaskMgmtResponse) Opcode() Opcode { return OpTaskMgmtResp }

// Encode implements Message.
func (m *TaskMgmtResponse) Encode(b *BHS) {
	b.reset(OpTaskMgmtResp, false)
	b[1] = flagFinal
	b[2] = m.Response
	b.setDataSegmentLength(m.DataSegmentLength)
	b.put32(16, m.ITT)
	b.put32(24, m.StatSN)
	b.put32(28, m.ExpCmdSN)
	b.put32(32, m.MaxCmdSN)
}

// Decode implements Message.
func (m *TaskMgmtResponse) Decode(b *BHS) error {
	if err := checkOpcode(b, OpTaskMgmtResp); err != nil {
		return err
	}
	*m = TaskMgmtResponse{
		Response:          b[2],
		DataSegmentLength: uint32(b.DataSegmentLength()),
		ITT:               b.u32(16),
		StatSN:            b.u32(24),
		ExpCmdSN:          b.u32(28),
		MaxCmdSN:          b.u32(32),
	}
	return nil
}
