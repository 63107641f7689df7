package conformance

import "github.com/iscsi-go/iscsi/scsi"

// clauses names the standard and command a failed command's test checks,
// by operation code (SBC-4 and SPC-5 command clauses; the named checks,
// such as LBA OUT OF RANGE for a transfer past the last LBA, are in the
// command's clause).
var clauses = map[scsi.OpCode]string{
	0x00: "SPC-5 TEST UNIT READY",
	0x08: "SBC-4 READ (6)",
	0x12: "SPC-5 INQUIRY (and SBC-4 VPD pages)",
	0x16: "SPC-2 RESERVE (6)",
	0x17: "SPC-2 RELEASE (6)",
	0x1a: "SPC-5 MODE SENSE (6)",
	0x1b: "SBC-4 START STOP UNIT",
	0x1e: "SBC-4 PREVENT ALLOW MEDIUM REMOVAL",
	0x25: "SBC-4 READ CAPACITY (10)",
	0x28: "SBC-4 READ (10)",
	0x2a: "SBC-4 WRITE (10)",
	0x2e: "SBC-4 WRITE AND VERIFY (10)",
	0x2f: "SBC-4 VERIFY (10)",
	0x34: "SBC-4 PRE-FETCH (10)",
	0x35: "SBC-4 SYNCHRONIZE CACHE (10)",
	0x37: "SBC-4 READ DEFECT DATA (10)",
	0x41: "SBC-4 WRITE SAME (10)",
	0x42: "SBC-4 UNMAP",
	0x48: "SBC-4 SANITIZE",
	0x5e: "SPC-5 PERSISTENT RESERVE IN",
	0x5f: "SPC-5 PERSISTENT RESERVE OUT",
	0x83: "SPC-5 EXTENDED COPY",
	0x84: "SPC-5 RECEIVE COPY RESULTS",
	0x88: "SBC-4 READ (16)",
	0x89: "SBC-4 COMPARE AND WRITE",
	0x8a: "SBC-4 WRITE (16)",
	0x8b: "SBC-4 ORWRITE (16)",
	0x8e: "SBC-4 WRITE AND VERIFY (16)",
	0x8f: "SBC-4 VERIFY (16)",
	0x90: "SBC-4 PRE-FETCH (16)",
	0x91: "SBC-4 SYNCHRONIZE CACHE (16)",
	0x93: "SBC-4 WRITE SAME (16)",
	0x9c: "SBC-4 WRITE ATOMIC (16)",
	0x9e: "SBC-4 SERVICE ACTION IN (16): READ CAPACITY (16), GET LBA STATUS",
	0xa3: "SPC-5 MAINTENANCE IN: REPORT SUPPORTED OPERATION CODES",
	0xa8: "SBC-4 READ (12)",
	0xaa: "SBC-4 WRITE (12)",
	0xae: "SBC-4 WRITE AND VERIFY (12)",
	0xaf: "SBC-4 VERIFY (12)",
	0xb7: "SBC-4 READ DEFECT DATA (12)",
}

func clause(op scsi.OpCode) string { return clauses[op] }
