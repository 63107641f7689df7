// Package conn is one iSCSI TCP connection: it frames PDUs on a net.Conn,
// sends and verifies header and data digests, and lets the caller choose
// where each data segment lands.
//
// Reading is in two steps, as x/net/http2's Framer does it: ReadHeader reads
// the BHS, checks the lengths it announces against the Limits, then reads the
// AHS and header digest; the caller looks at the header (which task is this
// for? at what offset?) and then calls ReadData, ReadDataVector or
// DiscardData to consume the data segment. Small PDUs come out of one
// buffered read; a data segment larger than the buffer goes from the socket
// straight into the caller's memory, and so does one of LargeSegment bytes
// or more that follows a large one (a sequential read), all but its last
// few KiB, with its data digest summed piece by piece as it arrives.
//
// Writing is batched: Queue and QueueVector add PDUs to the current Batch,
// Flush sends them all in one writev. Detach, WriteBatch and Release split
// Flush so that the owner can queue the next batch while one is written.
// Data segments given as iovector ranges are not copied.
//
// A Conn is not safe for concurrent use, except that one goroutine may read
// while another writes (the session's reader and writer goroutines).
package conn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/digest"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
)

// DefaultPort is the IANA port of iSCSI.
const DefaultPort = "3260"

// ReadBufferSize is the size of the buffered reader: many small PDUs come
// out of one read system call. Data segments at least this long are read
// straight into the destination.
const ReadBufferSize = 64 << 10

// LargeSegment is the data segment length from which the header after it
// is read on its own, without filling the buffer: the next segment is then
// likely large too, and is better read straight into its destination than
// copied out of the buffer.
const LargeSegment = 16 << 10

// SmallTail is the longest last piece of a large data segment that is read
// through the buffer, together with what follows it, rather than straight
// into the destination.
const SmallTail = 4 << 10

// Errors of a connection.
var (
	// ErrHeaderDigest: a PDU header failed its CRC32C check. The stream can
	// no longer be trusted; the connection must be closed. The error also
	// wraps a *digest.MismatchError with both values.
	ErrHeaderDigest = errors.New("iscsi: header digest mismatch")
	// ErrDataDigest: a data segment failed its CRC32C check. The stream is
	// still in step (the segment was consumed); the task it belongs to fails.
	ErrDataDigest = errors.New("iscsi: data digest mismatch")
	// ErrState: a Conn method was called out of order.
	ErrState = errors.New("conn: call out of order")
	// ErrWaitExpired: ReadHeader waited for a header until the wait
	// deadline (SetWaitDeadline) and nothing came. The connection is fine.
	ErrWaitExpired = errors.New("conn: wait deadline passed")
)

// A Dialer makes the TCP connection; *net.Dialer and session.Dialer are.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Dial connects to address (host:port, IPv6 in brackets) with d, or a
// default *net.Dialer when d is nil.
func Dial(ctx context.Context, d Dialer, address string) (*Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	nc, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return New(nc), nil
}

