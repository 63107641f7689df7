package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
)

// DefaultMaxTransfer bounds one READ or WRITE when the LUN's Block Limits
// page says nothing.
const DefaultMaxTransfer = 1 << 20

// Geometry is the size and layout of a LUN.
type Geometry struct {
	BlockSize uint32 // bytes per logical block
	Blocks    uint64 // number of blocks: last LBA + 1
	// MaxTransfer is the largest READ or WRITE the block methods send, in
	// bytes: the Block Limits page's maximum, at most DefaultMaxTransfer.
	MaxTransfer uint32
	// PhysicalBlockSize is the bytes per physical block (a multiple of
	// BlockSize); LowestAlignedLBA is the first LBA aligned to one.
	PhysicalBlockSize uint32
	LowestAlignedLBA  uint16
	// Thin is LBPME: the LUN is thin provisioned (UNMAP works);
	// UnmappedReadsZero is LBPRZ: unmapped blocks read as zeros.
	Thin              bool
	UnmappedReadsZero bool
}

// Size returns the LUN's size in bytes.
func (g Geometry) Size() int64 { return int64(g.Blocks) * int64(g.BlockSize) }

// LogicalUnit is one LUN of a session's target, with the block API on it:
// geometry, block Read and Write futures, io.ReaderAt and io.WriterAt, Sync
// and reset. It sends everything through its session's Execute. It is
// safe for concurrent use; get it from Session.LogicalUnit.
type LogicalUnit struct {
	s   *Session
	lun scsi.LUN
	// geo is the cached geometry, nil until read and after a change
	// (CAPACITY DATA HAS CHANGED, a LUN reset, Refresh).
	geo atomic.Pointer[Geometry]
	// limits and provisioning cache the Block Limits (0xb0) and Logical
	// Block Provisioning (0xb2) pages for Unmap, Discard and WriteZeroes;
	// nil until read, and dropped with the geometry.
	limits       atomic.Pointer[scsi.BlockLimits]
	provisioning atomic.Pointer[scsi.LogicalBlockProvisioning]
	// geoMu makes one goroutine at a time read the geometry.
	geoMu sync.Mutex
	// rmw serialises read-modify-write of partial blocks: one lock per
	// block being patched, and nothing for the others.
	rmw blockLocks
}

// LogicalUnit returns the handle of LUN n of the session's target. The
// same n gives the same handle. Nothing is sent until it is used.
func (s *Session) LogicalUnit(n uint32) (*LogicalUnit, error) {
	lun, err := scsi.EncodeLUN(n)
	if err != nil {
		return nil, err
	}
	return s.unitFor(lun), nil
}

// DefaultUnit returns the handle of the LUN named in the URL Dial was given.
func (s *Session) DefaultUnit() *LogicalUnit { return s.unit }

func (s *Session) unitFor(lun scsi.LUN) *LogicalUnit {
	s.unitsMu.Lock()
	defer s.unitsMu.Unlock()
	if u := s.units[uint64(lun)]; u != nil {
		return u
	}
	if s.units == nil {
		s.units = make(map[uint64]*LogicalUnit)
	}
	u := &LogicalUnit{s: s, lun: lun}
	s.units[uint64(lun)] = u
	return u
}

// geometryChanged drops the cached geometry of lun, if a handle has one.
func (s *Session) geometryChanged(lun uint64) {
	s.unitsMu.Lock()
	u := s.units[lun]
	s.unitsMu.Unlock()
	if u != nil {
		u.forget()
	}
}

// forget drops what the unit caches about the device: the geometry and the
// limit pages, read again when next needed.
func (u *LogicalUnit) forget() {
	u.geo.Store(nil)
	u.limits.Store(nil)
	u.provisioning.Store(nil)
}

// LUN returns the unit's LUN as it goes on the wire.
func (u *LogicalUnit) LUN() scsi.LUN { return u.lun }

// Session returns the session the unit belongs to.
func (u *LogicalUnit) Session() *Session { return u.s }

