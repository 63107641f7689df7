package conformance

import (
	"bytes"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("", map[string]func(*T){
		"get_lba_status_simple":     getLBAStatusSimple,
		"get_lba_status_beyond_eol": getLBAStatusBeyondEOL,
	})
	m := map[string]func(*T){
		"get_lba_status_unmap_single": getLBAStatusUnmapSingle,
		"unmap_simple":                unmapSimple,
		"unmap_vpd":                   unmapVPD,
		"unmap_0blocks":               unmapZeroBlocks,
	}
	for _, size := range []int{10, 16} {
		p := "writesame10_"
		if size == 16 {
			p = "writesame16_"
		}
		m[p+"simple"] = wsSimple(size)
		m[p+"beyond_eol"] = wsBeyondEOL(size)
		m[p+"0blocks"] = wsZeroBlocks(size)
		m[p+"wrprotect"] = wsProtect(size)
		m[p+"unmap"] = wsUnmap(size)
		m[p+"unmap_unaligned"] = wsUnmapUnaligned(size)
		m[p+"unmap_until_end"] = wsUnmapUntilEnd(size)
		m[p+"unmap_vpd"] = wsUnmapVPD(size)
		m[p+"check"] = wsCheck(size)
		m[p+"invalid_dataout_size"] = wsInvalidDataOut(size)
	}
	register("dataloss", m)
}

func (t *T) needLBPWS(size int) {
	lbp := t.dev.Provisioning
	switch {
	case size == 10 && (lbp == nil || !lbp.LBPWS10):
		t.Skipf("Logical unit does not have LBPWS10. Skipping test")
	case size == 16 && (lbp == nil || !lbp.LBPWS):
		t.Skipf("Logical unit does not have LBPWS. Skipping test")
	}
}

func (t *T) needLBPU() {
	if lbp := t.dev.Provisioning; lbp == nil || !lbp.LBPU {
		t.Skipf("Logical unit does not have LBPU. Skipping test")
	}
}

func (t *T) needLBPPBGT1() {
	if t.dev.LBPPB < 2 {
		t.Skipf("LBPPB < 2. Skipping test")
	}
}

func (t *T) allZero(b []byte, what string) {
	for _, c := range b {
		if c != 0 {
			t.Errorf("%s: blocks not zero after unmap on a unit with LBPRZ (SBC-4 4.7.4.5)", what)
			return
		}
	}
}

// SBC-4 5.8: GET LBA STATUS of any LBA of the unit is GOOD.
func getLBAStatusSimple(t *T) {
	for i := 1; i <= 256; i++ {
		t.getLBAStatus(uint64(i), 24, good)
	}
	for i := 1; i <= 256; i++ {
		t.getLBAStatus(t.dev.Blocks-uint64(i), 24, good)
	}
}

// SBC-4 5.8: a STARTING LOGICAL BLOCK ADDRESS past the last LBA is LBA OUT
// OF RANGE.
func getLBAStatusBeyondEOL(t *T) {
	t.getLBAStatus(t.dev.Blocks+1, 24, lbaOutOfRange)
	t.getLBAStatus(1<<63, 24, lbaOutOfRange)
	t.getLBAStatus(^uint64(0), 24, lbaOutOfRange)
}

func (t *T) firstLBAStatus(lba uint64) (scsi.LBAStatusDescriptor, bool) {
	r := t.getLBAStatus(lba, 24, good)
	if r.status != scsi.StatusGood {
		return scsi.LBAStatusDescriptor{}, false
	}
	st, err := scsi.ParseLBAStatus(r.data)
	if err != nil || len(st.Descriptors) == 0 {
		t.Errorf("GETLBASTATUS command: failed to unmarshall the data-in buffer: %v", err)
		return scsi.LBAStatusDescriptor{}, false
	}
	return st.Descriptors[0], true
}

