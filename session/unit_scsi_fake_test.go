package session_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// The SCSI operations of LogicalUnit that tgtd lacks (COMPARE AND WRITE,
// REPORT TARGET PORT GROUPS, READ FULL STATUS, PREEMPT AND ABORT, the
// Third-party Copy page), UNMAP split to the Block Limits page, and the
// MODE SENSE(6)/MODE SELECT(6) fallback, against the in-process target
// whose hooks play the device. integration/unit_ops_test.go has the rest,
// against tgtd.

// answerIn answers a data-in command with data (cut to the allocation
// length) and GOOD, with the residual of an underflow.
func answerIn(c *faketarget.Command, data []byte) faketarget.Verdict {
	edtl := c.Req.ExpectedDataTransferLength
	if uint32(len(data)) > edtl {
		data = data[:edtl]
	}
	c.Done()
	n := uint32(len(data))
	_ = c.Peer.Reply(&pdu.DataIn{ITT: c.ITT(), Final: true, HasStatus: true, Underflow: n < edtl, ResidualCount: edtl - n}, data)
	return faketarget.Handled
}

// locked returns a copy of b taken under mu.
func locked(mu *sync.Mutex, b []byte) []byte {
	mu.Lock()
	defer mu.Unlock()
	return bytes.Clone(b)
}

func respond(c *faketarget.Command, st scsi.Status, sense []byte) faketarget.Verdict {
	_ = c.Respond(st, sense)
	return faketarget.Handled
}

// TestCompareAndWrite: a match writes, a mismatch says at which byte (the
// sense INFORMATION field) and which block.
func TestCompareAndWrite(t *testing.T) {
	var mu sync.Mutex
	medium := pattern(2*512, 9) // blocks 10 and 11
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] != byte(scsi.OpCompareAndWrite) {
			return faketarget.Proceed
		}
		lba, n := binary.BigEndian.Uint64(c.CDB[2:]), int(c.CDB[13])
		if lba != 10 || n != 2 || len(c.ImmediateData) != 2*n*512 {
			t.Errorf("COMPARE AND WRITE lba %d, %d blocks, %d bytes", lba, n, len(c.ImmediateData))
			return respond(c, scsi.StatusCheckCondition, fixedSense(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInCDB))
		}
		mu.Lock()
		defer mu.Unlock()
		cmp, wr := c.ImmediateData[:n*512], c.ImmediateData[n*512:]
		for i := range cmp {
			if cmp[i] != medium[i] {
				sense := fixedSense(scsi.SenseMiscompare, scsi.ASCMiscompareDuringVerify)
				sense[0] |= 0x80 // VALID: INFORMATION is the offset
				binary.BigEndian.PutUint32(sense[3:], uint32(i))
				return respond(c, scsi.StatusCheckCondition, sense)
			}
		}
		copy(medium, wr)
		return respond(c, scsi.StatusGood, nil)
	}}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	next := pattern(1024, 10)
	if err := u.CompareAndWrite(ctx, 10, locked(&mu, medium), next, scsi.FUA); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(locked(&mu, medium), next) {
		t.Fatal("COMPARE AND WRITE did not write")
	}
	wrong := bytes.Clone(next)
	wrong[700] ^= 1
	err := u.CompareAndWrite(ctx, 10, wrong, pattern(1024, 11), 0)
	var me *session.MiscompareError
	if !errors.As(err, &me) || !me.Known || me.Offset != 700 || me.LBA != 11 || !errors.Is(err, scsi.ErrMiscompare) {
		t.Fatalf("miscompare: %+v", err)
	}
	var oe *session.OpError
	if !errors.As(err, &oe) || oe.Op != "COMPARE AND WRITE" {
		t.Fatalf("miscompare does not name the command: %v", err)
	}
	if !bytes.Equal(locked(&mu, medium), next) {
		t.Fatal("a miscompare wrote")
	}
	if err := u.CompareAndWrite(ctx, 10, next, next[:512], 0); !errors.Is(err, session.ErrVectorLength) {
		t.Fatalf("halves of different lengths: %v", err)
	}
	if err := u.CompareAndWrite(ctx, 10, next[:100], next[:100], 0); !errors.Is(err, session.ErrVectorLength) {
		t.Fatalf("a partial block: %v", err)
	}
}

