package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
)

// Errors of LUN access.
var (
	// ErrVectorLength: the vector given to Read or Write is not exactly
	// blocks × block size long.
	ErrVectorLength = errors.New("iscsi: vector length does not match the transfer")
	// ErrBeyondEnd: a write would pass the end of the LUN.
	ErrBeyondEnd = errors.New("iscsi: write beyond the end of the LUN")
	// ErrNegativeOffset: ReadAt or WriteAt with a negative offset.
	ErrNegativeOffset = errors.New("iscsi: negative offset")
)

// DefaultMaxTransfer bounds one READ or WRITE when the LUN's Block Limits
// page says nothing.
const DefaultMaxTransfer = 1 << 20

// diskState is what the session learnt of its LUN, read when first needed.
type diskState struct {
	mu        sync.Mutex
	known     bool
	blockSize uint32
	blocks    uint64
	maxXfer   uint32 // bytes per command, a multiple of blockSize
	rmw       [64]sync.Mutex
	// bs is blockSize for the I/O path, without the lock; 0 until known.
	bs atomic.Uint32
}

func (d *diskState) invalidate() {
	d.mu.Lock()
	d.known = false
	d.bs.Store(0)
	d.mu.Unlock()
}

// Geometry is the size of a LUN.
type Geometry struct {
	BlockSize uint32
	Blocks    uint64 // number of blocks: last LBA + 1
	// MaxTransfer is the largest READ or WRITE the session sends, in bytes.
	MaxTransfer uint32
}

// Size returns the LUN's size in bytes.
func (g Geometry) Size() int64 { return int64(g.Blocks) * int64(g.BlockSize) }

// Geometry returns the block size and capacity of the session's LUN, from
// READ CAPACITY (16, else 10), read once and kept.
func (s *Session) Geometry(ctx context.Context) (Geometry, error) {
	d := &s.disk
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known {
		return Geometry{d.blockSize, d.blocks, d.maxXfer}, nil
	}
	// Clear the unit attentions every LUN reports after login.
	for i := 0; i < 5; i++ {
		err := s.runNoData(ctx, scsi.TestUnitReady())
		if err == nil || !scsi.IsUnitAttention(err) {
			break
		}
	}
	var bs uint32
	var blocks uint64
	buf := make([]byte, 32)
	n, err := s.runIn(ctx, scsi.ReadCapacity16(32), buf)
	if err == nil {
		c, perr := scsi.ParseReadCapacity16(buf[:n])
		if perr != nil {
			return Geometry{}, perr
		}
		bs, blocks = c.BlockLength, c.ReturnedLBA+1
	} else {
		var se *scsi.StatusError
		if !errors.As(err, &se) {
			return Geometry{}, err
		}
		n, err = s.runIn(ctx, scsi.ReadCapacity10(), buf[:8])
		if err != nil {
			return Geometry{}, err
		}
		c, perr := scsi.ParseReadCapacity10(buf[:n])
		if perr != nil {
			return Geometry{}, perr
		}
		bs, blocks = c.BlockLength, uint64(c.ReturnedLBA)+1
	}
	if bs == 0 || bs%512 != 0 && bs < 512 {
		return Geometry{}, fmt.Errorf("iscsi: LUN reports a block length of %d", bs)
	}
	maxXfer := uint32(DefaultMaxTransfer)
	page := make([]byte, 64)
	if n, err := s.runIn(ctx, scsi.InquiryVPD(scsi.VPDBlockLimits, 64), page); err == nil {
		if bl, err := scsi.ParseBlockLimits(page[:n]); err == nil && bl.MaxTransferLength > 0 {
			if m := uint64(bl.MaxTransferLength) * uint64(bs); m < uint64(maxXfer) {
				maxXfer = uint32(m)
			}
		}
	}
	maxXfer -= maxXfer % bs
	if maxXfer == 0 {
		maxXfer = bs
	}
	d.blockSize, d.blocks, d.maxXfer, d.known = bs, blocks, maxXfer, true
	d.bs.Store(bs)
	return Geometry{bs, blocks, maxXfer}, nil
}