// Execute sends any SCSI command to the unit: Session.Execute for its LUN.
func (u *LogicalUnit) Execute(ctx context.Context, cdb scsi.CDB, dir Direction, v *iovector.Vector) Future {
	return u.s.Execute(ctx, u.lun, cdb, dir, v)
}

// Call sends any SCSI command to the unit and waits for it.
func (u *LogicalUnit) Call(ctx context.Context, cdb scsi.CDB, dir Direction, v *iovector.Vector) (Result, error) {
	return u.s.Execute(ctx, u.lun, cdb, dir, v).Wait()
}

// Geometry returns the block size and capacity of the unit, from READ
// CAPACITY (16, else 10) and the Block Limits page, read once and kept
// until the target reports a change (CAPACITY DATA HAS CHANGED on any
// command or in an asynchronous event, a LUN reset) or Refresh.
func (u *LogicalUnit) Geometry(ctx context.Context) (Geometry, error) {
	if g := u.geo.Load(); g != nil {
		return *g, nil
	}
	u.geoMu.Lock()
	defer u.geoMu.Unlock()
	if g := u.geo.Load(); g != nil {
		return *g, nil
	}
	g, err := u.readGeometry(ctx)
	if err != nil {
		return Geometry{}, err
	}
	u.geo.Store(&g)
	_ = u.s.identify(ctx, u.lun) // before the first write; a failure shows in its replay
	return g, nil
}

// Refresh drops the cached geometry and reads it again.
func (u *LogicalUnit) Refresh(ctx context.Context) (Geometry, error) {
	u.forget()
	return u.Geometry(ctx)
}

func (u *LogicalUnit) readGeometry(ctx context.Context) (Geometry, error) {
	var g Geometry
	buf := make([]byte, 32)
	n, err := u.runIn(ctx, scsi.ReadCapacity16(32), buf)
	if err == nil {
		c, perr := scsi.ParseReadCapacity16(buf[:n])
		if perr != nil {
			return g, u.opErr("READ CAPACITY(16)", perr)
		}
		g.BlockSize, g.Blocks = c.BlockLength, c.ReturnedLBA+1
		g.PhysicalBlockSize = c.BlockLength << min(c.LBPPBE, 16)
		g.LowestAlignedLBA, g.Thin, g.UnmappedReadsZero = c.LowestAlignedLBA, c.LBPME, c.LBPRZ
	} else {
		var se *scsi.StatusError
		if !errors.As(err, &se) {
			return g, err
		}
		n, err = u.runIn(ctx, scsi.ReadCapacity10(), buf[:8])
		if err != nil {
			return g, u.whyNoCapacity(ctx, err)
		}
		c, perr := scsi.ParseReadCapacity10(buf[:n])
		if perr != nil {
			return g, u.opErr("READ CAPACITY(10)", perr)
		}
		g.BlockSize, g.Blocks = c.BlockLength, uint64(c.ReturnedLBA)+1
		g.PhysicalBlockSize = c.BlockLength
	}
	if g.BlockSize == 0 || g.BlockSize > 1<<20 {
		return Geometry{}, u.opErr("READ CAPACITY", fmt.Errorf("the LUN reports a block length of %d", g.BlockSize))
	}
	maxXfer := uint32(DefaultMaxTransfer)
	page := make([]byte, 64)
	if n, err := u.runIn(ctx, scsi.InquiryVPD(scsi.VPDBlockLimits, 64), page); err == nil {
		if bl, err := scsi.ParseBlockLimits(page[:n]); err == nil && bl.MaxTransferLength > 0 {
			if m := uint64(bl.MaxTransferLength) * uint64(g.BlockSize); m < uint64(maxXfer) {
				maxXfer = uint32(m)
			}
		}
	}
	maxXfer -= maxXfer % g.BlockSize
	if maxXfer == 0 {
		maxXfer = g.BlockSize
	}
	g.MaxTransfer = maxXfer
	return g, nil
}

func (u *LogicalUnit) opErr(op string, err error) error {
	return &OpError{Op: op, Portal: u.s.portal, Target: u.s.target, LUN: u.lun, LBA: -1, Offset: -1, Err: err}
}