// Conn is one iSCSI connection.
type Conn struct {
	nc net.Conn

	// Set between login phases by the owner, read by the reader and writer.
	hd, dd atomic.Bool
	limits atomic.Pointer[pdu.Limits]

	// Reader state. br is nil while the connection is slim (Slim): the
	// next header is then read straight from the socket, and a buffer is
	// taken from readerPool when a PDU brings more than a header.
	br *bufio.Reader
	kr kickReader
	// headerWait is set by the reader while it waits for a header with
	// nothing buffered: the only time a Slim kick may interrupt it.
	headerWait bool
	// slimReq asks the reader to give its buffer back at the next header;
	// slimMu orders it with the read deadline Slim sets to wake the reader.
	slimMu  sync.Mutex
	slimReq atomic.Bool
	// until is the reader's wait deadline (SetWaitDeadline), zero if none;
	// guarded by slimMu, which orders it with Slim's kicks.
	until   time.Time
	hdr     pdu.BHS
	ahs     []byte
	pending int // data segment bytes (with padding and digest) not yet consumed
	// afterLarge: the current (or last) data segment is at least
	// LargeSegment long, so the next header is read without filling the buffer.
	afterLarge bool
	dataLen    int
	scratch    [8]byte
	// expect is the data the next PDU will likely carry (Expect), and
	// expectBytes the bytes of the next PDUs together (ExpectBytes); mark,
	// while a header is awaited, the bytes the socket's first read of it
	// waits for (0: none), cleared once that read returned; napMark, that
	// mark came from expectBytes (the socket may nap first, ReadNap).
	expect, expectBytes, mark int
	napMark                   bool
	// fillCap, when positive, caps every socket read: set while the last
	// piece of a large data segment, its trailer and the header after it
	// are read through the buffer, so that one read takes them together
	// without pulling the next (likely large) data segment into the
	// buffer, from where it would have to be copied.
	fillCap int
	// segLeft: bytes of the current data segment not yet read, padding
	// and digest excluded.
	segLeft int

	// Writer state: the batch being filled, and a spare one.
	w, spare *Batch
	tw       tryWriter // TryWriteBatch's state

	// Trace, when set, is called with every header read or written.
	Trace func(sent bool, h *pdu.BHS)
}

type span struct{ off, end int }

// Batch is a set of PDUs sent with one writev. A Conn fills one batch while
// another may be on its way: Detach hands the filled batch out, WriteBatch
// sends it (without touching the Conn's state, so that the owner may queue
// more meanwhile), Release gives it back for reuse.
type Batch struct {
	hbuf []byte      // headers, small copied data, digests
	out  net.Buffers // the batch, referencing hbuf and caller buffers
	tmp  net.Buffers // WriteTo consumes its receiver: this is the copy it eats
	refs []span      // where in hbuf each element of out lives, -1 for caller memory
	// begun: tmp holds what is left to write (TryWriteBatch wrote part).
	begun bool
}

// Len returns the bytes in the batch.
func (b *Batch) Len() int {
	n := 0
	for i, s := range b.refs {
		if s.off >= 0 {
			n += s.end - s.off
		} else {
			n += len(b.out[i])
		}
	}
	return n
}

func (b *Batch) reset() {
	clear(b.out)
	b.out = b.out[:0]
	b.refs = b.refs[:0]
	b.hbuf = b.hbuf[:0]
	b.tmp = nil
	b.begun = false
}

// DefaultLimits are in force until SetLimits: what a login response may carry.
var DefaultLimits = pdu.Limits{MaxDataSegmentLength: 8192, MaxAHSLength: 0}

// New wraps an established net.Conn.
func New(nc net.Conn) *Conn {
	c := &Conn{nc: nc, w: new(Batch), spare: new(Batch)}
	c.kr.c = c
	c.kr.wa, _ = nc.(waitAller)
	c.kr.mr, _ = nc.(marker)
	c.initTry()
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.kr)
	l := DefaultLimits
	c.limits.Store(&l)
	return c
}

// NetConn returns the underlying connection (for deadlines and addresses).
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the connection. It unblocks a reader and a writer.
func (c *Conn) Close() error { return c.nc.Close() }

// SetDigests turns header and data digests on or off, as login negotiated
// them. Call it between PDUs.
func (c *Conn) SetDigests(d pdu.Digests) {
	c.hd.Store(d.Header)
	c.dd.Store(d.Data)
}

// Digests returns the digests in force.
func (c *Conn) Digests() pdu.Digests { return pdu.Digests{Header: c.hd.Load(), Data: c.dd.Load()} }

// SetLimits sets what incoming PDUs may announce.
func (c *Conn) SetLimits(l pdu.Limits) { c.limits.Store(&l) }

