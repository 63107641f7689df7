package blockcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Sizer is a source or destination that knows its size in bytes
// (bytes.Reader, io.SectionReader).
type Sizer interface {
	Size() int64
}

// BlockSizer is a source or destination whose I/O goes in blocks: Copy
// cuts chunks and holes on multiples of its block size.
type BlockSizer interface {
	BlockSize() int64
}

// ContextReaderAt is a source whose reads take a context (as a
// LogicalUnit's do). Copy prefers it to ReadAt.
type ContextReaderAt interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// ContextWriterAt is a destination whose writes take a context.
type ContextWriterAt interface {
	WriteAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// Mapper is a source that knows where its data is.
type Mapper interface {
	// Extent describes the run of bytes that starts at off: hole is true
	// when they read as zeros without being stored (a hole of a file, a
	// deallocated extent of a LUN), and end is where the run ends. An end
	// at or before off means "not known": Copy reads everything from off
	// on. Copy calls it with increasing offsets, from one goroutine.
	Extent(ctx context.Context, off int64) (hole bool, end int64, err error)
}

// Zeroer is a destination that can make a range read as zeros without
// writing them (UNMAP, WRITE SAME, hole punching).
type Zeroer interface {
	// ZeroRange makes the n bytes at off read as zeros. An error matching
	// errors.ErrUnsupported makes Copy write the zeros instead, and stop
	// asking.
	ZeroRange(ctx context.Context, off, n int64) error
}

// ContextSyncer is a destination flushed by Sync(ctx) at the end of a
// copy (a LogicalUnit: SYNCHRONIZE CACHE).
type ContextSyncer interface {
	Sync(ctx context.Context) error
}

// Syncer is a destination flushed by Sync() at the end of a copy (an
// *os.File: fsync).
type Syncer interface {
	Sync() error
}

// endpoint is a source, destination or base as Copy uses it.
type endpoint struct {
	name string
	size int64 // -1: unknown
	bs   int64
	read func(ctx context.Context, p []byte, off int64) error // nil: cannot read
	// write is nil for a source.
	write func(ctx context.Context, p []byte, off int64) error
	// extent maps the data (nil: all data); zero makes zeros without data
	// (nil: write them); flush is the final flush (nil: none).
	extent func(ctx context.Context, off int64) (hole bool, end int64, err error)
	zero   func(ctx context.Context, off, n int64) error
	flush  func(ctx context.Context) error
	// wasEmpty: a regular file Copy found empty and extended: its bytes
	// read as zeros.
	wasEmpty bool
	// close releases what open took (an extent iterator).
	close func()
}

// shift makes the source start at its byte off: reads and the map move by
// off, the size shrinks by it, and a block size that off is not a multiple
// of becomes 1.
func (e *endpoint) shift(off int64) {
	read, extent := e.read, e.extent
	e.read = func(ctx context.Context, p []byte, pos int64) error { return read(ctx, p, pos+off) }
	if extent != nil {
		e.extent = func(ctx context.Context, pos int64) (bool, int64, error) {
			hole, end, err := extent(ctx, pos+off)
			return hole, end - off, err
		}
	}
	if e.size >= 0 {
		e.size -= off
	}
	if off%e.bs != 0 {
		e.bs = 1
	}
}

// Discard is a destination that stores nothing and reads as zeros: a Copy
// to it reads (and hashes) the source.
var Discard io.WriterAt = discard{}

type discard struct{}

func (discard) WriteAt(p []byte, _ int64) (int, error)        { return len(p), nil }
func (discard) ZeroRange(context.Context, int64, int64) error { return nil }

// errShortRead is a read that returned fewer bytes than asked without an
// error: the source shrank.
var errShortRead = errors.New("blockcopy: short read (did the source shrink?)")

func readFull(n int, want int, err error) error {
	if n == want {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %d of %d bytes", errShortRead, n, want)
	}
	return err
}

// unitOf returns the LogicalUnit behind v, if v is one or a Session.
func unitOf(v any) *session.LogicalUnit {
	switch x := v.(type) {
	case *session.LogicalUnit:
		return x
	case interface{ DefaultUnit() *session.LogicalUnit }:
		return x.DefaultUnit()
	}
	return nil
}

// openSource describes src; sparse asks for its data map.
func openSource(ctx context.Context, src io.ReaderAt, sparse bool) (*endpoint, error) {
	if u := unitOf(src); u != nil {
		return openUnit(ctx, u, sparse, false)
	}
	if f, ok := src.(*os.File); ok {
		return openFile(f, sparse, false, 0)
	}
	e := genericEndpoint(src)
	if m, ok := src.(Mapper); ok && sparse {
		e.extent = m.Extent
	}
	return e, nil
}

// openDestination describes dst, a regular file extended to size when it
// is shorter.
func openDestination(ctx context.Context, dst io.WriterAt, size int64) (*endpoint, error) {
	if u := unitOf(dst); u != nil {
		return openUnit(ctx, u, false, true)
	}
	if f, ok := dst.(*os.File); ok {
		return openFile(f, false, true, size)
	}
	e := genericEndpoint(dst)
	if w, ok := dst.(ContextWriterAt); ok {
		e.write = func(ctx context.Context, p []byte, off int64) error {
			_, err := w.WriteAtContext(ctx, p, off)
			return err
		}
	} else {
		e.write = func(_ context.Context, p []byte, off int64) error {
			_, err := dst.WriteAt(p, off)
			return err
		}
	}
	if z, ok := dst.(Zeroer); ok {
		e.zero = z.ZeroRange
	}
	switch s := dst.(type) {
	case ContextSyncer:
		e.flush = s.Sync
	case Syncer:
		e.flush = func(context.Context) error { return s.Sync() }
	}
	return e, nil
}

// genericEndpoint reads v (if it is an io.ReaderAt) and takes its size and
// block size from Sizer and BlockSizer.
func genericEndpoint(v any) *endpoint {
	e := &endpoint{name: fmt.Sprintf("%T", v), size: -1, bs: 1}
	if s, ok := v.(Sizer); ok {
		e.size = s.Size()
	}
	if b, ok := v.(BlockSizer); ok && b.BlockSize() > 0 {
		e.bs = b.BlockSize()
	}
	switch r := v.(type) {
	case ContextReaderAt:
		e.read = func(ctx context.Context, p []byte, off int64) error {
			n, err := r.ReadAtContext(ctx, p, off)
			return readFull(n, len(p), err)
		}
	case io.ReaderAt:
		e.read = func(_ context.Context, p []byte, off int64) error {
			n, err := r.ReadAt(p, off)
			return readFull(n, len(p), err)
		}
	}
	return e
}

// openUnit describes a LUN: reads and writes through the unit, its data
// map from GET LBA STATUS (sparse, thin, LBPRZ), zeros by UNMAP or WRITE
// SAME (thin, LBPRZ), SYNCHRONIZE CACHE.
func openUnit(ctx context.Context, u *session.LogicalUnit, sparse, dst bool) (*endpoint, error) {
	g, err := u.Geometry(ctx)
	if err != nil {
		return nil, err
	}
	e := &endpoint{
		name: "LUN " + u.LUN().String(),
		size: g.Size(),
		bs:   int64(g.BlockSize),
		read: func(ctx context.Context, p []byte, off int64) error {
			n, err := u.ReadAtContext(ctx, p, off)
			return readFull(n, len(p), err)
		},
	}
	// Deallocated blocks must read as zeros for a hole to be a hole.
	thin := g.Thin && g.UnmappedReadsZero
	if sparse && thin {
		m := &unitMap{u: u, bs: int64(g.BlockSize), blocks: g.Blocks}
		e.extent = m.extent
		e.close = m.stop
	}
	if !dst {
		return e, nil
	}
	e.write = func(ctx context.Context, p []byte, off int64) error {
		_, err := u.WriteAtContext(ctx, p, off)
		return err
	}
	e.flush = u.Sync
	if thin {
		e.zero = func(ctx context.Context, off, n int64) error { return zeroUnit(ctx, u, int64(g.BlockSize), off, n) }
	}
	return e, nil
}

// zeroUnit unmaps the whole blocks of [off, off+n) (Discard), and writes
// zeros at partial blocks; without UNMAP it asks WriteZeroes (WRITE SAME).
func zeroUnit(ctx context.Context, u *session.LogicalUnit, bs, off, n int64) error {
	first := (off + bs - 1) / bs * bs
	last := (off + n) / bs * bs
	if last <= first {
		return writeZeros(ctx, func(ctx context.Context, p []byte, off int64) error {
			_, err := u.WriteAtContext(ctx, p, off)
			return err
		}, off, n)
	}
	err := u.Discard(ctx, first, last-first)
	if errors.Is(err, session.ErrNotThin) {
		return u.WriteZeroes(ctx, off, n)
	}
	if err != nil {
		return err
	}
	for _, r := range [][2]int64{{off, first - off}, {last, off + n - last}} {
		if r[1] > 0 {
			if _, err := u.WriteAtContext(ctx, zeros[:r[1]], r[0]); err != nil {
				return err
			}
		}
	}
	return nil
}

// unitMap walks a LUN's extents (GET LBA STATUS) as Copy asks for
// increasing offsets.
type unitMap struct {
	u      *session.LogicalUnit
	bs     int64
	blocks uint64
	next   func() (session.Extent, error, bool)
	stopFn func()
	cur    session.Extent
	off    bool // the LUN does not answer GET LBA STATUS: all data
}

func (m *unitMap) extent(ctx context.Context, off int64) (bool, int64, error) {
	if m.off {
		return false, 0, nil
	}
	lba := uint64(off / m.bs)
	if m.next == nil || lba < m.cur.LBA {
		m.stop()
		var seq iter.Seq2[session.Extent, error] = m.u.Extents(ctx, lba, m.blocks)
		m.next, m.stopFn = iter.Pull2(seq)
		m.cur = session.Extent{}
	}
	for lba >= m.cur.LBA+m.cur.Blocks {
		x, err, ok := m.next()
		if !ok {
			return false, 0, nil
		}
		if err != nil {
			var se *scsi.StatusError
			if errors.Is(err, session.ErrNotThin) || errors.As(err, &se) {
				// The LUN does not do it after all: read everything.
				m.off = true
				m.stop()
				return false, 0, nil
			}
			return false, 0, err
		}
		m.cur = x
	}
	hole := m.cur.Status == scsi.LBADeallocated || m.cur.Status == scsi.LBAAnchored
	return hole, int64(m.cur.LBA+m.cur.Blocks) * m.bs, nil
}

func (m *unitMap) stop() {
	if m.stopFn != nil {
		m.stopFn()
		m.stopFn, m.next = nil, nil
	}
}

// openFile describes a file or device. A regular destination shorter than
// size is extended (and when it was empty, known to read as zeros).
func openFile(f *os.File, sparse, dst bool, size int64) (*endpoint, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", f.Name())
	}
	e := &endpoint{
		name: f.Name(),
		size: fi.Size(),
		bs:   1,
		read: func(_ context.Context, p []byte, off int64) error {
			n, err := f.ReadAt(p, off)
			return readFull(n, len(p), err)
		},
	}
	regular := fi.Mode().IsRegular()
	switch {
	case regular:
	case fi.Mode()&os.ModeCharDevice != 0:
		e.size = -1 // /dev/null and the like: no size
	default:
		n, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot tell its size: %w", f.Name(), err)
		}
		e.size = n
	}
	if sparse && regular {
		e.extent = fileMapper(f)
	}
	if !dst {
		return e, nil
	}
	e.write = func(_ context.Context, p []byte, off int64) error {
		_, err := f.WriteAt(p, off)
		return err
	}
	if regular {
		if e.size < size {
			if err := f.Truncate(size); err != nil {
				return nil, err
			}
			e.wasEmpty = e.size == 0
			e.size = size
		}
		e.zero = filePunch(f)
	}
	if fi.Mode()&os.ModeCharDevice == 0 {
		e.flush = func(context.Context) error { return f.Sync() }
	}
	return e, nil
}
