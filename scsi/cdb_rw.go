package scsi

import "fmt"

// RWFlags are the options of the READ, WRITE, VERIFY and kindred CDBs: the
// bits of byte 1 (DPO, FUA, FUANV and the protection field, see Protect)
// and the GROUP NUMBER (see Group). A builder keeps the bits its command
// defines and drops the others.
type RWFlags uint16

const (
	// DPO (disable page out): the data need not be kept in the cache.
	DPO RWFlags = 0x10
	// FUA (force unit access): read from or write to the medium, not only
	// the cache.
	FUA RWFlags = 0x08
	// FUANV (FUA_NV, SBC-3; obsolete in SBC-4): FUA may be satisfied
	// from non-volatile cache.
	FUANV RWFlags = 0x02
)

// Protect returns the RDPROTECT, WRPROTECT, VRPROTECT or ORPROTECT field
// (0-7, SBC-3) as RWFlags: which protection information the device
// checks or transfers.
func Protect(p uint8) RWFlags { return RWFlags(p&7) << 5 }

// Group returns the GROUP NUMBER field (0-31, SBC-3) as RWFlags.
func Group(g uint8) RWFlags { return RWFlags(g&0x1f) << 8 }

// Byte 1 bits each command family keeps.
const (
	rwFlagMask     = 0xe0 | DPO | FUA | FUANV // READ, WRITE, ORWRITE, COMPARE AND WRITE
	atomicFlagMask = 0xe0 | DPO | FUA         // WRITE ATOMIC(16)
	verifyFlagMask = 0xe0 | DPO               // VERIFY, WRITE AND VERIFY
)

func (f RWFlags) byte1(mask RWFlags) byte { return byte(f & mask) }
func (f RWFlags) group() byte             { return byte(f>>8) & 0x1f }

// Limits of the 6- and 10-byte READ and WRITE CDBs.
const (
	MaxLBA6     = 1<<21 - 1 // highest LBA that READ(6)/WRITE(6) can address
	MaxBlocks6  = 256       // most blocks READ(6)/WRITE(6) can transfer
	MaxLBA10    = 1<<32 - 1 // highest LBA that READ(10)/WRITE(10) can address
	MaxBlocks10 = 1<<16 - 1 // most blocks READ(10)/WRITE(10) can transfer
)

func rw6(op OpCode, lba uint32, blocks uint16) (CDB, error) {
	if lba > MaxLBA6 || blocks == 0 || blocks > MaxBlocks6 {
		return CDB{}, fmt.Errorf("%w: %v of %d blocks at LBA %d (at most %d blocks below LBA %d)", ErrFieldRange, op, blocks, lba, MaxBlocks6, MaxLBA6+1)
	}
	c := newCDB(op, 6)
	c.b[1] = byte(lba >> 16)
	c.b[2] = byte(lba >> 8)
	c.b[3] = byte(lba)
	c.b[4] = byte(blocks) // 256 is 0
	return c, nil
}

// Read6 builds READ(6) (SBC-3): 1 to 256 blocks below LBA 2^21. It has
// no flags. Values outside those ranges are an error wrapping
// ErrFieldRange (a TRANSFER LENGTH of 0 means 256 blocks in READ(6), so
// there is no way to ask for none).
func Read6(lba uint32, blocks uint16) (CDB, error) { return rw6(OpRead6, lba, blocks) }

// Write6 builds WRITE(6) (SBC-3), with Read6's limits.
func Write6(lba uint32, blocks uint16) (CDB, error) { return rw6(OpWrite6, lba, blocks) }

func rw10(op OpCode, lba uint32, blocks uint16, f, mask RWFlags) CDB {
	c := newCDB(op, 10)
	c.b[1] = f.byte1(mask)
	c.put32(2, lba)
	c.b[6] = f.group()
	c.put16(7, blocks)
	return c
}

func rw12(op OpCode, lba, blocks uint32, f, mask RWFlags) CDB {
	c := newCDB(op, 12)
	c.b[1] = f.byte1(mask)
	c.put32(2, lba)
	c.put32(6, blocks)
	c.b[10] = f.group()
	return c
}

func rw16(op OpCode, lba uint64, blocks uint32, f, mask RWFlags) CDB {
	c := newCDB(op, 16)
	c.b[1] = f.byte1(mask)
	c.put64(2, lba)
	c.put32(10, blocks)
	c.b[14] = f.group()
	return c
}

