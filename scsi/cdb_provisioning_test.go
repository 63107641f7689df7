package scsi

import (
	"bytes"
	"errors"
	"testing"
)

// checkCDBs compares each CDB with its expected bytes, derived by hand
// from the field layouts of SPC-4 and SBC-3 cited in each case.
func checkCDBs(t *testing.T, tests []cdbCase) {
	t.Helper()
	for _, tt := range tests {
		got := tt.cdb.Bytes()
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s:\n got % x\nwant % x", tt.name, got, tt.want)
		}
		if tt.cdb.OpCode() != OpCode(tt.want[0]) {
			t.Errorf("%s: OpCode %v", tt.name, tt.cdb.OpCode())
		}
		if _, known := opNames[tt.cdb.OpCode()]; !known {
			t.Errorf("%s: opcode 0x%02x has no name", tt.name, tt.want[0])
		}
	}
}

type cdbCase struct {
	name string
	cdb  CDB
	want []byte
}

func TestProvisioningCDBs(t *testing.T) {
	checkCDBs(t, []cdbCase{
		// SBC-3: WRPROTECT byte 1 bits 7-5, ANCHOR bit 4, UNMAP
		// bit 3; LBA 2-5; GROUP NUMBER 6; NUMBER OF BLOCKS 7-8.
		{"WRITE SAME(10)", WriteSame10(0x01020304, 0x0506, WriteSameUnmap, 3), []byte{0x41, 0x08, 1, 2, 3, 4, 3, 5, 6, 0}},
		{"WRITE SAME(10) anchor", WriteSame10(1, 0, WriteSameAnchor|WriteSameUnmap, 0xff), []byte{0x41, 0x18, 0, 0, 0, 1, 0x1f, 0, 0, 0}},
		{"WRITE SAME(10) NDOB dropped", WriteSame10(1, 1, WriteSameNDOB|WriteSameProtect(1), 0), []byte{0x41, 0x20, 0, 0, 0, 1, 0, 0, 1, 0}},
		// SBC-3, SBC-4 NDOB bit 0; LBA 2-9; NUMBER OF
		// BLOCKS 10-13; GROUP NUMBER 14.
		{"WRITE SAME(16)", WriteSame16(0x0102030405060708, 0x090a0b0c, WriteSameUnmap|WriteSameNDOB, 1), []byte{0x93, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 0}},
		{"WRITE SAME(16) protect", WriteSame16(0, 0, WriteSameProtect(7), 0), []byte{0x93, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		// SBC-3: ANCHOR byte 1 bit 0; GROUP 6; PARAMETER LIST
		// LENGTH 7-8.
		{"UNMAP", Unmap(false, 0, 24), []byte{0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}},
		{"UNMAP anchor", Unmap(true, 0x25, 0x1008), []byte{0x42, 1, 0, 0, 0, 0, 5, 0x10, 0x08, 0}},
		// SBC-3: SERVICE ACTION 0x12; LBA 2-9; ALLOCATION
		// LENGTH 10-13.
		{"GET LBA STATUS", GetLBAStatus(0x0102030405060708, 0x090a0b0c), []byte{0x9e, 0x12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0}},
	})
}

func TestUnmapParameters(t *testing.T) {
	d := []UnmapDescriptor{{LBA: 0x0102030405060708, Blocks: 0x090a0b0c}, {LBA: 1 << 40, Blocks: 1}}
	buf := make([]byte, 0, UnmapParametersLen(len(d)))
	got, err := AppendUnmapParameters(buf, d)
	if err != nil {
		t.Fatal(err)
	}
	// SBC-3: UNMAP DATA LENGTH 0-1 (n-1), BLOCK DESCRIPTOR
	// DATA LENGTH 2-3, reserved 4-7; descriptors of LBA 0-7,
	// NUMBER OF BLOCKS 8-11, reserved 12-15.
	want := []byte{0, 38, 0, 32, 0, 0, 0, 0,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0,
		0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
	if &got[0] != &buf[:1][0] {
		t.Error("AppendUnmapParameters did not use the caller's buffer")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = AppendUnmapParameters(buf[:0], d) }); n != 0 {
		t.Errorf("%v allocations with a large enough buffer", n)
	}
	back, err := ParseUnmapParameters(got)
	if err != nil || len(back) != 2 || back[0] != d[0] || back[1] != d[1] {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	if _, err := AppendUnmapParameters(nil, make([]UnmapDescriptor, MaxUnmapDescriptors+1)); !errors.Is(err, ErrFieldRange) {
		t.Errorf("too many descriptors: %v", err)
	}
	if p, _ := AppendUnmapParameters(nil, make([]UnmapDescriptor, MaxUnmapDescriptors)); len(p) > 0xffff {
		t.Errorf("MaxUnmapDescriptors makes %d bytes", len(p))
	}
	for _, bad := range [][]byte{nil, {0, 6, 0, 0, 0, 0, 0}} {
		if _, err := ParseUnmapParameters(bad); !errors.Is(err, ErrShortData) {
			t.Errorf("% x: %v", bad, err)
		}
	}
	for _, bad := range [][]byte{{0, 22, 0, 16, 0, 0, 0, 0, 1}, {0, 8, 0, 2, 0, 0, 0, 0, 1, 2}} {
		if _, err := ParseUnmapParameters(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v", bad, err)
		}
	}
}

// lbaStatusData is GET LBA STATUS data with a mapped and a deallocated
// extent and an anchored one.
var lbaStatusData = []byte{
	0, 0, 0, 52, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0x30, 0, 0xff, 0xff, 0xff, 0xff, 0xf2, 1, 0, 0,
}

func TestParseLBAStatus(t *testing.T) {
	l, err := ParseLBAStatus(lbaStatusData)
	if err != nil {
		t.Fatal(err)
	}
	want := []LBAStatusDescriptor{
		{LBA: 0, Blocks: 0x1000, Status: LBAMapped},
		{LBA: 0x1000, Blocks: 0x2000, Status: LBADeallocated},
		{LBA: 0x3000, Blocks: 0xffffffff, Status: LBAAnchored, AdditionalStatus: 1},
	}
	if l.Truncated || l.FullLength() != 56 || len(l.Descriptors) != 3 {
		t.Fatalf("%+v", l)
	}
	for i := range want {
		if l.Descriptors[i] != want[i] {
			t.Errorf("descriptor %d: %+v, want %+v", i, l.Descriptors[i], want[i])
		}
	}
	if s := l.Descriptors[1].Status.String(); s != "DEALLOCATED" {
		t.Errorf("status name %q", s)
	}
	if s := ProvisioningStatus(9).String(); s != "PROVISIONING STATUS 9" {
		t.Errorf("status name %q", s)
	}

	// Cut inside the second descriptor: one descriptor, Truncated.
	l, err = ParseLBAStatus(lbaStatusData[:30])
	if err != nil || !l.Truncated || len(l.Descriptors) != 1 {
		t.Errorf("truncated: %+v, %v", l, err)
	}
	// Longer than announced: the excess is ignored.
	excess := append([]byte{0, 0, 0, 36}, lbaStatusData[4:]...)
	l, err = ParseLBAStatus(excess)
	if err != nil || len(l.Descriptors) != 2 || l.Truncated {
		t.Errorf("excess: %+v, %v", l, err)
	}
	if _, err := ParseLBAStatus(lbaStatusData[:7]); !errors.Is(err, ErrShortData) {
		t.Errorf("short: %v", err)
	}
	if _, err := ParseLBAStatus([]byte{0, 0, 0, 3, 0, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("length 3: %v", err)
	}
	if _, err := ParseLBAStatus([]byte{0, 0, 0, 6, 0, 0, 0, 0, 1, 2}); !errors.Is(err, ErrMalformed) {
		t.Errorf("partial descriptor: %v", err)
	}
}

func TestNewCDB(t *testing.T) {
	for _, n := range []int{1, 6, 7, 10, 12, 16} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0xc0 + i)
		}
		c, err := NewCDB(b)
		if err != nil || c.Len() != n || !bytes.Equal(c.Bytes(), b) || c.OpCode() != 0xc0 {
			t.Fatalf("NewCDB(%d bytes) = %v, %v", n, c, err)
		}
		b[0] = 0 // the CDB is a copy
		if c.Bytes()[0] != 0xc0 {
			t.Fatal("NewCDB aliases its input")
		}
		arr := c.Array()
		if !bytes.Equal(arr[n:], make([]byte, 16-n)) {
			t.Fatalf("Array not zero padded: % x", arr)
		}
	}
	r := Read16(5, 6, FUA)
	if c, err := NewCDB(r.Bytes()); err != nil || c != r {
		t.Errorf("NewCDB(READ(16) bytes) = %v, %v; want %v", c, err, r)
	}
	for _, n := range []int{0, 17, 32} {
		if _, err := NewCDB(make([]byte, n)); !errors.Is(err, ErrCDBLength) {
			t.Errorf("NewCDB(%d bytes): %v", n, err)
		}
	}
}