// Read reads blocks blocks at lba into v, which must be exactly blocks ×
// block size bytes long. The returned Future completes when the data is in
// v. It allocates nothing once the geometry is known.
func (u *LogicalUnit) Read(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return u.rw(ctx, lba, blocks, v, false)
}

// Write writes v, exactly blocks × block size bytes, at lba. v must not
// change until the Future completes.
func (u *LogicalUnit) Write(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return u.rw(ctx, lba, blocks, v, true)
}

func (u *LogicalUnit) rw(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, write bool) Future {
	var bs uint32
	if g := u.geo.Load(); g != nil {
		bs = g.BlockSize
	} else {
		g, err := u.Geometry(ctx)
		if err != nil {
			return failed(err)
		}
		bs = g.BlockSize
	}
	cdb, dir, err := blockIO(bs, lba, blocks, v, write)
	if err != nil {
		return failed(err)
	}
	return u.s.executeBlock(ctx, u.lun, cdb, dir, v, int64(lba), nil)
}

// blockIO builds the READ or WRITE of blocks blocks of bs bytes at lba,
// after checking that v holds exactly that many bytes.
func blockIO(bs uint32, lba uint64, blocks uint32, v *iovector.Vector, write bool) (scsi.CDB, Direction, error) {
	n := uint64(blocks) * uint64(bs)
	if v == nil || uint64(v.Len()) != n {
		l := int64(-1)
		if v != nil {
			l = v.Len()
		}
		return scsi.CDB{}, DirNone, fmt.Errorf("%w: %d blocks of %d bytes need %d bytes, vector has %d", ErrVectorLength, blocks, bs, n, l)
	}
	if write {
		return scsi.Write(lba, blocks, 0), DirWrite, nil
	}
	return scsi.Read(lba, blocks, 0), DirRead, nil
}

// maxRetries bounds retries of BUSY, TASK SET FULL and unit attentions.
const maxRetries = 6

// retry runs op, retrying BUSY and TASK SET FULL with backoff and a unit
// attention once.
func (u *LogicalUnit) retry(ctx context.Context, op func() error) error {
	backoff := time.Millisecond
	ua := false
	for i := 0; ; i++ {
		err := op()
		switch {
		case err == nil:
			return nil
		case scsi.IsUnitAttention(err) && !ua:
			ua = true
			u.s.log.Info("iscsi: unit attention, retrying", "lun", u.lun, "err", err)
			continue
		case scsi.IsRetryable(err) && i < maxRetries:
			if werr := sleepCtx(ctx, backoff); werr != nil {
				return err
			}
			backoff *= 4
			continue
		}
		return err
	}
}

// runIn runs a data-in command into buf, with retries, and returns the byte
// count the target sent.
func (u *LogicalUnit) runIn(ctx context.Context, cdb scsi.CDB, buf []byte) (int, error) {
	var n int
	err := u.retry(ctx, func() error {
		r, err := u.Call(ctx, cdb, DirRead, iovector.New(buf))
		n = r.Transferred()
		return err
	})
	return n, err
}

// runNoData runs a command without data, with retries.
func (u *LogicalUnit) runNoData(ctx context.Context, cdb scsi.CDB) error {
	return u.retry(ctx, func() error {
		_, err := u.Call(ctx, cdb, DirNone, nil)
		return err
	})
}

// ReadAt implements io.ReaderAt for any offset and length. A read longer
// than MaxTransfer is split into commands of MaxTransfer, BulkDepth of them
// in flight at once (see ReadAtContext). Each command it sends is bounded
// by Config.CommandTimeout.
func (u *LogicalUnit) ReadAt(p []byte, off int64) (int, error) {
	return u.ReadAtContext(context.Background(), p, off)
}

