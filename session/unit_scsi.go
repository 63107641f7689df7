package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
)

// The SCSI operations of a LogicalUnit: each builds its CDB with package
// scsi, runs it through Call with a buffer of the right size (asking again
// with the full length when the target had more to say) and decodes the
// answer with scsi's parsers. Commands that end in a status other than GOOD
// return an *OpError wrapping the *scsi.StatusError, which errors.Is
// matches against scsi's sentinels (scsi.ErrReservationConflict,
// scsi.ErrInvalidOpcode, ...). BUSY, TASK SET FULL and a unit attention are
// retried as for every block operation.

// maxAlloc bounds the allocation length of the data-in commands below.
const maxAlloc = 1 << 20

// readIn runs the data-in command build makes for an allocation length,
// starting with alloc bytes; when full says the answer is longer, it asks
// again with that length (up to limit), once more at most if the answer
// grew meanwhile. It returns the bytes received; the parser says whether
// they were cut (Truncated).
func (u *LogicalUnit) readIn(ctx context.Context, build func(alloc uint32) scsi.CDB, alloc, limit int, full func(b []byte) int) ([]byte, error) {
	for try := 0; ; try++ {
		buf := make([]byte, alloc)
		n, err := u.runIn(ctx, build(uint32(alloc)), buf)
		if err != nil {
			return nil, err
		}
		b := buf[:n]
		if f := full(b); f > alloc && alloc < limit && try < 2 {
			alloc = min(f, limit)
			continue
		}
		return b, nil
	}
}

// lenField returns a function that reads the length of an answer from a
// big-endian field of size bytes at off, plus add.
func lenField(off, size, add int) func(b []byte) int {
	return func(b []byte) int {
		if len(b) < off+size {
			return 0
		}
		var n uint64
		for _, c := range b[off : off+size] {
			n = n<<8 | uint64(c)
		}
		return int(min(n, maxAlloc)) + add
	}
}

// runOut runs a data-out command with data, with retries.
func (u *LogicalUnit) runOut(ctx context.Context, cdb scsi.CDB, data []byte) error {
	return u.retry(ctx, func() error {
		_, err := u.Call(ctx, cdb, DirWrite, iovector.New(data))
		return err
	})
}

// blockSize returns the unit's logical block size.
func (u *LogicalUnit) blockSize(ctx context.Context) (uint32, error) {
	if g := u.geo.Load(); g != nil {
		return g.BlockSize, nil
	}
	g, err := u.Geometry(ctx)
	return g.BlockSize, err
}

// blocksOf checks that b holds whole blocks and returns how many.
func (u *LogicalUnit) blocksOf(ctx context.Context, op string, b []byte) (uint64, error) {
	bs, err := u.blockSize(ctx)
	if err != nil {
		return 0, err
	}
	if len(b) == 0 || len(b)%int(bs) != 0 {
		return 0, u.opErr(op, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte blocks", ErrVectorLength, len(b), bs))
	}
	return uint64(len(b)) / uint64(bs), nil
}

// Inquiry returns the unit's standard INQUIRY data.
func (u *LogicalUnit) Inquiry(ctx context.Context) (scsi.StandardInquiry, error) {
	b, err := u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.Inquiry(uint16(n)) }, 96, 255, lenField(4, 1, 5))
	if err != nil {
		return scsi.StandardInquiry{}, err
	}
	q, err := scsi.ParseStandardInquiry(b)
	if err != nil {
		return q, u.opErr("INQUIRY", err)
	}
	return q, nil
}

// VPD returns the bytes of Vital Product Data page (INQUIRY with EVPD),
// header included, whole.
func (u *LogicalUnit) VPD(ctx context.Context, page uint8) ([]byte, error) {
	return u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.InquiryVPD(page, uint16(n)) }, 255, 0xffff, lenField(2, 2, 4))
}

