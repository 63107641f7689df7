package scsi

import (
	"errors"
	"fmt"
)

// Errors of the parsers.
var (
	// ErrShortData: the data is too short to hold the fields that must
	// be there (a header, a fixed-size answer).
	ErrShortData = errors.New("scsi: data too short")
	// ErrSenseFormat: sense data with a response code other than
	// 0x70-0x73.
	ErrSenseFormat = errors.New("scsi: unknown sense data format")
	// ErrWrongPage: a VPD or mode page parser was given another page.
	ErrWrongPage = errors.New("scsi: wrong page")
	// ErrMalformed: a length field inside the data points beyond it.
	ErrMalformed = errors.New("scsi: malformed data")
	// ErrLUNRange: a LUN number that no single-level SAM address method
	// can carry.
	ErrLUNRange = errors.New("scsi: LUN out of range")
)

// StatusError is a command that completed with a status other than GOOD or
// CONDITION MET. Use errors.As to get at it, errors.Is to compare it with
// the condition sentinels (ErrMediumNotPresent, ErrBusy, …).
type StatusError struct {
	Status Status
	// Sense is the parsed sense data, nil when the target sent none or
	// sent sense this package could not parse (then SenseErr says why).
	Sense *Sense
	// SenseErr is the error of ParseSense, if sense bytes were given and
	// did not parse.
	SenseErr error
}

// NewStatusError returns nil for GOOD and CONDITION MET, and otherwise a
// *StatusError carrying status and, when senseData is not empty, the sense
// data parsed from it.
func NewStatusError(status Status, senseData []byte) error {
	if status.OK() {
		return nil
	}
	e := &StatusError{Status: status}
	if len(senseData) > 0 {
		s, err := ParseSense(senseData)
		if err != nil {
			e.SenseErr = err
		} else {
			e.Sense = &s
		}
	}
	return e
}

// Error reads "scsi: CHECK CONDITION: ILLEGAL REQUEST, ASC/ASCQ 0x24/0x00
// INVALID FIELD IN CDB".
func (e *StatusError) Error() string {
	if e.Sense != nil {
		return "scsi: " + e.Status.String() + ": " + e.Sense.String()
	}
	if e.SenseErr != nil {
		return "scsi: " + e.Status.String() + " (" + e.SenseErr.Error() + ")"
	}
	return "scsi: " + e.Status.String()
}

// Is matches the condition sentinels of this package.
func (e *StatusError) Is(target error) bool {
	c, ok := target.(*condition)
	if !ok {
		return false
	}
	return c.match(e)
}

// condition is a sentinel that matches a StatusError by status, sense key
// and/or additional sense code.
type condition struct {
	msg     string
	status  Status
	anyStat bool // match on sense only (CHECK CONDITION implied)
	key     SenseKey
	useKey  bool
	asc     ASC
	ascMask ASC // 0: ASC not compared
}

func (c *condition) Error() string { return c.msg }

func (c *condition) match(e *StatusError) bool {
	if !c.anyStat {
		return e.Status == c.status
	}
	if e.Status != StatusCheckCondition || e.Sense == nil {
		return false
	}
	if c.useKey && e.Sense.Key != c.key {
		return false
	}
	if c.ascMask != 0 && e.Sense.ASC&c.ascMask != c.asc {
		return false
	}
	return true
}

func statusCond(msg string, s Status) error { return &condition{msg: msg, status: s} }

func keyCond(msg string, k SenseKey) error {
	return &condition{msg: msg, anyStat: true, key: k, useKey: true}
}

func ascCond(msg string, a, mask ASC) error {
	return &condition{msg: msg, anyStat: true, asc: a, ascMask: mask}
}

