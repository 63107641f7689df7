package scsi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVPDTgtdGolden(t *testing.T) {
	var s strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&s, f+"\n", a...) }

	sp, err := ParseSupportedPages(tgtdSupportedPages)
	if err != nil {
		t.Fatal(err)
	}
	for _, pg := range sp.Pages {
		p("Page:0x%02x %s", pg, PageName(pg))
	}
	check(t, "supported pages", goldenSupportedPages, &s)

	sn, err := ParseUnitSerialNumber(tgtdSerialLUN1)
	if err != nil {
		t.Fatal(err)
	}
	p("Unit Serial Number:[%s]", sn.Serial)
	check(t, "serial", goldenSerial, &s)

	id, err := ParseDeviceIdentification(tgtdDeviceIDLUN1)
	if err != nil {
		t.Fatal(err)
	}
	p("Peripheral Qualifier:%v", id.Qualifier)
	p("Peripheral Device Type:%v", id.DeviceType)
	p("Page Code:(0x%02x) %s", id.PageCode, PageName(id.PageCode))
	for i := range id.Designators {
		d := id.Designators[len(id.Designators)-1-i] // libiscsi's order
		p("DEVICE DESIGNATOR #%d", i)
		if d.PIV {
			p("Device Protocol Identifier:(%d) %v", d.ProtocolID, d.ProtocolID)
		}
		p("Code Set:(%d) %v", d.CodeSet, d.CodeSet)
		p("PIV:%d", b2i(d.PIV))
		p("Association:(%d) %v", d.Association, d.Association)
		p("Designator Type:(%d) %v", d.Type, d.Type)
		p("Designator:[%s]", d.Text())
	}
	check(t, "device identification", goldenDeviceID, &s)

	bl, err := ParseBlockLimits(tgtdBlockLimits)
	if err != nil {
		t.Fatal(err)
	}
	p("wsnz:%d", b2i(bl.WSNZ))
	p("maximum compare and write length:%d", bl.MaxCompareAndWriteLength)
	p("optimal transfer length granularity:%d", bl.OptimalTransferGranularity)
	p("maximum transfer length:%d", bl.MaxTransferLength)
	p("optimal transfer length:%d", bl.OptimalTransferLength)
	p("maximum prefetch xdread xdwrite transfer length:%d", bl.MaxPrefetchLength)
	p("maximum unmap lba count:%d", bl.MaxUnmapLBACount)
	p("maximum unmap block descriptor count:%d", bl.MaxUnmapDescriptorCount)
	p("optimal unmap granularity:%d", bl.OptimalUnmapGranularity)
	p("ugavalid:%d", b2i(bl.UGAValid))
	p("unmap granularity alignment:%d", bl.UnmapGranularityAlignment)
	p("maximum write same length:%d", bl.MaxWriteSameLength)
	check(t, "block limits", goldenBlockLimits, &s)

	bdc, err := ParseBlockDeviceCharacteristics(tgtdBlockDevChar)
	if err != nil {
		t.Fatal(err)
	}
	p("Medium Rotation Rate:%dRPM", bdc.MediumRotationRate)
	check(t, "block device characteristics", goldenBDC, &s)

	lbp, err := ParseLogicalBlockProvisioning(tgtdLBP)
	if err != nil {
		t.Fatal(err)
	}
	p("Threshold Exponent:%d", lbp.ThresholdExponent)
	p("lbpu:%d", b2i(lbp.LBPU))
	p("lbpws:%d", b2i(lbp.LBPWS))
	p("lbpws10:%d", b2i(lbp.LBPWS10))
	p("lbprz:%d", lbp.LBPRZ&1)
	p("anc_sup:%d", b2i(lbp.ANCSup))
	p("dp:%d", b2i(lbp.DP))
	p("provisioning type:%d", lbp.ProvisioningType)
	check(t, "logical block provisioning", goldenLBP, &s)
}

