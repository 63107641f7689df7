package scsi

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// The files of testdata/tgtd are answers of a real tgtd (Debian tgt
// 1.0.x, a 8 MiB sparse file-backed LUN, its first session) to this
// package's builders, sent through session.Execute and written as hex.

func tgtdCapture(t *testing.T, name string) []byte {
	t.Helper()
	s, err := os.ReadFile("testdata/tgtd/" + name + ".hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(s)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTgtdModeSense(t *testing.T) {
	// MODE SENSE(10), LLBAA, all pages: tgtd answers with a short block
	// descriptor and pages 0x02, 0x08, 0x0a, 0x0a/0x01, 0x1c and 0x00.
	m, err := ParseModeSense10(tgtdCapture(t, "mode-sense10-all"))
	if err != nil || m.Truncated || m.LongLBA || len(m.Pages) != 6 || !m.DPOFUA() {
		t.Fatalf("%+v, %v", m, err)
	}
	bd, err := ParseBlockDescriptors(m.BlockDescriptors, m.LongLBA)
	if err != nil || len(bd) != 1 || bd[0].BlockLength != 512 {
		t.Errorf("block descriptors %+v, %v", bd, err)
	}
	p, ok := m.Page(ModePageCaching, 0)
	c, err := ParseCachingPage(p)
	if !ok || err != nil || !c.WCE || c.RCD || !c.DISC || !c.FSW || c.NumberOfCacheSegments != 20 || c.MaximumPrefetch != 0xffff {
		t.Errorf("caching page %+v, %v", c, err)
	}
	p, ok = m.Page(ModePageControl, 0)
	ctl, err := ParseControlPage(p)
	if !ok || err != nil || !ctl.GLTSD || ctl.QueueAlgorithmModifier != 1 || ctl.DSense {
		t.Errorf("control page %+v, %v", ctl, err)
	}
	if p, ok := m.Page(ModePageControl, 1); !ok || !p.SPF || len(p.Data) != 28 {
		t.Errorf("control extension page %+v", p)
	}

	// The changeable mask: WCE only.
	m6, err := ParseModeSense6(tgtdCapture(t, "mode-sense6-caching-changeable"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ = m6.Page(ModePageCaching, 0)
	if c, err := ParseCachingPage(p); err != nil || c != (CachingPage{WCE: true}) {
		t.Errorf("changeable caching page %+v, %v", c, err)
	}
	// Current values with DBD after a MODE SELECT(6) of
	// AppendModeSelect6's list with the caching page, WCE cleared: tgtd
	// took it (it answered WCE=1 before).
	m6, err = ParseModeSense6(tgtdCapture(t, "mode-sense6-caching"))
	if err != nil || len(m6.BlockDescriptors) != 0 {
		t.Fatalf("%+v, %v", m6, err)
	}
	p, _ = m6.Page(ModePageCaching, 0)
	c, _ = ParseCachingPage(p)
	if c.WCE || !c.DISC || c.NumberOfCacheSegments != 20 {
		t.Errorf("caching page after MODE SELECT %+v", c)
	}
	enc, err := c.ModePage().AppendTo(nil)
	if err != nil || hex.EncodeToString(enc) != hex.EncodeToString(tgtdCapture(t, "mode-sense6-caching")[4:]) {
		t.Errorf("caching page re-encodes to % x", enc)
	}
}

func TestTgtdPersistentReservations(t *testing.T) {
	c, err := ParsePRCapabilities(tgtdCapture(t, "pr-report-capabilities"))
	if err != nil || !c.TMV || !c.Supports(PRTypeWriteExclusiveRegistrantsOnly) || c.SIPC {
		t.Errorf("capabilities %+v, %v", c, err)
	}
	// After REGISTER (key 0xabc) and RESERVE (WRITE EXCLUSIVE -
	// REGISTRANTS ONLY).
	k, err := ParsePRKeys(tgtdCapture(t, "pr-read-keys"))
	if err != nil || k.Generation != 1 || len(k.Keys) != 1 || k.Keys[0] != 0xabc {
		t.Errorf("keys %+v, %v", k, err)
	}
	r, err := ParsePRReservation(tgtdCapture(t, "pr-read-reservation"))
	if err != nil || !r.Reserved || r.Key != 0xabc || r.Type != PRTypeWriteExclusiveRegistrantsOnly {
		t.Errorf("reservation %+v, %v", r, err)
	}
}

func TestTgtdSupportedOpCodes(t *testing.T) {
	for _, name := range []string{"rsoc-all", "rsoc-all-rctd"} {
		s, err := ParseSupportedOpCodes(tgtdCapture(t, name))
		if err != nil || s.Truncated || len(s.Commands) != 50 {
			t.Fatalf("%s: %d commands, %v", name, len(s.Commands), err)
		}
		for _, op := range []struct {
			op OpCode
			sa uint16
		}{{OpRead16, 0}, {OpWriteSame16, 0}, {OpServiceActionIn16, ServiceActionGetLBAStatus}, {OpPersistentReserveOut, uint16(PRRegisterAndMove)}} {
			if !s.Supports(op.op, op.sa) {
				t.Errorf("%s: %v/%d not listed", name, op.op, op.sa)
			}
		}
		if s.Supports(OpPersistentReserveIn, uint16(PRReadFullStatus)) || s.Supports(OpCompareAndWrite, 0) {
			t.Errorf("%s: lists what tgtd rejects", name)
		}
		if rctd := name == "rsoc-all-rctd"; s.Commands[0].HasTimeouts != rctd {
			t.Errorf("%s: CTDP %v", name, s.Commands[0].HasTimeouts)
		}
	}
	o, err := ParseOneCommand(tgtdCapture(t, "rsoc-one-write-same16"))
	if err != nil || !o.Supported() || len(o.CDBUsage) != 16 || o.CDBUsage[0] != byte(OpWriteSame16) || o.HasTimeouts {
		t.Errorf("WRITE SAME(16): %+v, %v", o, err)
	}
	o, err = ParseOneCommand(tgtdCapture(t, "rsoc-one-prin-rctd"))
	if err != nil || !o.Supported() || len(o.CDBUsage) != 10 || !o.HasTimeouts || o.Truncated {
		t.Errorf("PR IN: %+v, %v", o, err)
	}
}

func TestTgtdLBAStatus(t *testing.T) {
	// A sparse backing file: all 16384 blocks deallocated.
	l, err := ParseLBAStatus(tgtdCapture(t, "get-lba-status"))
	if err != nil || len(l.Descriptors) != 1 || l.Descriptors[0] != (LBAStatusDescriptor{Blocks: 16384, Status: LBADeallocated}) {
		t.Errorf("%+v, %v", l, err)
	}
}