// blockLimitsPage is a Block Limits page with the UNMAP limits given.
func blockLimitsPage(maxLBAs, maxDesc uint32) []byte {
	b := make([]byte, 64)
	b[1], b[3] = 0xb0, 60
	b[5] = 1 // MAXIMUM COMPARE AND WRITE LENGTH
	binary.BigEndian.PutUint32(b[20:], maxLBAs)
	binary.BigEndian.PutUint32(b[24:], maxDesc)
	return b
}

// TestUnmapSplit: UNMAP is split so that no command has more descriptors
// or blocks than the Block Limits page allows; a device without UNMAP is
// ErrNotThin.
func TestUnmapSplit(t *testing.T) {
	var mu sync.Mutex
	var lists [][]scsi.UnmapDescriptor
	var refuse bool
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 != 0 && c.CDB[2] == scsi.VPDBlockLimits:
			return answerIn(c, blockLimitsPage(8, 2))
		case c.CDB[0] == byte(scsi.OpUnmap):
			mu.Lock()
			defer mu.Unlock()
			if refuse {
				return respond(c, scsi.StatusCheckCondition, fixedSense(scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode))
			}
			d, err := scsi.ParseUnmapParameters(c.ImmediateData)
			if err != nil || int(binary.BigEndian.Uint16(c.CDB[7:])) != len(c.ImmediateData) {
				t.Errorf("UNMAP parameters %x: %v", c.ImmediateData, err)
			}
			lists = append(lists, d)
			return respond(c, scsi.StatusGood, nil)
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	if err := u.Unmap(ctx, []scsi.UnmapDescriptor{{LBA: 0, Blocks: 3}, {LBA: 100, Blocks: 20}, {LBA: 200, Blocks: 1}, {LBA: 300, Blocks: 2}}); err != nil {
		t.Fatal(err)
	}
	want := [][]scsi.UnmapDescriptor{
		{{LBA: 0, Blocks: 3}, {LBA: 100, Blocks: 5}},
		{{LBA: 105, Blocks: 8}},
		{{LBA: 113, Blocks: 7}, {LBA: 200, Blocks: 1}},
		{{LBA: 300, Blocks: 2}},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lists) != len(want) {
		t.Fatalf("UNMAP commands %v, want %v", lists, want)
	}
	for i := range want {
		if !slices.Equal(lists[i], want[i]) {
			t.Fatalf("UNMAP commands %v, want %v", lists, want)
		}
	}
	refuse = true
	mu.Unlock()
	defer mu.Lock()
	if err := u.Unmap(ctx, []scsi.UnmapDescriptor{{LBA: 1, Blocks: 1}}); !errors.Is(err, session.ErrNotThin) || !errors.Is(err, scsi.ErrInvalidOpcode) {
		t.Fatalf("UNMAP refused: %v", err)
	}
}