// ReadHeader reads the next PDU's BHS, AHS and header digest. The BHS and
// AHS returned are valid until the next ReadHeader. The data segment, if any,
// must then be consumed with ReadData, ReadDataVector or DiscardData before
// the next ReadHeader. Any error is fatal to the connection.
func (c *Conn) ReadHeader() (*pdu.BHS, []byte, error) {
	if c.pending != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes of the last data segment not consumed", ErrState, c.dataLen)
	}
	h := &c.hdr
	if c.slimReq.Load() {
		c.slim()
	}
	// direct: the connection is slim; the header is read straight from
	// the socket. After a large data segment, which went from the socket
	// straight to its destination, the buffer is filled with at most this
	// header and its digest, so that the next large segment is not pulled
	// into the buffer and copied, and the header and its digest come in one
	// read.
	direct := c.br == nil
	if c.afterLarge && !direct {
		if want, b := c.headerLen(), c.br.Buffered(); b < want {
			c.fillCap = want - b
		}
	}
	c.headerWait = c.br == nil || c.br.Buffered() == 0
	c.mark = 0
	if c.expect >= LargeSegment && c.headerWait {
		c.mark = c.headerLen() + c.expect + pdu.PadLen(c.expect)
		if c.dd.Load() {
			c.mark += digest.Size
		}
	}
	c.expect = 0
	c.napMark = false
	if c.expectBytes > 0 && c.headerWait && c.mark == 0 {
		c.mark, c.napMark = c.expectBytes, true
	}
	c.expectBytes = 0
	for got := 0; got < len(h); {
		var src io.Reader = c.br
		if direct {
			src = &c.kr
		}
		n, err := io.ReadFull(src, h[got:])
		got += n
		if errors.Is(err, errKick) {
			c.slim() // nothing is buffered: the buffer goes back
			direct = true
			continue
		}
		if errors.Is(err, ErrWaitExpired) {
			if got == 0 {
				c.headerWait = false
				c.fillCap = 0
				return nil, nil, err
			}
			c.SetWaitDeadline(time.Time{}) // a header begun is read to its end
			continue
		}
		if err != nil {
			c.headerWait = false
			c.fillCap = 0
			if got > 0 {
				err = noEOF(err)
			}
			return nil, nil, err
		}
	}
	c.headerWait = false
	c.mark = 0
	if err := c.limits.Load().Check(h); err != nil {
		c.fillCap = 0
		return nil, nil, err
	}
	if h.TotalAHSLength() > 0 {
		c.fillCap = 0
	}
	if c.br == nil && (h.TotalAHSLength() > 0 || h.DataSegmentLength() > 0) {
		c.br = readerPool.Get().(*bufio.Reader) // more than a header: buffered again
		c.br.Reset(&c.kr)
	}
	c.ahs = c.ahs[:0]
	if n := h.TotalAHSLength(); n > 0 {
		if cap(c.ahs) < n {
			c.ahs = make([]byte, n, pdu.MaxAHSLength)
		}
		c.ahs = c.ahs[:n]
		if _, err := io.ReadFull(c.br, c.ahs); err != nil {
			return nil, nil, noEOF(err)
		}
	}
	if c.hd.Load() {
		var src io.Reader = c.br
		if direct && len(c.ahs) == 0 {
			src = &c.kr
		}
		_, err := io.ReadFull(src, c.scratch[:digest.Size])
		c.fillCap = 0
		if err != nil {
			return nil, nil, noEOF(err)
		}
		crc := digest.Update(digest.Checksum(h[:]), c.ahs)
		if err := digest.Verify(c.scratch[:digest.Size], crc); err != nil {
			return nil, nil, fmt.Errorf("%w: %v: %w", ErrHeaderDigest, h.Opcode(), err)
		}
	}
	c.fillCap = 0
	c.dataLen = h.DataSegmentLength()
	c.segLeft = c.dataLen
	c.pending = c.dataLen
	c.afterLarge = c.dataLen >= LargeSegment
	if c.Trace != nil {
		c.Trace(false, h)
	}
	return h, c.ahs, nil
}

