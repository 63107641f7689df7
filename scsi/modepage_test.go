package scsi

import (
	"bytes"
	"errors"
	"testing"
)

func TestModeCDBs(t *testing.T) {
	checkCDBs(t, []cdbCase{
		// SPC-4: LLBAA byte 1 bit 4, DBD bit 3; PC 7-6 and PAGE
		// CODE 5-0 of byte 2; SUBPAGE 3; ALLOCATION LENGTH 7-8.
		{"MODE SENSE(10)", ModeSense10(true, true, PageDefault, ModePageCaching, 0, 0x1234), []byte{0x5a, 0x18, 0x88, 0, 0, 0, 0, 0x12, 0x34, 0}},
		{"MODE SENSE(10) all", ModeSense10(false, false, PageSaved, ModePageAll, 0xff, 0x80), []byte{0x5a, 0, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0}},
		// SPC-4, 6.10: PF byte 1 bit 4, SP bit 0; PARAMETER LIST
		// LENGTH byte 4 (6), bytes 7-8 (10).
		{"MODE SELECT(6)", ModeSelect6(true, true, 24), []byte{0x15, 0x11, 0, 0, 24, 0}},
		{"MODE SELECT(6) no PF", ModeSelect6(false, false, 0xff), []byte{0x15, 0, 0, 0, 0xff, 0}},
		{"MODE SELECT(10)", ModeSelect10(true, false, 0x0120), []byte{0x55, 0x10, 0, 0, 0, 0, 0, 0x01, 0x20, 0}},
	})
}

// tgtdCachingPage and tgtdControlPage are the pages of tgt's usr/sbc.c
// (add_mode_page "8:0:18:..." and "0x0a:0:10:...").
var (
	tgtdCachingPage = []byte{0x88, 18, 0x14, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0x14, 0, 0, 0, 0, 0, 0}
	tgtdControlPage = []byte{0x8a, 10, 2, 0x10, 0, 0, 0, 0, 0, 0, 2, 0}
)

// tgtdModeSense10 is a MODE SENSE(10) answer with LLBAA: one long LBA
// block descriptor (2^33 blocks of 4096 bytes), the caching and control
// pages.
func tgtdModeSense10() []byte {
	b := []byte{0, 0, 0, 0x10, 0x01, 0, 0, 16,
		0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0}
	b = append(b, tgtdCachingPage...)
	b = append(b, tgtdControlPage...)
	b[1] = byte(len(b) - 2)
	return b
}

