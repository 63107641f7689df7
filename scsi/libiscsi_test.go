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
	"testunitready":      TestUnitReady(),
	"inquiry":            Inquiry(96),
	"inquiry-vpd-b0":     InquiryVPD(0xb0, 0x1234),
	"reportluns":         ReportLUNs(ReportAllIncludingWellKnown, 0x01020304),
	"readcapacity10":     ReadCapacity10(),
	"readcapacity16":     ReadCapacity16(32),
	"writesame10":        WriteSame10(0x01020304, 0x0506, WriteSameProtect(3)|WriteSameAnchor|WriteSameUnmap, 0x0a),
	"writesame10-plain":  WriteSame10(7, 8, 0, 0),
	"writesame16":        WriteSame16(0x0102030405060708, 0x090a0b0c, WriteSameUnmap, 0x1f),
	"writesame16-ndob":   WriteSame16(1<<33, 0x1000, WriteSameProtect(5)|WriteSameAnchor|WriteSameUnmap|WriteSameNDOB, 0),
	"unmap":              Unmap(false, 0, 24),
	"unmap-anchor":       Unmap(true, 0x15, 0xfff8),
	"getlbastatus":       GetLBAStatus(0x0102030405060708, 0x1000),
	"synchronizecache10": SynchronizeCache10(0x10, 0x20, true),
	"synchronizecache16": SynchronizeCache16(1<<33, 0x100, true),
	"modesense6":         ModeSense6(true, PageChangeable, ModePageAll, 0xff, 0xfc),
}

// libiscsiDivergent lists the calls where this package deliberately
// builds other bytes than libiscsi, and why.
var libiscsiDivergent = map[string]string{}

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
