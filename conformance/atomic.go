package conformance

import (
	"encoding/binary"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("dataloss", map[string]func(*T){
		"writeatomic16_simple":     waSimple,
		"writeatomic16_beyond_eol": waBeyondEOL,
		"writeatomic16_0blocks":    waZeroBlocks,
		"writeatomic16_wrprotect":  waProtect,
		"writeatomic16_dpofua":     waDPOFUA,
		"writeatomic16_vpd":        waVPD,
	})
	register("", map[string]func(*T){
		"receive_copy_results_op_params": rcrOpParams,
	})
}

// WRITE ATOMIC (16), SBC-4 5.46: 16-bit TRANSFER LENGTH at bytes 12-13.
func waCDB(lba uint64, blocks uint16, byte1 byte) scsi.CDB {
	b := make([]byte, 16)
	b[0], b[1] = 0x9c, byte1
	binary.BigEndian.PutUint64(b[2:], lba)
	binary.BigEndian.PutUint16(b[12:], blocks)
	return mustCDB(b)
}

func (t *T) writeAtomic(lba uint64, blocks int, byte1 byte, data []byte, e expect) {
	length := blocks * int(t.dev.BlockSize)
	dir := session.DirWrite
	if length == 0 {
		dir = session.DirNone
	} else if len(data) < length {
		data = append(data, make([]byte, length-len(data))...)
	}
	t.run(t.dev.nexus(), "WRITEATOMIC16", waCDB(lba, uint16(blocks), byte1), dir, data[:length], 0, e)
}

// atomicLimits are libiscsi's gran and align: the Block Limits page's
// ATOMIC TRANSFER LENGTH GRANULARITY and ATOMIC ALIGNMENT, 1 when 0.
func (t *T) atomicLimits() (gran, align int) {
	bl := t.dev.BlockLimits
	if bl == nil {
		return 0, 0
	}
	gran, align = int(bl.AtomicTransferGranularity), int(bl.AtomicAlignment)
	if gran == 0 {
		gran = 1
	}
	if align == 0 {
		align = 1
	}
	return
}

func waSimple(t *T) {
	t.needDataLoss()
	t.needSBC()
	gran, align := t.atomicLimits()
	if gran == 0 {
		return // "BlockLimits VPD is not available", a pass
	}
	t.writeAtomic(0, gran, 0, t.scratch(gran, 0), good)
	buf := t.scratch(256, 0xa6)
	for i := gran; i <= 256; i += gran {
		t.writeAtomic(0, i, 0, buf, good)
	}
	for i := align; i <= 256; i += align {
		t.writeAtomic(t.dev.Blocks-uint64(i), i, 0, buf, good)
	}
}

func waBeyondEOL(t *T) {
	t.needDataLoss()
	t.needSBC()
	gran, align := t.atomicLimits()
	if gran == 0 {
		return
	}
	d := t.dev
	buf := t.scratch(512, 0xa6)
	t.writeAtomic(0, gran, 0, buf, good)
	for i := gran; i <= 256; i += gran {
		t.writeAtomic(d.Blocks-uint64(i), 2*i, 0, buf, lbaOutOfRange)
	}
	for i := gran; i <= 256; i += gran {
		t.writeAtomic(1<<63, i, 0, buf, lbaOutOfRange)
	}
	for i := gran; i <= 256; i += gran {
		t.writeAtomic(-uint64(align), i, 0, buf, lbaOutOfRange)
	}
	for i := 2 * gran; i <= 256; i += gran {
		t.writeAtomic(d.Blocks-uint64(gran), i, 0, buf, lbaOutOfRange)
	}
}

func waZeroBlocks(t *T) {
	t.needDataLoss()
	t.needSBC()
	_, align := t.atomicLimits()
	if align == 0 {
		return
	}
	t.writeAtomic(0, 0, 0, nil, good)
	t.writeAtomic(t.dev.Blocks+uint64(align), 0, 0, nil, lbaOutOfRange)
	t.writeAtomic(1<<63, 0, 0, nil, lbaOutOfRange)
	t.writeAtomic(-uint64(align), 0, 0, nil, lbaOutOfRange)
}

func waProtect(t *T) {
	t.needDataLoss()
	t.needSBC()
	gran, _ := t.atomicLimits()
	if gran == 0 {
		return
	}
	t.writeAtomic(0, gran, 0, t.scratch(gran, 0), good)
	d := t.dev
	if d.Inquiry.Protect && (d.Capacity16 == nil || d.Capacity16.ProtEn) {
		return
	}
	for i := 1; i < 8; i++ {
		t.writeAtomic(0, gran, protect(i), t.scratch(gran, 0xa6), invalidCDB)
	}
}

