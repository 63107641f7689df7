package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrStreamClosed is returned by a Reader or Writer used after Close.
var ErrStreamClosed = errors.New("iscsi: reader or writer closed")

// streamBufs holds the buffers of Readers and Writers between uses, so
// that a program opening one stream after another reuses the same few
// MiB. Each is DefaultMaxTransfer bytes, the most MaxTransfer can be.
var streamBufs = sync.Pool{New: func() any {
	b := make([]byte, DefaultMaxTransfer)
	return &b
}}

// getBuf returns a buffer of n bytes in *slot, taken from streamBufs if
// *slot has none yet (or made, for more than DefaultMaxTransfer).
func getBuf(slot **[]byte, n uint32) []byte {
	if *slot == nil {
		*slot = streamBufs.Get().(*[]byte)
	}
	if uint32(cap(**slot)) < n {
		b := make([]byte, n)
		*slot = &b
	}
	return (**slot)[:n]
}

// putBufs gives bufs back to streamBufs. Nothing may use them any more.
func putBufs(bufs []*[]byte) {
	for i, b := range bufs {
		if b != nil {
			streamBufs.Put(b)
			bufs[i] = nil
		}
	}
}

// Reader reads a byte range of a LUN in order with read-ahead: BulkDepth
// READ commands of MaxTransfer bytes in flight into a fixed set of buffers,
// delivered in order. It implements io.Reader and io.WriterTo, so that
// io.Copy(dst, r) moves the LUN at the speed of many commands without a
// goroutine; WriteTo hands its buffers to dst.Write without a copy. Get one
// from LogicalUnit.NewReader. A Reader is for one goroutine at a time.
//
// Each command is bounded by Config.CommandTimeout; the context given to
// NewReader ends them all. The first failed command (after the retries of
// ReadAt) ends the stream: the bytes before it are delivered, then the
// error, an *OpError saying at which byte offset the command started.
// Close a Reader that is not read to its end or an error, to stop the
// read-ahead.
type Reader struct {
	u   *LogicalUnit
	ctx context.Context
	off int64 // the next byte to deliver
	end int64 // one past the last byte to deliver; -1 until known
	err error // sticky: the first failure, io.EOF, or ErrStreamClosed

	g      Geometry
	pp     *pipe
	bufs   []*[]byte // each slot's buffer, from streamBufs
	issued int64     // the next byte to read from the LUN (block aligned)
	cur    []byte    // bytes of the oldest command not delivered yet
}

// NewReader returns a Reader of the n bytes of the unit at byte offset off;
// a negative n, or one reaching past the end of the LUN, reads to the end
// of the LUN, where Read returns io.EOF. Nothing is sent until the first
// Read or WriteTo.
func (u *LogicalUnit) NewReader(ctx context.Context, off, n int64) *Reader {
	r := &Reader{u: u, ctx: ctx, off: off, end: -1}
	if n >= 0 {
		r.end = off + n
		if r.end < off {
			r.end = -1 // overflow: to the end of the LUN
		}
	}
	if off < 0 {
		r.err = u.atErr("Reader", off, ErrNegativeOffset)
	}
	return r
}

// Offset returns the byte offset of the next byte Read delivers.
func (r *Reader) Offset() int64 { return r.off }

// init reads the geometry and sets the pipe up, on the first Read.
func (r *Reader) init() error {
	g, err := r.u.Geometry(r.ctx)
	if err != nil {
		return err
	}
	r.g = g
	if size := g.Size(); r.end < 0 || r.end > size {
		r.end = size
	}
	if r.off >= r.end {
		return io.EOF
	}
	bs := int64(g.BlockSize)
	r.issued = r.off / bs * bs
	depth := int(min(int64(BulkDepth), (r.alignedEnd()-r.issued+int64(g.MaxTransfer)-1)/int64(g.MaxTransfer)))
	r.pp = r.u.newPipe(r.ctx, depth, false)
	r.bufs = make([]*[]byte, depth)
	return nil
}

// alignedEnd is end rounded up to a block: where the last READ ends.
func (r *Reader) alignedEnd() int64 {
	bs := int64(r.g.BlockSize)
	return (r.end + bs - 1) / bs * bs
}

// fill issues READs until the pipe is full or the range is all asked for.
func (r *Reader) fill() {
	bs, aend := int64(r.g.BlockSize), r.alignedEnd()
	for r.issued < aend && !r.pp.full() {
		n := min(int64(r.g.MaxTransfer), aend-r.issued)
		i := r.pp.next()
		buf := getBuf(&r.bufs[i], r.g.MaxTransfer)
		r.pp.issue(uint64(r.issued/bs), uint32(n/bs), r.issued, buf[:n])
		r.issued += n
	}
}

