// Package blockstream is the engine of the sequential streams of packages
// session and multipath: a Reader with read-ahead and a Writer with
// write-behind over a block device that keeps several READ or WRITE
// commands in flight (a Pipe), in buffers from a pool shared by every
// stream. session.Reader, session.Writer, multipath.Reader and
// multipath.Writer wrap it; what differs between them (how a partial
// block is written, what an error looks like) is their Device's.
//
// Their Pipe is a CommandPipe (pipe.go), which session's large ReadAt
// and WriteAt use too: it bounds each command by a timeout through a
// reused context per slot; how a command is sent, waited for and retried
// is its Sender's (a session's LogicalUnit, a multipath Device).
//
// Nothing here starts a goroutine: the commands in flight are the Pipe's,
// issued and waited for from the goroutine of the stream.
package blockstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Geometry is what a stream needs to know of its device.
type Geometry struct {
	BlockSize int64 // bytes per block
	Size      int64 // bytes of the device
	Chunk     int64 // bytes of one command: whole blocks
}

// Device is the block device under a stream, as the stream sees it. The
// stream calls it from its own goroutine only.
type Device interface {
	// Geometry returns the device's geometry; a stream asks once, at its
	// first use.
	Geometry(ctx context.Context) (Geometry, error)
	// Pipe returns a pipe of up to depth READs (or, with write, WRITEs)
	// in flight, whose commands ctx ends. A stream asks once, after
	// Geometry.
	Pipe(ctx context.Context, depth int, write bool) Pipe
	// WritePartial writes b, part of one block, at byte off: the block is
	// read, modified and written. It is called with nothing in flight. Its
	// error is the stream's (see Err).
	WritePartial(ctx context.Context, b []byte, off int64) error
	// Err returns err (not nil, not io.EOF), the error of a stream's
	// call of op (Reader or Writer) at byte off, as the stream returns
	// it: an error that says the offset.
	Err(op string, off int64, err error) error
}

// Pipe keeps a stream's commands in flight, waited for in the order issued.
// Its slots are numbered 0 to depth-1 and used in turn. A CommandPipe is
// one; a Device wraps it to make Wait's errors the stream's.
type Pipe interface {
	// Len returns how many commands are in flight.
	Len() int
	// Next returns the slot the next Issue uses.
	Next() int
	// Issue sends a READ or WRITE of b, whole blocks, at the block-aligned
	// byte off, on the next slot. Fewer than depth commands are in flight;
	// b is not touched until the command is waited for.
	Issue(off int64, b []byte)
	// Wait waits for the oldest command in flight and returns its slot,
	// byte offset and length. An error is the stream's: it says the
	// offset, and for a WRITE it may end what else is in flight.
	Wait() (slot int, off, n int64, err error)
	// Close cancels what is in flight and waits for it.
	Close()
}

// Config is what the streams of one package have in common: the words and
// sentinel errors of their errors and how many commands they keep in
// flight.
type Config struct {
	Prefix         string // "iscsi", "multipath": starts the text of an invalid-count error
	Depth          int    // commands in flight
	Closed         error  // returned by a stream used after Close
	NegativeOffset error  // of a stream started at a negative offset
	BeyondEnd      error  // of a Writer at the end of the device
}

// BufSize is the size of the pooled buffers; a Chunk larger than it gets
// buffers of its own.
const BufSize = 1 << 20

// bufs holds the buffers of streams between uses, so that a program
// opening one stream after another reuses the same few MiB.
var bufs = sync.Pool{New: func() any {
	b := make([]byte, BufSize)
	return &b
}}

// getBuf returns a buffer of n bytes in *slot, taken from bufs if *slot
// has none yet (or made, for more than BufSize).
func getBuf(slot **[]byte, n int64) []byte {
	if *slot == nil {
		*slot = bufs.Get().(*[]byte)
	}
	if int64(cap(**slot)) < n {
		b := make([]byte, n)
		*slot = &b
	}
	return (**slot)[:n]
}

// putBufs gives b's buffers back to bufs. Nothing may use them any more.
func putBufs(b []*[]byte) {
	for i, p := range b {
		if p != nil {
			bufs.Put(p)
			b[i] = nil
		}
	}
}

// Reader reads a byte range of a Device in order with read-ahead: Depth
// READ commands of Chunk bytes in flight into a fixed set of buffers,
// delivered in order. The first failed command ends the stream: the bytes
// before it are delivered, then its error. A Reader is for one goroutine
// at a time; its zero value is not usable (see Init).
type Reader struct {
	dev Device
	cfg *Config
	ctx context.Context
	off int64 // the next byte to deliver
	end int64 // one past the last byte to deliver; -1 until known
	err error // sticky: the first failure, io.EOF, or cfg.Closed

	g      Geometry
	pp     Pipe
	bufs   []*[]byte // each slot's buffer, from bufs
	issued int64     // the next byte to read from the device (block aligned)
	cur    []byte    // bytes of the oldest command not delivered yet
}

