package multipath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// The CDBs whose replay rules apply to the block calls.
var (
	cdbRead  = []byte{0x88} // READ(16)
	cdbWrite = []byte{0x8a} // WRITE(16)
	cdbSync  = []byte{0x35} // SYNCHRONIZE CACHE(10)
	cdbTUR   = []byte{0x00}
	cdbCap   = []byte{0x9e, 0x10} // READ CAPACITY(16)
)

// maxChunk bounds the bytes of one READ or WRITE sent by ReadAt/WriteAt.
const maxChunk = 1 << 20

// Future is a command in flight on a Device: Wait returns its outcome
// once. It is what session.Future is to a session, with failover inside.
type Future struct{ c *call }

type call struct {
	done chan struct{}
	res  session.Result
	err  error
}

// errZeroFuture is what the zero Future returns.
var errZeroFuture = errors.New("multipath: the zero Future")

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done is closed when the command has ended.
func (f Future) Done() <-chan struct{} {
	if f.c == nil {
		return closedChan
	}
	return f.c.done
}

// Wait waits for the command's end and returns its result; it may be
// called more than once, from any goroutine.
func (f Future) Wait() (session.Result, error) {
	if f.c == nil {
		return session.Result{}, errZeroFuture
	}
	<-f.c.done
	return f.c.res, f.c.err
}

// future starts a command whose outcome a Future gets: no goroutine
// waits for it (see start).
func (d *Device) future(ctx context.Context, cdb []byte, size int64, op func(context.Context, *session.LogicalUnit, session.Done)) Future {
	return startFuture(d.newCommand(ctx, cdb, size, op))
}

func startFuture(c *command) Future {
	f := &call{done: make(chan struct{})}
	c.done = func(res session.Result, err error) {
		f.res, f.err = res, err
		close(f.done)
	}
	c.start()
	return Future{f}
}

// rwCommand is a READ or WRITE of blocks blocks at lba, v the data.
func (d *Device) rwCommand(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, write bool) *command {
	cdb := cdbRead
	if write {
		cdb = cdbWrite
	}
	c := d.newCommand(ctx, cdb, vlen(v), nil)
	c.lba, c.blocks, c.v, c.write = lba, blocks, v, write
	return c
}

// ExecuteFunc is Execute with a callback: done is called once with the
// outcome. As with session.ExecuteFunc, no goroutine waits for the
// command: done runs on the goroutine that ended it, usually one reading a
// path's connection, so it must be quick and must never block (the rules
// of session.Done); it may issue more commands. It may also run before
// ExecuteFunc returns (a Device closed, every path's session ended). v
// must be left alone until then.
func (d *Device) ExecuteFunc(ctx context.Context, cdb scsi.CDB, dir session.Direction, v *iovector.Vector, done session.Done) {
	d.start(ctx, cdb.Bytes(), vlen(v), execOp(cdb, dir, v), done)
}

// ReadFunc is Read with a callback (see ExecuteFunc).
func (d *Device) ReadFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done session.Done) {
	c := d.rwCommand(ctx, lba, blocks, v, false)
	c.done = done
	c.start()
}

// WriteFunc is Write with a callback (see ExecuteFunc).
func (d *Device) WriteFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done session.Done) {
	c := d.rwCommand(ctx, lba, blocks, v, true)
	c.done = done
	c.start()
}

// Execute sends cdb on a path and returns at once; see Call.
func (d *Device) Execute(ctx context.Context, cdb scsi.CDB, dir session.Direction, v *iovector.Vector) Future {
	return d.future(ctx, cdb.Bytes(), vlen(v), execOp(cdb, dir, v))
}

// Call sends cdb on a path and waits for it, as LogicalUnit.Call does
// (unit attentions pass through, but for ASYMMETRIC ACCESS STATE CHANGED
// from a target with ALUA: the Device reads the states again and sends the
// command again). When the path fails, the command is sent again on
// another one under the replay rules (session.SafeToRepeat; see
// docs/MULTIPATH.md); when its port refuses it for its ALUA state, it is
// sent again elsewhere whatever it is.
func (d *Device) Call(ctx context.Context, cdb scsi.CDB, dir session.Direction, v *iovector.Vector) (session.Result, error) {
	return d.run(ctx, cdb.Bytes(), vlen(v), execOp(cdb, dir, v))
}