// After UNMAP of some blocks, the block right after them is still mapped.
func getLBAStatusUnmapSingle(t *T) {
	t.needDataLoss()
	t.needThin()
	t.needLBPU()
	p := uint64(t.dev.LBPPB)
	buf := t.scratch(256+int(p)+1, 'A')
	t.io(write10, 0, uint32(256+p), 0, buf, good)
	for i := uint64(0); i+p <= 256; i += p {
		t.unmap(false, []scsi.UnmapDescriptor{{LBA: i, Blocks: uint32(p)}}, good)
		t.getLBAStatus(i, 24, good)
		d, ok := t.firstLBAStatus(i + p)
		if !ok {
			return
		}
		if d.LBA != i+p {
			t.Fatalf("GETLBASTATUS command: descriptor for LBA %d, asked for %d", d.LBA, i+p)
		}
		if d.Status != scsi.LBAMapped {
			t.Fatalf("LBA %d should be mapped but isn't", i+p)
		}
	}
	for i := p; i+p <= 256; i += p {
		t.io(write10, 0, uint32(256+p), 0, buf, good)
		t.unmap(false, []scsi.UnmapDescriptor{{LBA: 0, Blocks: uint32(i)}}, good)
		t.getLBAStatus(0, 24, good)
		d, ok := t.firstLBAStatus(i + 1)
		if !ok {
			return
		}
		if d.LBA != i+p {
			t.Fatalf("GETLBASTATUS command: descriptor for LBA %d, want %d", d.LBA, i+p)
		}
		if d.Status != scsi.LBAMapped {
			t.Fatalf("LBA %d should be mapped but isn't", i+p)
		}
	}
}

// SBC-4 5.32: UNMAP of 1-256 blocks and of up to 256 descriptors.
func unmapSimple(t *T) {
	t.needDataLoss()
	t.needThin()
	t.needSBC()
	lbprz := t.dev.Capacity16 != nil && t.dev.Capacity16.LBPRZ
	t.io(write10, 0, 256, 0, t.scratch(256, 'a'), good)
	for i := 1; i <= 256; i++ {
		t.unmap(false, []scsi.UnmapDescriptor{{LBA: 0, Blocks: uint32(i)}}, good)
		b := t.io(read10, 0, uint32(i), 0, nil, good)
		if lbprz {
			t.allZero(b, "UNMAP")
		}
	}
	max := 256
	if bl := t.dev.BlockLimits; bl != nil && bl.MaxUnmapDescriptorCount > 0 && int64(bl.MaxUnmapDescriptorCount) < int64(max) {
		max = int(bl.MaxUnmapDescriptorCount)
	}
	t.io(write10, 0, uint32(max), 0, t.scratch(max, 'a'), good)
	var list []scsi.UnmapDescriptor
	for i := 0; i < max; i++ {
		list = append(list, scsi.UnmapDescriptor{LBA: uint64(i), Blocks: 1})
		t.unmap(false, list, good)
		b := t.io(read10, 0, uint32(i+1), 0, nil, good)
		if lbprz {
			t.allZero(b[:i*int(t.dev.BlockSize)], "UNMAP")
		}
	}
}

// UNMAP works exactly when the unit says so (LBPME, LBPU).
func unmapVPD(t *T) {
	t.needDataLoss()
	t.needSBC()
	params, _ := scsi.AppendUnmapParameters(nil, []scsi.UnmapDescriptor{{LBA: 0, Blocks: 0}})
	_, rc := t.attempt(t.dev.nexus(), "UNMAP", scsi.Unmap(false, 0, uint16(len(params))), session.DirWrite, params, 0, good)
	lbpu := t.dev.Provisioning != nil && t.dev.Provisioning.LBPU
	if rc != 0 {
		if lbpu {
			t.Errorf("UNMAP is unavailable but LBPU==1 (SBC-4 6.6.6)")
		}
		return
	}
	if !t.dev.thin() {
		t.Errorf("UNMAP is available but LBPME==0 (SBC-4 5.20.2)")
	}
	if !lbpu {
		t.Errorf("UNMAP is available but LBPU==0 (SBC-4 6.6.6)")
	}
}

// UNMAP descriptors of 0 blocks, and a list of none, are not errors.
func unmapZeroBlocks(t *T) {
	t.needDataLoss()
	t.needThin()
	t.needSBC()
	for i := 0; i < 256; i++ {
		t.unmap(false, []scsi.UnmapDescriptor{{LBA: uint64(i), Blocks: 0}}, good)
	}
	t.unmap(false, []scsi.UnmapDescriptor{{LBA: t.dev.Blocks, Blocks: 0}}, good)
	t.unmap(false, nil, good)
	bl := t.dev.BlockLimits
	if bl == nil || bl.MaxUnmapDescriptorCount <= 1 {
		return // libiscsi: "[SKIPPING] ... multiple descriptors not supported", a pass
	}
	max := 256
	if int64(bl.MaxUnmapDescriptorCount) < int64(max) {
		max = int(bl.MaxUnmapDescriptorCount)
	}
	var list []scsi.UnmapDescriptor
	for i := 0; i < max; i++ {
		list = append(list, scsi.UnmapDescriptor{LBA: uint64(i), Blocks: 0})
		t.unmap(false, list, good)
	}
	for i := range list {
		list[i].LBA = uint64(i / 2)
	}
	t.unmap(false, list, good)
}

