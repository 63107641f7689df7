package conformance

import (
	"bytes"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("", map[string]func(*T){
		"testunitready_simple":        testUnitReadySimple,
		"inquiry_standard":            inquiryStandard,
		"inquiry_alloc_length":        inquiryAllocLength,
		"inquiry_evpd":                inquiryEVPD,
		"inquiry_block_limits":        inquiryBlockLimits,
		"inquiry_mandatory_vpd_sbc":   inquiryMandatoryVPD,
		"inquiry_supported_vpd":       inquirySupportedVPD,
		"inquiry_version_descriptors": inquiryVersionDescriptors,
		"mandatory_sbc":               mandatorySBC,
		"readcapacity10_simple":       readCapacity10Simple,
		"readcapacity16_simple":       readCapacity16Simple,
		"readcapacity16_alloclen":     readCapacity16AllocLen,
		"readcapacity16_protection":   readCapacity16Protection,
		"readcapacity16_support":      readCapacity16Support,
		"modesense6_all_pages":        modeSense6AllPages,
		"modesense6_control":          modeSense6Control,
		"modesense6_control_d_sense":  modeSense6ControlDSense,
		"modesense6_residuals":        modeSense6Residuals,
	})
	register("dataloss", map[string]func(*T){
		"modesense6_control_swp": modeSense6ControlSWP,
	})
}

func testUnitReadySimple(t *T) {
	t.run(t.dev.nexus(), "TESTUNITREADY", scsi.TestUnitReady(), session.DirNone, nil, 0, good)
}

// inquiry is libiscsi's inquiry() used without its macro: a command the
// unit does not implement is a failure, not a skip.
func (t *T) inquiry(evpd bool, page uint8, alloc int, e expect) (reply, bool) {
	cdb := scsi.Inquiry(uint16(alloc))
	if evpd {
		cdb = scsi.InquiryVPD(page, uint16(alloc))
	}
	r, rc := t.try(t.dev.nexus(), "INQUIRY", cdb, session.DirRead, nil, alloc, e)
	if rc == -2 {
		t.Errorf("INQUIRY is not implemented")
	}
	return r, rc == 0
}

// SPC-5 6.7.2: standard INQUIRY data.
func inquiryStandard(t *T) {
	r, ok := t.inquiry(false, 0, 260, good)
	if !ok {
		return
	}
	d := r.data
	if len(d) < 36 {
		t.Fatalf("standard INQUIRY data is %d bytes, at least 36 are required (SPC-5 6.7.2)", len(d))
	}
	if d[0]>>5 != 0 {
		t.Errorf("PERIPHERAL QUALIFIER is %d, want 0 for a connected LUN (SPC-5 6.7.2)", d[0]>>5)
	}
	switch d[2] {
	case 0, 4, 5, 6:
	default:
		t.Errorf("Invalid version in INQUIRY data: %#x (SPC-5 6.7.2 VERSION)", d[2])
	}
	if d[3]&0x0f != 2 {
		t.Errorf("RESPONSE DATA FORMAT is %d, want 2 (SPC-5 6.7.2)", d[3]&0x0f)
	}
	add := int(d[4])
	if add > len(d)-5 {
		t.Errorf("Additional length points beyond end of data: ADDITIONAL LENGTH %d, %d bytes returned", add, len(d))
	}
	if add < len(d)-5 {
		for i := add + 6; i < len(d); i++ {
			if d[i] != 0 {
				t.Errorf("Padding data is not zero. Leaking data? (byte %d after ADDITIONAL LENGTH %d)", i, add)
				break
			}
		}
	}
	for _, f := range []struct {
		from, to int
		name     string
	}{{8, 16, "VENDOR_IDENTIFICATION"}, {16, 32, "PRODUCT_IDENTIFICATION"}, {32, 36, "PRODUCT_REVISON_LEVEL"}} {
		for i := f.from; i < f.to; i++ {
			if c := d[i]; c != 0 && (c < 0x20 || c > 0x7e) {
				t.Errorf("Invalid characters in %s (SPC-5 4.3.1: ASCII data fields)", f.name)
				break
			}
		}
	}
	if d[3]&0x80 != 0 && d[2] >= 5 {
		t.Errorf("AERC is set but SPC-3+ is claimed")
	}
	if d[3]&0x40 != 0 && d[2] >= 4 {
		t.Errorf("TRMTSK is set but SPC-2+ is claimed")
	}
}