// Read reads blocks from lba into v (blocks × block size bytes).
func (d *Device) Read(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return startFuture(d.rwCommand(ctx, lba, blocks, v, false))
}

// Write writes v (blocks × block size bytes) at lba.
func (d *Device) Write(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return startFuture(d.rwCommand(ctx, lba, blocks, v, true))
}

// vlen is the bytes a command moves, for the ServiceTime selector.
func vlen(v *iovector.Vector) int64 {
	if v == nil {
		return 0
	}
	return v.Len()
}

func execOp(cdb scsi.CDB, dir session.Direction, v *iovector.Vector) func(context.Context, *session.LogicalUnit, session.Done) {
	return func(ctx context.Context, u *session.LogicalUnit, done session.Done) {
		u.ExecuteFunc(ctx, cdb, dir, v, done)
	}
}

// blocking adapts a blocking call of a unit to run.
func blocking(fn func(*session.LogicalUnit, context.Context) error) func(context.Context, *session.LogicalUnit, session.Done) {
	return func(ctx context.Context, u *session.LogicalUnit, done session.Done) {
		go func() { done(session.Result{}, fn(u, ctx)) }()
	}
}

// Geometry returns the LUN's block size and number of blocks (read once).
func (d *Device) Geometry(ctx context.Context) (session.Geometry, error) {
	if g := d.geometry.Load(); g != nil {
		return *g, nil
	}
	_, err := d.run(ctx, cdbCap, 0, blocking(func(u *session.LogicalUnit, ctx context.Context) error {
		g, err := u.Geometry(ctx)
		if err == nil {
			d.geometry.Store(&g)
		}
		return err
	}))
	if err != nil {
		return session.Geometry{}, err
	}
	return *d.geometry.Load(), nil
}

// Sync sends SYNCHRONIZE CACHE on one path: the cache belongs to the
// logical unit, so it flushes what every path wrote and had acknowledged.
func (d *Device) Sync(ctx context.Context) error {
	_, err := d.run(ctx, cdbSync, 0, blocking((*session.LogicalUnit).Sync))
	return err
}

// TestUnitReady sends TEST UNIT READY on one path.
func (d *Device) TestUnitReady(ctx context.Context) error {
	_, err := d.run(ctx, cdbTUR, 0, blocking((*session.LogicalUnit).TestUnitReady))
	return err
}

// ReadAt reads len(p) bytes at byte offset off (io.ReaderAt), bounded by
// Config.CommandTimeout.
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	return d.readAt(d.timeout(), p, off)
}

// WriteAt writes p at byte offset off (io.WriterAt), bounded by
// Config.CommandTimeout.
func (d *Device) WriteAt(p []byte, off int64) (int, error) {
	return d.writeAt(d.timeout(), p, off)
}

// bound is what ends a call: its context, and for ReadAt and WriteAt the
// deadline of Config.CommandTimeout. Each attempt's own context carries
// the deadline (the one context an attempt needs anyway), so that a ReadAt
// makes no context of its own unless it has to wait.
type bound struct {
	ctx      context.Context
	deadline time.Time // zero: ctx alone
}

// timeout is the bound of a ReadAt or WriteAt.
func (d *Device) timeout() bound {
	return bound{context.Background(), time.Now().Add(d.cfg.CommandTimeout)}
}

// context returns ctx with the deadline; cancel must be called.
func (b bound) context() (context.Context, context.CancelFunc) {
	if b.deadline.IsZero() {
		return b.ctx, func() {}
	}
	return context.WithDeadline(b.ctx, b.deadline)
}

// ended reports whether the bound has ended.
func (b bound) ended() bool {
	return b.ctx.Err() != nil || !b.deadline.IsZero() && !time.Now().Before(b.deadline)
}

// geometryWithin is Geometry within b.
func (d *Device) geometryWithin(b bound) (session.Geometry, error) {
	if g := d.geometry.Load(); g != nil {
		return *g, nil
	}
	ctx, cancel := b.context()
	defer cancel()
	return d.Geometry(ctx)
}

// ReadAtContext reads len(p) bytes at byte offset off, any alignment.
// Reading past the end returns what is there and io.EOF.
func (d *Device) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return d.readAt(bound{ctx: ctx}, p, off)
}

