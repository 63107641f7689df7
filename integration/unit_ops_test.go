package integration

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const opsIQN = "iqn.2026-11.test:ops"

// opsTarget starts a tgtd with LUN 1 (8 MiB, random, 512-byte blocks) and
// LUN 2 (8 MiB, zeros, 4 KiB blocks, thin provisioned).
func opsTarget(t *testing.T) (*tgtd.Instance, []tgtd.Target) {
	t.Helper()
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: opsIQN, LUNs: []tgtd.LUNSpec{
		{Size: 8 << 20, Random: true},
		{Size: 8 << 20, BlockSize: 4096},
	}})
	inst.Admin("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params", "thin_provisioning=1")
	return inst, targets
}

func dialUnit(t *testing.T, inst *tgtd.Instance, lun int, cfg *session.Config) (*session.Session, *session.LogicalUnit) {
	t.Helper()
	s, err := session.Dial(testCtx(t), inst.TargetURL(opsIQN, lun), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s.DefaultUnit()
}

// TestUnitInquiryAndPages: INQUIRY, the VPD pages tgtd has, READ CAPACITY,
// REPORT LUNS, REPORT SUPPORTED OPERATION CODES against tgtd.
func TestUnitInquiryAndPages(t *testing.T) {
	t.Parallel()
	inst, targets := opsTarget(t)
	s, u := dialUnit(t, inst, 1, nil)
	ctx := testCtx(t)

	q, err := u.Inquiry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q.DeviceType != scsi.TypeDirectAccess || strings.TrimSpace(q.Vendor) == "" || q.Truncated {
		t.Fatalf("INQUIRY: %+v", q)
	}
	pages, err := u.SupportedVPDPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VPD pages: %x", pages)
	for _, p := range []uint8{0x00, 0x80, 0x83, 0xb0} {
		if !slices.Contains(pages, p) {
			t.Fatalf("supported pages %x lack %#x", pages, p)
		}
	}
	id, err := u.DeviceIdentification(ctx)
	if err != nil || len(id.Designators) == 0 {
		t.Fatalf("DeviceIdentification = %+v, %v", id, err)
	}
	bl, err := u.BlockLimits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("block limits: %+v", bl)
	if slices.Contains(pages, 0xb1) {
		if _, err := u.BlockDeviceCharacteristics(ctx); err != nil {
			t.Fatal(err)
		}
	} else if _, err := u.BlockDeviceCharacteristics(ctx); !errors.Is(err, scsi.ErrInvalidFieldInCDB) {
		t.Fatalf("page 0xb1, which tgtd does not list: %v", err)
	}
	if _, err := u.ThirdPartyCopy(ctx); slices.Contains(pages, 0x8f) != (err == nil) {
		t.Fatalf("page 0x8f listed %v, ThirdPartyCopy: %v", slices.Contains(pages, 0x8f), err)
	}
	raw, err := u.VPD(ctx, 0x80)
	if err != nil || len(raw) < 4 || raw[1] != 0x80 {
		t.Fatalf("VPD 0x80 = %x, %v", raw, err)
	}

	c, err := u.ReadCapacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.BlockLength != 512 || int64(c.Blocks())*512 != targets[0].LUNs[0].Size {
		t.Fatalf("READ CAPACITY: %+v", c)
	}
	u2, _ := s.LogicalUnit(2)
	if c, err := u2.ReadCapacity(ctx); err != nil || c.BlockLength != 4096 || !c.LBPME {
		t.Fatalf("READ CAPACITY of the thin 4 KiB LUN: %+v, %v", c, err)
	}
	luns, err := s.ReportLUNs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := lunNumbers(luns); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("REPORT LUNS: %v", got)
	}
	ops, err := u.ReportSupportedOpCodes(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !ops.Supports(scsi.OpRead16, 0) || !ops.Supports(scsi.OpWrite10, 0) || !ops.Supports(scsi.OpPersistentReserveOut, 0) {
		t.Fatalf("REPORT SUPPORTED OPERATION CODES lacks READ(16), WRITE(10) or PERSISTENT RESERVE OUT: %d commands", len(ops.Commands))
	}
	// tgtd reports no ALUA (TPGS 0) and refuses REPORT TARGET PORT GROUPS;
	// the in-process target answers it.
	tpg, err := u.ReportTargetPortGroups(ctx)
	if q.TPGS == 0 && !errors.Is(err, scsi.ErrInvalidFieldInCDB) && !errors.Is(err, scsi.ErrInvalidOpcode) {
		t.Fatalf("REPORT TARGET PORT GROUPS without TPGS: %+v, %v", tpg, err)
	} else if q.TPGS != 0 && (err != nil || len(tpg.Groups) == 0) {
		t.Fatalf("REPORT TARGET PORT GROUPS with TPGS %d: %+v, %v", q.TPGS, tpg, err)
	}
}

func lunNumbers(luns []scsi.LUN) []string {
	var out []string
	for _, l := range luns {
		out = append(out, l.String())
	}
	return out
}

// TestUnitModePagesAndMedia: MODE SENSE, the caching page and the write
// cache switch, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL against tgtd.
func TestUnitModePagesAndMedia(t *testing.T) {
	t.Parallel()
	inst, _ := opsTarget(t)
	_, u := dialUnit(t, inst, 1, nil)
	ctx := testCtx(t)
	m, err := u.ModeSense(ctx, scsi.PageCurrent, scsi.ModePageAll, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Page(scsi.ModePageCaching, 0); !ok || len(m.Pages) < 2 {
		t.Fatalf("MODE SENSE all pages: %d pages, caching %v", len(m.Pages), ok)
	}
	on, err := u.WriteCache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = u.SetWriteCache(ctx, !on)
	t.Logf("write cache %v, SetWriteCache(%v): %v", on, !on, err)
	if err == nil {
		if now, err := u.WriteCache(ctx); err != nil || now == on {
			t.Fatalf("after SetWriteCache(%v): %v, %v", !on, now, err)
		}
		if err := u.SetWriteCache(ctx, on); err != nil {
			t.Fatal(err)
		}
	} else if !errors.Is(err, scsi.ErrInvalidFieldInParamList) && !errors.Is(err, scsi.ErrInvalidFieldInCDB) {
		t.Fatal(err)
	}
	if err := u.StartStopUnit(ctx, scsi.StartStop{Start: true}); err != nil {
		t.Fatal(err)
	}
	if err := u.PreventAllowMediumRemoval(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := u.PreventAllowMediumRemoval(ctx, false); err != nil {
		t.Fatal(err)
	}
}

// TestUnitBlockCommands: VERIFY, WRITE AND VERIFY, COMPARE AND WRITE,
// WRITE SAME, PRE-FETCH, SYNCHRONIZE CACHE and FUA/DPO reads and writes
// against tgtd, checked in the backing file.
func TestUnitBlockCommands(t *testing.T) {
	t.Parallel()
	inst, targets := opsTarget(t)
	_, u := dialUnit(t, inst, 1, nil)
	path := targets[0].LUNs[0].Path
	ctx := testCtx(t)
	if _, err := u.Geometry(ctx); err != nil {
		t.Fatal(err)
	}

	data := pattern(8*512, 1)
	f := u.WriteWithFlags(ctx, 100, 8, iovector.New(data), scsi.FUA|scsi.DPO)
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "FUA write", tgtd.ReadBacking(t, path, 100*512, len(data)), data)
	back := make([]byte, len(data))
	f = u.ReadWithFlags(ctx, 100, 8, iovector.New(back), scsi.FUA)
	if _, err := f.Wait(); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "FUA read", back, data)
	if _, err := u.ReadWithFlags(ctx, 100, 8, iovector.New(back[:10]), 0).Wait(); !errors.Is(err, session.ErrVectorLength) {
		t.Fatalf("ReadWithFlags with a short vector: %v", err)
	}

	if err := u.Verify(ctx, 100, 8, nil, 0); err != nil {
		t.Fatalf("VERIFY: %v", err)
	}
	if err := u.Verify(ctx, 100, 8, data, 0); err != nil {
		t.Fatalf("VERIFY with data: %v", err)
	}
	bad := bytes.Clone(data)
	bad[3*512+7] ^= 0xff
	err := u.Verify(ctx, 100, 8, bad, 0)
	t.Logf("VERIFY with different data: %v", err)
	if !errors.Is(err, scsi.ErrMiscompare) {
		t.Fatalf("VERIFY with different data: %v", err)
	}

	wv := pattern(4*512, 2)
	if err := u.WriteAndVerify(ctx, 200, wv, 0); err != nil {
		t.Fatalf("WRITE AND VERIFY: %v", err)
	}
	mustEqual(t, "WRITE AND VERIFY", tgtd.ReadBacking(t, path, 200*512, len(wv)), wv)

	// tgtd lists a MAXIMUM COMPARE AND WRITE LENGTH but answers INVALID
	// COMMAND OPERATION CODE (on rdwr LUNs); the in-process target tests it.
	newData := pattern(2*512, 3)
	if err := u.CompareAndWrite(ctx, 200, wv[:1024], newData, 0); !errors.Is(err, scsi.ErrInvalidOpcode) {
		t.Fatalf("COMPARE AND WRITE, which tgtd lacks: %v", err)
	}
	mustEqual(t, "after a refused COMPARE AND WRITE", tgtd.ReadBacking(t, path, 200*512, len(wv)), wv)

	block := pattern(512, 5)
	if err := u.WriteSame(ctx, 300, 16, block, 0); err != nil {
		t.Fatalf("WRITE SAME: %v", err)
	}
	mustEqual(t, "WRITE SAME", tgtd.ReadBacking(t, path, 300*512, 16*512), bytes.Repeat(block, 16))
	if err := u.WriteSame(ctx, 300, 16, block[:100], 0); !errors.Is(err, session.ErrVectorLength) {
		t.Fatalf("WRITE SAME with a short block: %v", err)
	}
	if err := u.WriteSame(ctx, 300, 16, block, scsi.WriteSameNDOB); !errors.Is(err, session.ErrVectorLength) {
		t.Fatalf("WRITE SAME with NDOB and a block: %v", err)
	}
	if err := u.PreFetch(ctx, 0, 64, false); err != nil {
		t.Fatalf("PRE-FETCH: %v", err)
	}
	if err := u.SynchronizeCache(ctx, 100, 8); err != nil {
		t.Fatalf("SYNCHRONIZE CACHE range: %v", err)
	}
}

// TestUnitThinProvisioning: the provisioning page, UNMAP, GET LBA STATUS
// through Extents, Discard and WriteZeroes on a thin tgtd LUN; and the
// ErrNotThin of a thick one.
func TestUnitThinProvisioning(t *testing.T) {
	t.Parallel()
	inst, targets := opsTarget(t)
	s, u := dialUnit(t, inst, 2, nil)
	path := targets[0].LUNs[1].Path
	ctx := testCtx(t)
	g, err := u.Geometry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Thin {
		t.Fatalf("LUN 2 not thin: %+v", g)
	}
	p, err := u.LogicalBlockProvisioning(ctx)
	if err != nil || !p.LBPU || !p.LBPWS {
		t.Fatalf("provisioning page: %+v, %v", p, err)
	}
	// Fill 1 MiB, then look at the extents.
	const bs = 4096
	full := pattern(1<<20, 7)
	if _, err := u.WriteAtContext(ctx, full, 0); err != nil {
		t.Fatal(err)
	}
	exts := extents(t, u, 0, 1<<40)
	t.Logf("extents after writing 1 MiB: %+v", exts)
	if len(exts) == 0 || !exts[0].Mapped() || exts[0].LBA != 0 || exts[len(exts)-1].LBA+exts[len(exts)-1].Blocks != g.Blocks {
		t.Fatalf("extents after writing 1 MiB: %+v", exts)
	}

	// UNMAP blocks 16..47 and 100..103.
	if err := u.Unmap(ctx, []scsi.UnmapDescriptor{{LBA: 16, Blocks: 32}, {LBA: 100, Blocks: 4}}); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "unmapped blocks", tgtd.ReadBacking(t, path, 16*bs, 32*bs), make([]byte, 32*bs))
	mustEqual(t, "blocks before", tgtd.ReadBacking(t, path, 0, 16*bs), full[:16*bs])
	mustEqual(t, "blocks between", tgtd.ReadBacking(t, path, 48*bs, 52*bs), full[48*bs:100*bs])
	st, err := u.GetLBAStatus(ctx, 20)
	if err != nil || len(st.Descriptors) == 0 || st.Descriptors[0].LBA > 20 || st.Descriptors[0].Status != scsi.LBADeallocated {
		t.Fatalf("GET LBA STATUS at 20: %+v, %v", st, err)
	}
	exts = extents(t, u, 0, 256)
	t.Logf("extents after UNMAP: %+v", exts)
	if !hasExtent(exts, 16, 32, false) || !hasExtent(exts, 100, 4, false) || !hasExtent(exts, 0, 16, true) {
		t.Fatalf("extents after UNMAP: %+v", exts)
	}
	// A window inside: clipped to it.
	if exts := extents(t, u, 20, 30); len(exts) != 1 || exts[0] != (session.Extent{LBA: 20, Blocks: 10, Offset: 20 * bs, Length: 10 * bs, Status: scsi.LBADeallocated}) {
		t.Fatalf("extents of [20, 30): %+v", exts)
	}

	// Discard rounds inward: bytes [200*bs+1, 210*bs+5) unmap blocks 201..209.
	if err := u.Discard(ctx, 200*bs+1, 10*bs+4); err != nil {
		t.Fatal(err)
	}
	exts = extents(t, u, 199, 212)
	if !hasExtent(exts, 201, 9, false) || !hasExtent(exts, 199, 2, true) || !hasExtent(exts, 210, 2, true) {
		t.Fatalf("extents after Discard: %+v", exts)
	}

	// WriteZeroes: unaligned edges written, the middle unmapped.
	if err := u.WriteZeroes(ctx, 150*bs+100, 20*bs); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(full[150*bs : 171*bs])
	clear(want[100 : 100+20*bs])
	got := make([]byte, len(want))
	if _, err := u.ReadAtContext(ctx, got, 150*bs); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "WriteZeroes", got, want)
	mustEqual(t, "WriteZeroes in the file", tgtd.ReadBacking(t, path, 150*bs, len(want)), want)
	exts = extents(t, u, 150, 171)
	t.Logf("extents after WriteZeroes: %+v", exts)
	if !hasExtent(exts, 151, 19, false) {
		t.Fatalf("WriteZeroes did not unmap the whole blocks: %+v", exts)
	}

	// The thick LUN: Discard says so, Extents says all mapped, WriteZeroes
	// writes zeros.
	u1, _ := s.LogicalUnit(1)
	if err := u1.Discard(ctx, 0, 4096); !errors.Is(err, session.ErrNotThin) {
		t.Fatalf("Discard on a thick LUN: %v", err)
	}
	if exts := extents(t, u1, 0, 1<<40); len(exts) != 1 || !exts[0].Mapped() || exts[0].Blocks != (8<<20)/512 {
		t.Fatalf("extents of a thick LUN: %+v", exts)
	}
	if err := u1.WriteZeroes(ctx, 512*10+3, 512*40); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "WriteZeroes on a thick LUN", tgtd.ReadBacking(t, targets[0].LUNs[0].Path, 512*10+3, 512*40), make([]byte, 512*40))
	if err := u1.Discard(ctx, -1, 4096); !errors.Is(err, session.ErrNegativeOffset) {
		t.Fatalf("Discard at -1: %v", err)
	}
	if err := u.WriteZeroes(ctx, g.Size()-10, 20); !errors.Is(err, session.ErrBeyondEnd) {
		t.Fatalf("WriteZeroes past the end: %v", err)
	}
}