// next makes cur the undelivered bytes of the next command, waiting for it.
func (r *Reader) next() error {
	if r.err != nil {
		return r.err
	}
	if r.pp == nil {
		if err := r.init(); err != nil {
			r.err = r.u.streamErr("Reader", r.off, err)
			return r.err
		}
	}
	if r.off >= r.end {
		r.err = io.EOF
		r.release()
		return io.EOF
	}
	r.fill()
	i, err := r.pp.wait()
	if err != nil {
		r.err = r.u.streamErr("Reader", r.pp.slots[i].off, err)
		r.release()
		return r.err
	}
	s := &r.pp.slots[i]
	b := (*r.bufs[i])[:s.vec.Len()]
	// The first and last commands may hold bytes outside the range.
	lo, hi := max(r.off-s.off, 0), min(int64(len(b)), r.end-s.off)
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
// straight from the read-ahead buffers, until the end (returning nil), an
// error of the LUN or an error of w.
//
// Each slice w.Write gets is a read-ahead buffer, handed back when Write
// returns: the next READ goes into it at once. As io.Writer requires, w
// must not keep it; a w that needs the bytes later (to hash them in order
// while the next ones are read, say) must copy them. Package blockcopy
// reads into buffers of its own and needs no copy.
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
				err = fmt.Errorf("iscsi: Reader.WriteTo: the writer returned an invalid count")
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
// them. Read after Close returns ErrStreamClosed.
func (r *Reader) Close() error {
	r.release()
	r.cur = nil
	if r.err == nil || r.err == io.EOF {
		r.err = ErrStreamClosed
	}
	return nil
}

// streamErr makes err, of a stream's command that started at byte off, the
// *OpError the streams promise: a command ended by the context comes back
// as the bare context error.
func (u *LogicalUnit) streamErr(op string, off int64, err error) error {
	var oe *OpError
	if err == nil || err == io.EOF || errors.As(err, &oe) {
		return err
	}
	return u.atErr(op, off, err)
}

// release ends the pipe and gives the buffers back.
func (r *Reader) release() {
	if r.pp != nil {
		r.pp.close()
		r.cur = nil
		putBufs(r.bufs)
	}
}

// Writer writes a LUN in order from a byte offset with write-behind: the
// bytes are gathered in a fixed set of MaxTransfer buffers, and each full
// one is sent as a WRITE while the next fills, BulkDepth in flight. It
// implements io.Writer and io.ReaderFrom, so that io.Copy(w, src) reads src
// straight into those buffers. Get one from LogicalUnit.NewWriter. A Writer
// is for one goroutine at a time.
//
// Write returns once the bytes are buffered, not written: Flush, or Close,
// sends what is buffered and waits for every WRITE, and returns the first
// error. An unaligned start and the partial block at a Flush are read,
// modified and written under the block's lock, as WriteAt does. Each
// command is bounded by Config.CommandTimeout; the context given to
// NewWriter ends them all.
//
// After a failed command no more are sent, and every later call returns
// its error, an *OpError saying at which byte offset the command started.
// Written then says how many bytes from the start were written before it;
// the WRITEs in flight when it failed (up to BulkDepth × MaxTransfer bytes
// past it) were cancelled, but may have landed in part or whole.
type Writer struct {
	u     *LogicalUnit
	ctx   context.Context
	start int64
	off   int64 // where the next byte accepted goes
	err   error // sticky: the first failure, or ErrStreamClosed after Close

	g       Geometry
	pp      *pipe
	bufs    []*[]byte // each slot's buffer, from streamBufs
	base    int64     // the LUN offset of the filling buffer's first byte (block aligned)
	lo      int64     // the first byte given for the filling buffer (base ≤ lo ≤ off)
	written int64     // the LUN offset up to which everything is written
}

// NewWriter returns a Writer to the unit from byte offset off. Nothing is
// sent until a buffer fills or Flush.
func (u *LogicalUnit) NewWriter(ctx context.Context, off int64) *Writer {
	w := &Writer{u: u, ctx: ctx, start: off, off: off, written: off}
	if off < 0 {
		w.err = u.atErr("Writer", off, ErrNegativeOffset)
	}
	return w
}

// Written returns the bytes written to the LUN from the starting offset,
// with every WRITE up to them complete: all that was accepted after a
// successful Flush; the bytes before the first failed command after one.
func (w *Writer) Written() int64 { return w.written - w.start }

// Offset returns the byte offset of the LUN where the next byte written goes.
func (w *Writer) Offset() int64 { return w.off }

func (w *Writer) init() error {
	g, err := w.u.Geometry(w.ctx)
	if err != nil {
		return err
	}
	w.g = g
	w.pp = w.u.newPipe(w.ctx, BulkDepth, true)
	w.bufs = make([]*[]byte, BulkDepth)
	w.restart()
	return nil
}

// restart starts a new filling buffer at off.
func (w *Writer) restart() {
	bs := int64(w.g.BlockSize)
	w.base, w.lo = w.off/bs*bs, w.off
}

// space returns the filling buffer's room from off, making room first: it
// waits for the oldest WRITE when all the buffers are in flight.
func (w *Writer) space() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.pp == nil {
		if err := w.init(); err != nil {
			w.err = w.u.streamErr("Writer", w.off, err)
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
		return nil, w.u.atErr("Writer", w.off, fmt.Errorf("%w: the LUN has %d bytes", ErrBeyondEnd, size))
	}
	buf := getBuf(&w.bufs[w.pp.next()], w.g.MaxTransfer)
	room := min(int64(w.g.MaxTransfer), size-w.base)
	return buf[w.off-w.base : room], nil
}

// reap waits for the oldest WRITE in flight.
func (w *Writer) reap() error {
	i, err := w.pp.wait()
	if err != nil {
		err = w.u.streamErr("Writer", w.pp.slots[i].off, err)
		if w.pp.n > 0 {
			err = laterMayHaveExecuted(err, w.pp)
		}
		w.fail(err)
		return err
	}
	s := &w.pp.slots[i]
	w.written = s.off + s.vec.Len()
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
	if w.off-w.base == int64(w.g.MaxTransfer) || w.off == w.g.Size() {
		return w.send(false)
	}
	return nil
}

// send sends the filling buffer: its whole blocks as one WRITE in flight
// (after the partial head block, read, modified and written now), and with
// tail set its partial last block, read, modified and written once every
// WRITE before it is done. Then a new buffer starts at off.
func (w *Writer) send(tail bool) error {
	bs := int64(w.g.BlockSize)
	lo, hi := w.lo, w.off
	if lo == hi {
		w.restart()
		return nil
	}
	buf := *w.bufs[w.pp.next()]
	defer w.restart()
	if inner := lo % bs; inner != 0 {
		// The head block is partial. This is the first buffer after
		// NewWriter or a Flush, so nothing is in flight; a buffer sent
		// full ends on a block boundary, so without tail hi is past it.
		if err := w.drain(); err != nil {
			return err
		}
		blk := lo / bs * bs
		n := min(blk+bs, hi) - lo
		if err := w.u.partial(w.ctx, w.g, uint64(blk/bs), int(inner), buf[lo-w.base:lo-w.base+n], true); err != nil {
			w.fail(atOffset(err, lo))
			return w.err
		}
		w.written = lo + n
		lo += n
	}
	whole := (hi - lo) / bs * bs
	if whole > 0 {
		w.pp.issue(uint64(lo/bs), uint32(whole/bs), lo, buf[lo-w.base:lo-w.base+whole])
		lo += whole
	}
	if lo < hi && tail {
		if err := w.drain(); err != nil {
			return err
		}
		if err := w.u.partial(w.ctx, w.g, uint64(lo/bs), 0, buf[lo-w.base:hi-w.base], true); err != nil {
			w.fail(atOffset(err, lo))
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

// ReadFrom implements io.ReaderFrom: it reads src to its end straight
// into the Writer's buffers. What is left in the last one is sent by Flush
// or Close.
//
// Each slice src.Read gets is a Writer buffer, handed back when Read
// returns: its bytes then go to the LUN in a WRITE. As io.Reader requires,
// src must not keep the slice nor write into it after Read returns.
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
			return total, fmt.Errorf("iscsi: Writer.ReadFrom: the reader returned an invalid count")
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

// Flush sends what is buffered, the partial last block included (read,
// modified and written), waits for every WRITE and returns the first
// error.
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
// ErrStreamClosed.
func (w *Writer) Close() error {
	err := w.Flush()
	if w.pp != nil {
		w.pp.close()
		putBufs(w.bufs)
	}
	if w.err == nil {
		w.err = ErrStreamClosed
	}
	return err
}