// vpdPage reads page and parses it with parse.
func vpdPage[T any](ctx context.Context, u *LogicalUnit, page uint8, parse func([]byte) (T, error)) (T, error) {
	b, err := u.VPD(ctx, page)
	if err != nil {
		var zero T
		return zero, err
	}
	p, err := parse(b)
	if err != nil {
		return p, u.opErr(fmt.Sprintf("INQUIRY VPD %#02x", page), err)
	}
	return p, nil
}

// SupportedVPDPages returns the codes of the VPD pages the unit has (page 0x00).
func (u *LogicalUnit) SupportedVPDPages(ctx context.Context) ([]uint8, error) {
	p, err := vpdPage(ctx, u, scsi.VPDSupportedPages, scsi.ParseSupportedPages)
	return p.Pages, err
}

// DeviceIdentification returns the unit's designators (VPD page 0x83).
func (u *LogicalUnit) DeviceIdentification(ctx context.Context) (scsi.DeviceIdentification, error) {
	return vpdPage(ctx, u, scsi.VPDDeviceIdentification, scsi.ParseDeviceIdentification)
}

// BlockLimits returns the Block Limits page (VPD page 0xb0): transfer,
// UNMAP and WRITE SAME limits.
func (u *LogicalUnit) BlockLimits(ctx context.Context) (scsi.BlockLimits, error) {
	return vpdPage(ctx, u, scsi.VPDBlockLimits, scsi.ParseBlockLimits)
}

// cachedBlockLimits is BlockLimits, read once and kept until the device
// changes (see forget).
func (u *LogicalUnit) cachedBlockLimits(ctx context.Context) (scsi.BlockLimits, error) {
	if p := u.limits.Load(); p != nil {
		return *p, nil
	}
	bl, err := u.BlockLimits(ctx)
	if err == nil {
		u.limits.Store(&bl)
	}
	return bl, err
}

// cachedProvisioning is LogicalBlockProvisioning, read once and kept until
// the device changes (see forget).
func (u *LogicalUnit) cachedProvisioning(ctx context.Context) (scsi.LogicalBlockProvisioning, error) {
	if p := u.provisioning.Load(); p != nil {
		return *p, nil
	}
	lbp, err := u.LogicalBlockProvisioning(ctx)
	if err == nil {
		u.provisioning.Store(&lbp)
	}
	return lbp, err
}

// BlockDeviceCharacteristics returns VPD page 0xb1 (rotation rate, form
// factor).
func (u *LogicalUnit) BlockDeviceCharacteristics(ctx context.Context) (scsi.BlockDeviceCharacteristics, error) {
	return vpdPage(ctx, u, scsi.VPDBlockDeviceCharacteristic, scsi.ParseBlockDeviceCharacteristics)
}

// LogicalBlockProvisioning returns VPD page 0xb2: whether UNMAP and WRITE
// SAME with UNMAP work and what unmapped blocks read as.
func (u *LogicalUnit) LogicalBlockProvisioning(ctx context.Context) (scsi.LogicalBlockProvisioning, error) {
	return vpdPage(ctx, u, scsi.VPDLogicalBlockProvisioning, scsi.ParseLogicalBlockProvisioning)
}

// ThirdPartyCopy returns the Third-party Copy page (VPD page 0x8f).
func (u *LogicalUnit) ThirdPartyCopy(ctx context.Context) (scsi.ThirdPartyCopy, error) {
	return vpdPage(ctx, u, scsi.VPDThirdPartyCopy, scsi.ParseThirdPartyCopy)
}

// ReadCapacity returns the unit's capacity from READ CAPACITY(16), or from
// READ CAPACITY(10) when the unit does not support the former (then only
// ReturnedLBA and BlockLength are set). Unlike Geometry it always asks.
func (u *LogicalUnit) ReadCapacity(ctx context.Context) (scsi.Capacity16, error) {
	buf := make([]byte, 32)
	n, err := u.runIn(ctx, scsi.ReadCapacity16(32), buf)
	if err == nil {
		c, err := scsi.ParseReadCapacity16(buf[:n])
		if err != nil {
			return c, u.opErr("READ CAPACITY(16)", err)
		}
		return c, nil
	}
	var se *scsi.StatusError
	if !errors.As(err, &se) {
		return scsi.Capacity16{}, err
	}
	n, err = u.runIn(ctx, scsi.ReadCapacity10(), buf[:8])
	if err != nil {
		return scsi.Capacity16{}, err
	}
	c, err := scsi.ParseReadCapacity10(buf[:n])
	if err != nil {
		return scsi.Capacity16{}, u.opErr("READ CAPACITY(10)", err)
	}
	return scsi.Capacity16{ReturnedLBA: uint64(c.ReturnedLBA), BlockLength: c.BlockLength}, nil
}