// Expect tells the reader that the next PDU will most likely carry n bytes
// of data or more (the caller knows what it has asked for), 0 if it cannot
// tell. When the next ReadHeader has to wait for the socket and n is at
// least LargeSegment, a blocking socket wakes it once that whole PDU has
// come (or two TCP segments of it, blocksock.Conn.ReadMark), rather than
// at its first segment and again for the rest: one sleep per PDU. A
// shorter PDU is late by blocksock.Tick at most, unless more data comes
// before that, so the caller should say so only when the data of other
// commands is on its way too.
// It holds for one ReadHeader. Only the reader calls it.
func (c *Conn) Expect(n int) { c.expect = n }

// ExpectBytes tells the reader that n bytes or more, headers included,
// will most likely come together as several PDUs (the caller knows what it
// has asked for): when the next ReadHeader has to wait for the socket and
// Expect said nothing, a blocking socket waits for them as for Expect's
// PDU. It holds for one ReadHeader. Only the reader calls it.
func (c *Conn) ExpectBytes(n int) { c.expectBytes = n }

// ReadBuffered reports the bytes read from the socket and not yet consumed.
// A peer that answers requests can hold its answers back while this shows
// another request waiting, and send them together.
func (c *Conn) ReadBuffered() int {
	if c.br == nil {
		return 0
	}
	return c.br.Buffered()
}

// DataLen returns the length of the data segment of the last header read.
func (c *Conn) DataLen() int { return c.dataLen }

// readerPool holds the read buffers of connections that are slim.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, ReadBufferSize) }}

// errKick is what kickReader returns to ReadHeader when Slim woke it.
var errKick = errors.New("conn: read interrupted to give the buffer back")

// kickReader reads the socket for the Conn and hides the read deadline
// that Slim sets to wake a reader: a kick is never an error.
type kickReader struct {
	c  *Conn
	wa waitAller // c.nc, if it can wait for a whole buffer
	mr marker    // c.nc, if it can wait for a number of bytes
}

// marker is a socket whose reader can be woken once a number of bytes has
// come (blocksock.Conn).
type marker interface {
	ReadMark(p []byte, mark int) (int, error)
	ReadNap(p []byte, mark int) (int, error)
}

// waitAller is a socket that can wait for a whole buffer in one system
// call: blocksock.Conn, whose ReadWaitAll saves the reader a return to Go
// (and a system call) for each piece of a large data segment that comes.
type waitAller interface{ ReadWaitAll([]byte) (int, error) }

func (k *kickReader) Read(p []byte) (int, error) { return k.read(p, false) }

// readAll is Read for a piece of a data segment that is known to come
// whole: on a socket that can, it waits for all of p at once.
func (k *kickReader) readAll(p []byte) (int, error) { return k.read(p, true) }