func wsSimple(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		blk := t.scratch(1, 0)
		for i := 1; i <= 256; i++ {
			t.writeSame(size, 0, uint32(i), 0, blk, good)
		}
		for i := 1; i <= 256; i++ {
			t.writeSame(size, t.dev.Blocks-uint64(i), uint32(i), 0, blk, good)
		}
	}
}

func wsBeyondEOL(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		d := t.dev
		big := uint64(1 << 63)
		if size == 10 {
			if d.Blocks >= 0x80000000 {
				return
			}
			big = 0x80000000
		}
		blk := t.scratch(1, 0)
		for i := 1; i <= 256; i++ {
			t.writeSame(size, d.Blocks-uint64(i)+1, uint32(i), 0, blk, lbaOutOfRange)
		}
		for i := 1; i <= 256; i++ {
			t.writeSame(size, big, uint32(i), 0, blk, lbaOutOfRange)
		}
		for i := 1; i <= 256; i++ {
			t.writeSame(size, ^uint64(0), uint32(i), 0, blk, lbaOutOfRange)
		}
		for i := 2; i <= 256; i++ {
			t.writeSame(size, d.Blocks-1, uint32(i), 0, blk, lbaOutOfRange)
		}
	}
}

// SBC-4 5.48: NUMBER OF LOGICAL BLOCKS 0 means to the end of the unit,
// unless WSNZ, or beyond MAXIMUM WRITE SAME LENGTH.
func wsZeroBlocks(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		d := t.dev
		if size == 10 && d.Blocks >= 0x80000000 {
			return
		}
		bl := d.BlockLimits
		if bl == nil {
			return // "BlockLimits VPD is not available", a pass
		}
		blk := t.scratch(1, 0)
		if bl.WSNZ {
			t.writeSame(size, 0, 0, 0, blk, invalidCDB)
			t.markSkipped(wsName(size) + " does not support 0-blocks.")
			return
		}
		max := bl.MaxWriteSameLength
		if max > 0 && d.Blocks > max {
			t.writeSame(size, 0, 0, 0, blk, invalidCDB)
		} else {
			t.writeSame(size, 0, 0, 0, blk, good)
		}
		if max > 0 {
			if d.Blocks >= max+1 {
				t.writeSame(size, d.Blocks-(max+1), 0, 0, blk, invalidCDB)
			}
			if d.Blocks >= max {
				t.writeSame(size, d.Blocks-max, 0, 0, blk, good)
			}
			if d.Blocks >= max-1 {
				t.writeSame(size, d.Blocks-(max-1), 0, 0, blk, good)
			}
		}
		t.writeSame(size, d.Blocks+1, 0, 0, blk, lbaOutOfRange)
		if size == 10 {
			t.writeSame(size, 0x80000000, 0, 0, blk, lbaOutOfRange)
		} else {
			t.writeSame(size, 1<<63, 0, 0, blk, lbaOutOfRange)
		}
		t.writeSame(size, ^uint64(0), 0, 0, blk, lbaOutOfRange)
	}
}

func wsProtect(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		d := t.dev
		if d.Inquiry.Protect && (d.Capacity16 == nil || d.Capacity16.ProtEn) {
			return
		}
		blk := t.scratch(1, 0)
		for i := 1; i < 8; i++ {
			t.writeSame(size, 0, 1, protect(i), blk, invalidCDB)
		}
	}
}

func (t *T) rwFor(size int) (rwop, rwop) {
	if size == 10 {
		return write10, read10
	}
	return write16, read16
}

// SBC-4 4.7.3.4: WRITE SAME with UNMAP deallocates; with LBPRZ the blocks
// then read as zeros. ANCHOR without UNMAP is INVALID FIELD IN CDB.
func wsUnmap(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needThin()
		t.needLBPWS(size)
		t.needSBC()
		d := t.dev
		w, r := t.rwFor(size)
		lbprz := d.Capacity16.LBPRZ
		zero := t.scratch(1, 0)
		one := func(lba uint64, n int) {
			t.io(w, lba, uint32(n), 0, t.scratch(n, 0xff), good)
			t.writeSame(size, lba, uint32(n), scsiWSUnmap, zero, good)
			if lbprz {
				t.allZero(t.io(r, lba, uint32(n), 0, nil, good), wsName(size)+" with UNMAP")
			}
		}
		for i := 1; i <= 256; i++ {
			one(0, i)
		}
		for i := 1; i <= 256; i++ {
			one(d.Blocks-uint64(i), i)
		}
		t.writeSame(size, 0, 1, scsiWSAnchor, zero, invalidCDB)
		if d.Provisioning.ANCSup {
			t.writeSame(size, 0, 1, scsiWSAnchor|scsiWSUnmap, zero, good)
		} else {
			t.writeSame(size, 0, 1, scsiWSAnchor|scsiWSUnmap, zero, invalidCDB)
		}
		if d.BlockLimits == nil {
			t.Fatalf("%s works but the Block Limits page is missing", wsName(size))
		}
		sizes := []int{256}
		if size == 16 {
			sizes = append(sizes, 256, 65536)
		}
		for _, i := range sizes {
			max := d.BlockLimits.MaxWriteSameLength
			if uint64(i) <= d.Blocks && (max == 0 || max >= uint64(i)) {
				one(0, i)
			} else if uint64(i) <= d.Blocks {
				t.writeSame(size, 0, uint32(i), scsiWSUnmap, zero, invalidCDB)
			}
		}
	}
}