func check(t *testing.T, what, want string, s *strings.Builder) {
	t.Helper()
	if diff := cmp.Diff(want, s.String()); diff != "" {
		t.Errorf("%s: iscsi-inq lines differ (-libiscsi +ours):\n%s", what, diff)
	}
	s.Reset()
}

func TestDeviceIdentificationDesignators(t *testing.T) {
	page := cat(
		[]byte{0x00, 0x83, 0x00, 0},
		// NAA IEEE registered (5), LU
		[]byte{0x01, 0x03, 0x00, 8, 0x50, 0x01, 0x40, 0x50, 0x12, 0x34, 0x56, 0x78},
		// EUI-64 12-byte, LU
		[]byte{0x01, 0x02, 0x00, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		// relative target port 2, iSCSI, PIV, target port association
		[]byte{0x51, 0x94, 0x00, 4, 0, 0, 0, 2},
		// target port group 0x0102
		[]byte{0x51, 0x95, 0x00, 4, 0, 0, 1, 2},
		// logical unit group 7
		[]byte{0x01, 0x06, 0x00, 4, 0, 0, 0, 7},
		// SCSI name string, UTF-8, target device, NUL padded to 4
		[]byte{0x53, 0xa8, 0x00, 16}, []byte("iqn.2026-01.x:t\x00"),
		// MD5 logical unit identifier
		[]byte{0x01, 0x07, 0x00, 16}, make([]byte, 16),
		// vendor specific, ASCII, empty
		[]byte{0x02, 0x00, 0x00, 0},
		// protocol specific port identifier (SPC-4) and UUID (SPC-5)
		[]byte{0x61, 0x99, 0x00, 4, 1, 2, 3, 4},
		[]byte{0x01, 0x0a, 0x00, 18, 0x10, 0}, make([]byte, 16),
	)
	page[3] = byte(len(page) - 4)
	id, err := ParseDeviceIdentification(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Designators) != 10 {
		t.Fatalf("%d designators, want 10", len(id.Designators))
	}
	d := id.Designators
	if naa, ok := d[0].NAAFormat(); !ok || naa != NAAIEEERegistered || NAAName(naa) != "IEEE Registered" {
		t.Errorf("NAA = %d %v", naa, ok)
	}
	if f := d[1].EUI64Format(); f != "EUI-64 based 12-byte" {
		t.Errorf("EUI64Format = %q", f)
	}
	if n, ok := d[2].Number(); !ok || n != 2 || !d[2].PIV || d[2].ProtocolID != ProtocolISCSI || d[2].Association != AssocTargetPort || d[2].Type != DesignatorRelativeTargetPort {
		t.Errorf("relative target port = %+v", d[2])
	}
	if n, ok := d[3].Number(); !ok || n != 0x0102 || d[3].Type != DesignatorTargetPortGroup {
		t.Errorf("target port group = %+v", d[3])
	}
	if n, ok := d[4].Number(); !ok || n != 7 || d[4].Type != DesignatorLogicalUnitGroup {
		t.Errorf("logical unit group = %+v", d[4])
	}
	if d[5].Text() != "iqn.2026-01.x:t" || d[5].CodeSet != CodeSetUTF8 || d[5].Association != AssocTargetDevice || d[5].Type != DesignatorSCSINameString {
		t.Errorf("SCSI name string = %+v %q", d[5], d[5].Text())
	}
	if d[6].Type != DesignatorMD5LogicalUnitID || len(d[6].Value) != 16 {
		t.Errorf("MD5 = %+v", d[6])
	}
	if d[7].Type != DesignatorVendorSpecific || len(d[7].Value) != 0 {
		t.Errorf("vendor specific = %+v", d[7])
	}
	if d[8].Type != DesignatorProtocolSpecific || d[8].ProtocolID != 6 {
		t.Errorf("protocol specific = %+v", d[8])
	}
	if d[9].Type != DesignatorUUID || len(d[9].Value) != 18 {
		t.Errorf("UUID = %+v", d[9])
	}
	if _, ok := d[0].Number(); ok {
		t.Errorf("Number on an NAA designator")
	}

	tid, err := ParseDeviceIdentification(tgtdDeviceIDLUN1)
	if err != nil {
		t.Fatal(err)
	}
	v, spec, ok := tid.Designators[0].T10VendorID()
	if !ok || v != "IET     " || string(spec[:8]) != "00010001" {
		t.Errorf("T10VendorID = %q %q %v", v, spec, ok)
	}
	if naa, ok := tid.Designators[1].NAAFormat(); !ok || naa != NAALocallyAssigned {
		t.Errorf("tgtd NAA 3: %d %v", naa, ok)
	}
	if naa, ok := tid.Designators[2].NAAFormat(); !ok || naa != NAAIEEERegisteredExtended {
		t.Errorf("tgtd NAA 6: %d %v", naa, ok)
	}
	if got := tid.Designators[1].String(); got != "NAA LOGICAL_UNIT 3000000100000001" {
		t.Errorf("String = %q", got)
	}
}

func TestDeviceIdentificationMalformed(t *testing.T) {
	// Designator length runs past a complete page.
	bad := []byte{0x00, 0x83, 0x00, 8, 0x01, 0x03, 0x00, 8, 0x50, 0, 0, 0}
	id, err := ParseDeviceIdentification(bad)
	if !errors.Is(err, ErrMalformed) || len(id.Designators) != 0 {
		t.Errorf("overrun: %v %v", id.Designators, err)
	}
	// The same cut by the allocation length is truncation, not an error.
	cut := tgtdDeviceIDLUN1[:60]
	id, err = ParseDeviceIdentification(cut)
	if err != nil || !id.Truncated || len(id.Designators) != 2 || id.FullLength() != 76 {
		t.Errorf("truncated: %d designators, Truncated %v, FullLength %d, err %v", len(id.Designators), id.Truncated, id.FullLength(), err)
	}
	// A stray 1-3 bytes at the end.
	_, err = ParseDesignators([]byte{0x01, 0x03})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("stray bytes: %v", err)
	}
}