// SPC-5 4.2.5.6: a device returns min(allocation length, data) bytes, for
// every allocation length.
func inquiryAllocLength(t *T) {
	var last reply
	for i := 5; i < 256; i++ {
		last, _ = t.inquiry(false, 0, i, good)
	}
	if len(last.data) < 36 {
		t.Errorf("standard INQUIRY data is %d bytes, at least 36 are required", len(last.data))
		return
	}
	if last.data[0]>>5 != 0 {
		t.Errorf("PERIPHERAL QUALIFIER is %d, want 0", last.data[0]>>5)
	}
	switch last.data[2] {
	case 5, 6:
	default:
		t.Skipf("This device does not claim SPC-3 or later")
	}
	a, ok1 := t.inquiry(false, 0, 511, good)
	b, ok2 := t.inquiry(false, 0, 512, good)
	if ok1 && ok2 && !bytes.Equal(a.data, b.data) {
		t.Errorf("INQUIRY with allocation length 511 and 512 returned different data (SPC-5 4.2.5.6: the 16-bit ALLOCATION LENGTH)")
	}
}

// SPC-5 6.7.1: EVPD 0 with a non-zero PAGE CODE is INVALID FIELD IN CDB.
func inquiryEVPD(t *T) {
	b := []byte{0x12, 0, 1, 1, 0, 0} // EVPD 0, PAGE CODE 1, allocation 256
	cdb, _ := scsi.NewCDB(b)
	_, rc := t.try(t.dev.nexus(), "INQUIRY", cdb, session.DirRead, nil, 256, invalidCDB)
	if rc == -2 {
		t.Errorf("INQUIRY is not implemented")
	}
}

// SBC-4 6.6.4: the Block Limits page.
func inquiryBlockLimits(t *T) {
	t.needSBC()
	r, ok := t.inquiry(true, scsi.VPDBlockLimits, 255, good)
	if !ok {
		return
	}
	d := r.data
	if len(d) < 4 {
		t.Fatalf("Block Limits page of %d bytes", len(d))
	}
	if len(d) != int(d[3])+4 {
		t.Errorf("Block Limits page: PAGE LENGTH %d but %d bytes returned", d[3], len(d)-4)
	}
	if d[3] == 8 && t.dev.SBC3 {
		t.Errorf("Invalid pagelength returned: 8 (SBC-2) from a unit that claims SBC-3, which makes it 0x3c")
	} else if len(d) >= 60 && !t.dev.SBC3 {
		t.Errorf("SBC-3 pagelength returned but SBC-3 support was not claimed in the standard inquiry page")
	}
	if d[3] != 0x3c {
		return
	}
	bl, err := scsi.ParseBlockLimits(d)
	if err != nil {
		t.Fatalf("Block Limits page: %v", err)
	}
	t.needThin()
	var lbpu bool
	if r, rc := t.try(t.dev.nexus(), "INQUIRY", scsi.InquiryVPD(scsi.VPDLogicalBlockProvisioning, 255), session.DirRead, nil, 255, good); rc == 0 {
		if lbp, err := scsi.ParseLogicalBlockProvisioning(r.data); err == nil {
			lbpu = lbp.LBPU
		}
	}
	if lbpu {
		if bl.MaxUnmapLBACount == 0 {
			t.Errorf("MAXIMUM UNMAP LBA COUNT is 0 on a unit with LBPU (SBC-4 6.6.4)")
		}
		if bl.MaxUnmapLBACount < 1<<t.dev.Capacity16.LBPPBE {
			t.Errorf("MAXIMUM UNMAP LBA COUNT %d is less than a physical block", bl.MaxUnmapLBACount)
		}
		if bl.MaxUnmapLBACount != 0xffffffff && bl.MaxUnmapLBACount > 1024*1024 {
			t.Errorf("MAXIMUM UNMAP LBA COUNT %d is above 1M blocks", bl.MaxUnmapLBACount)
		}
		if bl.MaxUnmapDescriptorCount == 0 {
			t.Errorf("MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT is 0 on a unit with LBPU")
		}
		if bl.MaxUnmapDescriptorCount != 0xffffffff && bl.MaxUnmapDescriptorCount > 1024*1024 {
			t.Errorf("MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT %d is above 1M", bl.MaxUnmapDescriptorCount)
		}
	} else {
		if bl.MaxUnmapLBACount != 0 {
			t.Errorf("MAXIMUM UNMAP LBA COUNT is %d without LBPU, want 0", bl.MaxUnmapLBACount)
		}
		if bl.MaxUnmapDescriptorCount != 0 {
			t.Errorf("MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT is %d without LBPU, want 0", bl.MaxUnmapDescriptorCount)
		}
	}
}