func wsUnmapUnaligned(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needThin()
		t.needLBPWS(size)
		t.needLBPPBGT1()
		t.needSBC()
		p := t.dev.LBPPB
		for i := 1; i < p; i++ {
			if size == 10 {
				t.writeSame(size, uint64(i), uint32(p-i), scsiWSUnmap, t.scratch(1, 0xa6), good)
			} else {
				t.writeSame(size, uint64(i), uint32(p-i), scsiWSUnmap|scsiWSNDOB, nil, good)
			}
		}
	}
}

func wsUnmapUntilEnd(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needThin()
		t.needLBPWS(size)
		t.needSBC()
		d := t.dev
		zero := t.scratch(1, 0)
		if d.BlockLimits != nil && d.BlockLimits.WSNZ {
			t.writeSame(size, 0, 0, scsiWSUnmap, zero, invalidCDB)
			return
		}
		for i := 1; i <= 256; i++ {
			t.io(write10, d.Blocks-uint64(i), uint32(i), 0, t.scratch(i, 0xff), good)
			t.writeSame(size, d.Blocks-uint64(i), 0, scsiWSUnmap, zero, good)
			if d.Capacity16.LBPRZ {
				t.allZero(t.io(read10, d.Blocks-uint64(i), uint32(i), 0, nil, good), wsName(size)+" with UNMAP to the end")
			}
		}
	}
}

// WRITE SAME with UNMAP works exactly when the unit says so.
func wsUnmapVPD(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		_, rc := t.attempt(t.dev.nexus(), wsName(size), writeSameCDB(size, 0, 1, scsiWSUnmap, 0), session.DirWrite, t.scratch(1, 0), 0, good)
		lbp := t.dev.Provisioning
		has := lbp != nil && ((size == 10 && lbp.LBPWS10) || (size == 16 && lbp.LBPWS))
		flag := "LBPWS10"
		if size == 16 {
			flag = "LBPWS"
		}
		if rc != 0 {
			if has {
				t.Errorf("%s UNMAP is unavailable but %s==1 (SBC-4 6.6.6)", wsName(size), flag)
			}
			return
		}
		if !t.dev.thin() {
			t.Errorf("UNMAP is available but LBPME==0 (SBC-4 5.20.2)")
		}
		if !has {
			t.Errorf("UNMAP is available but %s==0 (SBC-4 6.6.6)", flag)
		}
	}
}

// WRITE SAME writes its block to every block of the range.
func wsCheck(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		d := t.dev
		for _, at := range []func(i int) uint64{func(int) uint64 { return 0 }, func(i int) uint64 { return d.Blocks - uint64(i) }} {
			for i := 1; i <= 256; i++ {
				blk := t.scratch(1, byte(i))
				t.writeSame(size, at(i), uint32(i), 0, blk, good)
				got := t.io(read10, at(i), uint32(i), 0, nil, good)
				if len(got) >= i && !bytes.Equal(got[:i], blk[:i]) {
					t.Errorf("%s of %d blocks at LBA %d: the blocks read back differ from the block written", wsName(size), i, at(i))
				}
			}
		}
	}
}

// WRITE SAME with a data-out buffer other than one block is an error.
func wsInvalidDataOut(size int) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needThin()
		t.needLBPWS(10)
		t.needLBPPBGT1()
		t.needSBC()
		bs := int(t.dev.BlockSize)
		for _, n := range []int{bs / 2, bs * 2} {
			t.run(t.dev.nexus(), wsName(size), writeSameCDB(size, 0, 1, scsiWSUnmap, 0), session.DirWrite, t.scratch(2, 0xa6)[:n], 0, anyIllegal)
		}
	}
}