func extents(t *testing.T, u *session.LogicalUnit, start, end uint64) []session.Extent {
	t.Helper()
	var out []session.Extent
	for e, err := range u.Extents(testCtx(t), start, end) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// hasExtent reports whether exts has blocks [lba, lba+n) within one extent of the given mapping.
func hasExtent(exts []session.Extent, lba, n uint64, mapped bool) bool {
	for _, e := range exts {
		if e.LBA <= lba && lba+n <= e.LBA+e.Blocks && e.Mapped() == mapped {
			return true
		}
	}
	return false
}

// TestUnitReservations: persistent reservations and RESERVE(6) between two
// sessions of different initiators against tgtd.
func TestUnitReservations(t *testing.T) {
	t.Parallel()
	inst, _ := opsTarget(t)
	ctx := testCtx(t)
	_, a := dialUnit(t, inst, 1, &session.Config{InitiatorName: "iqn.2026-11.test:host-a", ISID: pdu.ISID{0x80, 0, 0, 0, 0, 1}})
	_, b := dialUnit(t, inst, 1, &session.Config{InitiatorName: "iqn.2026-11.test:host-b", ISID: pdu.ISID{0x80, 0, 0, 0, 0, 2}})
	const keyA, keyB = 0xa1a1, 0xb2b2

	caps, err := a.PRReportCapabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PR capabilities: %+v", caps)
	if err := a.PRRegister(ctx, 0, keyA); err != nil {
		t.Fatal(err)
	}
	if err := b.PRRegisterAndIgnore(ctx, keyB); err != nil {
		t.Fatal(err)
	}
	keys, err := b.PRReadKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(keys.Keys, keyA) || !slices.Contains(keys.Keys, keyB) || len(keys.Keys) != 2 {
		t.Fatalf("READ KEYS: %+v", keys)
	}
	if err := a.PRReserve(ctx, keyA, scsi.PRTypeWriteExclusive); err != nil {
		t.Fatal(err)
	}
	r, err := b.PRReadReservation(ctx)
	if err != nil || !r.Reserved || r.Key != keyA || r.Type != scsi.PRTypeWriteExclusive {
		t.Fatalf("READ RESERVATION: %+v, %v", r, err)
	}
	fs, err := a.PRReadFullStatus(ctx)
	t.Logf("READ FULL STATUS: %+v, %v", fs, err)
	if err == nil && len(fs.Descriptors) != 2 {
		t.Fatalf("READ FULL STATUS: %+v", fs)
	} else if err != nil && !errors.Is(err, scsi.ErrInvalidFieldInCDB) {
		t.Fatal(err)
	}
	// B may read, not write.
	buf := make([]byte, 512)
	if _, err := b.ReadAtContext(ctx, buf, 0); err != nil {
		t.Fatalf("read by B under A's write exclusive reservation: %v", err)
	}
	if _, err := b.WriteAtContext(ctx, buf, 0); !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatalf("write by B under A's reservation: %v", err)
	}
	if _, err := a.WriteAtContext(ctx, buf, 0); err != nil {
		t.Fatalf("write by the holder: %v", err)
	}
	// B cannot release A's reservation (a no-op without conflict per SPC), nor reserve.
	if err := b.PRReserve(ctx, keyB, scsi.PRTypeWriteExclusive); !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatalf("B reserving over A: %v", err)
	}
	// B preempts A: the reservation moves to B, A's key is gone.
	if err := b.PRPreempt(ctx, keyB, keyA, scsi.PRTypeExclusiveAccess); err != nil {
		t.Fatal(err)
	}
	if r, err := a.PRReadReservation(ctx); err != nil && !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatal(err)
	} else if err == nil && (r.Key != keyB || r.Type != scsi.PRTypeExclusiveAccess) {
		t.Fatalf("after PREEMPT: %+v", r)
	}
	if _, err := a.ReadAtContext(ctx, buf, 0); !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatalf("read by A under B's exclusive access: %v", err)
	}
	if err := b.PRRelease(ctx, keyB, scsi.PRTypeExclusiveAccess); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadAtContext(ctx, buf, 0); err != nil {
		t.Fatalf("read by A after the release: %v", err)
	}
	// A registers again; B preempts and aborts; then B clears everything.
	if err := a.PRRegisterAndIgnore(ctx, keyA); err != nil {
		t.Fatal(err)
	}
	if err := a.PRReserve(ctx, keyA, scsi.PRTypeWriteExclusiveRegistrantsOnly); err != nil {
		t.Fatal(err)
	}
	// tgtd has no PREEMPT AND ABORT (the in-process target checks its CDB).
	if err := b.PRPreemptAndAbort(ctx, keyB, keyA, scsi.PRTypeWriteExclusive); !errors.Is(err, scsi.ErrInvalidFieldInCDB) {
		t.Fatalf("PREEMPT AND ABORT, which tgtd lacks: %v", err)
	}
	if err := b.PRPreempt(ctx, keyB, keyA, scsi.PRTypeWriteExclusive); err != nil {
		t.Fatal(err)
	}
	if r, err := a.PRReadReservation(ctx); err != nil || r.Key != keyB || r.Type != scsi.PRTypeWriteExclusive {
		t.Fatalf("after the second PREEMPT: %+v, %v", r, err)
	}
	if err := b.PRClear(ctx, keyB); err != nil {
		t.Fatal(err)
	}
	if keys, err := a.PRReadKeys(ctx); err != nil || len(keys.Keys) != 0 {
		t.Fatalf("READ KEYS after CLEAR: %+v, %v", keys, err)
	}
	if err := a.PersistentReserveOut(ctx, scsi.PRRegister, 0, scsi.PROutParameters{ServiceActionKey: keyA}); err != nil {
		t.Fatal(err)
	}
	if err := a.PRRegister(ctx, keyA, 0); err != nil {
		t.Fatalf("unregister: %v", err)
	}
	// REGISTER AND IGNORE with key 0 from an unregistered nexus, what a
	// multipath path redialed after an unregister sends: GOOD, and no key.
	if err := a.PRRegisterAndIgnore(ctx, 0); err != nil {
		t.Fatalf("REGISTER AND IGNORE of key 0, unregistered: %v", err)
	}
	if keys, err := a.PRReadKeys(ctx); err != nil || len(keys.Keys) != 0 {
		t.Fatalf("READ KEYS after REGISTER AND IGNORE of key 0: %+v, %v", keys, err)
	}

	// RESERVE(6): B is locked out until A releases.
	if err := a.Reserve6(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadAtContext(ctx, buf, 0); !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatalf("read by B under A's RESERVE(6): %v", err)
	}
	if err := b.Reserve6(ctx); !errors.Is(err, scsi.ErrReservationConflict) {
		t.Fatalf("RESERVE(6) by B: %v", err)
	}
	if err := a.Release6(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadAtContext(ctx, buf, 0); err != nil {
		t.Fatalf("read by B after RELEASE(6): %v", err)
	}
}