// Init sets r up to read the n bytes of dev at byte offset off; a negative
// n, or one reaching past the end of the device, reads to the end, where
// Read returns io.EOF. Nothing is sent until the first Read or WriteTo.
func (r *Reader) Init(ctx context.Context, dev Device, cfg *Config, off, n int64) {
	*r = Reader{dev: dev, cfg: cfg, ctx: ctx, off: off, end: -1}
	if n >= 0 {
		r.end = off + n
		if r.end < off {
			r.end = -1 // overflow: to the end of the device
		}
	}
	if off < 0 {
		r.err = dev.Err("Reader", off, cfg.NegativeOffset)
	}
}

// Offset returns the byte offset of the next byte Read delivers.
func (r *Reader) Offset() int64 { return r.off }

// init reads the geometry and sets the pipe up, on the first Read.
func (r *Reader) init() error {
	g, err := r.dev.Geometry(r.ctx)
	if err != nil {
		return err
	}
	r.g = g
	if r.end < 0 || r.end > g.Size {
		r.end = g.Size
	}
	if r.off >= r.end {
		return io.EOF
	}
	r.issued = r.off / g.BlockSize * g.BlockSize
	depth := int(min(int64(r.cfg.Depth), (r.alignedEnd()-r.issued+g.Chunk-1)/g.Chunk))
	r.pp = r.dev.Pipe(r.ctx, depth, false)
	r.bufs = make([]*[]byte, depth)
	return nil
}

// alignedEnd is end rounded up to a block: where the last READ ends.
func (r *Reader) alignedEnd() int64 {
	bs := r.g.BlockSize
	return (r.end + bs - 1) / bs * bs
}

// fill issues READs until the pipe is full or the range is all asked for.
func (r *Reader) fill() {
	aend := r.alignedEnd()
	for r.issued < aend && r.pp.Len() < len(r.bufs) {
		n := min(r.g.Chunk, aend-r.issued)
		buf := getBuf(&r.bufs[r.pp.Next()], r.g.Chunk)
		r.pp.Issue(r.issued, buf[:n])
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
			if err != io.EOF {
				err = r.dev.Err("Reader", r.off, err)
			}
			r.err = err
			return r.err
		}
	}
	if r.off >= r.end {
		r.err = io.EOF
		r.release()
		return io.EOF
	}
	r.fill()
	i, off, n, err := r.pp.Wait()
	if err != nil {
		r.err = err
		r.release()
		return r.err
	}
	b := (*r.bufs[i])[:n]
	// The first and last commands may hold bytes outside the range.
	lo, hi := max(r.off-off, 0), min(n, r.end-off)
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
// error of the device or an error of w. Each slice w.Write gets is a
// read-ahead buffer, handed back when Write returns.
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
				err = errors.New(r.cfg.Prefix + ": Reader.WriteTo: the writer returned an invalid count")
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
// them. Read after Close returns cfg.Closed.
func (r *Reader) Close() error {
	r.release()
	r.cur = nil
	if r.err == nil || r.err == io.EOF {
		r.err = r.cfg.Closed
	}
	return nil
}

// release ends the pipe and gives the buffers back.
func (r *Reader) release() {
	if r.pp != nil {
		r.pp.Close()
		r.cur = nil
		putBufs(r.bufs)
	}
}

// Writer writes a Device in order from a byte offset with write-behind:
// the bytes are gathered in a fixed set of Chunk buffers, and each full
// one is sent as a WRITE while the next fills, Depth in flight. Write
// returns once the bytes are buffered; Flush, or Close, sends what is
// buffered and waits for every WRITE. An unaligned start and the partial
// block at a Flush go through Device.WritePartial. After a failed command
// no more are sent, and every later call returns its error. A Writer is
// for one goroutine at a time; its zero value is not usable (see Init).
type Writer struct {
	dev   Device
	cfg   *Config
	ctx   context.Context
	start int64
	off   int64 // where the next byte accepted goes
	err   error // sticky: the first failure, or cfg.Closed after Close

	g       Geometry
	pp      Pipe
	bufs    []*[]byte // each slot's buffer, from bufs
	base    int64     // the device offset of the filling buffer's first byte (block aligned)
	lo      int64     // the first byte given for the filling buffer (base ≤ lo ≤ off)
	written int64     // the device offset up to which everything is written
}

// Init sets w up to write dev from byte offset off. Nothing is sent until
// a buffer fills or Flush.
func (w *Writer) Init(ctx context.Context, dev Device, cfg *Config, off int64) {
	*w = Writer{dev: dev, cfg: cfg, ctx: ctx, start: off, off: off, written: off}
	if off < 0 {
		w.err = dev.Err("Writer", off, cfg.NegativeOffset)
	}
}