// Read10 builds READ(10) (SBC-3): blocks logical blocks from lba.
// f takes DPO, FUA, FUANV, Protect and Group.
func Read10(lba uint32, blocks uint16, f RWFlags) CDB {
	return rw10(OpRead10, lba, blocks, f, rwFlagMask)
}

// Read12 builds READ(12) (SBC-3).
func Read12(lba, blocks uint32, f RWFlags) CDB { return rw12(OpRead12, lba, blocks, f, rwFlagMask) }

// Read16 builds READ(16) (SBC-3).
func Read16(lba uint64, blocks uint32, f RWFlags) CDB {
	return rw16(OpRead16, lba, blocks, f, rwFlagMask)
}

// Write10 builds WRITE(10) (SBC-3). f takes DPO, FUA, FUANV, Protect
// and Group.
func Write10(lba uint32, blocks uint16, f RWFlags) CDB {
	return rw10(OpWrite10, lba, blocks, f, rwFlagMask)
}

// Write12 builds WRITE(12) (SBC-3).
func Write12(lba, blocks uint32, f RWFlags) CDB {
	return rw12(OpWrite12, lba, blocks, f, rwFlagMask)
}

// Write16 builds WRITE(16) (SBC-3).
func Write16(lba uint64, blocks uint32, f RWFlags) CDB {
	return rw16(OpWrite16, lba, blocks, f, rwFlagMask)
}

// fits10 reports whether a transfer can be described by a 10-byte CDB. The
// whole range, not only its start, must lie below 2^32 so that every LBA the
// command touches is addressable by READ(10).
func fits10(lba uint64, blocks uint32) bool {
	return blocks <= MaxBlocks10 && lba <= MaxLBA10 && uint64(blocks) <= MaxLBA10+1-lba
}

// Read builds READ(10) when the LBA range lies below 2^32 and blocks is at
// most 65535, READ(16) otherwise. Every SBC device supports READ(10); READ(16)
// is needed above 2 TiB with 512-byte blocks.
func Read(lba uint64, blocks uint32, f RWFlags) CDB {
	if fits10(lba, blocks) {
		return rw10(OpRead10, uint32(lba), uint16(blocks), f, rwFlagMask)
	}
	return rw16(OpRead16, lba, blocks, f, rwFlagMask)
}

// Write is Read's counterpart: WRITE(10) when it fits, WRITE(16) otherwise.
func Write(lba uint64, blocks uint32, f RWFlags) CDB {
	if fits10(lba, blocks) {
		return rw10(OpWrite10, uint32(lba), uint16(blocks), f, rwFlagMask)
	}
	return rw16(OpWrite16, lba, blocks, f, rwFlagMask)
}

// ByteCheck is the BYTCHK field of VERIFY and WRITE AND VERIFY (SBC-3).
type ByteCheck uint8

// BYTCHK values.
const (
	// ByteCheckNone verifies the medium alone; VERIFY carries no data.
	ByteCheckNone ByteCheck = 0
	// ByteCheckCompare compares the medium with the data sent, block by
	// block.
	ByteCheckCompare ByteCheck = 1
	// ByteCheckSame compares every block with the one block sent
	// (VERIFY only, SBC-3 r30 and later).
	ByteCheckSame ByteCheck = 3
)

func (b ByteCheck) bits() byte { return byte(b&3) << 1 }

// Verify10 builds VERIFY(10) (SBC-3): check blocks blocks from lba,
// against the data sent unless bytchk is ByteCheckNone. f takes DPO,
// Protect (VRPROTECT) and Group.
func Verify10(lba uint32, blocks uint16, bytchk ByteCheck, f RWFlags) CDB {
	c := rw10(OpVerify10, lba, blocks, f, verifyFlagMask)
	c.b[1] |= bytchk.bits()
	return c
}

// Verify12 builds VERIFY(12) (SBC-3).
func Verify12(lba, blocks uint32, bytchk ByteCheck, f RWFlags) CDB {
	c := rw12(OpVerify12, lba, blocks, f, verifyFlagMask)
	c.b[1] |= bytchk.bits()
	return c
}

// Verify16 builds VERIFY(16) (SBC-3).
func Verify16(lba uint64, blocks uint32, bytchk ByteCheck, f RWFlags) CDB {
	c := rw16(OpVerify16, lba, blocks, f, verifyFlagMask)
	c.b[1] |= bytchk.bits()
	return c
}

// WriteAndVerify10 builds WRITE AND VERIFY(10) (SBC-3): write, then
// verify the medium, comparing it with the data when bytchk is
// ByteCheckCompare. f takes DPO, Protect (WRPROTECT) and Group.
func WriteAndVerify10(lba uint32, blocks uint16, bytchk ByteCheck, f RWFlags) CDB {
	c := rw10(OpWriteAndVerify10, lba, blocks, f, verifyFlagMask)
	c.b[1] |= bytchk.bits()
	return c
}

