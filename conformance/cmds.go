package conformance

import (
	"encoding/binary"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Helpers for the commands libiscsi's tests send besides READ and WRITE,
// each sent with the macro's behaviour (skip when not implemented).

func mustCDB(b []byte) scsi.CDB {
	c, err := scsi.NewCDB(b)
	if err != nil {
		panic(err)
	}
	return c
}

func (t *T) tur(n nexus, e expect) {
	t.run(n, "TESTUNITREADY", scsi.TestUnitReady(), session.DirNone, nil, 0, e)
}

func (t *T) startStop(n nexus, immed bool, pc uint8, noFlush, loej, start bool, e expect) {
	cdb := scsi.StartStopUnit(scsi.StartStop{Immed: immed, PowerCondition: pc, NoFlush: noFlush, LoEj: loej, Start: start})
	t.run(n, "STARTSTOPUNIT", cdb, session.DirNone, nil, 0, e)
}

func (t *T) preventAllow(n nexus, prevent bool) {
	t.run(n, "PREVENTALLOW", scsi.PreventAllowMediumRemoval(prevent), session.DirNone, nil, 0, good)
}

func (t *T) syncCache10(lba uint32, blocks uint16, syncNV, immed bool, e expect) {
	b := []byte{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if syncNV {
		b[1] |= 0x04
	}
	if immed {
		b[1] |= 0x02
	}
	binary.BigEndian.PutUint32(b[2:], lba)
	binary.BigEndian.PutUint16(b[7:], blocks)
	t.run(t.dev.nexus(), "SYNCHRONIZECACHE10", mustCDB(b), session.DirNone, nil, 0, e)
}

func (t *T) syncCache16(lba uint64, blocks uint32, syncNV, immed bool, e expect) {
	b := make([]byte, 16)
	b[0] = 0x91
	if syncNV {
		b[1] |= 0x04
	}
	if immed {
		b[1] |= 0x02
	}
	binary.BigEndian.PutUint64(b[2:], lba)
	binary.BigEndian.PutUint32(b[10:], blocks)
	t.run(t.dev.nexus(), "SYNCHRONIZECACHE16", mustCDB(b), session.DirNone, nil, 0, e)
}

func prefetchCDB(size int, lba uint64, blocks uint32, immed bool, group uint8) scsi.CDB {
	if size == 10 {
		b := make([]byte, 10)
		b[0] = 0x34
		if immed {
			b[1] = 0x02
		}
		binary.BigEndian.PutUint32(b[2:], uint32(lba))
		b[6] = group & 0x3f
		binary.BigEndian.PutUint16(b[7:], uint16(blocks))
		return mustCDB(b)
	}
	b := make([]byte, 16)
	b[0] = 0x90
	if immed {
		b[1] = 0x02
	}
	binary.BigEndian.PutUint64(b[2:], lba)
	binary.BigEndian.PutUint32(b[10:], blocks)
	b[14] = group & 0x3f
	return mustCDB(b)
}

func (t *T) prefetch(size int, lba uint64, blocks uint32, immed bool, group uint8, e expect) {
	name := "PREFETCH10"
	if size == 16 {
		name = "PREFETCH16"
	}
	t.run(t.dev.nexus(), name, prefetchCDB(size, lba, blocks, immed, group), session.DirNone, nil, 0, e)
}

// writeSame sends WRITE SAME(10) or (16) of blocks at lba with the flags of
// byte 1 (WRPROTECT, ANCHOR, UNMAP, NDOB) and one block of data (none with
// NDOB).
func writeSameCDB(size int, lba uint64, blocks uint32, flags byte, group uint8) scsi.CDB {
	if size == 10 {
		b := make([]byte, 10)
		b[0], b[1] = 0x41, flags
		binary.BigEndian.PutUint32(b[2:], uint32(lba))
		b[6] = group & 0x1f
		binary.BigEndian.PutUint16(b[7:], uint16(blocks))
		return mustCDB(b)
	}
	b := make([]byte, 16)
	b[0], b[1] = 0x93, flags
	binary.BigEndian.PutUint64(b[2:], lba)
	binary.BigEndian.PutUint32(b[10:], blocks)
	b[14] = group & 0x1f
	return mustCDB(b)
}

func wsName(size int) string {
	if size == 10 {
		return "WRITESAME10"
	}
	return "WRITESAME16"
}

func (t *T) writeSame(size int, lba uint64, blocks uint32, flags byte, data []byte, e expect) reply {
	dir := session.DirWrite
	if len(data) == 0 {
		dir = session.DirNone
	}
	r, _ := t.run(t.dev.nexus(), wsName(size), writeSameCDB(size, lba, blocks, flags, 0), dir, data, 0, e)
	return r
}

func (t *T) unmap(anchor bool, list []scsi.UnmapDescriptor, e expect) reply {
	params, err := scsi.AppendUnmapParameters(nil, list)
	if err != nil {
		t.Fatalf("UNMAP parameters: %v", err)
	}
	dir := session.DirWrite
	if len(list) == 0 {
		params = params[:0]
		dir = session.DirNone
	}
	r, _ := t.run(t.dev.nexus(), "UNMAP", scsi.Unmap(anchor, 0, uint16(len(params))), dir, params, 0, e)
	return r
}

func (t *T) getLBAStatus(lba uint64, alloc int, e expect) reply {
	r, _ := t.run(t.dev.nexus(), "GETLBASTATUS", scsi.GetLBAStatus(lba, uint32(alloc)), session.DirRead, nil, alloc, e)
	return r
}

func cawCDB(lba uint64, blocks uint8, byte1 byte) scsi.CDB {
	b := make([]byte, 16)
	b[0], b[1] = 0x89, byte1
	binary.BigEndian.PutUint64(b[2:], lba)
	b[13] = blocks
	return mustCDB(b)
}

// caw sends COMPARE AND WRITE of n blocks: data holds the compare blocks
// then the write blocks.
func (t *T) caw(lba uint64, n uint8, byte1 byte, data []byte, e expect) reply {
	r, _ := t.run(t.dev.nexus(), "COMPAREANDWRITE", cawCDB(lba, n, byte1), session.DirWrite, data, 0, e)
	return r
}