func waDPOFUA(t *T) {
	t.needSBC()
	t.needDataLoss()
	gran, _ := t.atomicLimits()
	if gran == 0 {
		return
	}
	ms := t.modeSense6All()
	dpofua := ms != nil && ms.DPOFUA()
	e := invalidCDB
	if dpofua {
		e = good
	}
	for _, f := range []byte{fDPO, fFUA, fDPO | fFUA} {
		t.writeAtomic(0, gran, f, t.scratch(gran, 0xa6), e)
	}
	usage := t.oneCommandUsage(rwop{"WRITEATOMIC16", 0x9c, 16, session.DirWrite})
	if usage == nil {
		return
	}
	got := usage[1] & 0x18
	switch {
	case dpofua && got == 0:
		t.Errorf("DpoFua not set in CDB_USAGE_DATA of WRITE ATOMIC(16)")
	case !dpofua && got != 0:
		t.Errorf("DpoFua not clear in CDB_USAGE_DATA of WRITE ATOMIC(16)")
	}
}

// SBC-4 6.6.4: the atomic fields of the Block Limits page agree with
// whether WRITE ATOMIC(16) works.
func waVPD(t *T) {
	t.needSBC()
	t.needDataLoss()
	r, ok := t.inquiry(true, scsi.VPDBlockLimits, 255, good)
	if !ok {
		t.Fatalf("failed to read Block Limits VPD")
	}
	bl, err := scsi.ParseBlockLimits(r.data)
	if err != nil {
		t.Fatalf("failed to unmarshall Block Limits VPD: %v", err)
	}
	gran := int(bl.AtomicTransferGranularity)
	if gran == 0 {
		gran = 1
	}
	_, rc := t.try(t.dev.nexus(), "WRITEATOMIC16", waCDB(0, uint16(gran), 0), session.DirWrite, t.scratch(gran, 0), 0, good)
	if rc == -2 {
		if bl.MaxAtomicTransferLength != 0 {
			t.Errorf("MAXIMUM_ATOMIC_TRANSFER_LENGTH is non-zero but target does not support ATOMICWRITE16")
		}
		if bl.AtomicAlignment != 0 {
			t.Errorf("ATOMIC_ALIGNMENT is non-zero but target does not support ATOMICWRITE16")
		}
		if bl.AtomicTransferGranularity != 0 {
			t.Errorf("ATOMIC_GRANULARITY is non-zero but target does not support ATOMICWRITE16")
		}
		return
	}
	if bl.MaxAtomicTransferLength == 0 {
		t.Errorf("MAXIMUM_ATOMIC_TRANSFER_LENGTH is zero but target supports ATOMICWRITE16")
	}
	if bl.MaxAtomicTransferLength > bl.MaxTransferLength {
		t.Errorf("MAXIMUM_ATOMIC_TRANSFER_LENGTH is greater than MAXIMUM_TRANSFER_LENGTH")
	}
	if bl.AtomicAlignment >= 2 {
		if _, rc := t.try(t.dev.nexus(), "WRITEATOMIC16", waCDB(1, uint16(gran), 0), session.DirWrite, t.scratch(gran, 0), 0, invalidCDB); rc != 0 {
			t.Errorf("Misaligned write did NOT fail with INVALID_FIELD_IN_CDB")
		}
	}
	if bl.AtomicTransferGranularity >= 2 {
		if _, rc := t.try(t.dev.nexus(), "WRITEATOMIC16", waCDB(0, 1, 0), session.DirWrite, t.scratch(1, 0), 0, invalidCDB); rc != 0 {
			t.Errorf("Misgranularity write did NOT fail with INVALID_FIELD_IN_CDB")
		}
	}
}

// SPC-5 6.23: RECEIVE COPY RESULTS, OPERATING PARAMETERS.
func rcrOpParams(t *T) {
	const alloc = 1024
	r, ok := t.run(t.dev.nexus(), "RECEIVE_COPY_RESULTS", scsi.ReceiveCopyResults(scsi.CopyResultsOperatingParameters, 0, alloc), session.DirRead, nil, alloc, good)
	if ok {
		if p, err := scsi.ParseCopyOperatingParameters(r.data); err == nil {
			t.Logf("max target descriptors %d, max segment descriptors %d", p.MaxCSCDDescriptorCount, p.MaxSegmentDescriptorCount)
		}
	}
}
