package scsi

import "fmt"

// Status is the SCSI status byte of a completed command (SAM-5).
type Status uint8

// Status codes. Intermediate, IntermediateConditionMet and
// CommandTerminated are obsolete but may still be seen.
const (
	StatusGood                     Status = 0x00
	StatusCheckCondition           Status = 0x02
	StatusConditionMet             Status = 0x04
	StatusBusy                     Status = 0x08
	StatusIntermediate             Status = 0x10
	StatusIntermediateConditionMet Status = 0x14
	StatusReservationConflict      Status = 0x18
	StatusCommandTerminated        Status = 0x22
	StatusTaskSetFull              Status = 0x28
	StatusACAActive                Status = 0x30
	StatusTaskAborted              Status = 0x40

	// StatusNone is not a SCSI status: it marks a command that ended
	// without one (cancelled, connection lost, protocol error).
	StatusNone Status = 0xff
)

// String returns the status as SAM names it, e.g. "CHECK CONDITION".
func (s Status) String() string {
	switch s {
	case StatusGood:
		return "GOOD"
	case StatusCheckCondition:
		return "CHECK CONDITION"
	case StatusConditionMet:
		return "CONDITION MET"
	case StatusBusy:
		return "BUSY"
	case StatusIntermediate:
		return "INTERMEDIATE"
	case StatusIntermediateConditionMet:
		return "INTERMEDIATE-CONDITION MET"
	case StatusReservationConflict:
		return "RESERVATION CONFLICT"
	case StatusCommandTerminated:
		return "COMMAND TERMINATED"
	case StatusTaskSetFull:
		return "TASK SET FULL"
	case StatusACAActive:
		return "ACA ACTIVE"
	case StatusTaskAborted:
		return "TASK ABORTED"
	case StatusNone:
		return "NO STATUS"
	}
	return fmt.Sprintf("STATUS 0x%02x", uint8(s))
}

// OK reports whether the command succeeded: GOOD or CONDITION MET.
func (s Status) OK() bool { return s == StatusGood || s == StatusConditionMet }
