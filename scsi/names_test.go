package scsi

import (
	"fmt"
	"testing"
)

// TestAllNames pins every name, libiscsi's spellings included, so a
// change that would alter a tool's output fails here.
func TestAllNames(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{TypeDirectAccess, "DIRECT_ACCESS"}, {TypeSequentialAccess, "SEQUENTIAL_ACCESS"},
		{TypePrinter, "PRINTER"}, {TypeProcessor, "PROCESSOR"}, {TypeWriteOnce, "WRITE_ONCE"},
		{TypeMMC, "MMC"}, {TypeScanner, "SCANNER"}, {TypeOpticalMemory, "OPTICAL_MEMORY"},
		{TypeMediaChanger, "MEDIA_CHANGER"}, {TypeCommunications, "COMMUNICATIONS"},
		{TypeStorageArrayController, "STORAGE_ARRAY_CONTROLLER"}, {TypeEnclosureServices, "ENCLOSURE_SERVICES"},
		{TypeSimplifiedDirectAccess, "SIMPLIFIED_DIRECT_ACCESS"}, {TypeOpticalCardReader, "OPTICAL_CARD_READER"},
		{TypeBridgeController, "BRIDGE_CONTROLLER"}, {TypeOSD, "OSD"}, {TypeAutomation, "AUTOMATION"},
		{TypeSecurityManager, "SEQURITY_MANAGER"}, {TypeWellKnownLUN, "WELL_KNOWN_LUN"}, {TypeUnknown, "UNKNOWN"},
		{DeviceType(0x14), "unknown"},

		{QualifierConnected, "CONNECTED"}, {QualifierDisconnected, "DISCONNECTED"},
		{QualifierNotSupported, "NOT_SUPPORTED"}, {Qualifier(7), "unknown"},

		{Version(3), "ANSI INCITS 301-1997 (SPC)"}, {Version(4), "ANSI INCITS 351-2001 (SPC-2)"},
		{Version(5), "ANSI INCITS 408-2005 (SPC-3)"}, {Version(0), "unknown"},

		{VersionISCSI, "iSCSI"}, {VersionSBC3, "SBC-3"}, {VersionSPC3, "SPC-3"}, {VersionSBC2, "SBC-2"},
		{VersionDescriptor(0x033d), "SBC-2 ANSI INCITS 405-2005"}, {VersionDescriptor(0x0463), "SPC-4 T10/1731-D revision 23"},
		{VersionUASr04, "UAS T10/2095-D revision 04"}, {VersionSCC2, "unknown"},

		{CodeSetBinary, "BINARY"}, {CodeSetASCII, "ASCII"}, {CodeSetUTF8, "UTF8"}, {CodeSet(0), "unknown"},
		{AssocLogicalUnit, "LOGICAL_UNIT"}, {AssocTargetPort, "TARGET_PORT"}, {AssocTargetDevice, "TARGET_DEVICE"},
		{Association(3), "unknown"},

		{DesignatorVendorSpecific, "VENDOR_SPECIFIC"}, {DesignatorT10VendorID, "T10_VENDORT_ID"},
		{DesignatorEUI64, "EUI_64"}, {DesignatorNAA, "NAA"}, {DesignatorRelativeTargetPort, "RELATIVE_TARGET_PORT"},
		{DesignatorTargetPortGroup, "TARGET_PORT_GROUP"}, {DesignatorLogicalUnitGroup, "LOGICAL_UNIT_GROUP"},
		{DesignatorMD5LogicalUnitID, "MD5_LOGICAL_UNIT_IDENTIFIER"}, {DesignatorSCSINameString, "SCSI_NAME_STRING"},
		{DesignatorProtocolSpecific, "unknown"},

		{ProtocolFibreChannel, "FIBRE_CHANNEL"}, {ProtocolParallelSCSI, "PARALLEL_SCSI"}, {ProtocolSSA, "SSA"},
		{ProtocolIEEE1394, "IEEE_1394"}, {ProtocolRDMA, "RDMA"}, {ProtocolISCSI, "ISCSI"}, {ProtocolSAS, "SAS"},
		{ProtocolADT, "ADT"}, {ProtocolATA, "ATA"}, {ProtocolUAS, "unknown"},

		{StatusGood, "GOOD"}, {StatusCheckCondition, "CHECK CONDITION"}, {StatusConditionMet, "CONDITION MET"},
		{StatusBusy, "BUSY"}, {StatusIntermediate, "INTERMEDIATE"},
		{StatusIntermediateConditionMet, "INTERMEDIATE-CONDITION MET"},
		{StatusReservationConflict, "RESERVATION CONFLICT"}, {StatusCommandTerminated, "COMMAND TERMINATED"},
		{StatusTaskSetFull, "TASK SET FULL"}, {StatusACAActive, "ACA ACTIVE"}, {StatusTaskAborted, "TASK ABORTED"},

		{SenseNoSense, "NO SENSE"}, {SenseRecoveredError, "RECOVERED ERROR"}, {SenseNotReady, "NOT READY"},
		{SenseMediumError, "MEDIUM ERROR"}, {SenseHardwareError, "HARDWARE ERROR"},
		{SenseIllegalRequest, "ILLEGAL REQUEST"}, {SenseUnitAttention, "UNIT ATTENTION"},
		{SenseDataProtect, "DATA PROTECT"}, {SenseBlankCheck, "BLANK CHECK"},
		{SenseVendorSpecific, "VENDOR SPECIFIC"}, {SenseCopyAborted, "COPY ABORTED"},
		{SenseAbortedCommand, "ABORTED COMMAND"}, {SenseVolumeOverflow, "VOLUME OVERFLOW"},
		{SenseMiscompare, "MISCOMPARE"}, {SenseCompleted, "COMPLETED"},

		{ASCInvalidOpcode, "0x20/0x00 INVALID COMMAND OPERATION CODE"},
		{ASCLUNotSupported, "0x25/0x00 LOGICAL UNIT NOT SUPPORTED"},
		{ASCNotReady, "0x04/0x00 LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"},
		{ASCPowerOnReset, "0x29/0x00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},

		{AddrPeripheral, "peripheral device"}, {AddrFlatSpace, "flat space"},
		{AddrLogicalUnit, "logical unit"}, {AddrExtended, "extended logical unit"},
		{AddressMethod(4), "address method 4"},

		{OpReportLUNs, "REPORT LUNS"}, {OpServiceActionIn16, "SERVICE ACTION IN(16)"},
		{OpWriteSame16, "WRITE SAME(16)"}, {OpUnmap, "UNMAP"}, {OpCompareAndWrite, "COMPARE AND WRITE"},
		{OpORWrite16, "ORWRITE(16)"}, {OpWriteAtomic16, "WRITE ATOMIC(16)"}, {OpPreFetch10, "PRE-FETCH(10)"},
		{OpWriteAndVerify12, "WRITE AND VERIFY(12)"}, {OpPersistentReserveOut, "PERSISTENT RESERVE OUT"},
		{OpMaintenanceIn, "MAINTENANCE IN"}, {OpReadTOC, "READ TOC/PMA/ATIP"}, {OpReadDefectData12, "READ DEFECT DATA(12)"},
		{OpPreventAllowMediumRemoval, "PREVENT ALLOW MEDIUM REMOVAL"}, {OpCode(0x04), "OPCODE 0x04"},

		{LBAMapped, "MAPPED"}, {LBADeallocated, "DEALLOCATED"}, {LBAAnchored, "ANCHORED"}, {LBAMappedOrUnknown, "MAPPED OR UNKNOWN"},
		{PRTypeWriteExclusive, "WRITE EXCLUSIVE"}, {PRTypeExclusiveAccess, "EXCLUSIVE ACCESS"},
		{PRTypeWriteExclusiveAllRegistrants, "WRITE EXCLUSIVE - ALL REGISTRANTS"},
		{PRTypeExclusiveAccessAllRegistrants, "EXCLUSIVE ACCESS - ALL REGISTRANTS"}, {PRType(0), "TYPE 0"}, {PRType(200), "TYPE 200"},
		{ALUAActiveOptimized, "ACTIVE/OPTIMIZED"}, {ALUAActiveNonOptimized, "ACTIVE/NON-OPTIMIZED"},
		{ALUAUnavailable, "UNAVAILABLE"}, {ALUALBADependent, "LOGICAL BLOCK DEPENDENT"}, {ALUAOffline, "OFFLINE"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%T(%#x).String() = %q, want %q", tt.v, tt.v, got, tt.want)
		}
	}
	for _, naa := range []struct {
		n    uint8
		want string
	}{{2, "IEEE Extended"}, {3, "Locally Assigned"}, {5, "IEEE Registered"}, {6, "IEEE Registered Extended"}, {1, "reserved"}} {
		if got := NAAName(naa.n); got != naa.want {
			t.Errorf("NAAName(%d) = %q", naa.n, got)
		}
	}
	if ErrMediumNotPresent.Error() != "scsi: MEDIUM NOT PRESENT" || ErrBusy.Error() != "scsi: BUSY" {
		t.Errorf("sentinel messages: %q %q", ErrMediumNotPresent, ErrBusy)
	}
}
