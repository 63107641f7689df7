package multipath

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// Streams over a Device: the Reader and Writer of a session.LogicalUnit
// (session.NewReader, session.NewWriter), with the same semantics, whose
// commands go through the Device and so fail over as its other commands
// do. session.BulkDepth commands of up to MaxTransfer bytes (at most
// 1 MiB) are in flight, each bounded by Config.CommandTimeout.

// streamPipe keeps up to len(slots) READs or WRITEs of one stream in
// flight, issued from one goroutine and waited for in the order issued.
type streamPipe struct {
	d      *Device
	ctx    context.Context // the stream's: its cancel ends every command
	cancel context.CancelFunc
	write  bool
	slots  []streamSlot
	head   int // slots[head] is the oldest command in flight
	n      int // commands in flight
}

type streamSlot struct {
	buf    []byte // the slot's buffer, made on first use
	vec    iovector.Vector
	f      Future
	stop   context.CancelFunc // of the command's timeout
	off    int64              // the command's first byte on the LUN
	length int64
}

func (d *Device) newStreamPipe(ctx context.Context, depth int, write bool) *streamPipe {
	p := &streamPipe{d: d, write: write, slots: make([]streamSlot, depth)}
	p.ctx, p.cancel = context.WithCancel(ctx)
	return p
}

func (p *streamPipe) full() bool { return p.n == len(p.slots) }

// next returns the slot the next issue uses.
func (p *streamPipe) next() *streamSlot { return &p.slots[(p.head+p.n)%len(p.slots)] }

// buffer returns the next slot's buffer, of size bytes.
func (p *streamPipe) buffer(size int) []byte {
	s := p.next()
	if len(s.buf) < size {
		s.buf = make([]byte, size)
	}
	return s.buf[:size]
}

// issue sends a READ or WRITE of b (whole blocks of g) at byte off on the
// next slot. The pipe must not be full; b must not be touched until the
// command is waited for.
func (p *streamPipe) issue(g session.Geometry, off int64, b []byte) {
	s := p.next()
	p.n++
	s.off, s.length = off, int64(len(b))
	s.vec.Set(b)
	var ctx context.Context
	ctx, s.stop = context.WithTimeout(p.ctx, p.d.cfg.CommandTimeout)
	bs := int64(g.BlockSize)
	if p.write {
		s.f = p.d.Write(ctx, uint64(off/bs), uint32(int64(len(b))/bs), &s.vec)
	} else {
		s.f = p.d.Read(ctx, uint64(off/bs), uint32(int64(len(b))/bs), &s.vec)
	}
}

// wait waits for the oldest command in flight and returns its slot; an
// error says at which byte offset the command started.
func (p *streamPipe) wait(op string) (*streamSlot, error) {
	s := &p.slots[p.head]
	p.head = (p.head + 1) % len(p.slots)
	p.n--
	res, err := s.f.Wait()
	s.stop()
	if err == nil && int64(res.Transferred()) < s.length {
		err = &session.ShortTransferError{Write: p.write, Expected: int(s.length), Residual: int(s.length) - res.Transferred()}
	}
	if err != nil {
		return s, atOffset(op, s.off, err)
	}
	return s, nil
}

// close cancels what is in flight and waits for it.
func (p *streamPipe) close() {
	p.cancel()
	for p.n > 0 {
		p.wait("")
	}
}

// atOffset makes err the *session.OpError the streams promise, saying at
// which byte offset of the LUN the failed command started.
func atOffset(op string, off int64, err error) error {
	var oe *session.OpError
	if errors.As(err, &oe) {
		oe.Offset = off
		return err
	}
	return &session.OpError{Op: op, LBA: -1, Offset: off, Err: err}
}

// chunk is the bytes of one stream command: MaxTransfer, at most 1 MiB,
// whole blocks.
func chunk(g session.Geometry) int64 {
	bs := int64(g.BlockSize)
	n := int64(maxChunk)
	if g.MaxTransfer > 0 {
		n = min(n, int64(g.MaxTransfer))
	}
	return max(n/bs, 1) * bs
}