func (d *Device) readAt(b bound, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("multipath: ReadAt offset %d: %w", off, session.ErrNegativeOffset)
	}
	g, err := d.geometryWithin(b)
	if err != nil {
		return 0, err
	}
	size := g.Size()
	if off >= size {
		return 0, io.EOF
	}
	n, eof := len(p), false
	if int64(n) > size-off {
		n, eof = int(size-off), true
	}
	if n == 0 {
		return 0, nil
	}
	bs := int64(g.BlockSize)
	start, end := off/bs*bs, (off+int64(n)+bs-1)/bs*bs
	buf := p[:n]
	if start != off || end != off+int64(n) {
		buf = make([]byte, end-start)
	}
	if err := d.blocks(b, g, uint64(start/bs), buf, false); err != nil {
		return 0, err
	}
	if &buf[0] != &p[0] {
		copy(p[:n], buf[off-start:])
	}
	if eof {
		return n, io.EOF
	}
	return n, nil
}

// WriteAtContext writes p at byte offset off, any alignment. A part of a
// block is written by reading the block, patching it and writing it back,
// under a lock of that block held across all paths.
func (d *Device) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return d.writeAt(bound{ctx: ctx}, p, off)
}

func (d *Device) writeAt(b bound, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("multipath: WriteAt offset %d: %w", off, session.ErrNegativeOffset)
	}
	if len(p) == 0 {
		return 0, nil
	}
	g, err := d.geometryWithin(b)
	if err != nil {
		return 0, err
	}
	if end := off + int64(len(p)); end > g.Size() || end < off {
		return 0, fmt.Errorf("multipath: WriteAt offset %d: %w: %d bytes, the LUN has %d", off, session.ErrBeyondEnd, len(p), g.Size())
	}
	bs := int64(g.BlockSize)
	start, end := off/bs*bs, (off+int64(len(p))+bs-1)/bs*bs
	if start == off && end == off+int64(len(p)) {
		if err := d.blocks(b, g, uint64(start/bs), p, true); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	ctx, cancel := b.context() // for the locks
	defer cancel()
	head, tail := uint64(start/bs), uint64(end/bs)-1
	headPart, tailPart := off != start, off+int64(len(p)) != end
	buf := make([]byte, end-start)
	var locked []uint64
	defer func() {
		for _, lba := range locked {
			d.locks.unlock(lba)
		}
	}()
	type part struct {
		lba uint64
		at  int64
	}
	var parts []part
	if headPart || (head == tail && tailPart) {
		parts = append(parts, part{head, 0})
	}
	if tailPart && tail != head {
		parts = append(parts, part{tail, end - start - bs})
	}
	for _, pt := range parts {
		if err := d.locks.lock(ctx, pt.lba); err != nil {
			return 0, err
		}
		locked = append(locked, pt.lba)
		if err := d.blocks(b, g, pt.lba, buf[pt.at:pt.at+bs], false); err != nil {
			return 0, err
		}
	}
	copy(buf[off-start:], p)
	if err := d.blocks(b, g, uint64(start/bs), buf, true); err != nil {
		return 0, err
	}
	return len(p), nil
}

// blocks reads or writes buf (whole blocks) from lba, maxChunk at a time.
func (d *Device) blocks(b bound, g session.Geometry, lba uint64, buf []byte, write bool) error {
	bs := int(g.BlockSize)
	chunk := max(maxChunk/bs, 1) * bs
	for len(buf) > 0 {
		n := min(chunk, len(buf))
		// The command's own vector: it goes back to the pool with the
		// command, once no session can touch it.
		c := d.rwCommand(b.ctx, lba, uint32(n/bs), nil, write)
		c.deadline = b.deadline
		c.vec.Append(buf[:n])
		c.v, c.size = &c.vec, int64(n)
		if _, err := c.run(); err != nil {
			return err
		}
		buf, lba = buf[n:], lba+uint64(n/bs)
	}
	return nil
}

// blockLocks locks single blocks for read-modify-write, across paths.
type blockLocks struct {
	mu   sync.Mutex
	held map[uint64]chan struct{}
}

func (l *blockLocks) lock(ctx context.Context, lba uint64) error {
	for {
		l.mu.Lock()
		ch, busy := l.held[lba]
		if !busy {
			l.held[lba] = make(chan struct{})
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (l *blockLocks) unlock(lba uint64) {
	l.mu.Lock()
	ch := l.held[lba]
	delete(l.held, lba)
	l.mu.Unlock()
	close(ch)
}