func (k *kickReader) read(p []byte, all bool) (int, error) {
	c := k.c
	if c.fillCap > 0 && len(p) > c.fillCap {
		p = p[:c.fillCap]
	}
	for {
		var n int
		var err error
		switch {
		case all && k.wa != nil:
			n, err = k.wa.ReadWaitAll(p)
		case c.mark > 0 && k.mr != nil:
			// The first read of an awaited header: woken when the mark's
			// bytes have come (after a nap, for several PDUs). The rest
			// of a header begun is read plainly.
			if c.napMark {
				n, err = k.mr.ReadNap(p, c.mark)
			} else {
				n, err = k.mr.ReadMark(p, c.mark)
			}
			c.mark = 0
		default:
			n, err = c.nc.Read(p)
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		c.slimMu.Lock()
		kicked, until := c.slimReq.Load(), c.until
		c.slimMu.Unlock()
		switch {
		case kicked && n == 0 && c.headerWait:
			return 0, errKick
		case kicked:
			// Kicked in the middle of a PDU: carry on, and give the buffer
			// back at the next header. A wait deadline is moot now: a PDU
			// begun is read to its end.
			c.slimMu.Lock()
			c.until = time.Time{}
			_ = c.nc.SetReadDeadline(time.Time{})
			c.slimMu.Unlock()
		case until.IsZero():
			return n, err // a deadline nobody here set
		case n == 0 && c.headerWait:
			return 0, ErrWaitExpired
		default:
			// The wait deadline passed in the middle of a PDU: the PDU is
			// read to its end.
			c.SetWaitDeadline(time.Time{})
		}
		if n > 0 {
			return n, nil
		}
	}
}

// SetWaitDeadline bounds the wait for the next header: ReadHeader returns
// ErrWaitExpired if t passes while it waits for a header's first byte with
// nothing buffered. A deadline that passes in the middle of a PDU is
// ignored (and cleared): a PDU begun is always read to its end. The zero
// time clears the deadline. Only the reader calls it.
func (c *Conn) SetWaitDeadline(t time.Time) {
	c.slimMu.Lock()
	c.until = t
	if !c.slimReq.Load() {
		_ = c.nc.SetReadDeadline(t)
	}
	c.slimMu.Unlock()
}

// WaitDeadline returns the wait deadline in force, zero if none. Only the
// reader calls it.
func (c *Conn) WaitDeadline() time.Time {
	c.slimMu.Lock()
	defer c.slimMu.Unlock()
	return c.until
}

// Slim asks the reader to give its read buffer (ReadBufferSize bytes) back
// while the connection is quiet: the reader, if it waits for a header with
// nothing buffered, is woken to do so, and later reads the next header
// straight from the socket. A PDU with more than a header takes a buffer
// again. Safe to call from any goroutine, at any time.
func (c *Conn) Slim() {
	c.slimMu.Lock()
	defer c.slimMu.Unlock()
	if c.slimReq.Swap(true) {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now())
}

// slim gives the read buffer back if nothing is buffered. Called by the reader.
func (c *Conn) slim() {
	c.slimMu.Lock()
	c.slimReq.Store(false)
	_ = c.nc.SetReadDeadline(c.until)
	c.slimMu.Unlock()
	if c.br != nil && c.br.Buffered() == 0 {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

// SlimBatches drops the write batches' buffers when they grew past a few
// KiB. Call it as the writer, between writes, while the connection is quiet.
func (c *Conn) SlimBatches() {
	for _, b := range []*Batch{c.w, c.spare} {
		if b != nil && len(b.out) == 0 && cap(b.hbuf) > 4<<10 {
			*b = Batch{}
		}
	}
}

// ReadData reads the whole data segment into dst, which must be exactly
// DataLen bytes, then its padding and digest. ErrDataDigest leaves the
// connection usable; other errors are fatal.
func (c *Conn) ReadData(dst []byte) error {
	if len(dst) != c.pending || c.pending != c.dataLen {
		return fmt.Errorf("%w: ReadData of %d bytes, data segment is %d", ErrState, len(dst), c.pending)
	}
	if c.dataLen == 0 {
		return nil
	}
	crc, err := c.readSegment(dst, 0, c.dd.Load())
	if err != nil {
		return err
	}
	return c.finishData(crc)
}

// readSegment reads len(b) bytes of the data segment into b and, when dd is
// set, adds them to crc. Each piece is summed as soon as it is read, while
// it is still in the CPU's cache, rather than in a second pass over the
// whole destination. A large segment is read straight from the socket into
// b, to its last byte, whenever nothing is buffered: no copy through the
// buffer, and no read of its tail that would also pull the next PDU in. On
// a blocking socket that read waits in the kernel for the whole rest of the
// segment (ReadWaitAll): one system call where the pieces the target sends
// would each take one.
// Only a last piece of at most SmallTail bytes goes through the buffer, in
// one read with the segment's padding, digest and the next header at most:
// a target often sends it in a TCP segment of its own, with the digest.
func (c *Conn) readSegment(b []byte, crc uint32, dd bool) (uint32, error) {
	for len(b) > 0 {
		var n int
		var err error
		switch {
		case !c.afterLarge || c.br.Buffered() > 0:
			n, err = c.br.Read(b)
		case len(b) == c.segLeft && len(b) <= SmallTail:
			c.fillCap = len(b) + c.trailerLen() + c.headerLen()
			n, err = c.br.Read(b)
			c.fillCap = 0
		default:
			n, err = c.kr.readAll(b)
		}
		c.segLeft -= n
		if dd && n > 0 {
			crc = digest.Update(crc, b[:n])
		}
		b = b[n:]
		if err != nil && len(b) > 0 {
			return crc, noEOF(err)
		}
	}
	return crc, nil
}

// trailerLen returns the bytes that follow the current data segment: its
// padding and data digest.
func (c *Conn) trailerLen() int {
	n := pdu.PadLen(c.dataLen)
	if c.dd.Load() {
		n += digest.Size
	}
	return n
}

// headerLen returns the length of a header without AHS: the BHS and its
// digest.
func (c *Conn) headerLen() int {
	if c.hd.Load() {
		return pdu.BHSLen + digest.Size
	}
	return pdu.BHSLen
}

// ReadDataVector reads the whole data segment into v at offset off. The range
// must lie inside v; the caller checks that before (a target that lies about
// offsets is the caller's protocol error to report), and this method checks it
// again so that nothing is ever written outside v.
func (c *Conn) ReadDataVector(v *iovector.Vector, off int64) error {
	n := c.pending
	if n != c.dataLen {
		return fmt.Errorf("%w: data segment partly consumed", ErrState)
	}
	if n == 0 {
		return nil
	}
	if off < 0 || off+int64(n) > v.Len() {
		return fmt.Errorf("%w: %d bytes at offset %d do not fit a %d-byte vector", ErrState, n, off, v.Len())
	}
	dd := c.dd.Load()
	var crc uint32
	err := v.Range(off, n, func(b []byte) error {
		var err error
		crc, err = c.readSegment(b, crc, dd)
		return err
	})
	if err != nil {
		return err
	}
	return c.finishData(crc)
}

// DiscardData skips the data segment (for a task that no longer exists),
// still checking its digest.
func (c *Conn) DiscardData() error {
	n := c.pending
	if n == 0 {
		return nil
	}
	dd := c.dd.Load()
	var crc uint32
	for n > 0 {
		b, err := c.br.Peek(min(n, c.br.Size()))
		if err != nil && len(b) == 0 {
			return noEOF(err)
		}
		if dd {
			crc = digest.Update(crc, b)
		}
		_, _ = c.br.Discard(len(b))
		n -= len(b)
	}
	return c.finishData(crc)
}

// finishData reads padding and digest of the current data segment.
func (c *Conn) finishData(crc uint32) error {
	pad := pdu.PadLen(c.dataLen)
	c.pending = 0
	want := pad
	if c.dd.Load() {
		want += digest.Size
	}
	if want == 0 {
		return nil
	}
	if c.afterLarge && c.br.Buffered() == 0 {
		// The segment came straight from the socket: read its trailer
		// with the next header at most (see ReadHeader), not the start
		// of the next segment.
		c.fillCap = want + c.headerLen()
	}
	_, err := io.ReadFull(c.br, c.scratch[:want])
	c.fillCap = 0
	if err != nil {
		return noEOF(err)
	}
	if !c.dd.Load() {
		return nil
	}
	crc = digest.Update(crc, c.scratch[:pad])
	if err := digest.Verify(c.scratch[pad:want], crc); err != nil {
		return fmt.Errorf("%w: %v ITT %#x: %w", ErrDataDigest, c.hdr.Opcode(), c.hdr.ITT(), err)
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Queue adds a PDU whose data segment is copied into the batch (login, text,
// immediate data of small commands). ahs must be padded (pdu.AppendCommandAHS).
func (c *Conn) Queue(m pdu.Message, ahs, data []byte) {
	start := len(c.w.hbuf)
	c.w.hbuf = pdu.AppendHeader(c.w.hbuf, m, ahs, len(data), c.hd.Load())
	c.w.hbuf = pdu.AppendData(c.w.hbuf, data, c.dd.Load())
	c.traceSent(start)
	c.addSpan(start, len(c.w.hbuf))
}

// QueueVector adds a PDU whose data segment is n bytes of v at off, sent
// from v's buffers without a copy. The buffers must not change until Flush
// returns.
func (c *Conn) QueueVector(m pdu.Message, v *iovector.Vector, off int64, n int) error {
	return c.QueueVectorSums(m, v, off, n, nil)
}

// QueueVectorSums is QueueVector with the CRC32C of each PieceSize bytes
// of v (SumPieces), computed earlier: with data digests on, the segment's
// digest is combined from the pieces it covers whole, and only the parts
// of pieces at its ends are read here. sums that do not fit v (another
// length) are not used.
func (c *Conn) QueueVectorSums(m pdu.Message, v *iovector.Vector, off int64, n int, sums []uint32) error {
	if n < 0 || off < 0 || off+int64(n) > v.Len() {
		return fmt.Errorf("%w: %d bytes at offset %d outside a %d-byte vector", ErrState, n, off, v.Len())
	}
	start := len(c.w.hbuf)
	c.w.hbuf = pdu.AppendHeader(c.w.hbuf, m, nil, n, c.hd.Load())
	c.traceSent(start)
	c.addSpan(start, len(c.w.hbuf))
	if n == 0 {
		return nil
	}
	var err error
	c.w.out, err = v.AppendBuffers(c.w.out, off, n)
	if err != nil {
		return err
	}
	for len(c.w.refs) < len(c.w.out) {
		c.w.refs = append(c.w.refs, span{-1, -1})
	}
	tail := len(c.w.hbuf)
	c.w.hbuf = append(c.w.hbuf, pdu.Padding(n)...)
	if c.dd.Load() {
		crc := dataCRC(v, off, n, sums)
		crc = digest.UpdatePadding(crc, n)
		c.w.hbuf = digest.Append(c.w.hbuf, crc)
	}
	if len(c.w.hbuf) > tail {
		c.addSpan(tail, len(c.w.hbuf))
	}
	return nil
}

// PieceSize is the length of the pieces SumPieces sums.
const PieceSize = 4 << 10

// pieceShift combines a digest with a whole piece's.
var pieceShift = sync.OnceValue(func() *digest.Shifter { return digest.NewShifter(PieceSize) })

// SumPieces appends to dst the CRC32C of each PieceSize bytes of v, the
// last piece shorter if v's length is not a multiple, and returns it. A
// writer calls it when it submits a write with data digests on, on its own
// goroutine and while the buffer is likely still in its cache, so that the
// Data-Out digests cost a few table lookups per piece on the write path,
// wherever the target's R2Ts cut the data (QueueVectorSums).
func SumPieces(dst []uint32, v *iovector.Vector) []uint32 {
	var crc uint32
	fill := 0
	for i := range v.NumBuffers() {
		b := v.Buffer(i)
		for len(b) > 0 {
			k := min(len(b), PieceSize-fill)
			crc = digest.Update(crc, b[:k])
			fill += k
			b = b[k:]
			if fill == PieceSize {
				dst = append(dst, crc)
				crc, fill = 0, 0
			}
		}
	}
	if fill > 0 {
		dst = append(dst, crc)
	}
	return dst
}

// dataCRC returns the CRC32C of n bytes of v at off: combined from sums
// (SumPieces of v) for the pieces it covers whole, summed from v for the
// rest. Without sums that fit v, all of it is summed from v.
func dataCRC(v *iovector.Vector, off int64, n int, sums []uint32) uint32 {
	var crc uint32
	end := off + int64(n)
	if int64(len(sums)) != (v.Len()+PieceSize-1)/PieceSize {
		sums = nil
	}
	var sh *digest.Shifter
	for off < end {
		e := end
		if sums != nil {
			i := off / PieceSize
			ps, pe := i*PieceSize, (i+1)*PieceSize
			if off == ps && pe <= end {
				if sh == nil {
					sh = pieceShift()
				}
				crc = sh.Combine(crc, sums[i])
				off = pe
				continue
			}
			e = min(pe, end)
		}
		_ = v.Range(off, int(e-off), func(b []byte) error { crc = digest.Update(crc, b); return nil })
		off = e
	}
	return crc
}

func (c *Conn) traceSent(start int) {
	if c.Trace != nil {
		c.Trace(true, (*pdu.BHS)(c.w.hbuf[start:start+pdu.BHSLen]))
	}
}

// addSpan records a piece of hbuf as the next element of the batch. The
// slices are made at Flush time, because hbuf may move while it grows.
func (c *Conn) addSpan(off, end int) {
	if n := len(c.w.refs); n > 0 && c.w.refs[n-1].off >= 0 && c.w.refs[n-1].end == off && len(c.w.out) == n {
		c.w.refs[n-1].end = end // merge with the previous piece of hbuf
		return
	}
	c.w.out = append(c.w.out, nil)
	c.w.refs = append(c.w.refs, span{off, end})
}

// Buffered reports the bytes queued and not yet detached or flushed.
func (c *Conn) Buffered() int { return c.w.Len() }

// Detach hands out the batch filled so far (nil when it is empty) and starts
// a new one. The batch's buffers must stay unchanged until it is written.
func (c *Conn) Detach() *Batch {
	if len(c.w.out) == 0 {
		return nil
	}
	b := c.w
	c.w = c.spare
	if c.w == nil {
		c.w = new(Batch)
	}
	c.spare = nil
	return b
}

// WriteBatch sends b with one writev. It touches only b, so the Conn's
// owner may queue further PDUs while it runs. After an error the connection
// is unusable: some of the batch may have been sent.
func (c *Conn) WriteBatch(b *Batch) error {
	if !b.begun {
		b.begin()
	}
	var err error
	if bw, ok := c.nc.(buffersWriter); ok {
		_, err = bw.WriteBuffers(&b.tmp)
	} else {
		_, err = b.tmp.WriteTo(c.nc)
	}
	b.reset()
	return err
}

// buffersWriter is a net.Conn that writes net.Buffers with writev itself
// (internal/blocksock): net.Buffers.WriteTo uses writev only for the net
// package's own connections.
type buffersWriter interface {
	WriteBuffers(v *net.Buffers) (int64, error)
}

// begin makes b ready to write: tmp lists every buffer of the batch.
func (b *Batch) begin() {
	for i, s := range b.refs {
		if s.off >= 0 {
			b.out[i] = b.hbuf[s.off:s.end]
		}
	}
	b.tmp = b.out
	b.begun = true
}

// TryWriteBatch writes as much of b as the socket takes without waiting
// and reports whether that was all of it. What is left stays in b for
// WriteBatch to finish. It never blocks: a goroutine that must not wait
// for the peer (the reader) may write this way. Where there is no
// non-blocking writev (a platform other than Linux, a net.Conn that is no
// socket), it writes nothing and reports false.
func (c *Conn) TryWriteBatch(b *Batch) (bool, error) {
	if !c.canTry() {
		return false, nil
	}
	if !b.begun {
		b.begin()
	}
	done, err := c.tryWrite(b)
	if done || err != nil {
		b.reset()
	}
	return done, err
}

// consume drops the first n bytes of v, as net.Buffers does when it writes.
func consume(v *net.Buffers, n int) {
	for len(*v) > 0 {
		l := len((*v)[0])
		if l > n {
			(*v)[0] = (*v)[0][n:]
			return
		}
		n -= l
		(*v)[0] = nil
		*v = (*v)[1:]
	}
}

// Release gives a written batch back for reuse.
func (c *Conn) Release(b *Batch) {
	if b != nil && c.spare == nil {
		c.spare = b
	}
}

// Flush writes every queued PDU in one writev. After an error the
// connection is unusable: some of the batch may have been sent.
func (c *Conn) Flush() error {
	b := c.Detach()
	if b == nil {
		return nil
	}
	err := c.WriteBatch(b)
	c.Release(b)
	return err
}

// WritePDU queues one PDU with its data copied and flushes.
func (c *Conn) WritePDU(m pdu.Message, ahs, data []byte) error {
	c.Queue(m, ahs, data)
	return c.Flush()
}