// Reader reads a byte range of a Device in order with read-ahead, as
// session.Reader does a LogicalUnit's: it implements io.Reader and
// io.WriterTo (WriteTo hands its buffers to the writer, which must not
// keep them). A Reader is for one goroutine at a time. The first failed
// command ends the stream: the bytes before it are delivered, then the
// error, a *session.OpError saying at which byte offset the command
// started. Close a Reader that is not read to its end or an error, to stop
// the read-ahead.
type Reader struct {
	d   *Device
	ctx context.Context
	off int64 // the next byte to deliver
	end int64 // one past the last byte to deliver; -1 until known
	err error // sticky: the first failure, io.EOF, or session.ErrStreamClosed

	g      session.Geometry
	chunk  int64
	pp     *streamPipe
	issued int64  // the next byte to read from the LUN (block aligned)
	cur    []byte // bytes of the oldest command not delivered yet
}

// NewReader returns a Reader of the n bytes of the Device at byte offset
// off; a negative n, or one reaching past the end of the LUN, reads to the
// end, where Read returns io.EOF. Nothing is sent until the first Read or
// WriteTo. The context ends every command of the stream.
func (d *Device) NewReader(ctx context.Context, off, n int64) *Reader {
	r := &Reader{d: d, ctx: ctx, off: off, end: -1}
	if n >= 0 {
		r.end = off + n
		if r.end < off {
			r.end = -1 // overflow: to the end of the LUN
		}
	}
	if off < 0 {
		r.err = atOffset("Reader", off, session.ErrNegativeOffset)
	}
	return r
}

// Offset returns the byte offset of the next byte Read delivers.
func (r *Reader) Offset() int64 { return r.off }

func (r *Reader) init() error {
	g, err := r.d.Geometry(r.ctx)
	if err != nil {
		return err
	}
	r.g, r.chunk = g, chunk(g)
	if size := g.Size(); r.end < 0 || r.end > size {
		r.end = size
	}
	if r.off >= r.end {
		return io.EOF
	}
	bs := int64(g.BlockSize)
	r.issued = r.off / bs * bs
	depth := int(min(int64(session.BulkDepth), (r.alignedEnd()-r.issued+r.chunk-1)/r.chunk))
	r.pp = r.d.newStreamPipe(r.ctx, depth, false)
	return nil
}

func (r *Reader) alignedEnd() int64 {
	bs := int64(r.g.BlockSize)
	return (r.end + bs - 1) / bs * bs
}

// next makes cur the undelivered bytes of the next command, waiting for it.
func (r *Reader) next() error {
	if r.err != nil {
		return r.err
	}
	if r.pp == nil {
		if err := r.init(); err != nil {
			if err != io.EOF {
				err = atOffset("Reader", r.off, err)
			}
			r.err = err
			return r.err
		}
	}
	if r.off >= r.end {
		r.err = io.EOF
		r.pp.close()
		return io.EOF
	}
	for aend := r.alignedEnd(); r.issued < aend && !r.pp.full(); {
		n := min(r.chunk, aend-r.issued)
		r.pp.issue(r.g, r.issued, r.pp.buffer(int(r.chunk))[:n])
		r.issued += n
	}
	s, err := r.pp.wait("Reader")
	if err != nil {
		r.err = err
		r.pp.close()
		return r.err
	}
	b := s.buf[:s.length]
	// The first and last commands may hold bytes outside the range.
	lo, hi := max(r.off-s.off, 0), min(s.length, r.end-s.off)
	r.cur = b[lo:hi]
	return nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		if len(p) == 0 && r.err == nil {
			return 0, nil
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	r.off += int64(n)
	return n, nil
}

// WriteTo implements io.WriterTo: it writes the rest of the range to w,
// straight from the read-ahead buffers (w must not keep a slice it gets),
// until the end (returning nil), an error of the LUN or one of w.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.cur) == 0 {
			if err := r.next(); err != nil {
				if err == io.EOF {
					err = nil
				}
				return total, err
			}
		}
		n, err := w.Write(r.cur)
		if n > len(r.cur) || n < 0 {
			n = 0
			if err == nil {
				err = errors.New("multipath: Reader.WriteTo: the writer returned an invalid count")
			}
		}
		r.cur = r.cur[n:]
		r.off += int64(n)
		total += int64(n)
		if err == nil && len(r.cur) > 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			return total, err
		}
	}
}