// SBC-4 6.6.1: an SBC device has VPD pages 0x00 and 0x83.
func inquiryMandatoryVPD(t *T) {
	t.needSBC()
	t.inquiry(true, scsi.VPDSupportedPages, 255, good)
	t.inquiry(true, scsi.VPDDeviceIdentification, 255, good)
}

// SPC-5 7.8.16: every page the Supported VPD Pages page lists is there.
func inquirySupportedVPD(t *T) {
	r, ok := t.inquiry(true, scsi.VPDSupportedPages, 255, good)
	if !ok {
		return
	}
	if len(r.data) < 4 {
		t.Fatalf("Supported VPD Pages page of %d bytes", len(r.data))
	}
	sp, err := scsi.ParseSupportedPages(r.data)
	if err != nil {
		t.Fatalf("Supported VPD Pages page: %v", err)
	}
	for _, p := range sp.Pages {
		t.inquiry(true, p, 255, good)
	}
}

// libiscsi only reports (logs) which SPC and SBC versions the unit claims.
func inquiryVersionDescriptors(t *T) {
	if t.dev.Inquiry.DeviceType == scsi.TypeDirectAccess {
		t.Logf("version descriptors: %v", t.dev.Inquiry.VersionDescriptors)
	}
}

// SBC-4 4.1: the mandatory commands of an SBC device.
func mandatorySBC(t *T) {
	t.needSBC()
	n := t.dev.nexus()
	must := func(name string, cdb scsi.CDB, in int) {
		dir := session.DirRead
		if in == 0 {
			dir = session.DirNone
		}
		if _, rc := t.try(n, name, cdb, dir, nil, in, good); rc == -2 {
			t.Errorf("%s is not implemented, but SBC-4 makes it mandatory", name)
		}
	}
	bs := int(t.dev.BlockSize)
	must("INQUIRY", scsi.Inquiry(255), 255)
	must("READCAPACITY10", scsi.ReadCapacity10(), 8)
	if t.dev.SBC3 {
		must("READCAPACITY16", scsi.ReadCapacity16(15), 15)
	}
	must("READ10", read10.cdb(0, 1, 0), bs)
	if t.dev.SBC3 {
		must("READ16", read16.cdb(0, 1, 0), bs)
	}
	must("TESTUNITREADY", scsi.TestUnitReady(), 0)
}

func readCapacity10Simple(t *T) {
	t.run(t.dev.nexus(), "READCAPACITY10", scsi.ReadCapacity10(), session.DirRead, nil, 8, good)
}

func readCapacity16Simple(t *T) {
	t.run(t.dev.nexus(), "READCAPACITY16", scsi.ReadCapacity16(16), session.DirRead, nil, 16, good)
}

// SPC-5 4.2.5.6: any allocation length, even 0, is GOOD.
func readCapacity16AllocLen(t *T) {
	for i := 0; i < 16; i++ {
		t.run(t.dev.nexus(), "READCAPACITY16", scsi.ReadCapacity16(uint32(i)), session.DirRead, nil, i, good)
	}
}

// SBC-4 5.20.2: without protection, P_TYPE and P_I_EXPONENT are 0.
func readCapacity16Protection(t *T) {
	t.needSBC()
	c := t.dev.Capacity16
	if c == nil {
		t.Skipf("READCAPACITY16 is not implemented on this target.")
	}
	if !t.dev.Inquiry.Protect || !c.ProtEn {
		if !t.dev.Inquiry.Protect && c.ProtEn {
			t.Errorf("PROT_EN is set but the standard INQUIRY data has PROTECT clear (SBC-4 5.20.2)")
		}
		if c.PType != 0 {
			t.Errorf("P_TYPE is %d without protection, want 0 (SBC-4 5.20.2)", c.PType)
		}
		if c.PIExponent != 0 {
			t.Errorf("P_I_EXPONENT is %d without protection, want 0 (SBC-4 5.20.2)", c.PIExponent)
		}
		return
	}
	if c.PType > 2 {
		t.Errorf("P_TYPE is invalid: %d", c.PType)
	}
}

