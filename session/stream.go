package session

import (
	"context"
	"errors"
	"io"

	"github.com/iscsi-go/iscsi/internal/blockstream"
)

// ErrStreamClosed is returned by a Reader or Writer used after Close.
var ErrStreamClosed = errors.New("iscsi: reader or writer closed")

// streamConfig is what the streams of a LogicalUnit share with those of a
// multipath.Device (package internal/blockstream runs both).
var streamConfig = &blockstream.Config{Prefix: "iscsi", Depth: BulkDepth,
	Closed: ErrStreamClosed, NegativeOffset: ErrNegativeOffset, BeyondEnd: ErrBeyondEnd}

// The pooled buffers of the streams hold the largest MaxTransfer (this
// does not compile otherwise): a stream allocates none of its own.
const _ uint = blockstream.BufSize - DefaultMaxTransfer

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
	dev unitStream
	s   blockstream.Reader
}

// NewReader returns a Reader of the n bytes of the unit at byte offset off;
// a negative n, or one reaching past the end of the LUN, reads to the end
// of the LUN, where Read returns io.EOF. Nothing is sent until the first
// Read or WriteTo.
func (u *LogicalUnit) NewReader(ctx context.Context, off, n int64) *Reader {
	r := &Reader{dev: unitStream{u: u}}
	r.s.Init(ctx, &r.dev, streamConfig, off, n)
	return r
}

// Offset returns the byte offset of the next byte Read delivers.
func (r *Reader) Offset() int64 { return r.s.Offset() }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) { return r.s.Read(p) }

// WriteTo implements io.WriterTo: it writes the rest of the range to w,
// straight from the read-ahead buffers, until the end (returning nil), an
// error of the LUN or an error of w.
//
// Each slice w.Write gets is a read-ahead buffer, handed back when Write
// returns: the next READ goes into it at once. As io.Writer requires, w
// must not keep it; a w that needs the bytes later (to hash them in order
// while the next ones are read, say) must copy them. Package blockcopy
// reads into buffers of its own and needs no copy.
func (r *Reader) WriteTo(w io.Writer) (int64, error) { return r.s.WriteTo(w) }

// Close stops the read-ahead: it cancels the READs in flight and waits for
// them. Read after Close returns ErrStreamClosed.
func (r *Reader) Close() error { return r.s.Close() }

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
	dev unitStream
	s   blockstream.Writer
}

// NewWriter returns a Writer to the unit from byte offset off. Nothing is
// sent until a buffer fills or Flush.
func (u *LogicalUnit) NewWriter(ctx context.Context, off int64) *Writer {
	w := &Writer{dev: unitStream{u: u}}
	w.s.Init(ctx, &w.dev, streamConfig, off)
	return w
}

// Written returns the bytes written to the LUN from the starting offset,
// with every WRITE up to them complete: all that was accepted after a
// successful Flush; the bytes before the first failed command after one.
func (w *Writer) Written() int64 { return w.s.Written() }

// Offset returns the byte offset of the LUN where the next byte written goes.
func (w *Writer) Offset() int64 { return w.s.Offset() }

// Write implements io.Writer. It returns once p is buffered; an error is
// that of an earlier WRITE (or of a range past the end of the LUN).
func (w *Writer) Write(p []byte) (int, error) { return w.s.Write(p) }

// ReadFrom implements io.ReaderFrom: it reads src to its end straight
// into the Writer's buffers. What is left in the last one is sent by Flush
// or Close.
//
// Each slice src.Read gets is a Writer buffer, handed back when Read
// returns: its bytes then go to the LUN in a WRITE. As io.Reader requires,
// src must not keep the slice nor write into it after Read returns.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) { return w.s.ReadFrom(src) }

// Flush sends what is buffered, the partial last block included (read,
// modified and written), waits for every WRITE and returns the first
// error.
func (w *Writer) Flush() error { return w.s.Flush() }

// Close is Flush, then releases the Writer: its later calls return
// ErrStreamClosed.
func (w *Writer) Close() error { return w.s.Close() }

// unitStream is a LogicalUnit, and the pipe of one of its streams, as
// package blockstream sees them: a blockstream.Device and its
// blockstream.Pipe. The commands are the pipe's (pipe.go): retried as
// ReadAt's are, each bounded by CommandTimeout.
type unitStream struct {
	u     *LogicalUnit
	g     Geometry
	write bool
	// The pipe gives Len, Next, Issue and Close; Wait is unitStream's.
	*pipe
}

func (d *unitStream) Geometry(ctx context.Context) (blockstream.Geometry, error) {
	g, err := d.u.Geometry(ctx)
	if err != nil {
		return blockstream.Geometry{}, err
	}
	d.g = g
	return blockstream.Geometry{BlockSize: int64(g.BlockSize), Size: g.Size(), Chunk: int64(g.MaxTransfer)}, nil
}

func (d *unitStream) Pipe(ctx context.Context, depth int, write bool) blockstream.Pipe {
	d.write, d.pipe = write, d.u.newPipe(ctx, depth, write, int64(d.g.BlockSize))
	return d
}

// WritePartial reads, modifies and writes the block of b under its lock,
// as WriteAt does.
func (d *unitStream) WritePartial(ctx context.Context, b []byte, off int64) error {
	bs := int64(d.g.BlockSize)
	return atOffset(d.u.partial(ctx, d.g, uint64(off/bs), int(off%bs), b, true), off)
}

// Err makes err an *OpError at off, as streamErr does.
func (d *unitStream) Err(op string, off int64, err error) error { return d.u.streamErr(op, off, err) }

// Wait waits for the oldest command; a failed WRITE with more in flight
// waits for them too, and says if they may have landed.
func (d *unitStream) Wait() (int, int64, int64, error) {
	i, off, n, err := d.pipe.Wait()
	if err != nil {
		op := "Reader"
		if d.write {
			op = "Writer"
		}
		err = d.u.streamErr(op, off, atOffset(err, off))
		if d.write && d.Len() > 0 {
			err = laterMayHaveExecuted(err, d.pipe)
		}
	}
	return i, off, n, err
}

// streamErr makes err, of a stream's command that started at byte off, the
// *OpError the streams promise: nil, io.EOF and an *OpError (whose Offset
// Wait set) stay as they are; anything else, a context's error of a
// command ended by the context included, becomes an *OpError at off.
func (u *LogicalUnit) streamErr(op string, off int64, err error) error {
	var oe *OpError
	if err == nil || err == io.EOF || errors.As(err, &oe) {
		return err
	}
	return u.atErr(op, off, err)
}