// Close stops the read-ahead: it cancels the READs in flight and waits for
// them. Read after Close returns session.ErrStreamClosed.
func (r *Reader) Close() error {
	if r.pp != nil {
		r.pp.close()
	}
	r.cur = nil
	if r.err == nil || r.err == io.EOF {
		r.err = session.ErrStreamClosed
	}
	return nil
}

// Writer writes a Device in order from a byte offset with write-behind, as
// session.Writer does a LogicalUnit: the bytes are gathered in buffers of
// MaxTransfer (at most 1 MiB), each full one sent as a WRITE while the
// next fills. It implements io.Writer and io.ReaderFrom. A Writer is for
// one goroutine at a time.
//
// Write returns once the bytes are buffered, not written: Flush, or Close,
// sends what is buffered, waits for every WRITE and returns the first
// error. An unaligned start and the partial block at a Flush are written
// with WriteAtContext (read, modified and written under the block's lock).
// After a failed command no more are sent, and every later call returns
// its error, a *session.OpError saying at which byte offset the command
// started; Written then says how many bytes from the start were written
// before it. The WRITEs in flight when it failed were cancelled, but may
// have landed in part or whole.
type Writer struct {
	d     *Device
	ctx   context.Context
	start int64
	off   int64 // where the next byte accepted goes
	err   error // sticky: the first failure, or session.ErrStreamClosed after Close

	g       session.Geometry
	chunk   int64
	pp      *streamPipe
	base    int64 // the LUN offset of the filling buffer's first byte (block aligned)
	lo      int64 // the first byte given for the filling buffer (base ≤ lo ≤ off)
	written int64 // the LUN offset up to which everything is written
}

// NewWriter returns a Writer to the Device from byte offset off. Nothing
// is sent until a buffer fills or Flush. The context ends every command of
// the stream.
func (d *Device) NewWriter(ctx context.Context, off int64) *Writer {
	w := &Writer{d: d, ctx: ctx, start: off, off: off, written: off}
	if off < 0 {
		w.err = atOffset("Writer", off, session.ErrNegativeOffset)
	}
	return w
}

// Written returns the bytes written to the LUN from the starting offset,
// with every WRITE up to them complete.
func (w *Writer) Written() int64 { return w.written - w.start }

// Offset returns the byte offset of the LUN where the next byte written goes.
func (w *Writer) Offset() int64 { return w.off }

func (w *Writer) init() error {
	g, err := w.d.Geometry(w.ctx)
	if err != nil {
		return err
	}
	w.g, w.chunk = g, chunk(g)
	w.pp = w.d.newStreamPipe(w.ctx, session.BulkDepth, true)
	w.restart()
	return nil
}

// restart starts a new filling buffer at off.
func (w *Writer) restart() {
	bs := int64(w.g.BlockSize)
	w.base, w.lo = w.off/bs*bs, w.off
}

// space returns the filling buffer's room from off, waiting for the oldest
// WRITE first when every buffer is in flight.
func (w *Writer) space() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.pp == nil {
		if err := w.init(); err != nil {
			w.err = atOffset("Writer", w.off, err)
			return nil, w.err
		}
	}
	if w.pp.full() {
		if err := w.reap(); err != nil {
			return nil, err
		}
	}
	size := w.g.Size()
	if w.off >= size {
		return nil, atOffset("Writer", w.off, fmt.Errorf("%w: the LUN has %d bytes", session.ErrBeyondEnd, size))
	}
	buf := w.pp.buffer(int(w.chunk))
	room := min(w.chunk, size-w.base)
	return buf[w.off-w.base : room], nil
}