// WriteAt implements io.WriterAt for any offset and length. A write longer
// than MaxTransfer is split into commands of MaxTransfer, BulkDepth of them
// in flight at once (see WriteAtContext). Each command it sends is bounded
// by Config.CommandTimeout.
func (u *LogicalUnit) WriteAt(p []byte, off int64) (int, error) {
	return u.WriteAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context. A read that reaches past the end
// of the LUN returns the bytes up to the end and io.EOF. On an error, p
// holds the n bytes reported read, all those before the first failed
// command (by offset), whose error is returned; the rest of p may hold any
// bytes. The commands are issued from the calling goroutine, and a large
// read allocates once per call, not per command; cancelling ctx ends those
// in flight, and p is not written after ReadAtContext has returned.
func (u *LogicalUnit) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, u.atErr("ReadAt", off, ErrNegativeOffset)
	}
	if len(p) == 0 {
		return 0, nil // nothing to read: nothing is sent
	}
	g, err := u.Geometry(ctx)
	if err != nil {
		return 0, err
	}
	size := g.Size()
	if off >= size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > size-off {
		want = p[:size-off]
	}
	n, err := u.transfer(ctx, g, want, off, false)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// WriteAtContext is WriteAt with a context. A write that would pass the end
// of the LUN fails before any I/O. Unaligned edges are read, modified and
// written under a lock per block, so concurrent writers of disjoint byte
// ranges that share a block never lose each other's bytes. On an error,
// the first n bytes are written; the blocks of the failed command may hold
// the old bytes, the new ones or (for a target that failed mid-command) a
// mix, and so may the blocks of the commands after it that were in flight
// when it failed (up to BulkDepth-1 commands of MaxTransfer: they are
// cancelled, but the target may have executed them). No command is sent
// after a failure. When the error does not match ErrMayHaveExecuted, no
// byte past the first n was written; and whatever the error, nothing of
// the call is written after it returned (the cancelled commands are waited
// for until the target has ended them: see Future.Wait), unless the
// session was closed meanwhile (see Session.Close).
func (u *LogicalUnit) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, u.atErr("WriteAt", off, ErrNegativeOffset)
	}
	if len(p) == 0 {
		return 0, nil // nothing to write: nothing is sent (not even a read of the block)
	}
	g, err := u.Geometry(ctx)
	if err != nil {
		return 0, err
	}
	if end := off + int64(len(p)); end > g.Size() || end < off {
		return 0, u.atErr("WriteAt", off, fmt.Errorf("%w: %d bytes, the LUN has %d", ErrBeyondEnd, len(p), g.Size()))
	}
	return u.transfer(ctx, g, p, off, true)
}

func (u *LogicalUnit) atErr(op string, off int64, err error) error {
	return &OpError{Op: op, Portal: u.s.portal, Target: u.s.target, LUN: u.lun, LBA: -1, Offset: off, Err: err}
}

// transfer moves p at byte offset off: a partial head block, whole blocks
// in commands of up to MaxTransfer straight from or into p, a partial tail
// block. Whole blocks beyond one MaxTransfer go through a pipe, BulkDepth
// commands in flight. It returns the bytes done contiguously from the start
// and the error of the first failed command by offset; an error says at
// which byte offset that command started.
func (u *LogicalUnit) transfer(ctx context.Context, g Geometry, p []byte, off int64, write bool) (int, error) {
	bs := int64(g.BlockSize)
	done := 0
	if inner := off % bs; inner != 0 || int64(len(p)) < bs {
		n := int(min(bs-inner, int64(len(p))))
		if err := u.partial(ctx, g, uint64(off/bs), int(inner), p[:n], write); err != nil {
			return 0, atOffset(err, off)
		}
		done = n
	}
	if whole := int64(len(p)-done) / bs * bs; whole > 0 {
		n, err := u.blocks(ctx, g, p[done:done+int(whole)], off+int64(done), write)
		done += n
		if err != nil {
			return done, err
		}
	}
	if done < len(p) {
		pos := off + int64(done)
		if err := u.partial(ctx, g, uint64(pos/bs), 0, p[done:], write); err != nil {
			return done, atOffset(err, pos)
		}
		done = len(p)
	}
	return done, nil
}