// TestReportTargetPortGroups: the extended format, asked again with the
// full length when the first allocation was short.
func TestReportTargetPortGroups(t *testing.T) {
	const groups = 200 // 200 × 12 bytes: more than the first allocation
	data := make([]byte, 8, 8+groups*12)
	data[4] = 0x10 // FORMAT TYPE 001b
	data[5] = 7    // IMPLICIT TRANSITION TIME
	for i := range groups {
		d := make([]byte, 12)
		d[0] = byte(scsi.ALUAActiveOptimized)
		if i == 0 {
			d[0] |= 0x80
		}
		d[1] = 0x01 // AO_SUP
		binary.BigEndian.PutUint16(d[2:], uint16(i+1))
		d[7] = 1
		binary.BigEndian.PutUint16(d[10:], uint16(100+i))
		data = append(data, d...)
	}
	binary.BigEndian.PutUint32(data, uint32(len(data)-4))
	var mu sync.Mutex
	var allocs []uint32
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpMaintenanceIn) && c.CDB[1]&0x1f == 0x0a {
			mu.Lock()
			allocs = append(allocs, binary.BigEndian.Uint32(c.CDB[6:]))
			mu.Unlock()
			if c.CDB[1]&0xe0 != 0x20 {
				t.Errorf("PARAMETER DATA FORMAT %#x, want the extended one", c.CDB[1]>>5)
			}
			return answerIn(c, data)
		}
		return faketarget.Proceed
	}}}, nil)
	tpg, err := s.DefaultUnit().ReportTargetPortGroups(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !tpg.Extended || tpg.ImplicitTransitionTime != 7 || len(tpg.Groups) != groups || tpg.Truncated ||
		!tpg.Groups[0].Pref || tpg.Groups[199].ID != 200 || !slices.Equal(tpg.Groups[199].Ports, []uint16{299}) {
		t.Fatalf("REPORT TARGET PORT GROUPS: %d groups, %+v", len(tpg.Groups), tpg.Groups[:1])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(allocs) != 2 || allocs[1] != uint32(len(data)) {
		t.Fatalf("allocation lengths %v, want a second ask of %d", allocs, len(data))
	}
}

// TestPersistentReserveInProcess: READ FULL STATUS and the CDB and
// parameter list of PREEMPT AND ABORT, which tgtd lacks.
func TestPersistentReserveInProcess(t *testing.T) {
	tid := scsi.AppendISCSITransportID(nil, "iqn.2026-11.test:host-a", "")
	full := make([]byte, 8, 8+24+len(tid))
	binary.BigEndian.PutUint32(full, 5) // PRGENERATION
	d := make([]byte, 24)
	binary.BigEndian.PutUint64(d, 0xa1)
	d[12] = 0x01 // R_HOLDER
	d[13] = byte(scsi.PRTypeWriteExclusive)
	binary.BigEndian.PutUint16(d[18:], 1)
	binary.BigEndian.PutUint32(d[20:], uint32(len(tid)))
	full = append(append(full, d...), tid...)
	binary.BigEndian.PutUint32(full[4:], uint32(len(full)-8))
	var mu sync.Mutex
	var out []byte
	var outCDB []byte
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch scsi.OpCode(c.CDB[0]) {
		case scsi.OpPersistentReserveIn:
			if c.CDB[1]&0x1f != byte(scsi.PRReadFullStatus) {
				return respond(c, scsi.StatusCheckCondition, fixedSense(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInCDB))
			}
			return answerIn(c, full)
		case scsi.OpPersistentReserveOut:
			mu.Lock()
			out, outCDB = bytes.Clone(c.ImmediateData), bytes.Clone(c.CDB)
			mu.Unlock()
			return respond(c, scsi.StatusGood, nil)
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	fs, err := u.PRReadFullStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fs.Generation != 5 || len(fs.Descriptors) != 1 || fs.Descriptors[0].Key != 0xa1 || !fs.Descriptors[0].Holder ||
		fs.Descriptors[0].Type != scsi.PRTypeWriteExclusive {
		t.Fatalf("READ FULL STATUS: %+v", fs)
	}
	if err := u.PRPreemptAndAbort(ctx, 0xb2, 0xa1, scsi.PRTypeExclusiveAccess); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	p, err := scsi.ParsePROutParameters(out)
	if err != nil || outCDB[1]&0x1f != byte(scsi.PRPreemptAndAbort) || outCDB[2]&0x0f != byte(scsi.PRTypeExclusiveAccess) ||
		p.Key != 0xb2 || p.ServiceActionKey != 0xa1 {
		t.Fatalf("PREEMPT AND ABORT CDB %x, parameters %+v, %v", outCDB, p, err)
	}
}

// TestThirdPartyCopyPage: VPD page 0x8f (tgtd has none) parsed.
func TestThirdPartyCopyPage(t *testing.T) {
	page := []byte{0, 0x8f, 0, 12, 0x00, 0x01, 0, 8, 4, 0x83, 0, 0x11, 0, 0, 0, 0}
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 != 0 && c.CDB[2] == scsi.VPDThirdPartyCopy {
			return answerIn(c, page)
		}
		return faketarget.Proceed
	}}}, nil)
	tpc, err := s.DefaultUnit().ThirdPartyCopy(ctxT(t))
	if err != nil || len(tpc.Descriptors) != 1 || tpc.Descriptors[0].Type != scsi.TPCSupportedCommands {
		t.Fatalf("Third-party Copy page: %+v, %v", tpc, err)
	}
}