// reap waits for the oldest WRITE in flight.
func (w *Writer) reap() error {
	s, err := w.pp.wait("Writer")
	if err != nil {
		w.fail(err)
		return err
	}
	w.written = s.off + s.length
	return nil
}

// fail records the first error and cancels what is in flight.
func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.pp.close()
}

// advance accounts n bytes put in the filling buffer and sends it when full.
func (w *Writer) advance(n int) error {
	w.off += int64(n)
	if w.off-w.base == w.chunk || w.off == w.g.Size() {
		return w.send(false)
	}
	return nil
}

// send sends the filling buffer: its partial head block (only after
// NewWriter or a Flush: written now, after every WRITE before it), its
// whole blocks as one WRITE in flight, and with tail its partial last
// block, written once every WRITE before it is done. Then a new buffer
// starts at off.
func (w *Writer) send(tail bool) error {
	bs := int64(w.g.BlockSize)
	lo, hi := w.lo, w.off
	if lo == hi {
		w.restart()
		return nil
	}
	buf := w.pp.buffer(int(w.chunk))
	defer w.restart()
	if lo%bs != 0 {
		if err := w.drain(); err != nil {
			return err
		}
		n := min(lo/bs*bs+bs, hi) - lo
		if _, err := w.d.WriteAtContext(w.ctx, buf[lo-w.base:lo-w.base+n], lo); err != nil {
			w.fail(atOffset("Writer", lo, err))
			return w.err
		}
		w.written = lo + n
		lo += n
	}
	if whole := (hi - lo) / bs * bs; whole > 0 {
		w.pp.issue(w.g, lo, buf[lo-w.base:lo-w.base+whole])
		lo += whole
	}
	if lo < hi && tail {
		if err := w.drain(); err != nil {
			return err
		}
		if _, err := w.d.WriteAtContext(w.ctx, buf[lo-w.base:hi-w.base], lo); err != nil {
			w.fail(atOffset("Writer", lo, err))
			return w.err
		}
		w.written = hi
	}
	return nil
}

// drain waits for every WRITE in flight.
func (w *Writer) drain() error {
	for w.pp.n > 0 {
		if err := w.reap(); err != nil {
			return err
		}
	}
	return nil
}

// Write implements io.Writer. It returns once p is buffered; an error is
// that of an earlier WRITE (or of a range past the end of the LUN).
func (w *Writer) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		room, err := w.space()
		if err != nil {
			return done, err
		}
		n := copy(room, p[done:])
		done += n
		if err := w.advance(n); err != nil {
			return done, err
		}
	}
	return done, nil
}

// ReadFrom implements io.ReaderFrom: it reads src to its end straight into
// the Writer's buffers (src must not keep a slice it gets). What is left
// in the last one is sent by Flush or Close.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	var total int64
	for {
		room, err := w.space()
		if err != nil {
			if w.err == nil && w.g.BlockSize != 0 && w.off == w.g.Size() {
				// At the end of the LUN: only an error if src has more.
				var one [1]byte
				if n, rerr := io.ReadFull(src, one[:]); n == 0 && rerr == io.EOF {
					return total, nil
				}
			}
			return total, err
		}
		n, rerr := src.Read(room)
		if n < 0 || n > len(room) {
			return total, errors.New("multipath: Writer.ReadFrom: the reader returned an invalid count")
		}
		total += int64(n)
		if err := w.advance(n); err != nil {
			return total, err
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Flush sends what is buffered, the partial last block included, waits
// for every WRITE and returns the first error.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.pp == nil {
		return nil // nothing was written
	}
	if err := w.send(true); err != nil {
		return err
	}
	return w.drain()
}

// Close is Flush, then releases the Writer: its later calls return
// session.ErrStreamClosed.
func (w *Writer) Close() error {
	err := w.Flush()
	if w.pp != nil {
		w.pp.close()
	}
	if w.err == nil {
		w.err = session.ErrStreamClosed
	}
	return err
}
