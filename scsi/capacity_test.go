package scsi

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadCapacity10(t *testing.T) {
	c, err := ParseReadCapacity10([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0x10, 0})
	if err != nil {
		t.Fatal(err)
	}
	if c.ReturnedLBA != 0x7fffffff || c.BlockLength != 4096 || c.Blocks() != 1<<31 || c.Bytes() != 1<<43 || c.NeedsReadCapacity16() {
		t.Errorf("%+v", c)
	}
	c, _ = ParseReadCapacity10([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0})
	if !c.NeedsReadCapacity16() {
		t.Errorf("0xffffffff does not ask for READ CAPACITY(16)")
	}
	if _, err := ParseReadCapacity10(make([]byte, 7)); !errors.Is(err, ErrShortData) {
		t.Errorf("7 bytes: %v", err)
	}
}

func TestReadCapacity16(t *testing.T) {
	c, err := ParseReadCapacity16(tgtdCapacity16)
	if err != nil {
		t.Fatal(err)
	}
	// iscsi-readcapacity16 against tgtd printed RETURNED LOGICAL BLOCK
	// ADDRESS:2147483647, LOGICAL BLOCK LENGTH IN BYTES:512, Total
	// size:1099511627776, every other field 0.
	want := Capacity16{ReturnedLBA: 2147483647, BlockLength: 512}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("tgtd (-want +got):\n%s", diff)
	}
	if c.Bytes() != 1099511627776 {
		t.Errorf("Bytes = %d", c.Bytes())
	}

	// Every field set (SBC-4).
	b := []byte{
		0, 0, 0, 1, 0, 0, 0, 0, // LBA 2^32
		0, 0, 2, 0, // 512
		0x20 | 0x04 | 0x01, // RC BASIS 2, P_TYPE 2, PROT_EN
		0x30 | 0x03,        // P_I_EXPONENT 3, LBPPBE 3
		0xc0 | 0x3f, 0xff,  // LBPME, LBPRZ, LALBA 0x3fff
	}
	b = append(b, make([]byte, 16)...)
	c, err = ParseReadCapacity16(b)
	if err != nil {
		t.Fatal(err)
	}
	want = Capacity16{ReturnedLBA: 1 << 32, BlockLength: 512, RCBasis: 2, PType: 2, ProtEn: true,
		PIExponent: 3, LBPPBE: 3, LBPME: true, LBPRZ: true, LowestAlignedLBA: 0x3fff}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if c.PhysicalBlockLength() != 4096 {
		t.Errorf("PhysicalBlockLength = %d", c.PhysicalBlockLength())
	}

	c, err = ParseReadCapacity16(b[:12])
	if err != nil || !c.Truncated || c.BlockLength != 512 || c.LBPME {
		t.Errorf("12 bytes: %+v %v", c, err)
	}
	if _, err := ParseReadCapacity16(b[:11]); !errors.Is(err, ErrShortData) {
		t.Errorf("11 bytes: %v", err)
	}
	max := Capacity16{ReturnedLBA: math.MaxUint64, BlockLength: 4096}
	if max.Blocks() != math.MaxUint64 || max.Bytes() != math.MaxUint64 {
		t.Errorf("saturation: %d %d", max.Blocks(), max.Bytes())
	}
}

func TestParseModeSense6(t *testing.T) {
	// tgtd, read-only LUN, DBD clear: header, one 8-byte block
	// descriptor, caching page 0x08 (18 bytes) and a sub-page format
	// control extension page 0x0a/0x01 (28 bytes).
	b := []byte{0, 0x00, 0x90, 8, 0, 0, 0, 0, 0, 0, 2, 0}
	b = append(b, 0x88, 18)
	b = append(b, make([]byte, 18)...)
	b = append(b, 0x4a, 0x01, 0x00, 28)
	b = append(b, make([]byte, 28)...)
	b[0] = byte(len(b) - 1)
	m, err := ParseModeSense6(b)
	if err != nil {
		t.Fatal(err)
	}
	if !m.WriteProtected() || !m.DPOFUA() || len(m.BlockDescriptors) != 8 || m.Truncated || len(m.Pages) != 2 {
		t.Fatalf("%+v", m)
	}
	if p := m.Pages[0]; p.Code != 0x08 || !p.PS || p.SPF || len(p.Data) != 18 {
		t.Errorf("page 0: %+v", p)
	}
	if p := m.Pages[1]; p.Code != 0x0a || p.Subpage != 1 || !p.SPF || len(p.Data) != 28 {
		t.Errorf("page 1: %+v", p)
	}

	// The 4-byte answer to a 4-byte allocation length: truncated.
	m, err = ParseModeSense6(b[:4])
	if err != nil || !m.Truncated || m.FullLength() != len(b) {
		t.Errorf("4 bytes: %+v %v", m, err)
	}
	m, err = ParseModeSense6(b[:20])
	if err != nil || !m.Truncated || len(m.Pages) != 0 {
		t.Errorf("20 bytes: %+v %v", m, err)
	}
	if _, err = ParseModeSense6(b[:3]); !errors.Is(err, ErrShortData) {
		t.Errorf("3 bytes: %v", err)
	}
	// A page length that runs past complete data.
	bad := []byte{5, 0, 0, 0, 0x08, 18}
	if _, err = ParseModeSense6(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("overrun: %v", err)
	}
	bad = []byte{3, 0, 0, 8}
	if _, err = ParseModeSense6(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("block descriptors overrun: %v", err)
	}
}

func TestParseModeSense6ShortLength(t *testing.T) {
	// MODE DATA LENGTH below 3 cannot cover its own header (found by
	// FuzzParseModeSense6).
	for _, l := range []byte{0, 1, 2} {
		if _, err := ParseModeSense6([]byte{l, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
			t.Errorf("MODE DATA LENGTH %d: %v", l, err)
		}
	}
}