// Read reads blocks blocks at lba into v, which must be exactly blocks ×
// block size bytes long. The returned Future completes when the data is in v.
func (s *Session) Read(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return s.rw(ctx, lba, blocks, v, false)
}

// Write writes v, exactly blocks × block size bytes, at lba. v must not
// change until the Future completes.
func (s *Session) Write(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return s.rw(ctx, lba, blocks, v, true)
}

func (s *Session) rw(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, write bool) Future {
	bs := s.disk.bs.Load()
	if bs == 0 {
		g, err := s.Geometry(ctx)
		if err != nil {
			return Future{err: err}
		}
		bs = g.BlockSize
	}
	n := uint64(blocks) * uint64(bs)
	if v == nil || uint64(v.Len()) != n || n > 1<<32-1 {
		l := int64(-1)
		if v != nil {
			l = v.Len()
		}
		return Future{err: fmt.Errorf("%w: %d blocks of %d bytes need %d bytes, vector has %d", ErrVectorLength, blocks, bs, n, l)}
	}
	t := getTask()
	t.kind, t.lun, t.vec, t.expLen = kindSCSI, s.lun, v, uint32(n)
	if write {
		t.write = true
		t.cdb = scsi.Write(lba, blocks, 0).Array()
	} else {
		t.read = true
		t.cdb = scsi.Read(lba, blocks, 0).Array()
	}
	return s.submit(ctx, t)
}

// Direction says which way a command's data moves.
type Direction uint8

// Directions of Execute.
const (
	DirNone Direction = iota
	DirRead
	DirWrite
)

// LUN returns the session's LUN as it goes on the wire.
func (s *Session) LUN() scsi.LUN { return scsi.LUN(s.lun) }

// Execute sends any SCSI command (CDB up to 16 bytes) to lun, with v as its
// data-in or data-out buffer (nil for none).
func (s *Session) Execute(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector) Future {
	var n int64
	if v != nil {
		n = v.Len()
	}
	switch {
	case n > 1<<32-1:
		return Future{err: fmt.Errorf("%w: %d bytes, more than one command moves", ErrVectorLength, n)}
	case dir == DirNone && n != 0:
		return Future{err: fmt.Errorf("%w: %d bytes for a command without data", ErrVectorLength, n)}
	case dir == DirWrite && n == 0:
		return Future{err: fmt.Errorf("%w: a write without data", ErrVectorLength)}
	}
	t := getTask()
	t.kind, t.lun, t.cdb, t.vec, t.expLen = kindSCSI, uint64(lun), cdb.Array(), v, uint32(n)
	t.read, t.write = dir == DirRead, dir == DirWrite
	return s.submit(ctx, t)
}

// maxRetries bounds retries of BUSY, TASK SET FULL and a unit attention.
const maxRetries = 6

// retry runs op, retrying BUSY and TASK SET FULL with backoff and a unit
// attention once (logged).
func (s *Session) retry(ctx context.Context, op func() error) error {
	backoff := time.Millisecond
	ua := false
	for i := 0; ; i++ {
		err := op()
		switch {
		case err == nil:
			return nil
		case scsi.IsUnitAttention(err) && !ua:
			ua = true
			s.log.Warn("iscsi: unit attention, retrying", "lun", s.lun, "err", err)
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

// runIn runs a data-in command on the session's LUN into buf, with retries,
// and returns the byte count the target sent.
func (s *Session) runIn(ctx context.Context, cdb scsi.CDB, buf []byte) (int, error) {
	return s.runInLUN(ctx, scsi.LUN(s.lun), cdb, buf)
}

func (s *Session) runInLUN(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, buf []byte) (int, error) {
	var n int
	err := s.retry(ctx, func() error {
		f := s.Execute(ctx, lun, cdb, DirRead, iovector.New(buf))
		r, err := f.Wait()
		n = len(buf)
		if r.Underflow {
			n = len(buf) - min(r.Residual, len(buf))
		}
		return err
	})
	return n, err
}

func (s *Session) runNoData(ctx context.Context, cdb scsi.CDB) error {
	return s.retry(ctx, func() error {
		f := s.Execute(ctx, scsi.LUN(s.lun), cdb, DirNone, nil)
		_, err := f.Wait()
		return err
	})
}

// ReadAt implements io.ReaderAt on the session's LUN, for any offset and
// length. Config.CommandTimeout bounds the call.
func (s *Session) ReadAt(p []byte, off int64) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommandTimeout)
	defer cancel()
	return s.ReadAtContext(ctx, p, off)
}

// WriteAt implements io.WriterAt on the session's LUN, for any offset and
// length. Config.CommandTimeout bounds the call.
func (s *Session) WriteAt(p []byte, off int64) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommandTimeout)
	defer cancel()
	return s.WriteAtContext(ctx, p, off)
}