// ReportLUNs returns the LUNs of the session's target (REPORT LUNS, sent to
// LUN 0), in the target's order.
func (s *Session) ReportLUNs(ctx context.Context) ([]scsi.LUN, error) {
	u := s.unitFor(0)
	b, err := u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.ReportLUNs(scsi.ReportAllLUNs, n) }, 512, maxAlloc, lenField(0, 4, 8))
	if err != nil {
		return nil, err
	}
	r, err := scsi.ParseReportLUNs(b)
	if err != nil {
		return nil, u.opErr("REPORT LUNS", err)
	}
	return r.LUNs, nil
}

// ModeSense returns mode page page (scsi.ModePageAll for all) and subpage,
// as pc asks (current, changeable, default or saved values), with MODE
// SENSE(10), or MODE SENSE(6) for a unit without it (its header is then
// given in the MODE SENSE(10) form). Block descriptors are not asked for.
func (u *LogicalUnit) ModeSense(ctx context.Context, pc scsi.PageControl, page, subpage uint8) (scsi.ModeSense10Data, error) {
	b, err := u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.ModeSense10(false, true, pc, page, subpage, uint16(n)) },
		255, 0xffff, lenField(0, 2, 2))
	if err == nil {
		m, err := scsi.ParseModeSense10(b)
		if err != nil {
			return m, u.opErr("MODE SENSE(10)", err)
		}
		return m, nil
	}
	if !errors.Is(err, scsi.ErrInvalidOpcode) {
		return scsi.ModeSense10Data{}, err
	}
	b, err = u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.ModeSense6(true, pc, page, subpage, uint8(n)) },
		255, 255, lenField(0, 1, 1))
	if err != nil {
		return scsi.ModeSense10Data{}, err
	}
	m6, err := scsi.ParseModeSense6(b)
	if err != nil {
		return scsi.ModeSense10Data{}, u.opErr("MODE SENSE(6)", err)
	}
	return scsi.ModeSense10Data{ModeDataLength: uint16(m6.ModeDataLength) + 3, MediumType: m6.MediumType,
		DeviceSpecific: m6.DeviceSpecific, BlockDescriptors: m6.BlockDescriptors, Pages: m6.Pages, Truncated: m6.Truncated}, nil
}

// ModeSelect sends mode parameters (MODE SELECT(10) with PF, or MODE
// SELECT(6) for a unit without it). With save the unit keeps them across
// power cycles (SP), when it can.
func (u *LogicalUnit) ModeSelect(ctx context.Context, p *scsi.ModeParameters, save bool) error {
	data, err := scsi.AppendModeSelect10(nil, p)
	if err != nil {
		return u.opErr("MODE SELECT(10)", err)
	}
	err = u.runOut(ctx, scsi.ModeSelect10(true, save, uint16(len(data))), data)
	if !errors.Is(err, scsi.ErrInvalidOpcode) || p.LongLBA {
		return err
	}
	data, perr := scsi.AppendModeSelect6(nil, p)
	if perr != nil {
		return err
	}
	return u.runOut(ctx, scsi.ModeSelect6(true, save, uint8(len(data))), data)
}

