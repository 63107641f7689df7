package main

import (
	"fmt"

	"github.com/iscsi-go/iscsi/scsi"
)

// libiscsiStatus formats a SCSI status the way libiscsi 1.19's
// iscsi_get_error does after a command (lib/iscsi-command.c), so that our
// lines match its tools': "SENSE KEY:ILLEGAL_REQUEST(5)
// ASCQ:INVALID_OPERATION_CODE(0x2000)", "RESERVATION CONFLICT", "BUSY".
// Names libiscsi's tables lack print as glibc prints a NULL string, "(null)".
func libiscsiStatus(se *scsi.StatusError) string {
	switch se.Status {
	case scsi.StatusCheckCondition:
		var key, asc int
		if se.Sense != nil {
			key, asc = int(se.Sense.Key), int(se.Sense.ASC)
		}
		return fmt.Sprintf("SENSE KEY:%s(%d) ASCQ:%s(0x%04x)", orNull(libiscsiSenseKeys[key]), key, orNull(libiscsiASCQs[asc]), asc)
	case scsi.StatusReservationConflict:
		return "RESERVATION CONFLICT"
	case scsi.StatusTaskSetFull:
		return "TASK_SET_FULL"
	case scsi.StatusACAActive:
		return "ACA_ACTIVE"
	case 0x40: // TASK ABORTED
		return "TASK_ABORTED"
	case scsi.StatusBusy:
		return "BUSY"
	}
	return fmt.Sprintf("Unknown SCSI status :%d.", int(se.Status))
}

func orNull(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}

// libiscsi 1.19's scsi_sense_key_str (MEDIUM ERROR is missing there).
var libiscsiSenseKeys = map[int]string{
	0x00: "NO SENSE", 0x01: "RECOVERED ERROR", 0x02: "NOT READY",
	0x04: "HARDWARE_ERROR", 0x05: "ILLEGAL_REQUEST", 0x06: "UNIT_ATTENTION",
	0x07: "DATA PROTECTION", 0x08: "BLANK CHECK", 0x09: "VENDOR SPECIFIC",
	0x0a: "COPY ABORTED", 0x0b: "COMMAND ABORTED", 0x0c: "OBSOLETE_ERROR_CODE",
	0x0d: "OVERFLOW_COMMAND", 0x0e: "MISCOMPARE",
}

// libiscsi 1.19's scsi_sense_ascq_str.
var libiscsiASCQs = map[int]string{
	0x041b: "SANITIZE_IN_PROGRESS",
	0x1115: "WRITE_AFTER_SANITIZE_REQUIRED",
	0x2000: "INVALID_OPERATION_CODE",
	0x2100: "LBA_OUT_OF_RANGE",
	0x2400: "INVALID_FIELD_IN_CDB",
	0x2500: "LOGICAL_UNIT_NOT_SUPPORTED",
	0x1a00: "PARAMETER_LIST_LENGTH_ERROR",
	0x2600: "INVALID_FIELD_IN_PARAMETER_LIST",
	0x2700: "WRITE_PROTECTED",
	0x2701: "HARDWARE_WRITE_PROTECTED",
	0x2702: "SOFTWARE_WRITE_PROTECTED",
	0x3a00: "MEDIUM_NOT_PRESENT",
	0x3a01: "MEDIUM_NOT_PRESENT-TRAY_CLOSED",
	0x3a02: "MEDIUM_NOT_PRESENT-TRAY_OPEN",
	0x2900: "BUS_RESET",
	0x2901: "POWER_ON_OCCURED",
	0x2902: "SCSI_BUS_RESET_OCCURED",
	0x2903: "BUS_DEVICE_RESET_FUNCTION_OCCURED",
	0x2904: "DEVICE_INTERNAL_RESET",
	0x2905: "TRANSCEIVER_MODE_CHANGED_TO_SINGLE_ENDED",
	0x2906: "TRANSCEIVER_MODE_CHANGED_TO_LVD",
	0x2a01: "MODE PARAMETERS CHANGED",
	0x2a09: "CAPACITY_DATA_HAS_CHANGED",
	0x3807: "THIN PROVISIONING SOFT THRESHOLD REACHED",
	0x3f03: "INQUIRY DATA HAS CHANGED",
	0x4400: "INTERNAL_TARGET_FAILURE",
	0x1d00: "MISCOMPARE_DURING_VERIFY",
	0x1d01: "MISCOMPARE_VERIFY_OF_UNMAPPED_LBA",
	0x5300: "MEDIUM_LOAD_OR_EJECT_FAILED",
	0x5302: "SCSI_SENSE_ASCQ_MEDIUM_REMOVAL_PREVENTED",
}