// ReadAtContext is ReadAt with a context. A read that reaches past the end
// of the LUN returns the bytes up to the end and io.EOF.
func (s *Session) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, ErrNegativeOffset
	}
	g, err := s.Geometry(ctx)
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
	n, err := s.transfer(ctx, g, want, off, false)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// WriteAtContext is WriteAt with a context. A write that would pass the end
// of the LUN fails before any I/O. Unaligned edges are read, modified and
// written under a lock per block, so concurrent writers of disjoint byte
// ranges that share a block never lose each other's bytes.
func (s *Session) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, ErrNegativeOffset
	}
	g, err := s.Geometry(ctx)
	if err != nil {
		return 0, err
	}
	if end := off + int64(len(p)); end > g.Size() || end < off {
		return 0, fmt.Errorf("%w: %d bytes at offset %d, the LUN has %d", ErrBeyondEnd, len(p), off, g.Size())
	}
	return s.transfer(ctx, g, p, off, true)
}

// transfer moves p at byte offset off, in order: a partial head block, whole
// blocks in chunks of MaxTransfer straight from or into p, a partial tail
// block. It returns the bytes done contiguously from the start.
func (s *Session) transfer(ctx context.Context, g Geometry, p []byte, off int64, write bool) (int, error) {
	bs := int64(g.BlockSize)
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		inner := pos % bs
		rest := len(p) - done
		if inner != 0 || int64(rest) < bs {
			// A partial block.
			n := int(min(bs-inner, int64(rest)))
			if err := s.partial(ctx, g, uint64(pos/bs), int(inner), p[done:done+n], write); err != nil {
				return done, err
			}
			done += n
			continue
		}
		blocks := min(int64(rest)/bs, int64(g.MaxTransfer)/bs)
		n := int(blocks * bs)
		err := s.retry(ctx, func() error {
			f := s.rw(ctx, uint64(pos/bs), uint32(blocks), iovector.New(p[done:done+n]), write)
			_, err := f.Wait()
			return err
		})
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// partial reads block lba, and for a write, patches b in at inner and
// writes the block back, under the block's lock.
func (s *Session) partial(ctx context.Context, g Geometry, lba uint64, inner int, b []byte, write bool) error {
	buf := make([]byte, g.BlockSize)
	v := iovector.New(buf)
	if write {
		mu := &s.disk.rmw[lba%uint64(len(s.disk.rmw))]
		mu.Lock()
		defer mu.Unlock()
	}
	err := s.retry(ctx, func() error {
		f := s.rw(ctx, lba, 1, v, false)
		_, err := f.Wait()
		return err
	})
	if err != nil {
		return err
	}
	if !write {
		copy(b, buf[inner:])
		return nil
	}
	copy(buf[inner:], b)
	return s.retry(ctx, func() error {
		f := s.rw(ctx, lba, 1, v, true)
		_, err := f.Wait()
		return err
	})
}

// Sync flushes the LUN's write cache (SYNCHRONIZE CACHE over the whole LUN).
func (s *Session) Sync(ctx context.Context) error {
	g, err := s.Geometry(ctx)
	if err != nil {
		return err
	}
	cdb := scsi.SynchronizeCache10(0, 0, false)
	if g.Blocks > 1<<32 {
		cdb = scsi.SynchronizeCache16(0, 0, false)
	}
	return s.runNoData(ctx, cdb)
}