// blocks moves p, whole blocks, at the block-aligned byte offset off. Up to
// MaxTransfer it is one command, as it always was; beyond, commands of
// MaxTransfer are issued BulkDepth at a time from this goroutine and waited
// for in order. After a failed command no more are issued; those in flight
// are cancelled and waited for (a write may have landed past the error).
func (u *LogicalUnit) blocks(ctx context.Context, g Geometry, p []byte, off int64, write bool) (int, error) {
	bs, maxXfer := int64(g.BlockSize), int(g.MaxTransfer)
	if len(p) <= maxXfer {
		err := u.retry(ctx, func() error {
			return u.command(ctx, uint64(off/bs), uint32(int64(len(p))/bs), iovector.New(p), write)
		})
		if err != nil {
			return 0, atOffset(err, off)
		}
		return len(p), nil
	}
	pp := u.newPipe(ctx, min(BulkDepth, (len(p)+maxXfer-1)/maxXfer), write, bs)
	defer pp.Close()
	issued, done := 0, 0
	for done < len(p) {
		for issued < len(p) && !pp.Full() {
			n := min(maxXfer, len(p)-issued)
			pp.Issue(off+int64(issued), p[issued:issued+n])
			issued += n
		}
		_, pos, n, err := pp.Wait()
		if err != nil {
			err = atOffset(err, pos)
			if write && pp.Len() > 0 {
				err = laterMayHaveExecuted(err, pp)
			}
			return done, err
		}
		done += int(n)
	}
	return done, nil
}

// atOffset records in err, if it is an *OpError, the byte offset of the
// failed command.
func atOffset(err error, pos int64) error {
	var oe *OpError
	if errors.As(err, &oe) {
		oe.Offset = pos
	}
	return err
}

// command runs one READ or WRITE bounded by CommandTimeout.
func (u *LogicalUnit) command(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, write bool) error {
	ctx, cancel := u.s.withCommandTimeout(ctx)
	defer cancel()
	res, err := u.rw(ctx, lba, blocks, v, write).Wait()
	return u.shortTransfer(res, err, lba, write)
}

// partial reads block lba, and for a write, patches b in at inner and
// writes the block back, under the block's lock.
func (u *LogicalUnit) partial(ctx context.Context, g Geometry, lba uint64, inner int, b []byte, write bool) error {
	buf := make([]byte, g.BlockSize)
	v := iovector.New(buf)
	if write {
		if err := u.rmw.lock(ctx, lba); err != nil {
			return u.opErr("WriteAt", err)
		}
		defer u.rmw.unlock(lba)
	}
	err := u.retry(ctx, func() error { return u.command(ctx, lba, 1, v, false) })
	if err != nil {
		return err
	}
	if !write {
		copy(b, buf[inner:])
		return nil
	}
	copy(buf[inner:], b)
	return u.retry(ctx, func() error { return u.command(ctx, lba, 1, v, true) })
}

// Sync flushes the unit's write cache (SYNCHRONIZE CACHE over the whole LUN).
func (u *LogicalUnit) Sync(ctx context.Context) error {
	g, err := u.Geometry(ctx)
	if err != nil {
		return err
	}
	cdb := scsi.SynchronizeCache10(0, 0, false)
	if g.Blocks > 1<<32 {
		cdb = scsi.SynchronizeCache16(0, 0, false)
	}
	return u.runNoData(ctx, cdb)
}

// TestUnitReady asks whether the unit is ready (TEST UNIT READY), once.
func (u *LogicalUnit) TestUnitReady(ctx context.Context) error {
	_, err := u.Call(ctx, scsi.TestUnitReady(), DirNone, nil)
	return err
}

// Reset resets the unit (LOGICAL UNIT RESET). Every command of the unit in
// flight ends with ErrLUNReset; the cached geometry is dropped.
func (u *LogicalUnit) Reset(ctx context.Context) error {
	return u.s.taskManagement(ctx, tmfLogicalUnitReset, uint64(u.lun))
}

