package scsi

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncodeLUN(t *testing.T) {
	tests := []struct {
		n    uint32
		want LUN
		err  bool
	}{
		{0, 0, false},
		{1, 0x0001_0000_0000_0000, false},
		{255, 0x00ff_0000_0000_0000, false},
		{256, 0x4100_0000_0000_0000, false}, // flat space
		{300, 0x412c_0000_0000_0000, false},
		{16383, 0x7fff_0000_0000_0000, false},
		{16384, 0, true},
		{1 << 31, 0, true},
	}
	for _, tt := range tests {
		got, err := EncodeLUN(tt.n)
		if (err != nil) != tt.err {
			t.Errorf("EncodeLUN(%d) err = %v", tt.n, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrLUNRange) {
				t.Errorf("EncodeLUN(%d) err %v is not ErrLUNRange", tt.n, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("EncodeLUN(%d) = %016x, want %016x", tt.n, uint64(got), uint64(tt.want))
		}
		a, err := got.Decode()
		if err != nil || a.Number != uint64(tt.n) || a.MultiLevel {
			t.Errorf("Decode(EncodeLUN(%d)) = %+v, %v", tt.n, a, err)
		}
	}
}

func TestDecodeLUN(t *testing.T) {
	tests := []struct {
		lun  LUN
		want LUNAddress
		str  string
		err  bool
	}{
		{0x0005_0000_0000_0000, LUNAddress{Method: AddrPeripheral, Number: 5}, "5", false},
		{0x0305_0000_0000_0000, LUNAddress{Method: AddrPeripheral, Bus: 3, Number: 5}, "0305000000000000", false},
		{0x412c_0000_0000_0000, LUNAddress{Method: AddrFlatSpace, Number: 300}, "300", false},
		// logical unit method: target 5, bus 2, LUN 7
		{0x8547_0000_0000_0000, LUNAddress{Method: AddrLogicalUnit, Target: 5, Bus: 2, Number: 7}, "8547000000000000", false},
		{WellKnownReportLUNs, LUNAddress{Method: AddrExtended, WellKnown: true, Number: 1}, "W-LUN 0x01", false},
		{0xd2_012345_0000_0000, LUNAddress{Method: AddrExtended, Number: 0x012345}, "d201234500000000", false},
		{0xe2_01_02030405_0000, LUNAddress{Method: AddrExtended, Number: 0x0102030405}, "e201020304050000", false},
		{0xffff_ffff_ffff_ffff, LUNAddress{Method: AddrExtended, NotSpecified: true}, "ffffffffffffffff", false},
		// two levels: peripheral 1 then peripheral 2
		{0x0001_0002_0000_0000, LUNAddress{Method: AddrPeripheral, Number: 1, MultiLevel: true}, "0001000200000000", false},
		{0xc500_0000_0000_0000, LUNAddress{}, "c500000000000000", true},
		{0xffff_0000_0000_0000, LUNAddress{}, "ffff000000000000", true},
	}
	for _, tt := range tests {
		got, err := tt.lun.Decode()
		if (err != nil) != tt.err {
			t.Errorf("%016x: err = %v", uint64(tt.lun), err)
			continue
		}
		if err != nil && !errors.Is(err, ErrLUNFormat) {
			t.Errorf("%016x: %v is not ErrLUNFormat", uint64(tt.lun), err)
		}
		if err == nil {
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%016x (-want +got):\n%s", uint64(tt.lun), diff)
			}
		}
		if s := tt.lun.String(); s != tt.str {
			t.Errorf("%016x: String = %q, want %q", uint64(tt.lun), s, tt.str)
		}
	}
	if got := LUN(0x412c_0000_0000_0000).FirstLevel(); got != 16684 {
		t.Errorf("FirstLevel = %d, want 16684 (libiscsi's number for flat LUN 300)", got)
	}
}

func TestParseReportLUNs(t *testing.T) {
	r, err := ParseReportLUNs(tgtdReportLUNs)
	if err != nil {
		t.Fatal(err)
	}
	if r.ListLength != 16 || r.Truncated || r.FullLength() != 24 || len(r.LUNs) != 2 || r.LUNs[0] != 0 || r.LUNs[1] != 0x0001_0000_0000_0000 {
		t.Errorf("tgtd: %+v", r)
	}

	// The 16-byte first ask of iscsi-ls: one LUN of two, truncated.
	r, err = ParseReportLUNs(tgtdReportLUNs[:16])
	if err != nil || !r.Truncated || len(r.LUNs) != 1 || r.FullLength() != 24 {
		t.Errorf("16 bytes: %+v %v", r, err)
	}
	// Only the header.
	r, err = ParseReportLUNs(tgtdReportLUNs[:8])
	if err != nil || !r.Truncated || len(r.LUNs) != 0 {
		t.Errorf("8 bytes: %+v %v", r, err)
	}
	// Only the list length.
	r, err = ParseReportLUNs(tgtdReportLUNs[:4])
	if err != nil || !r.Truncated || r.ListLength != 16 {
		t.Errorf("4 bytes: %+v %v", r, err)
	}
	if _, err = ParseReportLUNs(tgtdReportLUNs[:3]); !errors.Is(err, ErrShortData) {
		t.Errorf("3 bytes: %v", err)
	}
	// Empty list: no LUNs, not truncated.
	r, err = ParseReportLUNs(make([]byte, 8))
	if err != nil || r.Truncated || len(r.LUNs) != 0 {
		t.Errorf("empty: %+v %v", r, err)
	}
	// More bytes than the list length: ignored.
	r, _ = ParseReportLUNs(append(append([]byte{}, tgtdReportLUNs...), 1, 2, 3, 4, 5, 6, 7, 8))
	if len(r.LUNs) != 2 {
		t.Errorf("extra bytes parsed: %v", r.LUNs)
	}
	// A list length that is not a multiple of 8.
	bad := append([]byte{}, tgtdReportLUNs...)
	bad[3] = 12
	r, err = ParseReportLUNs(bad)
	if !errors.Is(err, ErrMalformed) || len(r.LUNs) != 1 {
		t.Errorf("length 12: %+v %v", r, err)
	}
	// A huge list length with little data allocates by the data.
	huge := []byte{0xff, 0xff, 0xff, 0xf8, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0}
	r, err = ParseReportLUNs(huge)
	if err != nil || !r.Truncated || len(r.LUNs) != 1 || r.FullLength() != 0xfffffff8+8 {
		t.Errorf("huge: %+v %v", r, err)
	}
}
