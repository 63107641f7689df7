package scsi

import (
	"bytes"
	"testing"
)

func TestCDBLayouts(t *testing.T) {
	tests := []struct {
		name string
		cdb  CDB
		want []byte
	}{
		{"TEST UNIT READY", TestUnitReady(), []byte{0x00, 0, 0, 0, 0, 0}},
		// SPC-4: EVPD bit 0 of byte 1, PAGE CODE byte 2,
		// ALLOCATION LENGTH bytes 3-4.
		{"INQUIRY standard", Inquiry(96), []byte{0x12, 0, 0, 0x00, 0x60, 0}},
		{"INQUIRY long", Inquiry(0x1234), []byte{0x12, 0, 0, 0x12, 0x34, 0}},
		{"INQUIRY VPD 0x83", InquiryVPD(VPDDeviceIdentification, 255), []byte{0x12, 0x01, 0x83, 0x00, 0xff, 0}},
		{"INQUIRY VPD 0xb0", InquiryVPD(VPDBlockLimits, 0xffff), []byte{0x12, 0x01, 0xb0, 0xff, 0xff, 0}},
		{"READ CAPACITY(10)", ReadCapacity10(), []byte{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		// SBC-3: SERVICE ACTION 0x10 in byte 1, ALLOCATION
		// LENGTH bytes 10-13.
		{"READ CAPACITY(16)", ReadCapacity16(32), []byte{0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}},
		// SPC-4: SELECT REPORT byte 2, ALLOCATION LENGTH 6-9.
		{"REPORT LUNS", ReportLUNs(ReportAllLUNs, 16), []byte{0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}},
		{"REPORT LUNS sel 2", ReportLUNs(ReportAllIncludingWellKnown, 0x01020304), []byte{0xa0, 0, 2, 0, 0, 0, 1, 2, 3, 4, 0, 0}},
		// SBC-3: DPO bit 4, FUA bit 3 of byte 1; LBA 2-5;
		// GROUP 6; TRANSFER LENGTH 7-8.
		{"READ(10)", Read10(0x01020304, 0x0506, 0), []byte{0x28, 0, 1, 2, 3, 4, 0, 5, 6, 0}},
		{"READ(10) FUA", Read10(7, 8, FUA), []byte{0x28, 0x08, 0, 0, 0, 7, 0, 0, 8, 0}},
		{"READ(10) DPO|FUA", Read10(7, 8, DPO|FUA), []byte{0x28, 0x18, 0, 0, 0, 7, 0, 0, 8, 0}},
		// Bits 2 and 0 are not READ(10)'s (RARC is SBC-4's): dropped.
		{"READ(10) undefined bits dropped", Read10(7, 8, 0xff), []byte{0x28, 0xfa, 0, 0, 0, 7, 0, 0, 8, 0}},
		{"WRITE(10)", Write10(0xfffffffe, 0xffff, DPO), []byte{0x2a, 0x10, 0xff, 0xff, 0xff, 0xfe, 0, 0xff, 0xff, 0}},
		// SBC-3: LBA 2-9, TRANSFER LENGTH 10-13, GROUP 14.
		{"READ(16)", Read16(0x0102030405060708, 0x090a0b0c, FUA), []byte{0x88, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0}},
		{"WRITE(16)", Write16(1<<40, 1, DPO|FUA), []byte{0x8a, 0x18, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}},
		// SBC-3: IMMED bit 1 of byte 1, NUMBER OF LOGICAL
		// BLOCKS 7-8.
		{"SYNCHRONIZE CACHE(10)", SynchronizeCache10(0, 0, false), []byte{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"SYNCHRONIZE CACHE(10) immed", SynchronizeCache10(0x10, 0x20, true), []byte{0x35, 0x02, 0, 0, 0, 0x10, 0, 0, 0x20, 0}},
		{"SYNCHRONIZE CACHE(16)", SynchronizeCache16(1<<33, 0x100, true), []byte{0x91, 0x02, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}},
		// SPC-4: DBD bit 3 of byte 1, PC bits 7-6 and PAGE
		// CODE 5-0 of byte 2, SUBPAGE 3, ALLOCATION LENGTH 4.
		{"MODE SENSE(6)", ModeSense6(true, PageChangeable, ModePageAll, 0xff, 0xfc), []byte{0x1a, 0x08, 0x7f, 0xff, 0xfc, 0}},
		{"MODE SENSE(6) caching", ModeSense6(false, PageCurrent, 0x08, 0, 192), []byte{0x1a, 0, 0x08, 0, 192, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cdb.Bytes()
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("bytes\n got % x\nwant % x", got, tt.want)
			}
			if tt.cdb.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", tt.cdb.Len(), len(tt.want))
			}
			if tt.cdb.OpCode() != OpCode(tt.want[0]) {
				t.Errorf("OpCode = %v", tt.cdb.OpCode())
			}
			arr := tt.cdb.Array()
			if !bytes.Equal(arr[:len(tt.want)], tt.want) || !bytes.Equal(arr[len(tt.want):], make([]byte, 16-len(tt.want))) {
				t.Errorf("Array = % x", arr)
			}
		})
	}
}

func TestReadWriteChoice(t *testing.T) {
	tests := []struct {
		lba    uint64
		blocks uint32
		want16 bool
	}{
		{0, 0, false},
		{0, 1, false},
		{0, 65535, false},
		{0, 65536, true},
		{1<<32 - 1, 1, false}, // the last LBA READ(10) can address
		{1<<32 - 2, 2, false},
		{1<<32 - 2, 3, true}, // range crosses 2^32
		{1 << 32, 1, true},
		{1<<64 - 1, 1, true},
	}
	for _, tt := range tests {
		r := Read(tt.lba, tt.blocks, FUA)
		w := Write(tt.lba, tt.blocks, DPO)
		var wantR, wantW CDB
		if tt.want16 {
			wantR, wantW = Read16(tt.lba, tt.blocks, FUA), Write16(tt.lba, tt.blocks, DPO)
		} else {
			wantR, wantW = Read10(uint32(tt.lba), uint16(tt.blocks), FUA), Write10(uint32(tt.lba), uint16(tt.blocks), DPO)
		}
		if r != wantR {
			t.Errorf("Read(%d, %d) = %v, want %v", tt.lba, tt.blocks, r, wantR)
		}
		if w != wantW {
			t.Errorf("Write(%d, %d) = %v, want %v", tt.lba, tt.blocks, w, wantW)
		}
	}
}

var sink CDB

func TestCDBZeroAlloc(t *testing.T) {
	var lba uint64 = 1 << 20
	allocs := testing.AllocsPerRun(1000, func() {
		sink = Read(lba, 8, FUA)
		sink = Write(lba<<20, 8, 0)
		sink = Read10(uint32(lba), 8, 0)
		sink = Write16(lba, 8, DPO)
		sink = SynchronizeCache16(0, 0, false)
		sink = Inquiry(96)
		sink = ReportLUNs(0, 4096)
		b := sink.Bytes()
		_ = b[0]
		arr := sink.Array()
		_ = arr
	})
	if allocs != 0 {
		t.Fatalf("CDB building allocated %v times per run, want 0", allocs)
	}
}

func TestCDBString(t *testing.T) {
	c := Read10(1, 2, 0)
	if got, want := c.String(), "READ(10) [28 00 00 00 00 01 00 00 02 00]"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := OpCode(0xee).String(); got != "OPCODE 0xee" {
		t.Errorf("unknown opcode String = %q", got)
	}
	var zero CDB
	if zero.Len() != 0 || len(zero.Bytes()) != 0 {
		t.Errorf("zero CDB is not empty")
	}
}

func BenchmarkRead(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink = Read(uint64(i)<<12, 256, 0)
	}
}