// SBC-3 devices must have READ CAPACITY(16).
func readCapacity16Support(t *T) {
	_, rc := t.try(t.dev.nexus(), "READCAPACITY16", scsi.ReadCapacity16(15), session.DirRead, nil, 15, good)
	if rc == -2 && t.dev.SBC3 {
		t.Errorf("READCAPACITY16 failed but the device claims SBC-3 support.")
	}
}

func (t *T) modeSense6(pc scsi.PageControl, page uint8, alloc int, dbd bool) (reply, *scsi.ModeSense6Data) {
	return t.modeSense6On(t.dev.nexus(), pc, page, alloc, dbd)
}

func (t *T) modeSense6On(n nexus, pc scsi.PageControl, page uint8, alloc int, dbd bool) (reply, *scsi.ModeSense6Data) {
	r, ok := t.run(n, "MODESENSE6", scsi.ModeSense6(dbd, pc, page, 0, uint8(alloc)), session.DirRead, nil, alloc, good)
	if !ok {
		return r, nil
	}
	ms, err := scsi.ParseModeSense6(r.data)
	if err != nil {
		t.Errorf("Failed to unmarshall the data-in buffer: %v", err)
		return r, nil
	}
	return r, &ms
}

func modeSense6AllPages(t *T) {
	_, ms := t.modeSense6(scsi.PageCurrent, scsi.ModePageAll, 255, false)
	if ms != nil && ms.ModeDataLength < 3 {
		t.Errorf("MODE DATA LENGTH is %d, at least 3 (SPC-5 7.5.6)", ms.ModeDataLength)
	}
}

func controlPage(ms *scsi.ModeSense6Data) []byte {
	for _, p := range ms.Pages {
		if p.Code == 0x0a && !p.SPF {
			return p.Data
		}
	}
	return nil
}

// SPC-5 7.5.8: the Control page is the same alone and among all pages,
// and its fields hold defined values.
func modeSense6Control(t *T) {
	_, all := t.modeSense6(scsi.PageCurrent, scsi.ModePageAll, 255, false)
	if all == nil {
		return
	}
	if all.ModeDataLength < 3 {
		t.Errorf("MODE DATA LENGTH is %d, at least 3", all.ModeDataLength)
	}
	_, one := t.modeSense6(scsi.PageCurrent, 0x0a, 255, false)
	if one == nil {
		return
	}
	ap, cp := controlPage(all), controlPage(one)
	switch {
	case ap == nil && cp != nil:
		t.Fatalf("CONTROL page is missing from AllPages")
	case ap != nil && cp == nil:
		t.Fatalf("CONTROL page is missing")
	case cp == nil:
		t.Skipf("CONTROL page is not implemented.")
	}
	if len(cp) < 10 || len(ap) < 10 {
		t.Fatalf("CONTROL page is %d bytes, want 10 (SPC-5 7.5.8)", len(cp)+2)
	}
	if !bytes.Equal(ap[:10], cp[:10]) {
		t.Errorf("CONTROL page differs between MODE SENSE of all pages (% x) and of the page alone (% x)", ap[:10], cp[:10])
	}
	if tst := cp[0] >> 5; tst > 1 {
		t.Errorf("TST is invalid: %d", tst)
	}
	if qam := cp[1] >> 4; qam > 1 && qam < 8 {
		t.Errorf("QUEUE_ALGORITHM_MODIFIER is invalid: %d", qam)
	}
	if qerr := (cp[1] >> 1) & 3; qerr == 2 {
		t.Errorf("QERR is invalid: 2")
	}
	if ua := (cp[2] >> 4) & 3; ua == 1 {
		t.Errorf("UA_INTLCK_CTRL is invalid: 1")
	}
	if al := cp[3] & 7; al > 2 {
		t.Errorf("AUTOLOAD is invalid: %d", al)
	}
}