// CachingPage returns the Caching mode page (0x08) as pc asks.
func (u *LogicalUnit) CachingPage(ctx context.Context, pc scsi.PageControl) (scsi.CachingPage, error) {
	m, err := u.ModeSense(ctx, pc, scsi.ModePageCaching, 0)
	if err != nil {
		return scsi.CachingPage{}, err
	}
	p, ok := m.Page(scsi.ModePageCaching, 0)
	if !ok {
		return scsi.CachingPage{}, u.opErr("MODE SENSE", fmt.Errorf("%w: the unit returned no caching page", scsi.ErrMalformed))
	}
	c, err := scsi.ParseCachingPage(p)
	if err != nil {
		return c, u.opErr("MODE SENSE", err)
	}
	return c, nil
}

// WriteCache reports whether the unit's write cache is on (WCE of the
// current Caching mode page).
func (u *LogicalUnit) WriteCache(ctx context.Context) (bool, error) {
	c, err := u.CachingPage(ctx, scsi.PageCurrent)
	return c.WCE, err
}

// SetWriteCache turns the unit's write cache on or off: the current Caching
// page with WCE changed, sent back with MODE SELECT (not saved).
func (u *LogicalUnit) SetWriteCache(ctx context.Context, on bool) error {
	c, err := u.CachingPage(ctx, scsi.PageCurrent)
	if err != nil {
		return err
	}
	if c.WCE == on {
		return nil
	}
	c.WCE = on
	return u.ModeSelect(ctx, &scsi.ModeParameters{Pages: []scsi.ModePage{c.ModePage()}}, false)
}

// StartStopUnit sends START STOP UNIT: start or stop the medium, load or
// eject it, or change the power condition.
func (u *LogicalUnit) StartStopUnit(ctx context.Context, ss scsi.StartStop) error {
	return u.runNoData(ctx, scsi.StartStopUnit(ss))
}

// PreventAllowMediumRemoval locks (prevent) or unlocks the medium.
func (u *LogicalUnit) PreventAllowMediumRemoval(ctx context.Context, prevent bool) error {
	return u.runNoData(ctx, scsi.PreventAllowMediumRemoval(prevent))
}

// fits10 says whether lba and blocks fit a 10-byte CDB.
func fits10(lba uint64, blocks uint64) bool { return lba+blocks <= 1<<32 && blocks <= 0xffff }

// Verify checks blocks blocks from lba on the medium (VERIFY). With data
// (blocks × block size bytes) the blocks are compared with it: a difference
// is a *MiscompareError.
func (u *LogicalUnit) Verify(ctx context.Context, lba uint64, blocks uint32, data []byte, f scsi.RWFlags) error {
	bytchk := scsi.ByteCheckNone
	if data != nil {
		n, err := u.blocksOf(ctx, "VERIFY", data)
		if err != nil {
			return err
		}
		if n != uint64(blocks) {
			return u.opErr("VERIFY", fmt.Errorf("%w: %d blocks, data holds %d", ErrVectorLength, blocks, n))
		}
		bytchk = scsi.ByteCheckCompare
	}
	cdb := scsi.Verify16(lba, blocks, bytchk, f)
	if fits10(lba, uint64(blocks)) {
		cdb = scsi.Verify10(uint32(lba), uint16(blocks), bytchk, f)
	}
	if data == nil {
		return u.runNoData(ctx, cdb)
	}
	return u.miscompare(lba, u.runOut(ctx, cdb, data))
}

// WriteAndVerify writes data (whole blocks) at lba and verifies it on the
// medium (WRITE AND VERIFY with BYTCHK 0).
func (u *LogicalUnit) WriteAndVerify(ctx context.Context, lba uint64, data []byte, f scsi.RWFlags) error {
	n, err := u.blocksOf(ctx, "WRITE AND VERIFY", data)
	if err != nil {
		return err
	}
	if n > 0xffffffff {
		return u.opErr("WRITE AND VERIFY", fmt.Errorf("%w: %d blocks in one command", ErrVectorLength, n))
	}
	cdb := scsi.WriteAndVerify16(lba, uint32(n), scsi.ByteCheckNone, f)
	if fits10(lba, n) {
		cdb = scsi.WriteAndVerify10(uint32(lba), uint16(n), scsi.ByteCheckNone, f)
	}
	return u.runOut(ctx, cdb, data)
}