func TestVPDErrors(t *testing.T) {
	if _, err := ParseBlockLimits(tgtdLBP); !errors.Is(err, ErrWrongPage) {
		t.Errorf("wrong page: %v", err)
	}
	if _, err := ParseSupportedPages([]byte{0, 0, 0}); !errors.Is(err, ErrShortData) {
		t.Errorf("short: %v", err)
	}
	sp, err := ParseSupportedPages(tgtdSupportedPages[:7])
	if err != nil || !sp.Truncated || len(sp.Pages) != 3 || sp.FullLength() != 10 {
		t.Errorf("truncated supported pages: %+v %v", sp, err)
	}
}

func TestBlockLimitsFields(t *testing.T) {
	b := make([]byte, 64)
	b[1], b[3] = 0xb0, 0x3c
	b[4] = 0x01
	b[5] = 0x40
	copy(b[6:], []byte{0x00, 0x08})                // opt granularity 8
	copy(b[8:], []byte{0x00, 0x00, 0x10, 0x00})    // max transfer 4096
	copy(b[12:], []byte{0x00, 0x00, 0x01, 0x00})   // optimal 256
	copy(b[16:], []byte{0x00, 0x00, 0x00, 0x20})   // prefetch 32
	copy(b[20:], []byte{0xff, 0xff, 0xff, 0xff})   // max unmap LBA count
	copy(b[24:], []byte{0x00, 0x00, 0x00, 0x01})   // descriptors 1
	copy(b[28:], []byte{0x00, 0x00, 0x00, 0x08})   // unmap granularity 8
	copy(b[32:], []byte{0x80, 0x00, 0x00, 0x03})   // UGAVALID, alignment 3
	copy(b[36:], []byte{0, 0, 0, 1, 0, 0, 0, 0})   // max write same 2^32
	copy(b[44:], []byte{0, 0, 0, 9, 0, 0, 0, 10})  // atomic length, alignment
	copy(b[52:], []byte{0, 0, 0, 11, 0, 0, 0, 12}) // granularity, with boundary
	copy(b[60:], []byte{0, 0, 0, 13})              // boundary size
	got, err := ParseBlockLimits(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BlockLimits{
		VPDHeader: VPDHeader{PageCode: 0xb0, PageLength: 0x3c},
		WSNZ:      true, MaxCompareAndWriteLength: 0x40, OptimalTransferGranularity: 8,
		MaxTransferLength: 4096, OptimalTransferLength: 256, MaxPrefetchLength: 32,
		MaxUnmapLBACount: 0xffffffff, MaxUnmapDescriptorCount: 1, OptimalUnmapGranularity: 8,
		UGAValid: true, UnmapGranularityAlignment: 3, MaxWriteSameLength: 1 << 32,
		MaxAtomicTransferLength: 9, AtomicAlignment: 10, AtomicTransferGranularity: 11,
		MaxAtomicTransferLengthBound: 12, MaxAtomicBoundarySize: 13,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// An early SBC-3 page of 16 bytes: later fields read as 0.
	old := append([]byte{}, b[:16]...)
	old[3] = 0x0c
	got, err = ParseBlockLimits(old)
	if err != nil || got.Truncated || got.OptimalTransferLength != 256 || got.MaxUnmapLBACount != 0 {
		t.Errorf("16-byte page: %+v %v", got, err)
	}
}

func TestBlockDeviceCharacteristicsFields(t *testing.T) {
	b := []byte{0x00, 0xb1, 0x00, 0x3c, 0x1c, 0x20, 0x02, 0x40 | 0x20 | 0x02, 0x10 | 0x02 | 0x01}
	b = append(b, make([]byte, 0x3c-5)...)
	got, err := ParseBlockDeviceCharacteristics(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BlockDeviceCharacteristics{
		VPDHeader:          VPDHeader{PageCode: 0xb1, PageLength: 0x3c},
		MediumRotationRate: 7200, ProductType: 2, WABEREQ: 1, WACEREQ: 2, NominalFormFactor: 2,
		Zoned: 1, FUAB: true, VBULS: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLogicalBlockProvisioningFields(t *testing.T) {
	// tgtd with thin provisioning: LBPU, LBPWS, LBPWS10, LBPRZ; thin.
	b := []byte{0x00, 0xb2, 0x00, 0x04, 0x00, 0xe4, 0x02, 0x00}
	got, err := ParseLogicalBlockProvisioning(b)
	if err != nil {
		t.Fatal(err)
	}
	want := LogicalBlockProvisioning{
		VPDHeader: VPDHeader{PageCode: 0xb2, PageLength: 4},
		LBPU:      true, LBPWS: true, LBPWS10: true, LBPRZ: 1, ProvisioningType: ProvisioningThin,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// SBC-4: 3-bit LBPRZ, ANC_SUP, DP with a group descriptor,
	// percentages.
	b = []byte{0x00, 0xb2, 0x00, 12, 0x05, 0x08<<1 | 0x02 | 0x01, 10<<3 | 1, 80,
		0x01, 0x03, 0x00, 4, 0x30, 0, 0, 1}
	got, err = ParseLogicalBlockProvisioning(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ThresholdExponent != 5 || got.LBPRZ != 4 || !got.ANCSup || !got.DP || got.MinimumPercentage != 10 ||
		got.ProvisioningType != ProvisioningRes || got.ThresholdPercentage != 80 || len(got.ProvisioningGroupDescriptor) != 8 {
		t.Errorf("SBC-4 page: %+v", got)
	}
	if ds, err := ParseDesignators(got.ProvisioningGroupDescriptor); err != nil || len(ds) != 1 || ds[0].Type != DesignatorNAA {
		t.Errorf("group descriptor: %v %v", ds, err)
	}
}