// WriteAndVerify12 builds WRITE AND VERIFY(12) (SBC-3).
func WriteAndVerify12(lba, blocks uint32, bytchk ByteCheck, f RWFlags) CDB {
	c := rw12(OpWriteAndVerify12, lba, blocks, f, verifyFlagMask)
	c.b[1] |= bytchk.bits()
	return c
}

// WriteAndVerify16 builds WRITE AND VERIFY(16) (SBC-3).
func WriteAndVerify16(lba uint64, blocks uint32, bytchk ByteCheck, f RWFlags) CDB {
	c := rw16(OpWriteAndVerify16, lba, blocks, f, verifyFlagMask)
	c.b[1] |= bytchk.bits()
	return c
}

// ORWrite16 builds ORWRITE(16) (SBC-3): the data is ORed into the
// blocks. f takes DPO, FUA, FUANV, Protect (ORPROTECT) and Group.
func ORWrite16(lba uint64, blocks uint32, f RWFlags) CDB {
	return rw16(OpORWrite16, lba, blocks, f, rwFlagMask)
}

// CompareAndWrite builds COMPARE AND WRITE (SBC-3): the data-out holds
// blocks blocks to compare with the medium, then blocks blocks to write if
// they matched, 2*blocks in all. A mismatch ends in CHECK CONDITION,
// MISCOMPARE (see StatusError.MiscompareOffset). f takes DPO, FUA, FUANV,
// Protect (WRPROTECT) and Group. BlockLimits.MaxCompareAndWriteLength
// bounds blocks.
func CompareAndWrite(lba uint64, blocks uint8, f RWFlags) CDB {
	c := newCDB(OpCompareAndWrite, 16)
	c.b[1] = f.byte1(rwFlagMask)
	c.put64(2, lba)
	c.b[13] = blocks
	c.b[14] = f.group()
	return c
}

// WriteAtomic16 builds WRITE ATOMIC(16) (SBC-4): blocks blocks written
// as one atomic operation; boundary is the ATOMIC BOUNDARY (0: none). f
// takes DPO, FUA, Protect (WRPROTECT) and Group. The BlockLimits atomic
// fields bound both.
func WriteAtomic16(lba uint64, boundary, blocks uint16, f RWFlags) CDB {
	c := newCDB(OpWriteAtomic16, 16)
	c.b[1] = f.byte1(atomicFlagMask)
	c.put64(2, lba)
	c.put16(10, boundary)
	c.put16(12, blocks)
	c.b[14] = f.group()
	return c
}

// PreFetch10 builds PRE-FETCH(10) (SBC-3): read blocks blocks from lba
// into the cache (0: to the end of the medium). With immed the device
// answers before the read completes; group is the GROUP NUMBER (5 bits).
func PreFetch10(lba uint32, blocks uint16, immed bool, group uint8) CDB {
	c := newCDB(OpPreFetch10, 10)
	c.setBit(1, 0x02, immed)
	c.put32(2, lba)
	c.b[6] = group & 0x1f
	c.put16(7, blocks)
	return c
}

// PreFetch16 builds PRE-FETCH(16) (SBC-3).
func PreFetch16(lba uint64, blocks uint32, immed bool, group uint8) CDB {
	c := newCDB(OpPreFetch16, 16)
	c.setBit(1, 0x02, immed)
	c.put64(2, lba)
	c.put32(10, blocks)
	c.b[14] = group & 0x1f
	return c
}

// SynchronizeCache10 builds SYNCHRONIZE CACHE(10) (SBC-3). blocks == 0
// means from lba to the end of the medium; lba 0 and blocks 0 flush all.
// With immed the target answers before the flush completes.
func SynchronizeCache10(lba uint32, blocks uint16, immed bool) CDB {
	c := newCDB(OpSynchronizeCache10, 10)
	c.setBit(1, 0x02, immed)
	c.put32(2, lba)
	c.put16(7, blocks)
	return c
}

// SynchronizeCache16 builds SYNCHRONIZE CACHE(16) (SBC-3).
func SynchronizeCache16(lba uint64, blocks uint32, immed bool) CDB {
	c := newCDB(OpSynchronizeCache16, 16)
	c.setBit(1, 0x02, immed)
	c.put64(2, lba)
	c.put32(10, blocks)
	return c
}
