package multipath

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/iscsi-go/iscsi/internal/blockstream"
	"github.com/iscsi-go/iscsi/session"
)

// Streams over a Device: the Reader and Writer of a session.LogicalUnit
// (session.NewReader, session.NewWriter), with the same semantics, whose
// commands go through the Device and so fail over as its other commands
// do. session.BulkDepth commands of up to MaxTransfer bytes (at most
// 1 MiB) are in flight, each bounded by Config.CommandTimeout (one that
// times out fails with an error matching session.ErrCommandTimeout and
// context.DeadlineExceeded). Package internal/blockstream runs the streams
// and their commands for both packages.

// streamConfig is what the streams of a Device share with those of a
// session.LogicalUnit.
var streamConfig = &blockstream.Config{Prefix: "multipath", Depth: session.BulkDepth,
	Closed: session.ErrStreamClosed, NegativeOffset: session.ErrNegativeOffset, BeyondEnd: session.ErrBeyondEnd}

// The pooled buffers of the streams hold the largest chunk (this does not
// compile otherwise): a stream allocates none of its own.
const _ uint = blockstream.BufSize - maxChunk

// Reader reads a byte range of a Device in order with read-ahead, as
// session.Reader does a LogicalUnit's: it implements io.Reader and
// io.WriterTo (WriteTo hands its buffers to the writer, which must not
// keep them). A Reader is for one goroutine at a time. The first failed
// command ends the stream: the bytes before it are delivered, then the
// error, a *session.OpError saying at which byte offset the command
// started. Close a Reader that is not read to its end or an error, to stop
// the read-ahead.
type Reader struct {
	dev deviceStream
	s   blockstream.Reader
}

// NewReader returns a Reader of the n bytes of the Device at byte offset
// off; a negative n, or one reaching past the end of the LUN, reads to the
// end, where Read returns io.EOF. Nothing is sent until the first Read or
// WriteTo. The context ends every command of the stream.
func (d *Device) NewReader(ctx context.Context, off, n int64) *Reader {
	r := &Reader{dev: deviceStream{d: d}}
	r.s.Init(ctx, &r.dev, streamConfig, off, n)
	return r
}

// Offset returns the byte offset of the next byte Read delivers.
func (r *Reader) Offset() int64 { return r.s.Offset() }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) { return r.s.Read(p) }

// WriteTo implements io.WriterTo: it writes the rest of the range to w,
// straight from the read-ahead buffers (w must not keep a slice it gets),
// until the end (returning nil), an error of the LUN or one of w.
func (r *Reader) WriteTo(w io.Writer) (int64, error) { return r.s.WriteTo(w) }

// Close stops the read-ahead: it cancels the READs in flight and waits for
// them. Read after Close returns session.ErrStreamClosed.
func (r *Reader) Close() error { return r.s.Close() }

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
	dev deviceStream
	s   blockstream.Writer
}

// NewWriter returns a Writer to the Device from byte offset off. Nothing
// is sent until a buffer fills or Flush. The context ends every command of
// the stream.
func (d *Device) NewWriter(ctx context.Context, off int64) *Writer {
	w := &Writer{dev: deviceStream{d: d}}
	w.s.Init(ctx, &w.dev, streamConfig, off)
	return w
}

// Written returns the bytes written to the LUN from the starting offset,
// with every WRITE up to them complete.
func (w *Writer) Written() int64 { return w.s.Written() }

// Offset returns the byte offset of the LUN where the next byte written goes.
func (w *Writer) Offset() int64 { return w.s.Offset() }

// Write implements io.Writer. It returns once p is buffered; an error is
// that of an earlier WRITE (or of a range past the end of the LUN).
func (w *Writer) Write(p []byte) (int, error) { return w.s.Write(p) }

// ReadFrom implements io.ReaderFrom: it reads src to its end straight into
// the Writer's buffers (src must not keep a slice it gets). What is left
// in the last one is sent by Flush or Close.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) { return w.s.ReadFrom(src) }

