package scsi

import (
	"bytes"
	"errors"
	"testing"
)

func addSeeds(f *testing.F, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
}

func FuzzParseStandardInquiry(f *testing.F) {
	addSeeds(f, tgtdInquiryLUN1, tgtdInquiryLUN0, tgtdInquiryLUN1[:36], []byte{0, 0, 5, 2, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseStandardInquiry(b)
		if err != nil {
			if !errors.Is(err, ErrShortData) || len(b) >= 5 {
				t.Fatalf("unexpected error %v for %d bytes", err, len(b))
			}
			return
		}
		if q.Truncated != (len(b) < q.FullLength()) {
			t.Fatalf("Truncated %v with %d of %d bytes", q.Truncated, len(b), q.FullLength())
		}
		if len(q.Vendor) > 8 || len(q.Product) > 16 || len(q.Revision) > 4 || len(q.VendorSpecific) > 20 || len(q.VersionDescriptors) > 8 {
			t.Fatalf("field too long: %+v", q)
		}
		for _, v := range q.VersionDescriptors {
			if v == 0 {
				t.Fatal("zero version descriptor kept")
			}
			_ = v.String()
		}
		_ = q.String()
		_ = q.DeviceType.String() + q.Qualifier.String() + q.Version.String()
	})
}

func FuzzParseVPD(f *testing.F) {
	addSeeds(f, tgtdSupportedPages, tgtdSerialLUN1, tgtdDeviceIDLUN1, tgtdBlockLimits, tgtdBlockDevChar, tgtdLBP,
		[]byte{0x00, 0xb2, 0x00, 12, 0x05, 0x13, 0x51, 80, 0x01, 0x03, 0x00, 4, 0x30, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := ParseVPDHeader(b)
		if err != nil {
			if !errors.Is(err, ErrShortData) || len(b) >= 4 {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(body) > int(h.PageLength) || h.Truncated != (len(b) < h.FullLength()) {
			t.Fatalf("body %d bytes, header %+v, data %d bytes", len(body), h, len(b))
		}
		var perr error
		switch h.PageCode {
		case VPDSupportedPages:
			p, err := ParseSupportedPages(b)
			if !bytes.Equal(p.Pages, body) {
				t.Fatal("pages differ from body")
			}
			perr = err
		case VPDUnitSerialNumber:
			_, perr = ParseUnitSerialNumber(b)
		case VPDDeviceIdentification:
			id, err := ParseDeviceIdentification(b)
			perr = err
			// Re-encode and compare with the body.
			var enc []byte
			for _, d := range id.Designators {
				enc = append(enc, byte(d.ProtocolID)<<4|byte(d.CodeSet), b2byte(d.PIV)<<7|byte(d.Association)<<4|byte(d.Type), 0, byte(len(d.Value)))
				enc = append(enc, d.Value...)
				_ = d.String()
				_, _ = d.NAAFormat()
				_, _ = d.Number()
				_, _, _ = d.T10VendorID()
				_ = d.EUI64Format()
			}
			if len(enc) > len(body) || !sameDesignators(enc, body[:len(enc)]) {
				t.Fatalf("designators re-encode to % x, body % x", enc, body)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			perr = nil
		case VPDBlockLimits:
			_, perr = ParseBlockLimits(b)
		case VPDBlockDeviceCharacteristic:
			_, perr = ParseBlockDeviceCharacteristics(b)
		case VPDLogicalBlockProvisioning:
			l, err := ParseLogicalBlockProvisioning(b)
			perr = err
			if l.DP {
				_, _ = ParseDesignators(l.ProvisioningGroupDescriptor)
			}
		case VPDThirdPartyCopy:
			p, err := ParseThirdPartyCopy(b)
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			n := 0
			for _, d := range p.Descriptors {
				n += 4 + len(d.Data)
				if cmds, err := d.SupportedCommands(); err == nil {
					for _, c := range cmds {
						if len(c.ServiceActions) > len(d.Data) {
							t.Fatal("service actions longer than their descriptor")
						}
					}
				}
			}
			if n > len(body) {
				t.Fatalf("descriptors cover %d of %d bytes", n, len(body))
			}
		default:
			if _, err := ParseBlockLimits(b); !errors.Is(err, ErrWrongPage) {
				t.Fatalf("page 0x%02x parsed as block limits: %v", h.PageCode, err)
			}
		}
		if perr != nil {
			t.Fatalf("page 0x%02x: %v", h.PageCode, perr)
		}
		_ = PageName(h.PageCode)
	})
}

func b2byte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// sameDesignators compares a re-encoded designator list with the original,
// ignoring the reserved bit 6 of byte 1 and the reserved byte 2.
func sameDesignators(enc, orig []byte) bool {
	for len(enc) > 0 {
		if enc[0] != orig[0] || enc[1] != orig[1]&^0x40 || enc[3] != orig[3] {
			return false
		}
		n := 4 + int(enc[3])
		if !bytes.Equal(enc[4:n], orig[4:n]) {
			return false
		}
		enc, orig = enc[n:], orig[n:]
	}
	return true
}

func FuzzParseSense(f *testing.F) {
	addSeeds(f, fixedSense(SenseIllegalRequest, ASCInvalidFieldInCDB), fixedSense(SenseUnitAttention, ASCPowerOnReset),
		[]byte{0x72, 0x03, 0x11, 0x00, 0x80, 0, 0, 24,
			0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34,
			0x02, 0x06, 0, 0, 0x80, 0x00, 0x10, 0, 0x05, 0x02},
		[]byte{0xf0, 0, 0x05, 0, 0, 0, 1, 0x0a, 0, 0, 0, 0, 0x21, 0, 0, 0xc0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSense(b)
		if err != nil {
			if !errors.Is(err, ErrShortData) && !errors.Is(err, ErrSenseFormat) {
				t.Fatalf("unexpected error %v", err)
			}
		} else {
			for _, d := range s.Descriptors {
				if len(d.Data) > 255 {
					t.Fatal("descriptor longer than its length byte allows")
				}
			}
			_ = s.String()
			_, _, _, _, _ = s.FieldPointer()
		}
		e := NewStatusError(StatusCheckCondition, b)
		_ = e.Error()
		if off, ok := e.(*StatusError).MiscompareOffset(); ok && (s.Key != SenseMiscompare || off != s.Information) {
			t.Fatalf("miscompare offset %d from %+v", off, s)
		}
		_ = IsUnitAttention(e) || IsRetryable(e) || errors.Is(e, ErrMediumNotPresent)
	})
}

func FuzzParseReportLUNs(f *testing.F) {
	addSeeds(f, tgtdReportLUNs, tgtdReportLUNs[:16],
		[]byte{0, 0, 0, 24, 0, 0, 0, 0, 0x41, 0x2c, 0, 0, 0, 0, 0, 0, 0xc1, 0x01, 0, 0, 0, 0, 0, 0, 0xd2, 1, 2, 3, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReportLUNs(b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			if !errors.Is(err, ErrShortData) || len(b) >= 4 {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(r.LUNs)*8 > max(len(b)-8, 0) || int64(len(r.LUNs))*8 > int64(r.ListLength) {
			t.Fatalf("%d LUNs from %d bytes, list length %d", len(r.LUNs), len(b), r.ListLength)
		}
		for i, l := range r.LUNs {
			if !bytes.Equal(b[8+8*i:16+8*i], be64(uint64(l))) {
				t.Fatalf("LUN %d differs from the data", i)
			}
			checkLUN(t, l)
		}
	})
}

func be64(v uint64) []byte {
	return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func checkLUN(t *testing.T, l LUN) {
	t.Helper()
	a, err := l.Decode()
	_ = l.String()
	if err != nil {
		if !errors.Is(err, ErrLUNFormat) {
			t.Fatalf("Decode(%016x): %v", uint64(l), err)
		}
		return
	}
	single := !a.MultiLevel && ((a.Method == AddrPeripheral && a.Bus == 0) || a.Method == AddrFlatSpace)
	if !single {
		return
	}
	// A flat-space LUN below 256 is legal but encodes as peripheral;
	// compare numbers, not structures.
	enc, err := EncodeLUN(uint32(a.Number))
	if err != nil {
		t.Fatalf("EncodeLUN(%d): %v", a.Number, err)
	}
	back, _ := enc.Decode()
	if back.Number != a.Number {
		t.Fatalf("LUN %d round-trips to %d", a.Number, back.Number)
	}
	if a.Number > 255 && enc != l {
		t.Fatalf("EncodeLUN(%d) = %016x, want %016x", a.Number, uint64(enc), uint64(l))
	}
}

func FuzzLUN(f *testing.F) {
	f.Add(uint64(0x0001_0000_0000_0000))
	f.Add(uint64(0x412c_0000_0000_0000))
	f.Add(uint64(WellKnownReportLUNs))
	f.Add(uint64(0xffff_ffff_ffff_ffff))
	f.Fuzz(func(t *testing.T, v uint64) {
		checkLUN(t, LUN(v))
		n := uint32(v)
		l, err := EncodeLUN(n)
		if (err != nil) != (n > 16383) {
			t.Fatalf("EncodeLUN(%d): %v", n, err)
		}
		if err == nil {
			if a, err := l.Decode(); err != nil || a.Number != uint64(n) || a.MultiLevel {
				t.Fatalf("EncodeLUN(%d) decodes to %+v, %v", n, a, err)
			}
		}
	})
}

func FuzzParseReadCapacity(f *testing.F) {
	addSeeds(f, tgtdCapacity16, tgtdCapacity16[:8], []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0x25, 0x33, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c10, err := ParseReadCapacity10(b)
		if (err != nil) != (len(b) < 8) {
			t.Fatalf("READ CAPACITY(10) of %d bytes: %v", len(b), err)
		}
		_ = c10.Bytes()
		c16, err := ParseReadCapacity16(b)
		if (err != nil) != (len(b) < 12) {
			t.Fatalf("READ CAPACITY(16) of %d bytes: %v", len(b), err)
		}
		if err == nil && c16.Truncated != (len(b) < 16) {
			t.Fatalf("Truncated %v for %d bytes", c16.Truncated, len(b))
		}
		if c16.LowestAlignedLBA > 0x3fff || c16.PType > 7 || c16.RCBasis > 3 {
			t.Fatalf("field out of range: %+v", c16)
		}
		_ = c16.Bytes() + c16.PhysicalBlockLength()
	})
}

func FuzzParseModeSense6(f *testing.F) {
	addSeeds(f, []byte{13, 0, 0x90, 8, 0, 0, 0, 0, 0, 0, 2, 0, 0x88, 0},
		[]byte{9, 0, 0, 0, 0x4a, 0x01, 0x00, 2, 1, 2}, []byte{5, 0, 0, 0, 0x08, 18})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseModeSense6(b)
		if err != nil {
			if errors.Is(err, ErrShortData) != (len(b) < 4) || (!errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("unexpected error %v for %d bytes", err, len(b))
			}
			if errors.Is(err, ErrMalformed) && m.Truncated && m.ModeDataLength >= 3 {
				t.Fatal("ErrMalformed for truncated data")
			}
			return
		}
		total := 4 + len(m.BlockDescriptors)
		for _, p := range m.Pages {
			total += 2 + len(p.Data)
			if p.SPF {
				total += 2
			}
		}
		if total > len(b) || total > m.FullLength() && len(m.Pages) > 0 {
			t.Fatalf("decoded %d bytes from %d (full %d)", total, len(b), m.FullLength())
		}
		_ = m.WriteProtected() || m.DPOFUA()
		checkModeBody(t, b[4:], m.BlockDescriptors, m.Pages, false)
	})
}

// checkModeBody re-encodes the pages and compares them with the bytes
// they came from, and runs the page and block descriptor parsers.
func checkModeBody(t *testing.T, body, bd []byte, pages []ModePage, longLBA bool) {
	t.Helper()
	if !bytes.Equal(body[:len(bd)], bd) {
		t.Fatal("block descriptors differ from the data")
	}
	if d, err := ParseBlockDescriptors(bd, longLBA); err == nil {
		var enc []byte
		for _, x := range d {
			enc, _ = appendBlockDescriptor(enc, x, longLBA)
		}
		if len(enc) != len(bd) {
			t.Fatalf("%d block descriptors re-encode to %d bytes, had %d", len(d), len(enc), len(bd))
		}
	} else if !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	rest := body[len(bd):]
	for _, p := range pages {
		enc, err := p.AppendTo(nil)
		if err != nil || !bytes.Equal(enc, rest[:len(enc)]) {
			t.Fatalf("page %+v re-encodes to % x, %v", p, enc, err)
		}
		rest = rest[len(enc):]
		switch p.Code {
		case ModePageCaching:
			if c, err := ParseCachingPage(p); err == nil {
				back, err := ParseCachingPage(c.ModePage())
				back.PS = c.PS
				if err != nil || back != c {
					t.Fatalf("caching page round trip: %+v, %v", back, err)
				}
			}
		case ModePageControl:
			if c, err := ParseControlPage(p); err == nil {
				back, err := ParseControlPage(c.ModePage())
				back.PS = c.PS
				if err != nil || back != c {
					t.Fatalf("control page round trip: %+v, %v", back, err)
				}
			}
		}
	}
}

func FuzzParseModeSense10(f *testing.F) {
	addSeeds(f, tgtdModeSense10(), tgtdModeSense10()[:30], []byte{0, 12, 0, 0, 0, 0, 0, 0, 0x4a, 0x01, 0x00, 2, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseModeSense10(b)
		if err != nil {
			if errors.Is(err, ErrShortData) != (len(b) < 8) || (!errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("unexpected error %v for %d bytes", err, len(b))
			}
			return
		}
		if m.Truncated != (len(b) < m.FullLength()) {
			t.Fatalf("Truncated %v, %d of %d bytes", m.Truncated, len(b), m.FullLength())
		}
		if len(b) >= 8 && 8+len(m.BlockDescriptors) <= len(b) {
			checkModeBody(t, b[8:], m.BlockDescriptors, m.Pages, m.LongLBA)
		}
		_ = m.WriteProtected() || m.DPOFUA()
	})
}

func FuzzParseLBAStatus(f *testing.F) {
	addSeeds(f, lbaStatusData, lbaStatusData[:30], []byte{0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 8, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLBAStatus(b)
		if err != nil {
			if errors.Is(err, ErrShortData) != (len(b) < 8) || (!errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("unexpected error %v for %d bytes", err, len(b))
			}
			return
		}
		if 8+16*len(l.Descriptors) > len(b) || int64(8+16*len(l.Descriptors)) > l.FullLength() {
			t.Fatalf("%d descriptors from %d bytes, full length %d", len(l.Descriptors), len(b), l.FullLength())
		}
		for i, d := range l.Descriptors {
			if d.LBA != beUint64(b[8+16*i:]) || d.Status > 15 {
				t.Fatalf("descriptor %d: %+v", i, d)
			}
			_ = d.Status.String()
		}
	})
}

func FuzzParseUnmapParameters(f *testing.F) {
	p, _ := AppendUnmapParameters(nil, []UnmapDescriptor{{1, 2}, {1 << 50, 1 << 31}})
	addSeeds(f, p, p[:20], []byte{0, 6, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseUnmapParameters(b)
		if err != nil {
			if !errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		enc, err := AppendUnmapParameters(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		// The re-encoding matches the descriptors and the block
		// descriptor data length (reserved bytes aside).
		if !bytes.Equal(enc[2:4], b[2:4]) {
			t.Fatalf("block descriptor data length % x, re-encoded % x", b[2:4], enc[2:4])
		}
		for i := range d {
			if !bytes.Equal(enc[8+16*i:20+16*i], b[8+16*i:20+16*i]) {
				t.Fatalf("descriptor %d re-encodes differently", i)
			}
		}
	})
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, x := range b[:8] {
		v = v<<8 | uint64(x)
	}
	return v
}

// FuzzParsePRIn runs the four PERSISTENT RESERVE IN parsers on the same
// bytes.
func FuzzParsePRIn(f *testing.F) {
	addSeeds(f, prFullStatus(), prFullStatus()[:40],
		[]byte{0, 0, 0, 7, 0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11},
		[]byte{0, 0, 0, 9, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0, 0x05, 0, 0},
		[]byte{0, 8, 0x00, 0x80, 0xea, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		okErr := func(err error, need int) {
			t.Helper()
			if err != nil && (errors.Is(err, ErrShortData) != (len(b) < need) || !errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("unexpected error %v for %d bytes", err, len(b))
			}
		}
		k, err := ParsePRKeys(b)
		okErr(err, 8)
		if err == nil && (int64(8+8*len(k.Keys)) > k.FullLength() || 8+8*len(k.Keys) > len(b)) {
			t.Fatalf("%d keys from %d bytes", len(k.Keys), len(b))
		}
		r, err := ParsePRReservation(b)
		okErr(err, 8)
		if r.Reserved && len(b) < 24 {
			t.Fatalf("reservation from %d bytes", len(b))
		}
		c, err := ParsePRCapabilities(b)
		okErr(err, 6)
		_ = c.Supports(PRType(len(b) % 10))
		fs, err := ParsePRFullStatus(b)
		okErr(err, 8)
		n := 8
		for _, d := range fs.Descriptors {
			n += 24 + len(d.TransportID.Raw)
			name, isid, ok := d.TransportID.ISCSIName()
			if ok && len(name)+len(isid) > len(d.TransportID.Raw) {
				t.Fatalf("name %q longer than its transport ID", name)
			}
			_ = d.Type.String()
		}
		if len(fs.Descriptors) > 0 && n > len(b) {
			t.Fatalf("descriptors cover %d of %d bytes", n, len(b))
		}
	})
}

func FuzzParsePROutParameters(f *testing.F) {
	addSeeds(f, AppendPROutParameters(nil, PROutParameters{Key: 1, ServiceActionKey: 2, APTPL: true}),
		AppendPROutParameters(nil, PROutParameters{SpecIPT: true, TransportIDs: AppendISCSITransportID(nil, "iqn.x:y", "23d000000001")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePROutParameters(b)
		if err != nil {
			if !errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		enc := AppendPROutParameters(nil, p)
		// Equal but for the obsolete and reserved bytes and bits.
		if !bytes.Equal(enc[:16], b[:16]) || enc[20] != b[20]&0x0d || !bytes.Equal(enc[24:], b[24:len(enc)]) {
			t.Fatalf("re-encodes to % x", enc)
		}
		if p.SpecIPT {
			_, _, _ = parseTransportID(p.TransportIDs).ISCSIName()
		}
	})
}

// okParseErr fails unless err is nil, ErrShortData exactly when the data
// is shorter than need, or ErrMalformed.
func okParseErr(t *testing.T, err error, n, need int) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrShortData) != (n < need) || !errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed) {
		t.Fatalf("unexpected error %v for %d bytes", err, n)
	}
}

func FuzzParseSupportedOpCodes(f *testing.F) {
	addSeeds(f, rsocAll, rsocAll[:20], rsocOne, rsocOne[:24])
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSupportedOpCodes(b)
		okParseErr(t, err, len(b), 4)
		n := 4
		for _, c := range s.Commands {
			n += 8
			if c.HasTimeouts {
				n += 12
			}
		}
		if err == nil && n > len(b) {
			t.Fatalf("descriptors need %d of %d bytes", n, len(b))
		}
		_ = s.Supports(OpRead10, 0)
		o, err := ParseOneCommand(b)
		okParseErr(t, err, len(b), 4)
		if len(o.CDBUsage) > len(b) {
			t.Fatal("CDB usage longer than the data")
		}
		_ = o.Supported()
	})
}

func FuzzParseTargetPortGroups(f *testing.F) {
	addSeeds(f, append([]byte{0, 0, 0, byte(len(rtpgGroups))}, rtpgGroups...),
		append([]byte{0, 0, 0, byte(len(rtpgGroups) + 4), 0x10, 30, 0, 0}, rtpgGroups...), []byte{0, 0, 0, 12, 0x80, 0x8f, 0, 1, 0, 0, 0, 2, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseTargetPortGroups(b)
		okParseErr(t, err, len(b), 4)
		n := 4
		if g.Extended {
			n += 4
		}
		for _, x := range g.Groups {
			n += 8 + 4*len(x.Ports)
			if len(x.Ports) > int(x.PortCount) {
				t.Fatalf("%d ports, count %d", len(x.Ports), x.PortCount)
			}
			_ = x.State.String()
		}
		if len(g.Groups) > 0 && n > len(b) {
			t.Fatalf("groups need %d of %d bytes", n, len(b))
		}
	})
}

func FuzzParseSetTargetPortGroups(f *testing.F) {
	addSeeds(f, AppendSetTargetPortGroups(nil, []TargetPortGroupSet{{Group: 1, State: ALUAStandby}, {Group: 2, State: ALUAActiveOptimized}}),
		[]byte{0, 0, 0, 0}, []byte{0, 0, 0, 0, 0xf1, 0xff, 0, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		sets, err := ParseSetTargetPortGroups(b)
		if err != nil {
			if !errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed) || errors.Is(err, ErrShortData) != (len(b) < 4) {
				t.Fatalf("unexpected error %v for %d bytes", err, len(b))
			}
			return
		}
		// Equal but for the reserved bytes and bits.
		enc := AppendSetTargetPortGroups(nil, sets)
		if len(enc) != len(b) {
			t.Fatalf("re-encodes to %d bytes, from %d", len(enc), len(b))
		}
		for i := 4; i < len(b); i += 4 {
			if enc[i] != b[i]&0x0f || enc[i+2] != b[i+2] || enc[i+3] != b[i+3] {
				t.Fatalf("re-encodes to % x", enc)
			}
		}
	})
}

// FuzzParseMisc runs the parsers of READ DEFECT DATA, RECEIVE COPY
// RESULTS and READ TOC on the same bytes.
func FuzzParseMisc(f *testing.F) {
	addSeeds(f, copyOpParams, copyOpParams[:45], tocData, tocData[:15],
		[]byte{0, 0x1d, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 99},
		[]byte{0, 0x13, 0, 7, 0, 0, 0, 8, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDefectData10(b)
		okParseErr(t, err, len(b), 4)
		if int64(len(d.Descriptors)) > int64(d.ListLength) || d.Truncated != (err == nil && int64(len(b)-4) < int64(d.ListLength)) {
			t.Fatalf("(10) %+v from %d bytes", d, len(b))
		}
		d, err = ParseDefectData12(b)
		okParseErr(t, err, len(b), 8)
		if int64(len(d.Descriptors)) > int64(d.ListLength) {
			t.Fatalf("(12) %+v from %d bytes", d, len(b))
		}
		o, err := ParseCopyOperatingParameters(b)
		okParseErr(t, err, len(b), 44)
		if err == nil && 44+len(o.ImplementedDescriptorTypes) > len(b) {
			t.Fatal("implemented descriptor types past the data")
		}
		_, err = ParseCopyStatus(b)
		okParseErr(t, err, len(b), 12)
		toc, err := ParseTOC(b)
		okParseErr(t, err, len(b), 4)
		if 4+8*len(toc.Tracks) > max(len(b), 4) {
			t.Fatalf("%d tracks from %d bytes", len(toc.Tracks), len(b))
		}
	})
}

func FuzzNewCDB(f *testing.F) {
	r := Read16(1, 2, FUA)
	addSeeds(f, r.Bytes(), []byte{0xc0}, make([]byte, 17))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := NewCDB(b)
		if (err != nil) != (len(b) == 0 || len(b) > MaxCDBLen) {
			t.Fatalf("NewCDB(%d bytes): %v", len(b), err)
		}
		if err == nil && (!bytes.Equal(c.Bytes(), b) || c.Len() != len(b)) {
			t.Fatalf("NewCDB(% x) = %v", b, c)
		}
		_ = c.String()
	})
}
