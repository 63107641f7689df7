package scsi

import "testing"

func TestMiscCDBs(t *testing.T) {
	checkCDBs(t, []cdbCase{
		// SPC-2: RESERVE(6), RELEASE(6) carry nothing else.
		{"RESERVE(6)", Reserve6(), []byte{0x16, 0, 0, 0, 0, 0}},
		{"RELEASE(6)", Release6(), []byte{0x17, 0, 0, 0, 0, 0}},
		// SBC-3 START STOP UNIT: IMMED byte 1 bit 0; POWER CONDITION
		// MODIFIER byte 3 bits 3-0; POWER CONDITION byte 4 bits 7-4,
		// NO_FLUSH bit 2, LOEJ bit 1, START bit 0.
		{"START STOP UNIT", StartStopUnit(StartStop{Immed: true, PowerConditionModifier: 0x0a, PowerCondition: 3, NoFlush: true, LoEj: true, Start: true}), []byte{0x1b, 1, 0, 0x0a, 0x37, 0}},
		{"START STOP UNIT stop", StartStopUnit(StartStop{}), []byte{0x1b, 0, 0, 0, 0, 0}},
		// SBC-3 PREVENT ALLOW MEDIUM REMOVAL: PREVENT byte 4 bits 1-0.
		{"PREVENT ALLOW MEDIUM REMOVAL", PreventAllowMediumRemoval(true), []byte{0x1e, 0, 0, 0, 1, 0}},
		{"PREVENT ALLOW MEDIUM REMOVAL allow", PreventAllowMediumRemoval(false), []byte{0x1e, 0, 0, 0, 0, 0}},
		// SPC-4 REPORT SUPPORTED OPERATION CODES: SERVICE ACTION 0x0c
		// byte 1; RCTD byte 2 bit 7, REPORTING OPTIONS 2-0;
		// REQUESTED OPERATION CODE 3; REQUESTED SERVICE ACTION 4-5;
		// ALLOCATION LENGTH 6-9.
		{"RSOC all", ReportSupportedOpCodes(true, 0x10000), []byte{0xa3, 0x0c, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0}},
		{"RSOC one", ReportSupportedOpCode(OpWriteSame16, false, 512), []byte{0xa3, 0x0c, 0x01, 0x93, 0, 0, 0, 0, 2, 0, 0, 0}},
		{"RSOC service action", ReportSupportedServiceAction(OpServiceActionIn16, ServiceActionGetLBAStatus, true, 64), []byte{0xa3, 0x0c, 0x82, 0x9e, 0, 0x12, 0, 0, 0, 0x40, 0, 0}},
		// SPC-4 REPORT TARGET PORT GROUPS: PARAMETER DATA FORMAT byte 1
		// bits 7-5 | SERVICE ACTION 0x0a; ALLOCATION LENGTH 6-9.
		{"RTPG", ReportTargetPortGroups(false, 0x1000), []byte{0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0}},
		{"RTPG extended", ReportTargetPortGroups(true, 255), []byte{0xa3, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0}},
		{"STPG", SetTargetPortGroups(12), []byte{0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0}},
		// SBC-3 READ DEFECT DATA(10): REQ_PLIST byte 2 bit 4,
		// REQ_GLIST bit 3, FORMAT 2-0; ALLOCATION LENGTH 7-8.
		{"READ DEFECT DATA(10)", ReadDefectData10(true, true, DefectPhysicalSector, 0x0400), []byte{0x37, 0, 0x1d, 0, 0, 0, 0, 4, 0, 0}},
		// READ DEFECT DATA(12): the same bits in byte 1; ADDRESS
		// DESCRIPTOR INDEX 2-5; ALLOCATION LENGTH 6-9.
		{"READ DEFECT DATA(12)", ReadDefectData12(true, false, DefectBytesFromIndex, 0x01020304, 0x10000), []byte{0xb7, 0x14, 1, 2, 3, 4, 0, 1, 0, 0, 0, 0}},
		// SBC-3 SANITIZE: IMMED byte 1 bit 7, AUSE bit 5, SERVICE
		// ACTION 4-0; PARAMETER LIST LENGTH 7-8.
		{"SANITIZE overwrite", Sanitize(SanitizeOverwrite, true, true, 0x0c), []byte{0x48, 0xa1, 0, 0, 0, 0, 0, 0, 0x0c, 0}},
		{"SANITIZE exit", Sanitize(SanitizeExitFailureMode, false, false, 0), []byte{0x48, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0}},
		// SPC-4 EXTENDED COPY (LID1): PARAMETER LIST LENGTH 10-13.
		{"EXTENDED COPY", ExtendedCopy(0x01020304), []byte{0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0}},
		// SPC-4 RECEIVE COPY RESULTS (LID1): SERVICE ACTION byte 1
		// bits 4-0; LIST IDENTIFIER 2; ALLOCATION LENGTH 10-13.
		{"RECEIVE COPY RESULTS", ReceiveCopyResults(CopyResultsOperatingParameters, 0, 0x400), []byte{0x84, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0}},
		{"RECEIVE COPY RESULTS status", ReceiveCopyResults(CopyResultsStatus, 0x2a, 12), []byte{0x84, 0, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0}},
		// MMC-6 READ TOC/PMA/ATIP: MSF byte 1 bit 1; FORMAT byte 2
		// bits 3-0; TRACK/SESSION NUMBER 6; ALLOCATION LENGTH 7-8.
		{"READ TOC", ReadTOC(true, TOCFormatted, 1, 0x0324), []byte{0x43, 0x02, 0, 0, 0, 0, 1, 3, 0x24, 0}},
		{"READ TOC session info", ReadTOC(false, TOCSessionInfo, 5, 12), []byte{0x43, 0, 1, 0, 0, 0, 0, 0, 12, 0}},
		{"READ TOC full", ReadTOC(false, TOCFull, 2, 0xffff), []byte{0x43, 0, 2, 0, 0, 0, 2, 0xff, 0xff, 0}},
	})
}