// ready is what Dial does after login, as libiscsi's full connect does: TEST
// UNIT READY until the unit attentions a new session brings are cleared, so
// that the first command of the application does not fail with POWER ON,
// RESET; a LUN the target does not have fails here. With usn set, the unit
// serial number (VPD page 0x80) must match it.
func (u *LogicalUnit) ready(ctx context.Context, usn string) error {
	var err error
	for i := 0; i < 8; i++ {
		err = u.TestUnitReady(ctx)
		if err == nil {
			break
		}
		if scsi.IsUnitAttention(err) {
			u.s.log.Debug("iscsi: unit attention after login, cleared", "lun", u.lun, "err", err)
			continue
		}
		if errors.Is(err, scsi.ErrLUNotSupported) {
			return err
		}
		var se *scsi.StatusError
		if !errors.As(err, &se) {
			return err // the session failed
		}
		// NOT READY and the like: the LUN exists; the application decides.
		u.s.log.Warn("iscsi: TEST UNIT READY failed after login", "lun", u.lun, "err", err)
		break
	}
	if err := u.s.identify(ctx, u.lun); err != nil {
		var se *scsi.StatusError
		if !errors.As(err, &se) {
			return err // the session failed
		}
		// The LUN answers, but not with its identity: its writes will not
		// be sent again after a reconnect (lunrecord.go).
	}
	if usn == "" {
		return nil
	}
	got, err := u.UnitSerialNumber(ctx)
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != strings.TrimSpace(usn) {
		return u.opErr("INQUIRY", &WrongUnitError{Want: usn, Got: got})
	}
	return nil
}

// UnitSerialNumber returns the unit serial number (VPD page 0x80).
func (u *LogicalUnit) UnitSerialNumber(ctx context.Context) (string, error) {
	buf := make([]byte, 255)
	n, err := u.runIn(ctx, scsi.InquiryVPD(scsi.VPDUnitSerialNumber, uint16(len(buf))), buf)
	if err != nil {
		return "", err
	}
	p, err := scsi.ParseUnitSerialNumber(buf[:n])
	if err != nil {
		return "", u.opErr("INQUIRY", err)
	}
	return p.Serial, nil
}

// blockLocks locks single blocks for read-modify-write: a writer of part
// of block lba holds lba's lock, and only writers of that same block wait
// for it, each for as long as its context lets it.
type blockLocks struct {
	mu   sync.Mutex
	held map[uint64]chan struct{} // closed on unlock; guarded by mu
}

// lock takes the lock of block lba, or returns ctx's error.
func (l *blockLocks) lock(ctx context.Context, lba uint64) error {
	for {
		l.mu.Lock()
		ch, busy := l.held[lba]
		if !busy {
			if l.held == nil {
				l.held = make(map[uint64]chan struct{})
			}
			l.held[lba] = make(chan struct{})
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
}

// unlock releases the lock of block lba and wakes its waiters.
func (l *blockLocks) unlock(lba uint64) {
	l.mu.Lock()
	ch := l.held[lba]
	delete(l.held, lba)
	l.mu.Unlock()
	close(ch)
}

// laterMayHaveExecuted is the error of a write that failed with err while
// the pipe still had commands of it in flight: they are cancelled and
// waited for here, and if one of them may have executed (or did), err
// says so: bytes past the failed command may have been written.
func laterMayHaveExecuted(err error, pp *pipe) error {
	pp.Cancel()
	landed := false
	for pp.Len() > 0 {
		if _, _, _, e := pp.Wait(); e == nil || errors.Is(e, ErrMayHaveExecuted) {
			landed = true
		}
	}
	if !landed || errors.Is(err, ErrMayHaveExecuted) {
		return err
	}
	var oe *OpError
	if errors.As(err, &oe) {
		oe.Err = &laterInFlight{oe.Err}
		return err
	}
	return &laterInFlight{err}
}

// laterInFlight is an error after which commands of the same write were
// in flight and may have executed.
type laterInFlight struct{ err error }

func (e *laterInFlight) Error() string {
	return e.err.Error() + " (commands after it were in flight: they may have executed)"
}

func (e *laterInFlight) Unwrap() []error { return []error{e.err, ErrMayHaveExecuted} }