// SPC-5 7.5.8: D_SENSE says which sense format the unit returns.
func modeSense6ControlDSense(t *T) {
	r, rc := t.attempt(t.dev.nexus(), "MODESENSE6", scsi.ModeSense6(false, scsi.PageCurrent, 0x0a, 0, 255), session.DirRead, nil, 255, good)
	if rc != 0 {
		return
	}
	ms, err := scsi.ParseModeSense6(r.data)
	if err != nil {
		t.Fatalf("Failed to unmarshall the data-in buffer: %v", err)
	}
	cp := controlPage(&ms)
	if len(cp) < 1 {
		return // libiscsi: "[SKIPPED] CONTROL page not reported" as a pass
	}
	dsense := cp[0]&0x04 != 0
	rr, ok := t.run(t.dev.nexus(), "READ16", read16.cdb(^uint64(0), 1, 0), session.DirRead, nil, int(t.dev.BlockSize), lbaOutOfRange)
	if !ok || rr.sense == nil {
		return
	}
	if rr.sense.DescriptorFormat() != dsense {
		t.Errorf("Wrong type of sense format returned: response code %#x with D_SENSE %v (SPC-5 7.5.8)", rr.sense.ResponseCode, dsense)
	}
}

func modeSense6Residuals(t *T) {
	r, _ := t.modeSense6(scsi.PageCurrent, scsi.ModePageAll, 4, false)
	if len(r.data) > 4 {
		t.Errorf("MODE SENSE(6) with allocation length 4 returned %d bytes", len(r.data))
	}
	if r.res.Overflow {
		t.Errorf("MODE SENSE(6) with allocation length 4 has an overflow residual: the allocation length bounds the data (SPC-5 4.2.5.6)")
	}
	r, _ = t.modeSense6(scsi.PageCurrent, scsi.ModePageAll, 255, false)
	if len(r.data) == 255 {
		if r.res.Underflow {
			t.Errorf("MODE SENSE(6) returned 255 bytes with an underflow residual")
		}
	} else if !r.res.Underflow {
		t.Errorf("MODE SENSE(6) returned %d of 255 bytes without an underflow residual (RFC 7143 11.4.5.1)", len(r.data))
	}
}

// SPC-5 7.5.8 SWP: with software write protect set, writes fail with
// DATA PROTECT.
func modeSense6ControlSWP(t *T) {
	t.needDataLoss()
	t.needSBC()
	n := t.dev.nexus()
	changeable, ok := t.swpChangeable(n)
	if !ok {
		t.Fatalf("MODE SENSE of the changeable Control page failed")
	}
	if !changeable {
		return // libiscsi: "SWP is not changeable", a pass
	}
	if !t.setSWP(n, true) {
		return
	}
	t.Cleanup(func() { t.setSWP(n, false) })
	_, cur := t.modeSense6(scsi.PageCurrent, 0x0a, 255, false)
	if cur == nil {
		return
	}
	if cp := controlPage(cur); len(cp) < 3 || cp[2]&0x08 == 0 {
		t.Fatalf("SWP is not set")
	}
	buf := t.io(read10, 0, 1, 0, nil, good)
	t.io(write10, 0, 1, 0, buf, writeProtected)
}

// swpChangeable reads the changeable Control page: whether SWP can be
// set, and whether the page could be read at all.
func (t *T) swpChangeable(n nexus) (changeable, ok bool) {
	_, ch := t.modeSense6On(n, scsi.PageChangeable, 0x0a, 255, true)
	if ch == nil {
		return false, false
	}
	cp := controlPage(ch)
	return len(cp) >= 3 && cp[2]&0x08 != 0, true
}

// setSWP turns software write protect on or off through n (SPC-5 7.5.8),
// as libiscsi's set_swp and clear_swp: MODE SENSE of the current Control
// page, MODE SELECT of it with SWP changed.
func (t *T) setSWP(n nexus, on bool) bool {
	_, cur := t.modeSense6On(n, scsi.PageCurrent, 0x0a, 255, true)
	if cur == nil {
		return false
	}
	var page scsi.ModePage
	for _, p := range cur.Pages {
		if p.Code == 0x0a && !p.SPF {
			page = p
		}
	}
	if len(page.Data) < 3 {
		return false
	}
	data := append([]byte(nil), page.Data...)
	if on {
		data[2] |= 0x08
	} else {
		data[2] &^= 0x08
	}
	page.Data, page.PS = data, false
	params, err := scsi.AppendModeSelect6(nil, &scsi.ModeParameters{Pages: []scsi.ModePage{page}})
	if err != nil {
		t.Errorf("MODE SELECT parameters: %v", err)
		return false
	}
	_, ok := t.run(n, "MODESELECT6", scsi.ModeSelect6(true, false, uint8(len(params))), session.DirWrite, params, 0, good)
	return ok
}