// Sentinels for errors.Is(err, …) against a *StatusError.
var (
	ErrBusy                = statusCond("scsi: BUSY", StatusBusy)
	ErrTaskSetFull         = statusCond("scsi: TASK SET FULL", StatusTaskSetFull)
	ErrReservationConflict = statusCond("scsi: RESERVATION CONFLICT", StatusReservationConflict)
	ErrTaskAborted         = statusCond("scsi: TASK ABORTED", StatusTaskAborted)
	ErrACAActive           = statusCond("scsi: ACA ACTIVE", StatusACAActive)

	ErrNotReady       = keyCond("scsi: NOT READY", SenseNotReady)
	ErrMediumError    = keyCond("scsi: MEDIUM ERROR", SenseMediumError)
	ErrHardwareError  = keyCond("scsi: HARDWARE ERROR", SenseHardwareError)
	ErrIllegalRequest = keyCond("scsi: ILLEGAL REQUEST", SenseIllegalRequest)
	ErrUnitAttention  = keyCond("scsi: UNIT ATTENTION", SenseUnitAttention)
	ErrDataProtect    = keyCond("scsi: DATA PROTECT", SenseDataProtect)
	ErrAbortedCommand = keyCond("scsi: ABORTED COMMAND", SenseAbortedCommand)
	ErrMiscompare     = keyCond("scsi: MISCOMPARE", SenseMiscompare)

	// Matched on ASC and, where given, ASCQ, whatever the sense key.
	ErrInvalidOpcode       = ascCond("scsi: INVALID COMMAND OPERATION CODE", ASCInvalidOpcode, 0xffff)
	ErrLBAOutOfRange       = ascCond("scsi: LOGICAL BLOCK ADDRESS OUT OF RANGE", ASCLBAOutOfRange, 0xffff)
	ErrInvalidFieldInCDB   = ascCond("scsi: INVALID FIELD IN CDB", ASCInvalidFieldInCDB, 0xffff)
	ErrLUNotSupported      = ascCond("scsi: LOGICAL UNIT NOT SUPPORTED", ASCLUNotSupported, 0xffff)
	ErrWriteProtected      = ascCond("scsi: WRITE PROTECTED", 0x2700, 0xff00)    // any ASCQ
	ErrMediumNotPresent    = ascCond("scsi: MEDIUM NOT PRESENT", 0x3a00, 0xff00) // any ASCQ
	ErrPowerOnReset        = ascCond("scsi: POWER ON OR RESET OCCURRED", 0x2900, 0xff00)
	ErrCapacityDataChanged = ascCond("scsi: CAPACITY DATA HAS CHANGED", ASCCapacityDataChanged, 0xffff)
	ErrLUNsDataChanged     = ascCond("scsi: REPORTED LUNS DATA HAS CHANGED", ASCLUNsDataChanged, 0xffff)
	// Errors in the parameter list of MODE SELECT, PERSISTENT RESERVE
	// OUT, UNMAP and the like.
	ErrInvalidFieldInParamList = ascCond("scsi: INVALID FIELD IN PARAMETER LIST", ASCInvalidFieldInParamList, 0xffff)
	ErrParameterListLength     = ascCond("scsi: PARAMETER LIST LENGTH ERROR", ASCParameterListLengthError, 0xffff)
	// ErrSpaceAllocationFailed: a thin-provisioned device ran out of
	// space for a write (it also matches ErrWriteProtected).
	ErrSpaceAllocationFailed = ascCond("scsi: SPACE ALLOCATION FAILED WRITE PROTECT", ASCSpaceAllocationFailed, 0xffff)
	// ErrMiscompareDuringVerify is the failure of COMPARE AND WRITE (and
	// of VERIFY and WRITE AND VERIFY with BYTCHK) whose data did not
	// match; StatusError.MiscompareOffset tells where.
	ErrMiscompareDuringVerify = ascCond("scsi: MISCOMPARE DURING VERIFY OPERATION", ASCMiscompareDuringVerify, 0xffff)
)

// MiscompareOffset returns where the data of a command that failed with
// sense key MISCOMPARE and MISCOMPARE DURING VERIFY OPERATION (ASC 0x1d00)
// first differed from the medium: the sense INFORMATION field, fixed or
// descriptor format. For COMPARE AND WRITE, SBC-3 defines it as the offset
// in bytes of the first mismatching byte from the start of the data-out
// buffer. ok is false for any other error, or when the device did not mark
// the INFORMATION field valid.
//
//	var se *scsi.StatusError
//	if errors.As(err, &se) {
//		if off, ok := se.MiscompareOffset(); ok { ... }
//	}
func (e *StatusError) MiscompareOffset() (offset uint64, ok bool) {
	s := e.Sense
	if e.Status != StatusCheckCondition || s == nil || s.Key != SenseMiscompare ||
		s.ASC != ASCMiscompareDuringVerify || !s.InformationValid {
		return 0, false
	}
	return s.Information, true
}

// IsUnitAttention reports whether err is, or wraps, a *StatusError with
// CHECK CONDITION and sense key UNIT ATTENTION. The target reports events
// (reset, capacity change, LUN change) this way once per I_T nexus; the
// command was not executed and may be sent again.
func IsUnitAttention(err error) bool { return errors.Is(err, ErrUnitAttention) }

// IsRetryable reports whether err is, or wraps, a *StatusError whose
// command was not executed because the target was busy: BUSY or TASK SET
// FULL. Such a command may be sent again after a delay.
func IsRetryable(err error) bool {
	var e *StatusError
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == StatusBusy || e.Status == StatusTaskSetFull
}

func shortErr(what string, got, need int) error {
	return fmt.Errorf("%w: %s is %d bytes, need at least %d", ErrShortData, what, got, need)
}
