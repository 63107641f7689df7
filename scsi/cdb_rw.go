package scsi

import "encoding/binary"

// RWFlags are the cache control bits of READ and WRITE (byte 1 of the CDB).
type RWFlags uint8

const (
	// DPO (disable page out): the data need not be kept in the cache.
	DPO RWFlags = 0x10
	// FUA (force unit access): read from or write to the medium, not only
	// the cache.
	FUA RWFlags = 0x08
)

const rwFlagMask = DPO | FUA

// Limits of the 10-byte READ and WRITE CDBs.
const (
	MaxLBA10    = 1<<32 - 1 // highest LBA that READ(10)/WRITE(10) can address
	MaxBlocks10 = 1<<16 - 1 // most blocks READ(10)/WRITE(10) can transfer
)

func rw10(op OpCode, lba uint32, blocks uint16, f RWFlags) CDB {
	c := newCDB(op, 10)
	c.b[1] = byte(f & rwFlagMask)
	binary.BigEndian.PutUint32(c.b[2:6], lba)
	binary.BigEndian.PutUint16(c.b[7:9], blocks)
	return c
}

func rw16(op OpCode, lba uint64, blocks uint32, f RWFlags) CDB {
	c := newCDB(op, 16)
	c.b[1] = byte(f & rwFlagMask)
	binary.BigEndian.PutUint64(c.b[2:10], lba)
	binary.BigEndian.PutUint32(c.b[10:14], blocks)
	return c
}

// Read10 builds READ(10) (SBC-3): blocks logical blocks from lba.
func Read10(lba uint32, blocks uint16, f RWFlags) CDB { return rw10(OpRead10, lba, blocks, f) }

// Read16 builds READ(16) (SBC-3).
func Read16(lba uint64, blocks uint32, f RWFlags) CDB { return rw16(OpRead16, lba, blocks, f) }

// Write10 builds WRITE(10) (SBC-3).
func Write10(lba uint32, blocks uint16, f RWFlags) CDB { return rw10(OpWrite10, lba, blocks, f) }

// Write16 builds WRITE(16) (SBC-3).
func Write16(lba uint64, blocks uint32, f RWFlags) CDB { return rw16(OpWrite16, lba, blocks, f) }

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
		return rw10(OpRead10, uint32(lba), uint16(blocks), f)
	}
	return rw16(OpRead16, lba, blocks, f)
}

// Write is Read's counterpart: WRITE(10) when it fits, WRITE(16) otherwise.
func Write(lba uint64, blocks uint32, f RWFlags) CDB {
	if fits10(lba, blocks) {
		return rw10(OpWrite10, uint32(lba), uint16(blocks), f)
	}
	return rw16(OpWrite16, lba, blocks, f)
}

// SynchronizeCache10 builds SYNCHRONIZE CACHE(10) (SBC-3). blocks == 0
// means from lba to the end of the medium; lba 0 and blocks 0 flush all.
// With immed the target answers before the flush completes.
func SynchronizeCache10(lba uint32, blocks uint16, immed bool) CDB {
	c := newCDB(OpSynchronizeCache10, 10)
	if immed {
		c.b[1] = 0x02
	}
	binary.BigEndian.PutUint32(c.b[2:6], lba)
	binary.BigEndian.PutUint16(c.b[7:9], blocks)
	return c
}

// SynchronizeCache16 builds SYNCHRONIZE CACHE(16) (SBC-3).
func SynchronizeCache16(lba uint64, blocks uint32, immed bool) CDB {
	c := newCDB(OpSynchronizeCache16, 16)
	if immed {
		c.b[1] = 0x02
	}
	binary.BigEndian.PutUint64(c.b[2:10], lba)
	binary.BigEndian.PutUint32(c.b[10:14], blocks)
	return c
}