// Flush sends what is buffered, the partial last block included, waits
// for every WRITE and returns the first error.
func (w *Writer) Flush() error { return w.s.Flush() }

// Close is Flush, then releases the Writer: its later calls return
// session.ErrStreamClosed.
func (w *Writer) Close() error { return w.s.Close() }

// deviceStream is a Device, and the pipe of one of its streams, as
// package blockstream sees them: a blockstream.Device and its
// blockstream.Pipe. The pipe keeps up to session.BulkDepth READs or
// WRITEs in flight, issued from one goroutine and waited for in the order
// issued, each bounded by Config.CommandTimeout through a reusable
// context; the Device sends each on a path and again on another when its
// path fails.
type deviceStream struct {
	d     *Device
	bs    int64
	write bool
	// The pipe gives Len, Next, Issue and Close; Wait is deviceStream's.
	*blockstream.CommandPipe[Future]
}

// Geometry returns the Device's, with commands of MaxTransfer, at most
// 1 MiB, whole blocks.
func (p *deviceStream) Geometry(ctx context.Context) (blockstream.Geometry, error) {
	g, err := p.d.Geometry(ctx)
	if err != nil {
		return blockstream.Geometry{}, err
	}
	bs := int64(g.BlockSize)
	n := int64(maxChunk)
	if g.MaxTransfer > 0 {
		n = min(n, int64(g.MaxTransfer))
	}
	p.bs = bs
	return blockstream.Geometry{BlockSize: bs, Size: g.Size(), Chunk: max(n/bs, 1) * bs}, nil
}

func (p *deviceStream) Pipe(ctx context.Context, depth int, write bool) blockstream.Pipe {
	d := p.d.cfg.CommandTimeout
	p.write = write
	p.CommandPipe = blockstream.NewCommandPipe[Future](ctx, deviceSender{p.d}, blockstream.PipeConfig{
		Depth: depth, Write: write, BlockSize: p.bs, Timeout: d,
		// As a session's own streams': a cause matching
		// session.ErrCommandTimeout is what the session returns for a
		// command its context ended (rather than context.Canceled).
		Cause: fmt.Errorf("%w (%v): %w", session.ErrCommandTimeout, d, context.DeadlineExceeded)})
	return p
}

// WritePartial writes b with WriteAtContext (read, modified and written
// under the block's lock).
func (p *deviceStream) WritePartial(ctx context.Context, b []byte, off int64) error {
	if _, err := p.d.WriteAtContext(ctx, b, off); err != nil {
		return atOffset("Writer", off, err)
	}
	return nil
}

func (p *deviceStream) Err(op string, off int64, err error) error { return atOffset(op, off, err) }

// Wait waits for the oldest command in flight; an error says at which
// byte offset the command started.
func (p *deviceStream) Wait() (int, int64, int64, error) {
	i, off, n, err := p.CommandPipe.Wait()
	if err != nil {
		op := "Reader"
		if p.write {
			op = "Writer"
		}
		err = atOffset(op, off, err)
	}
	return i, off, n, err
}

// deviceSender sends the commands of a stream's pipe on a Device, which
// fails them over itself: a command that moved fewer bytes than asked
// failed, and none is retried here.
type deviceSender struct{ d *Device }

func (s deviceSender) Send(ctx context.Context, c *blockstream.Command) Future {
	if c.Write {
		return s.d.Write(ctx, c.LBA, c.Blocks, &c.Vec)
	}
	return s.d.Read(ctx, c.LBA, c.Blocks, &c.Vec)
}

func (s deviceSender) Wait(f Future, c *blockstream.Command) error {
	res, err := f.Wait()
	if n := int(c.Vec.Len()); err == nil && res.Transferred() < n {
		err = &session.ShortTransferError{Write: c.Write, Expected: n, Residual: n - res.Transferred()}
	}
	return err
}

func (deviceSender) Retry(_ context.Context, err error, _ func() error) error { return err }

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