// TestModePagesSixByteFallback: a device without MODE SENSE(10) and MODE
// SELECT(10) (the in-process target has neither) is asked with the 6-byte
// commands; SetWriteCache sends the caching page back with WCE changed.
func TestModePagesSixByteFallback(t *testing.T) {
	caching := scsi.CachingPage{WCE: true, MaximumPrefetch: 0xffff}
	var mu sync.Mutex
	var selected []byte
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch scsi.OpCode(c.CDB[0]) {
		case scsi.OpModeSense6:
			mu.Lock()
			p := caching.ModePage()
			mu.Unlock()
			b := []byte{0, 0, 0, 0}
			b, _ = p.AppendTo(b)
			b[0] = byte(len(b) - 1)
			return answerIn(c, b)
		case scsi.OpModeSelect6:
			if c.CDB[1]&0x10 == 0 {
				t.Errorf("MODE SELECT(6) without PF: %x", c.CDB)
			}
			mu.Lock()
			selected = bytes.Clone(c.ImmediateData)
			mu.Unlock()
			return respond(c, scsi.StatusGood, nil)
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	on, err := u.WriteCache(ctx)
	if err != nil || !on {
		t.Fatalf("WriteCache = %v, %v", on, err)
	}
	if err := u.SetWriteCache(ctx, false); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sel := selected
	mu.Unlock()
	if len(sel) < 4+20 {
		t.Fatalf("MODE SELECT(6) parameters %x", sel)
	}
	p := scsi.ModePage{Code: sel[4] & 0x3f, Data: sel[6:]}
	c, err := scsi.ParseCachingPage(p)
	if err != nil || c.WCE || c.MaximumPrefetch != 0xffff {
		t.Fatalf("caching page sent: %+v, %v", c, err)
	}
	m, err := u.ModeSense(ctx, scsi.PageCurrent, scsi.ModePageAll, 0)
	if err != nil || len(m.Pages) != 1 || m.FullLength() != 4+20+4 {
		t.Fatalf("ModeSense through MODE SENSE(6): %+v (full %d), %v", m, m.FullLength(), err)
	}
}

// TestReadCapacityFallback: a device without READ CAPACITY(16) is asked
// with READ CAPACITY(10).
func TestReadCapacityFallback(t *testing.T) {
	_, s := dial(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 3000, BlockSize: 4096}},
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			if c.CDB[0] == byte(scsi.OpServiceActionIn16) {
				return respond(c, scsi.StatusCheckCondition, fixedSense(scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode))
			}
			return faketarget.Proceed
		}}}, nil)
	c, err := s.DefaultUnit().ReadCapacity(ctxT(t))
	if err != nil || c.ReturnedLBA != 2999 || c.BlockLength != 4096 || c.Blocks() != 3000 {
		t.Fatalf("ReadCapacity through READ CAPACITY(10): %+v, %v", c, err)
	}
}

