package scsi

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// libiscsiCDBs maps the names of testdata/libiscsi/cdbs.txt, the CDBs
// libiscsi 1.19.0's builders produced (see cdbs.c for the calls), to this
// package's builders given the same arguments.
var libiscsiCDBs = map[string]CDB{
	"testunitready":             TestUnitReady(),
	"inquiry":                   Inquiry(96),
	"inquiry-vpd-b0":            InquiryVPD(0xb0, 0x1234),
	"reportluns":                ReportLUNs(ReportAllIncludingWellKnown, 0x01020304),
	"readcapacity10":            ReadCapacity10(),
	"readcapacity16":            ReadCapacity16(32),
	"read6":                     must(Read6(0x123456, 16)),
	"read6-256":                 must(Read6(7, 256)),
	"read10":                    Read10(0x01020304, 0x0506, Protect(5)|DPO|FUA|FUANV|Group(0x13)),
	"read12":                    Read12(0x01020304, 0x00060708, Protect(2)|FUA|Group(7)),
	"read16":                    Read16(0x0102030405060708, 0x00090a0b, Protect(7)|DPO|FUANV|Group(0x1f)),
	"write10":                   Write10(0xfffffffe, 0xffff, Protect(1)|DPO|FUA|Group(1)),
	"write12":                   Write12(0x10, 0x20, DPO|FUA|FUANV|Group(3)),
	"write16":                   Write16(1<<40, 1, Protect(3)|FUA|Group(0x11)),
	"writeverify10":             WriteAndVerify10(0x01020304, 8, ByteCheckCompare, Protect(2)|DPO|Group(5)),
	"writeverify12":             WriteAndVerify12(0x01020304, 0x10000, ByteCheckCompare, Group(9)),
	"writeverify16":             WriteAndVerify16(0x0102030405060708, 4, ByteCheckNone, Protect(7)|DPO|Group(0x1f)),
	"verify10":                  Verify10(0x01020304, 8, ByteCheckCompare, Protect(3)|DPO),
	"verify12":                  Verify12(0xa0b0c0d0, 0x100, ByteCheckNone, 0),
	"verify16":                  Verify16(0xffffffff00000001, 0x1000, ByteCheckCompare, Protect(1)|DPO),
	"orwrite":                   ORWrite16(0x0102030405060708, 0x20, Protect(4)|DPO|FUA|FUANV|Group(6)),
	"compareandwrite":           CompareAndWrite(0x0102030405060708, 8, Protect(1)|DPO|FUA|Group(2)),
	"writeatomic16":             WriteAtomic16(0x0102030405060708, 0, 0x80, Protect(2)|DPO|FUA|Group(4)),
	"prefetch10":                PreFetch10(0x01020304, 0x0506, true, 0x11),
	"prefetch16":                PreFetch16(0x0102030405060708, 0x10000, false, 3),
	"writesame10":               WriteSame10(0x01020304, 0x0506, WriteSameProtect(3)|WriteSameAnchor|WriteSameUnmap, 0x0a),
	"writesame10-plain":         WriteSame10(7, 8, 0, 0),
	"writesame16":               WriteSame16(0x0102030405060708, 0x090a0b0c, WriteSameUnmap, 0x1f),
	"writesame16-ndob":          WriteSame16(1<<33, 0x1000, WriteSameProtect(5)|WriteSameAnchor|WriteSameUnmap|WriteSameNDOB, 0),
	"unmap":                     Unmap(false, 0, 24),
	"unmap-anchor":              Unmap(true, 0x15, 0xfff8),
	"getlbastatus":              GetLBAStatus(0x0102030405060708, 0x1000),
	"synchronizecache10":        SynchronizeCache10(0x10, 0x20, true),
	"synchronizecache16":        SynchronizeCache16(1<<33, 0x100, true),
	"modesense6":                ModeSense6(true, PageChangeable, ModePageAll, 0xff, 0xfc),
	"modesense10":               ModeSense10(true, true, PageDefault, ModePageCaching, 0, 0xff),
	"modesense10-all":           ModeSense10(false, false, PageSaved, ModePageAll, 0xff, 0x80),
	"modeselect6":               ModeSelect6(true, true, 24),
	"modeselect10":              ModeSelect10(true, false, 0x0120),
	"prin-readkeys":             PersistentReserveIn(PRReadKeys, 0x1234),
	"prin-readreservation":      PersistentReserveIn(PRReadReservation, 24),
	"prin-reportcapabilities":   PersistentReserveIn(PRReportCapabilities, 8),
	"prin-readfullstatus":       PersistentReserveIn(PRReadFullStatus, 0xffff),
	"prout-register":            PersistentReserveOut(PRRegister, 0, PROutParametersLen),
	"prout-reserve":             PersistentReserveOut(PRReserve, PRTypeWriteExclusive, PROutParametersLen),
	"prout-release":             PersistentReserveOut(PRRelease, PRTypeExclusiveAccessAllRegistrants, PROutParametersLen),
	"prout-clear":               PersistentReserveOut(PRClear, 0, PROutParametersLen),
	"prout-preempt":             PersistentReserveOut(PRPreempt, PRTypeExclusiveAccessRegistrantsOnly, PROutParametersLen),
	"prout-preemptabort":        PersistentReserveOut(PRPreemptAndAbort, PRTypeWriteExclusiveRegistrantsOnly, PROutParametersLen),
	"prout-registerignore":      PersistentReserveOut(PRRegisterAndIgnore, 0, PROutParametersLen),
	"startstopunit":             StartStopUnit(StartStop{Immed: true, PowerConditionModifier: 0x0a, PowerCondition: 3, NoFlush: true, LoEj: true, Start: true}),
	"startstopunit-stop":        StartStopUnit(StartStop{}),
	"preventallow":              PreventAllowMediumRemoval(true),
	"reserve6":                  Reserve6(),
	"release6":                  Release6(),
	"rsoc-all":                  ReportSupportedOpCodes(true, 0x10000),
	"rsoc-one":                  ReportSupportedOpCode(OpWriteSame16, false, 512),
	"rsoc-sa":                   ReportSupportedServiceAction(OpServiceActionIn16, ServiceActionGetLBAStatus, true, 64),
	"readdefectdata10":          ReadDefectData10(true, true, DefectPhysicalSector, 0x0400),
	"readdefectdata12":          ReadDefectData12(true, false, DefectBytesFromIndex, 0, 0x10000),
	"sanitize":                  Sanitize(SanitizeOverwrite, true, true, 0x0c),
	"sanitize-exit":             Sanitize(SanitizeExitFailureMode, false, false, 0),
	"extendedcopy":              ExtendedCopy(0x01020304),
	"receivecopyresults":        ReceiveCopyResults(CopyResultsOperatingParameters, 0, 0x400),
	"receivecopyresults-status": ReceiveCopyResults(CopyResultsStatus, 0x2a, 12),
	"readtoc":                   ReadTOC(true, TOCFormatted, 1, 0x0324),
	"readtoc-session":           ReadTOC(false, TOCSessionInfo, 5, 12),
}