// MiscompareError is a COMPARE AND WRITE (or VERIFY with data) whose data
// did not match the medium. It wraps the command's error, so errors.Is
// matches scsi.ErrMiscompare and errors.As finds the *OpError.
type MiscompareError struct {
	// Offset is the byte offset, in the data compared, of the first byte
	// that differed; LBA is the block that holds it. Valid when Known.
	Offset uint64
	LBA    uint64
	Known  bool
	Err    error
}

func (e *MiscompareError) Error() string {
	if !e.Known {
		return "iscsi: miscompare (the target did not say where): " + e.Err.Error()
	}
	return fmt.Sprintf("iscsi: miscompare at byte %d of the data (lba %d): %v", e.Offset, e.LBA, e.Err)
}

func (e *MiscompareError) Unwrap() error { return e.Err }

// miscompare turns a MISCOMPARE failure of a command at lba into a
// *MiscompareError.
func (u *LogicalUnit) miscompare(lba uint64, err error) error {
	var se *scsi.StatusError
	if err == nil || !errors.Is(err, scsi.ErrMiscompare) || !errors.As(err, &se) {
		return err
	}
	me := &MiscompareError{LBA: lba, Err: err}
	if off, ok := se.MiscompareOffset(); ok {
		me.Offset, me.Known = off, true
		if g := u.geo.Load(); g != nil {
			me.LBA = lba + off/uint64(g.BlockSize)
		}
	}
	return me
}

// CompareAndWrite compares the blocks at lba with compare and, if they
// match, writes write in their place, atomically (COMPARE AND WRITE).
// compare and write have the same whole number of blocks (at most the Block
// Limits page's MaxCompareAndWriteLength). A mismatch is a
// *MiscompareError that says where.
func (u *LogicalUnit) CompareAndWrite(ctx context.Context, lba uint64, compare, write []byte, f scsi.RWFlags) error {
	n, err := u.blocksOf(ctx, "COMPARE AND WRITE", compare)
	if err != nil {
		return err
	}
	if len(write) != len(compare) || n > 0xff {
		return u.opErr("COMPARE AND WRITE", fmt.Errorf("%w: compare %d bytes, write %d bytes, at most 255 blocks",
			ErrVectorLength, len(compare), len(write)))
	}
	data := make([]byte, 0, 2*len(compare))
	data = append(append(data, compare...), write...)
	return u.miscompare(lba, u.runOut(ctx, scsi.CompareAndWrite(lba, uint8(n), f), data))
}

// WriteSame writes block (one logical block) to blocks blocks from lba
// (WRITE SAME(10), or (16) beyond its reach, for 0 blocks, and with UNMAP,
// ANCHOR or NDOB). With scsi.WriteSameUnmap and a zero block a thin unit
// may deallocate the blocks instead (when its provisioning page says
// LBPWS); with scsi.WriteSameNDOB block is nil and zeros are written.
func (u *LogicalUnit) WriteSame(ctx context.Context, lba uint64, blocks uint32, block []byte, f scsi.WriteSameFlags) error {
	if f&scsi.WriteSameNDOB != 0 {
		if block != nil {
			return u.opErr("WRITE SAME(16)", fmt.Errorf("%w: NDOB with a data block", ErrVectorLength))
		}
		return u.runNoData(ctx, scsi.WriteSame16(lba, blocks, f, 0))
	}
	n, err := u.blocksOf(ctx, "WRITE SAME", block)
	if err != nil {
		return err
	}
	if n != 1 {
		return u.opErr("WRITE SAME", fmt.Errorf("%w: WRITE SAME takes one block, got %d", ErrVectorLength, n))
	}
	cdb := scsi.WriteSame16(lba, blocks, f, 0)
	if fits10(lba, uint64(blocks)) && blocks > 0 && f&(scsi.WriteSameUnmap|scsi.WriteSameAnchor) == 0 {
		cdb = scsi.WriteSame10(uint32(lba), uint16(blocks), f, 0)
	}
	return u.runOut(ctx, cdb, block)
}