// TestReportLUNsAskedAgain: REPORT LUNS goes to LUN 0 and is asked again
// with the full length when the target has more LUNs than the first
// allocation holds.
func TestReportLUNsAskedAgain(t *testing.T) {
	luns := make([]faketarget.LUN, 100)
	for i := range luns {
		luns[i] = faketarget.LUN{Number: uint32(i + 1), Blocks: 8, Null: true}
	}
	var mu sync.Mutex
	var allocs []uint32
	var lunField []uint64
	_, s := dial(t, faketarget.Config{LUNs: luns, Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpReportLUNs) {
			mu.Lock()
			allocs = append(allocs, binary.BigEndian.Uint32(c.CDB[6:]))
			lunField = append(lunField, c.Req.LUN)
			mu.Unlock()
		}
		return faketarget.Proceed
	}}}, nil)
	got, err := s.ReportLUNs(ctxT(t))
	if err != nil || len(got) != 100 || got[99].String() != "100" {
		t.Fatalf("ReportLUNs: %d LUNs, %v", len(got), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(allocs) != 2 || allocs[1] != 8+8*100 || lunField[0] != 0 {
		t.Fatalf("REPORT LUNS allocation lengths %v to LUN fields %x", allocs, lunField)
	}
}

// TestWriteZeroesFallback: on a device without WRITE SAME (the in-process
// target) WriteZeroes writes zeros, partial blocks at the edges included,
// and nothing outside the range; Discard on a thick LUN is ErrNotThin.
func TestWriteZeroesFallback(t *testing.T) {
	var mu sync.Mutex
	var writeSame int
	data := pattern(64*512, 3)
	_, s := dial(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 64, Data: bytes.Clone(data)}},
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			if c.CDB[0] == byte(scsi.OpWriteSame10) || c.CDB[0] == byte(scsi.OpWriteSame16) {
				mu.Lock()
				writeSame++
				mu.Unlock()
			}
			return faketarget.Proceed
		}}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	if err := u.WriteZeroes(ctx, 3*512+17, 10*512); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(data)
	clear(want[3*512+17 : 13*512+17])
	got := make([]byte, len(want))
	if _, err := u.ReadAtContext(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("WriteZeroes did not zero exactly its range")
	}
	mu.Lock()
	if writeSame != 1 {
		t.Errorf("%d WRITE SAME tried, want one (then WRITE)", writeSame)
	}
	mu.Unlock()
	if err := u.Discard(ctx, 0, 512); !errors.Is(err, session.ErrNotThin) {
		t.Fatalf("Discard on a thick LUN: %v", err)
	}
	if err := u.WriteZeroes(ctx, 63*512, 1024); !errors.Is(err, session.ErrBeyondEnd) {
		t.Fatalf("WriteZeroes past the end: %v", err)
	}
}

// TestLimitPagesCached: Unmap reads the Block Limits page once, not per
// call, and reads it again once the device may have changed (Refresh).
func TestLimitPagesCached(t *testing.T) {
	var pages atomic.Int32
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 != 0 && c.CDB[2] == scsi.VPDBlockLimits:
			pages.Add(1)
			return answerIn(c, blockLimitsPage(8, 2))
		case c.CDB[0] == byte(scsi.OpUnmap):
			return respond(c, scsi.StatusGood, nil)
		}
		return faketarget.Proceed
	}}}, nil)
	ctx := ctxT(t)
	u := s.DefaultUnit()
	if _, err := u.Geometry(ctx); err != nil { // reads the page itself, once
		t.Fatal(err)
	}
	before := pages.Load()
	for i := 0; i < 3; i++ {
		if err := u.Unmap(ctx, []scsi.UnmapDescriptor{{LBA: uint64(i), Blocks: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := pages.Load() - before; n != 1 {
		t.Fatalf("3 Unmaps read the Block Limits page %d times, want 1", n)
	}
	if _, err := u.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := u.Unmap(ctx, []scsi.UnmapDescriptor{{LBA: 9, Blocks: 1}}); err != nil {
		t.Fatal(err)
	}
	if n := pages.Load() - before; n != 3 { // Refresh's geometry, then Unmap's
		t.Fatalf("after Refresh: %d reads of the page, want 3", n)
	}
}
