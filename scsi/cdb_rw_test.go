package scsi

import (
	"errors"
	"testing"
)

func TestRWCDBs(t *testing.T) {
	r6, err := Read6(0x123456, 16)
	if err != nil {
		t.Fatal(err)
	}
	r6max, _ := Read6(MaxLBA6, 256)
	w6, _ := Write6(1, 1)
	checkCDBs(t, []cdbCase{
		// SBC-3 READ(6): LBA in byte 1 bits 4-0 and bytes 2-3,
		// TRANSFER LENGTH byte 4 with 0 meaning 256.
		{"READ(6)", r6, []byte{0x08, 0x12, 0x34, 0x56, 16, 0}},
		{"READ(6) 256 blocks", r6max, []byte{0x08, 0x1f, 0xff, 0xff, 0, 0}},
		{"WRITE(6)", w6, []byte{0x0a, 0, 0, 1, 1, 0}},
		// READ(10)/WRITE(10): RDPROTECT 7-5, DPO 4, FUA 3, FUA_NV 1
		// of byte 1; LBA 2-5; GROUP NUMBER 6 bits 4-0; TRANSFER
		// LENGTH 7-8.
		{"READ(10) all", Read10(0x01020304, 0x0506, Protect(5)|DPO|FUA|FUANV|Group(0x13)), []byte{0x28, 0xba, 1, 2, 3, 4, 0x13, 5, 6, 0}},
		{"WRITE(10) group", Write10(1, 2, Group(0xff)), []byte{0x2a, 0, 0, 0, 0, 1, 0x1f, 0, 2, 0}},
		// READ(12)/WRITE(12): LBA 2-5; TRANSFER LENGTH 6-9; GROUP 10.
		{"READ(12)", Read12(0x01020304, 0x05060708, Protect(2)|FUA|Group(7)), []byte{0xa8, 0x48, 1, 2, 3, 4, 5, 6, 7, 8, 7, 0}},
		{"WRITE(12)", Write12(0x10, 0x20, DPO|FUA|FUANV|Group(3)), []byte{0xaa, 0x1a, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 3, 0}},
		// READ(16)/WRITE(16): LBA 2-9; TRANSFER LENGTH 10-13;
		// GROUP 14.
		{"READ(16) group", Read16(0x0102030405060708, 0x00090a0b, Protect(7)|DPO|FUANV|Group(0x1f)), []byte{0x88, 0xf2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 10, 11, 0x1f, 0}},
		{"WRITE(16) group", Write16(1<<40, 1, Protect(3)|FUA|Group(0x11)), []byte{0x8a, 0x68, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x11, 0}},
		// VERIFY: VRPROTECT 7-5, DPO 4, BYTCHK 2-1 of byte 1; FUA
		// (bit 3) is not VERIFY's and is dropped.
		{"VERIFY(10)", Verify10(0x01020304, 8, ByteCheckCompare, Protect(3)|DPO|FUA|Group(2)), []byte{0x2f, 0x72, 1, 2, 3, 4, 2, 0, 8, 0}},
		{"VERIFY(10) same", Verify10(0, 1, ByteCheckSame, 0), []byte{0x2f, 0x06, 0, 0, 0, 0, 0, 0, 1, 0}},
		{"VERIFY(12)", Verify12(0xa0b0c0d0, 0x100, ByteCheckNone, Group(9)), []byte{0xaf, 0, 0xa0, 0xb0, 0xc0, 0xd0, 0, 0, 1, 0, 9, 0}},
		{"VERIFY(16)", Verify16(0xffffffff00000001, 0x1000, ByteCheckCompare, Protect(1)|DPO), []byte{0x8f, 0x32, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0x10, 0, 0, 0}},
		// WRITE AND VERIFY: WRPROTECT 7-5, DPO 4, BYTCHK 2-1.
		{"WRITE AND VERIFY(10)", WriteAndVerify10(0x01020304, 8, ByteCheckCompare, Protect(2)|DPO|Group(5)), []byte{0x2e, 0x52, 1, 2, 3, 4, 5, 0, 8, 0}},
		{"WRITE AND VERIFY(12)", WriteAndVerify12(0x01020304, 0x10000, ByteCheckCompare, Group(9)), []byte{0xae, 0x02, 1, 2, 3, 4, 0, 1, 0, 0, 9, 0}},
		{"WRITE AND VERIFY(16)", WriteAndVerify16(0x0102030405060708, 4, ByteCheckNone, Protect(7)|DPO|FUA|Group(0x1f)), []byte{0x8e, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 4, 0x1f, 0}},
		// ORWRITE(16): ORPROTECT 7-5, DPO, FUA, FUA_NV; LBA 2-9;
		// TRANSFER LENGTH 10-13; GROUP 14.
		{"ORWRITE(16)", ORWrite16(0x0102030405060708, 0x20, Protect(4)|DPO|FUA|FUANV|Group(6)), []byte{0x8b, 0x9a, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0x20, 6, 0}},
		// COMPARE AND WRITE: LBA 2-9; NUMBER OF LOGICAL BLOCKS 13;
		// GROUP 14.
		{"COMPARE AND WRITE", CompareAndWrite(0x0102030405060708, 8, Protect(1)|DPO|FUA|Group(2)), []byte{0x89, 0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 8, 2, 0}},
		// WRITE ATOMIC(16) (SBC-4): LBA 2-9; ATOMIC BOUNDARY 10-11;
		// TRANSFER LENGTH 12-13; GROUP 14; FUA_NV undefined.
		{"WRITE ATOMIC(16)", WriteAtomic16(0x0102030405060708, 0x0a0b, 0x80, Protect(2)|DPO|FUA|FUANV|Group(4)), []byte{0x9c, 0x58, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0, 0x80, 4, 0}},
		// PRE-FETCH: IMMED byte 1 bit 1; LBA; GROUP 6 or 14; blocks
		// 7-8 or 10-13.
		{"PRE-FETCH(10)", PreFetch10(0x01020304, 0x0506, true, 0x11), []byte{0x34, 0x02, 1, 2, 3, 4, 0x11, 5, 6, 0}},
		{"PRE-FETCH(16)", PreFetch16(0x0102030405060708, 0x10000, false, 3), []byte{0x90, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 0, 3, 0}},
	})
	for _, tt := range []struct {
		lba    uint32
		blocks uint16
	}{{MaxLBA6 + 1, 1}, {0, 0}, {0, 257}, {1 << 31, 8}} {
		if _, err := Read6(tt.lba, tt.blocks); !errors.Is(err, ErrFieldRange) {
			t.Errorf("Read6(%d, %d): %v", tt.lba, tt.blocks, err)
		}
		if _, err := Write6(tt.lba, tt.blocks); !errors.Is(err, ErrFieldRange) {
			t.Errorf("Write6(%d, %d): %v", tt.lba, tt.blocks, err)
		}
	}
}