// libiscsiDivergent lists the calls where this package deliberately
// builds other bytes than libiscsi, and why.
var libiscsiDivergent = map[string]string{
	// scsi_cdb_readdefectdata12 sets REQ_PLIST, REQ_GLIST and the
	// format in byte 2, then writes the ADDRESS DESCRIPTOR INDEX over
	// bytes 2-5; SBC-3 puts them in byte 1.
	"readdefectdata12": "libiscsi loses the list flags and format",
}

func must(c CDB, err error) CDB {
	if err != nil {
		panic(err)
	}
	return c
}

func readLibiscsiCDBs(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/libiscsi/cdbs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, hexBytes, _ := strings.Cut(sc.Text(), " ")
		b, err := hex.DecodeString(strings.ReplaceAll(hexBytes, " ", ""))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLibiscsiCDBs(t *testing.T) {
	want := readLibiscsiCDBs(t)
	for name := range want {
		if _, ok := libiscsiCDBs[name]; !ok {
			t.Errorf("%s: libiscsi builds it, this test does not compare it", name)
		}
	}
	for name, cdb := range libiscsiCDBs {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: not in cdbs.txt", name)
			continue
		}
		if got := cdb.Bytes(); string(got) != string(w) {
			if why, ok := libiscsiDivergent[name]; ok {
				t.Logf("%s: differs from libiscsi on purpose (%s)", name, why)
				continue
			}
			t.Errorf("%s:\n got % x\nlibiscsi % x", name, got, w)
		}
	}
}