// defaultUnmapDescriptors bounds the descriptors of one UNMAP when the
// Block Limits page gives no count.
const defaultUnmapDescriptors = 64

// Unmap deallocates the blocks of extents (UNMAP), in as many commands as
// the Block Limits page's MAXIMUM UNMAP LBA COUNT and MAXIMUM UNMAP BLOCK
// DESCRIPTOR COUNT require (an extent longer than the LBA count is split).
// The unit must be thin provisioned (see LogicalBlockProvisioning.LBPU);
// otherwise the error matches ErrNotThin.
func (u *LogicalUnit) Unmap(ctx context.Context, extents []scsi.UnmapDescriptor) error {
	bl, err := u.cachedBlockLimits(ctx)
	if err != nil && !errors.Is(err, scsi.ErrInvalidFieldInCDB) {
		return err
	}
	maxLBAs := uint64(bl.MaxUnmapLBACount)
	if maxLBAs == 0 || maxLBAs == 0xffffffff {
		maxLBAs = 0xffffffff
	}
	maxDesc := int(bl.MaxUnmapDescriptorCount)
	if maxDesc == 0 || maxDesc > scsi.MaxUnmapDescriptors {
		maxDesc = min(scsi.MaxUnmapDescriptors, defaultUnmapDescriptors)
		if bl.MaxUnmapDescriptorCount == 0xffffffff {
			maxDesc = scsi.MaxUnmapDescriptors
		}
	}
	var batch []scsi.UnmapDescriptor
	var inBatch uint64
	var buf []byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var err error
		buf, err = scsi.AppendUnmapParameters(buf[:0], batch)
		if err != nil {
			return u.opErr("UNMAP", err)
		}
		err = u.runOut(ctx, scsi.Unmap(false, 0, uint16(len(buf))), buf)
		batch, inBatch = batch[:0], 0
		if errors.Is(err, scsi.ErrInvalidOpcode) {
			return u.opErr("UNMAP", fmt.Errorf("%w: %w", ErrNotThin, err))
		}
		return err
	}
	for _, e := range extents {
		lba, left := e.LBA, uint64(e.Blocks)
		for left > 0 {
			if inBatch == maxLBAs || len(batch) == maxDesc {
				if err := flush(); err != nil {
					return err
				}
			}
			n := min(left, maxLBAs-inBatch)
			batch = append(batch, scsi.UnmapDescriptor{LBA: lba, Blocks: uint32(n)})
			inBatch += n
			lba, left = lba+n, left-n
		}
	}
	return flush()
}

// GetLBAStatus returns the provisioning status of the blocks from lba on,
// as far as the unit answers in one GET LBA STATUS (up to 255 descriptors).
func (u *LogicalUnit) GetLBAStatus(ctx context.Context, lba uint64) (scsi.LBAStatus, error) {
	const alloc = 8 + 16*255
	buf := make([]byte, alloc)
	n, err := u.runIn(ctx, scsi.GetLBAStatus(lba, alloc), buf)
	if err != nil {
		return scsi.LBAStatus{}, err
	}
	st, err := scsi.ParseLBAStatus(buf[:n])
	if err != nil {
		return st, u.opErr("GET LBA STATUS", err)
	}
	return st, nil
}

// PreFetch asks the unit to read blocks blocks from lba into its cache
// (PRE-FETCH; 0 blocks: to the end). With immed it answers at once.
func (u *LogicalUnit) PreFetch(ctx context.Context, lba uint64, blocks uint32, immed bool) error {
	cdb := scsi.PreFetch16(lba, blocks, immed, 0)
	if fits10(lba, uint64(blocks)) {
		cdb = scsi.PreFetch10(uint32(lba), uint16(blocks), immed, 0)
	}
	return u.runNoData(ctx, cdb)
}