// TestRWZeroAlloc: every READ and WRITE family builder, with flags and a
// group number, builds without allocating.
func TestRWZeroAlloc(t *testing.T) {
	lba := uint64(1 << 20)
	f := FUA | DPO | Protect(1) | Group(3)
	allocs := testing.AllocsPerRun(1000, func() {
		sink, _ = Read6(uint32(lba), 8)
		sink, _ = Write6(uint32(lba), 8)
		sink = Read10(uint32(lba), 8, f)
		sink = Read12(uint32(lba), 8, f)
		sink = Read16(lba, 8, f)
		sink = Write10(uint32(lba), 8, f)
		sink = Write12(uint32(lba), 8, f)
		sink = Write16(lba, 8, f)
		sink = Read(lba<<20, 8, f)
		sink = Write(lba, 8, f)
		sink = Verify16(lba, 8, ByteCheckCompare, f)
		sink = WriteAndVerify16(lba, 8, ByteCheckCompare, f)
		sink = CompareAndWrite(lba, 1, f)
		sink = ORWrite16(lba, 8, f)
		sink = WriteAtomic16(lba, 0, 8, f)
		sink = WriteSame16(lba, 8, WriteSameUnmap, 0)
		sink = Unmap(false, 0, 24)
		sink = PreFetch16(lba, 8, true, 0)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}