func TestParseModeSense10(t *testing.T) {
	b := tgtdModeSense10()
	m, err := ParseModeSense10(b)
	if err != nil {
		t.Fatal(err)
	}
	if !m.LongLBA || !m.DPOFUA() || m.WriteProtected() || m.Truncated || m.FullLength() != len(b) || len(m.Pages) != 2 {
		t.Fatalf("%+v", m)
	}
	bd, err := ParseBlockDescriptors(m.BlockDescriptors, m.LongLBA)
	if err != nil || len(bd) != 1 || bd[0] != (BlockDescriptor{Blocks: 1 << 33, BlockLength: 4096}) {
		t.Fatalf("block descriptors %+v, %v", bd, err)
	}
	p, ok := m.Page(ModePageCaching, 0)
	if !ok || !bytes.Equal(p.Data, tgtdCachingPage[2:]) || !p.PS {
		t.Fatalf("caching page %+v %v", p, ok)
	}
	if _, ok := m.Page(ModePageCaching, 1); ok {
		t.Error("found sub-page 1 of the caching page")
	}
	c, err := ParseCachingPage(p)
	if err != nil {
		t.Fatal(err)
	}
	want := CachingPage{PS: true, DISC: true, WCE: true, DisablePrefetchTransferLength: 0xffff,
		MaximumPrefetch: 0xffff, MaximumPrefetchCeiling: 0xffff, FSW: true, NumberOfCacheSegments: 0x14}
	if c != want {
		t.Fatalf("caching page\n got %+v\nwant %+v", c, want)
	}
	// Turning the write cache off changes byte 2 only.
	c.WCE, c.RCD = false, true
	enc, err := c.ModePage().AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantEnc := append([]byte{}, tgtdCachingPage...)
	wantEnc[0], wantEnc[2] = 0x08, 0x11
	if !bytes.Equal(enc, wantEnc) {
		t.Errorf("caching page encodes to\n% x\nwant % x", enc, wantEnc)
	}

	p, _ = m.Page(ModePageControl, 0)
	ctl, err := ParseControlPage(p)
	if err != nil {
		t.Fatal(err)
	}
	wantCtl := ControlPage{PS: true, GLTSD: true, QueueAlgorithmModifier: 1, ExtendedSelfTestDuration: 0x0200}
	if ctl != wantCtl {
		t.Fatalf("control page\n got %+v\nwant %+v", ctl, wantCtl)
	}
	enc, _ = ctl.ModePage().AppendTo(nil)
	if !bytes.Equal(enc[1:], tgtdControlPage[1:]) || enc[0] != 0x0a {
		t.Errorf("control page encodes to % x", enc)
	}
	ctl = ControlPage{TST: 7, TMFOnly: true, DPICZ: true, DSense: true, RLEC: true, QErr: 3, NUAR: true,
		VS: true, RAC: true, UAIntlckCtrl: 2, SWP: true, ATO: true, TAS: true, ATMPE: true, RWWP: true, AutoloadMode: 5, BusyTimeoutPeriod: 0x1234}
	back, err := ParseControlPage(ctl.ModePage())
	if err != nil || back != ctl {
		t.Errorf("control page round trip %+v, %v", back, err)
	}

	// Truncated inside the caching page: the block descriptor only.
	m, err = ParseModeSense10(b[:30])
	if err != nil || !m.Truncated || len(m.Pages) != 0 || len(m.BlockDescriptors) != 16 {
		t.Errorf("truncated: %+v, %v", m, err)
	}
	if _, err := ParseModeSense10(b[:7]); !errors.Is(err, ErrShortData) {
		t.Errorf("7 bytes: %v", err)
	}
	if _, err := ParseModeSense10([]byte{0, 5, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("mode data length 5: %v", err)
	}
	if _, err := ParseModeSense10([]byte{0, 6, 0, 0, 0, 0, 0, 8}); !errors.Is(err, ErrMalformed) {
		t.Errorf("block descriptors overrun: %v", err)
	}
}

func TestModePageErrors(t *testing.T) {
	if _, err := ParseCachingPage(ModePage{Code: ModePageControl, Data: make([]byte, 10)}); !errors.Is(err, ErrWrongPage) {
		t.Errorf("control page as caching: %v", err)
	}
	if _, err := ParseControlPage(ModePage{Code: ModePageControl, Subpage: 1, SPF: true, Data: make([]byte, 28)}); !errors.Is(err, ErrWrongPage) {
		t.Errorf("control extension as control: %v", err)
	}
	if _, err := ParseCachingPage(ModePage{Code: ModePageCaching}); !errors.Is(err, ErrShortData) {
		t.Errorf("empty caching page: %v", err)
	}
	// A short page: what is present is decoded.
	c, err := ParseCachingPage(ModePage{Code: ModePageCaching, Data: []byte{0x05}})
	if err != nil || !c.WCE || !c.RCD || c.NumberOfCacheSegments != 0 {
		t.Errorf("2-byte caching page: %+v, %v", c, err)
	}
	if _, err := ParseBlockDescriptors(make([]byte, 12), false); !errors.Is(err, ErrMalformed) {
		t.Errorf("12 bytes of short descriptors: %v", err)
	}
	if _, err := (ModePage{Code: 1, Data: make([]byte, 256)}).AppendTo(nil); !errors.Is(err, ErrFieldRange) {
		t.Errorf("256-byte page_0 page: %v", err)
	}
	if b, err := (ModePage{Code: 1, SPF: true, Data: make([]byte, 256)}).AppendTo(nil); err != nil || len(b) != 260 || b[0] != 0x41 || b[2] != 1 || b[3] != 0 {
		t.Errorf("256-byte sub-page: % x, %v", b[:4], err)
	}
}

func TestAppendModeSelect(t *testing.T) {
	c := CachingPage{WCE: true}
	p := &ModeParameters{
		BlockDescriptors: []BlockDescriptor{{Blocks: 0x01020304, BlockLength: 512}},
		Pages:            []ModePage{c.ModePage()},
	}
	p.Pages[0].PS = true // cleared on the way out
	got, err := AppendModeSelect6(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	// SPC-4: MODE DATA LENGTH 0 (reserved), MEDIUM TYPE,
	// DEVICE-SPECIFIC, BLOCK DESCRIPTOR LENGTH; SBC-3 short LBA
	// block descriptor; the page without PS.
	want := []byte{0, 0, 0, 8, 1, 2, 3, 4, 0, 0, 2, 0, 0x08, 18, 0x04}
	want = append(want, make([]byte, 17)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("MODE SELECT(6) list\n got % x\nwant % x", got, want)
	}
	// What a device would answer to MODE SENSE parses back to p.
	sense := append([]byte{}, got...)
	sense[0] = byte(len(sense) - 1)
	m, err := ParseModeSense6(sense)
	if err != nil || len(m.Pages) != 1 {
		t.Fatalf("%+v %v", m, err)
	}
	if back, _ := ParseCachingPage(m.Pages[0]); back != c {
		t.Errorf("caching page back %+v", back)
	}

	p.LongLBA = true
	p.BlockDescriptors[0].Blocks = 1 << 40
	got, err = AppendModeSelect10([]byte{0xee}, p)
	if err != nil {
		t.Fatal(err)
	}
	want = []byte{0xee, 0, 0, 0, 0, 1, 0, 0, 16, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x08, 18, 0x04}
	want = append(want, make([]byte, 17)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("MODE SELECT(10) list\n got % x\nwant % x", got, want)
	}
	if _, err := AppendModeSelect6(nil, p); !errors.Is(err, ErrFieldRange) {
		t.Errorf("long LBA in MODE SELECT(6): %v", err)
	}
	p.LongLBA = false
	if b, err := AppendModeSelect10([]byte{1}, p); !errors.Is(err, ErrFieldRange) || len(b) != 1 {
		t.Errorf("2^40 blocks in a short descriptor: %v (%d bytes left)", err, len(b))
	}
	big := &ModeParameters{Pages: []ModePage{{Code: 1, Data: make([]byte, 255)}}}
	if _, err := AppendModeSelect6(nil, big); !errors.Is(err, ErrFieldRange) {
		t.Errorf("261-byte MODE SELECT(6) list: %v", err)
	}
	if _, err := AppendModeSelect10(nil, big); err != nil {
		t.Errorf("261-byte MODE SELECT(10) list: %v", err)
	}
}
