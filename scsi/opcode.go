package scsi

import "fmt"

// OpCode is the operation code, byte 0 of a CDB.
type OpCode uint8

// Operation codes of the commands this package builds (SPC-4, SBC-3,
// SBC-4; READ TOC from MMC-6). They are the commands libiscsi builds.
const (
	OpTestUnitReady             OpCode = 0x00
	OpRequestSense              OpCode = 0x03
	OpRead6                     OpCode = 0x08
	OpWrite6                    OpCode = 0x0a
	OpInquiry                   OpCode = 0x12
	OpModeSelect6               OpCode = 0x15
	OpReserve6                  OpCode = 0x16
	OpRelease6                  OpCode = 0x17
	OpModeSense6                OpCode = 0x1a
	OpStartStopUnit             OpCode = 0x1b
	OpPreventAllowMediumRemoval OpCode = 0x1e
	OpReadCapacity10            OpCode = 0x25
	OpRead10                    OpCode = 0x28
	OpWrite10                   OpCode = 0x2a
	OpWriteAndVerify10          OpCode = 0x2e
	OpVerify10                  OpCode = 0x2f
	OpPreFetch10                OpCode = 0x34
	OpSynchronizeCache10        OpCode = 0x35
	OpReadDefectData10          OpCode = 0x37
	OpWriteSame10               OpCode = 0x41
	OpUnmap                     OpCode = 0x42
	OpReadTOC                   OpCode = 0x43
	OpSanitize                  OpCode = 0x48
	OpModeSelect10              OpCode = 0x55
	OpModeSense10               OpCode = 0x5a
	OpPersistentReserveIn       OpCode = 0x5e
	OpPersistentReserveOut      OpCode = 0x5f
	OpExtendedCopy              OpCode = 0x83
	OpReceiveCopyResults        OpCode = 0x84
	OpRead16                    OpCode = 0x88
	OpCompareAndWrite           OpCode = 0x89
	OpWrite16                   OpCode = 0x8a
	OpORWrite16                 OpCode = 0x8b
	OpWriteAndVerify16          OpCode = 0x8e
	OpVerify16                  OpCode = 0x8f
	OpPreFetch16                OpCode = 0x90
	OpSynchronizeCache16        OpCode = 0x91
	OpWriteSame16               OpCode = 0x93
	OpWriteAtomic16             OpCode = 0x9c
	OpServiceActionIn16         OpCode = 0x9e
	OpReportLUNs                OpCode = 0xa0
	OpMaintenanceIn             OpCode = 0xa3
	OpMaintenanceOut            OpCode = 0xa4
	OpRead12                    OpCode = 0xa8
	OpWrite12                   OpCode = 0xaa
	OpWriteAndVerify12          OpCode = 0xae
	OpVerify12                  OpCode = 0xaf
	OpReadDefectData12          OpCode = 0xb7
)

// Service actions of SERVICE ACTION IN(16) (SBC-3) and MAINTENANCE IN
// (SPC-4).
const (
	// ServiceActionReadCapacity16 is READ CAPACITY(16) under
	// SERVICE ACTION IN(16).
	ServiceActionReadCapacity16 = 0x10
	// ServiceActionGetLBAStatus is GET LBA STATUS under SERVICE ACTION
	// IN(16).
	ServiceActionGetLBAStatus = 0x12
	// ServiceActionReportTargetPortGroups is REPORT TARGET PORT GROUPS
	// under MAINTENANCE IN.
	ServiceActionReportTargetPortGroups = 0x0a
	// ServiceActionReportSupportedOpCodes is REPORT SUPPORTED
	// OPERATION CODES under MAINTENANCE IN.
	ServiceActionReportSupportedOpCodes = 0x0c
	// ServiceActionSetTargetPortGroups is SET TARGET PORT GROUPS under
	// MAINTENANCE OUT.
	ServiceActionSetTargetPortGroups = 0x0a
)

var opNames = map[OpCode]string{
	OpTestUnitReady:             "TEST UNIT READY",
	OpRequestSense:              "REQUEST SENSE",
	OpRead6:                     "READ(6)",
	OpWrite6:                    "WRITE(6)",
	OpInquiry:                   "INQUIRY",
	OpModeSelect6:               "MODE SELECT(6)",
	OpReserve6:                  "RESERVE(6)",
	OpRelease6:                  "RELEASE(6)",
	OpModeSense6:                "MODE SENSE(6)",
	OpStartStopUnit:             "START STOP UNIT",
	OpPreventAllowMediumRemoval: "PREVENT ALLOW MEDIUM REMOVAL",
	OpReadCapacity10:            "READ CAPACITY(10)",
	OpRead10:                    "READ(10)",
	OpWrite10:                   "WRITE(10)",
	OpWriteAndVerify10:          "WRITE AND VERIFY(10)",
	OpVerify10:                  "VERIFY(10)",
	OpPreFetch10:                "PRE-FETCH(10)",
	OpSynchronizeCache10:        "SYNCHRONIZE CACHE(10)",
	OpReadDefectData10:          "READ DEFECT DATA(10)",
	OpWriteSame10:               "WRITE SAME(10)",
	OpUnmap:                     "UNMAP",
	OpReadTOC:                   "READ TOC/PMA/ATIP",
	OpSanitize:                  "SANITIZE",
	OpModeSelect10:              "MODE SELECT(10)",
	OpModeSense10:               "MODE SENSE(10)",
	OpPersistentReserveIn:       "PERSISTENT RESERVE IN",
	OpPersistentReserveOut:      "PERSISTENT RESERVE OUT",
	OpExtendedCopy:              "EXTENDED COPY",
	OpReceiveCopyResults:        "RECEIVE COPY RESULTS",
	OpRead16:                    "READ(16)",
	OpCompareAndWrite:           "COMPARE AND WRITE",
	OpWrite16:                   "WRITE(16)",
	OpORWrite16:                 "ORWRITE(16)",
	OpWriteAndVerify16:          "WRITE AND VERIFY(16)",
	OpVerify16:                  "VERIFY(16)",
	OpPreFetch16:                "PRE-FETCH(16)",
	OpSynchronizeCache16:        "SYNCHRONIZE CACHE(16)",
	OpWriteSame16:               "WRITE SAME(16)",
	OpWriteAtomic16:             "WRITE ATOMIC(16)",
	OpServiceActionIn16:         "SERVICE ACTION IN(16)",
	OpReportLUNs:                "REPORT LUNS",
	OpMaintenanceIn:             "MAINTENANCE IN",
	OpMaintenanceOut:            "MAINTENANCE OUT",
	OpRead12:                    "READ(12)",
	OpWrite12:                   "WRITE(12)",
	OpWriteAndVerify12:          "WRITE AND VERIFY(12)",
	OpVerify12:                  "VERIFY(12)",
	OpReadDefectData12:          "READ DEFECT DATA(12)",
}

// String returns the command's name, or "OPCODE 0xNN" for codes this package
// does not know.
func (o OpCode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("OPCODE 0x%02x", uint8(o))
}