// SynchronizeCache flushes the unit's cache for blocks blocks from lba (0
// blocks: to the end of the LUN; Sync flushes it all).
func (u *LogicalUnit) SynchronizeCache(ctx context.Context, lba uint64, blocks uint32) error {
	cdb := scsi.SynchronizeCache16(lba, blocks, false)
	if fits10(lba, uint64(blocks)) {
		cdb = scsi.SynchronizeCache10(uint32(lba), uint16(blocks), false)
	}
	return u.runNoData(ctx, cdb)
}

// ReadWithFlags is Read with the options of the CDB: scsi.FUA (from the
// medium), scsi.DPO (do not keep in the cache), the group number. It
// allocates nothing once the geometry is known.
func (u *LogicalUnit) ReadWithFlags(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, f scsi.RWFlags) Future {
	return u.rwFlags(ctx, lba, blocks, v, f, false)
}

// WriteWithFlags is Write with the options of the CDB: scsi.FUA (on the
// medium before the status), scsi.DPO, the group number.
func (u *LogicalUnit) WriteWithFlags(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, f scsi.RWFlags) Future {
	return u.rwFlags(ctx, lba, blocks, v, f, true)
}

func (u *LogicalUnit) rwFlags(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, f scsi.RWFlags, write bool) Future {
	bs, err := u.blockSize(ctx)
	if err != nil {
		return failed(err)
	}
	if n := uint64(blocks) * uint64(bs); v == nil || uint64(v.Len()) != n {
		return failed(fmt.Errorf("%w: %d blocks of %d bytes need %d bytes", ErrVectorLength, blocks, bs, n))
	}
	if write {
		return u.s.executeBlock(ctx, u.lun, scsi.Write(lba, blocks, f), DirWrite, v, int64(lba), nil)
	}
	return u.s.executeBlock(ctx, u.lun, scsi.Read(lba, blocks, f), DirRead, v, int64(lba), nil)
}

// ReportSupportedOpCodes returns the commands the unit supports (REPORT
// SUPPORTED OPERATION CODES, all commands), with their timeouts when
// timeouts is set.
func (u *LogicalUnit) ReportSupportedOpCodes(ctx context.Context, timeouts bool) (scsi.SupportedOpCodes, error) {
	b, err := u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.ReportSupportedOpCodes(timeouts, n) }, 4096, maxAlloc, lenField(0, 4, 4))
	if err != nil {
		return scsi.SupportedOpCodes{}, err
	}
	s, err := scsi.ParseSupportedOpCodes(b)
	if err != nil {
		return s, u.opErr("REPORT SUPPORTED OPERATION CODES", err)
	}
	return s, nil
}

// ReportTargetPortGroups returns the unit's ALUA target port groups and
// their states (REPORT TARGET PORT GROUPS, in the extended format when the
// unit has it).
func (u *LogicalUnit) ReportTargetPortGroups(ctx context.Context) (scsi.TargetPortGroups, error) {
	b, err := u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.ReportTargetPortGroups(true, n) }, 1024, maxAlloc, lenField(0, 4, 4))
	if errors.Is(err, scsi.ErrInvalidFieldInCDB) {
		// A unit that knows only the length-only format.
		b, err = u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.ReportTargetPortGroups(false, n) }, 1024, maxAlloc, lenField(0, 4, 4))
	}
	if err != nil {
		return scsi.TargetPortGroups{}, err
	}
	t, err := scsi.ParseTargetPortGroups(b)
	if err != nil {
		return t, u.opErr("REPORT TARGET PORT GROUPS", err)
	}
	return t, nil
}

// Reserve6 reserves the whole unit for this initiator (RESERVE(6), the
// SPC-2 reservation); another initiator's commands then fail with
// RESERVATION CONFLICT (errors.Is(err, scsi.ErrReservationConflict)).
func (u *LogicalUnit) Reserve6(ctx context.Context) error {
	return u.runNoData(ctx, scsi.Reserve6())
}

// Release6 releases a RESERVE(6) reservation (RELEASE(6)).
func (u *LogicalUnit) Release6(ctx context.Context) error {
	return u.runNoData(ctx, scsi.Release6())
}