// Written returns the bytes written to the device from the starting
// offset, with every WRITE up to them complete.
func (w *Writer) Written() int64 { return w.written - w.start }

// Offset returns the byte offset of the device where the next byte
// written goes.
func (w *Writer) Offset() int64 { return w.off }

func (w *Writer) init() error {
	g, err := w.dev.Geometry(w.ctx)
	if err != nil {
		return err
	}
	w.g = g
	w.pp = w.dev.Pipe(w.ctx, w.cfg.Depth, true)
	w.bufs = make([]*[]byte, w.cfg.Depth)
	w.restart()
	return nil
}

// restart starts a new filling buffer at off.
func (w *Writer) restart() {
	bs := w.g.BlockSize
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
			w.err = w.dev.Err("Writer", w.off, err)
			return nil, w.err
		}
	}
	if w.pp.Len() == len(w.bufs) {
		if err := w.reap(); err != nil {
			return nil, err
		}
	}
	size := w.g.Size
	if w.off >= size {
		return nil, w.dev.Err("Writer", w.off, fmt.Errorf("%w: the LUN has %d bytes", w.cfg.BeyondEnd, size))
	}
	buf := getBuf(&w.bufs[w.pp.Next()], w.g.Chunk)
	room := min(w.g.Chunk, size-w.base)
	return buf[w.off-w.base : room], nil
}

// reap waits for the oldest WRITE in flight.
func (w *Writer) reap() error {
	_, off, n, err := w.pp.Wait()
	if err != nil {
		w.fail(err)
		return err
	}
	w.written = off + n
	return nil
}

// fail records the first error and cancels what is in flight.
func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.pp.Close()
}

// advance accounts n bytes put in the filling buffer and sends it when full.
func (w *Writer) advance(n int) error {
	w.off += int64(n)
	if w.off-w.base == w.g.Chunk || w.off == w.g.Size {
		return w.send(false)
	}
	return nil
}

// send sends the filling buffer: its whole blocks as one WRITE in flight
// (after the partial head block, written now), and with tail set its
// partial last block, written once every WRITE before it is done. Then a
// new buffer starts at off.
func (w *Writer) send(tail bool) error {
	bs := w.g.BlockSize
	lo, hi := w.lo, w.off
	if lo == hi {
		w.restart()
		return nil
	}
	buf := *w.bufs[w.pp.Next()]
	defer w.restart()
	if lo%bs != 0 {
		// The head block is partial. This is the first buffer after Init
		// or a Flush, so nothing is in flight; a buffer sent full ends on
		// a block boundary, so without tail hi is past it.
		if err := w.drain(); err != nil {
			return err
		}
		n := min(lo/bs*bs+bs, hi) - lo
		if err := w.dev.WritePartial(w.ctx, buf[lo-w.base:lo-w.base+n], lo); err != nil {
			w.fail(err)
			return w.err
		}
		w.written = lo + n
		lo += n
	}
	if whole := (hi - lo) / bs * bs; whole > 0 {
		w.pp.Issue(lo, buf[lo-w.base:lo-w.base+whole])
		lo += whole
	}
	if lo < hi && tail {
		if err := w.drain(); err != nil {
			return err
		}
		if err := w.dev.WritePartial(w.ctx, buf[lo-w.base:hi-w.base], lo); err != nil {
			w.fail(err)
			return w.err
		}
		w.written = hi
	}
	return nil
}

// drain waits for every WRITE in flight.
func (w *Writer) drain() error {
	for w.pp.Len() > 0 {
		if err := w.reap(); err != nil {
			return err
		}
	}
	return nil
}

// Write implements io.Writer. It returns once p is buffered; an error is
// that of an earlier WRITE (or of a range past the end of the device).
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
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	var total int64
	for {
		room, err := w.space()
		if err != nil {
			if w.err == nil && w.g.BlockSize != 0 && w.off == w.g.Size {
				// At the end of the device: only an error if src has more.
				var one [1]byte
				if n, rerr := io.ReadFull(src, one[:]); n == 0 && rerr == io.EOF {
					return total, nil
				}
			}
			return total, err
		}
		n, rerr := src.Read(room)
		if n < 0 || n > len(room) {
			return total, errors.New(w.cfg.Prefix + ": Writer.ReadFrom: the reader returned an invalid count")
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
// cfg.Closed.
func (w *Writer) Close() error {
	err := w.Flush()
	if w.pp != nil {
		w.pp.Close()
		putBufs(w.bufs)
	}
	if w.err == nil {
		w.err = w.cfg.Closed
	}
	return err
}
