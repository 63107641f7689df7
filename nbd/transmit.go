package nbd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// minCost is what a request without data counts against the in-flight
// budget, so that the number of requests served at once is bounded too.
const minCost = 4096

// maxExtents bounds the descriptors of one block status reply.
const maxExtents = 1024

// transmit reads requests until the client disconnects, a violation, or
// a drain; each request is served on its own goroutine.
func (c *conn) transmit() {
	var hdr [requestHeaderLen]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			c.ended("reading a request", err)
			return
		}
		req, err := decodeRequest(hdr[:])
		if err != nil {
			c.violation(err)
			return
		}
		if !c.dispatch(req) {
			return
		}
	}
}

// dispatch reads what follows the request header (a WRITE's data), checks
// the request and starts serving it. It returns false when the
// connection is to end.
func (c *conn) dispatch(req request) bool {
	if req.typ == cmdDisc {
		c.log.Debug("nbd: client disconnects")
		return false
	}
	var payload uint32
	if req.typ == cmdWrite {
		payload = req.length
	}
	if errno, msg := c.check(req); errno != 0 {
		if payload > 0 {
			if _, err := io.CopyN(io.Discard, c.br, int64(payload)); err != nil {
				c.ended("reading a refused write's data", err)
				return false
			}
		}
		c.log.Debug("nbd: request refused", "type", req.typ, "offset", req.offset, "length", req.length, "msg", msg)
		c.replyError(req, errno, msg)
		return true
	}
	cost := int64(minCost)
	if req.typ == cmdRead || req.typ == cmdWrite {
		cost = max(cost, int64(req.length))
	}
	cost, ok := c.budget.acquire(cost)
	if !ok {
		return false
	}
	var buf []byte
	if req.typ == cmdRead || req.typ == cmdWrite {
		buf = getBuf(int(req.length))
	}
	if payload > 0 {
		if _, err := io.ReadFull(c.br, buf); err != nil {
			putBuf(buf)
			c.budget.release(cost)
			c.ended("reading a write's data", err)
			return false
		}
	}
	c.reqs.Add(1)
	go func() {
		defer c.reqs.Done()
		defer c.budget.release(cost)
		c.serveRequest(req, buf)
		if buf != nil {
			putBuf(buf)
		}
	}()
	return true
}

// known is the set of command flags each command accepts.
var known = map[uint16]uint16{
	cmdRead:        cmdFlagFUA | cmdFlagDF,
	cmdWrite:       cmdFlagFUA,
	cmdFlush:       cmdFlagFUA,
	cmdTrim:        cmdFlagFUA,
	cmdWriteZeroes: cmdFlagFUA | cmdFlagNoHole,
	cmdBlockStatus: cmdFlagReqOne,
}

// check validates a request before it is served: errno 0 means go on.
func (c *conn) check(req request) (errno uint32, msg string) {
	flagsOK, typeKnown := known[req.typ]
	if !typeKnown {
		return errInval, fmt.Sprintf("command %d is not supported", req.typ)
	}
	if f := req.flags &^ flagsOK; f != 0 {
		if f&cmdFlagFastZero != 0 && req.typ == cmdWriteZeroes {
			return errNotSup, "NBD_CMD_FLAG_FAST_ZERO is not supported"
		}
		return errInval, fmt.Sprintf("command flags %#x not valid for command %d", f, req.typ)
	}
	if req.flags&cmdFlagDF != 0 && !c.structured {
		return errInval, "NBD_CMD_FLAG_DF without structured replies"
	}
	write := req.typ == cmdWrite || req.typ == cmdTrim || req.typ == cmdWriteZeroes
	if write && c.s.ReadOnly {
		return errPerm, "the export is read-only"
	}
	if req.typ == cmdTrim && c.flags&tfSendTrim == 0 {
		return errInval, "NBD_CMD_TRIM was not advertised: the device is not thin provisioned"
	}
	if req.typ == cmdBlockStatus && !c.meta {
		return errInval, "no meta context selected (NBD_OPT_SET_META_CONTEXT base:allocation)"
	}
	if (req.typ == cmdRead || req.typ == cmdWrite) && req.length > c.s.maxRequest() {
		return errInval, fmt.Sprintf("a request of %d bytes exceeds the maximum of %d", req.length, c.s.maxRequest())
	}
	if req.typ == cmdBlockStatus && req.length == 0 {
		return errInval, "block status of 0 bytes"
	}
	size := uint64(c.geo.Size())
	if req.typ != cmdFlush && (req.offset > size || uint64(req.length) > size-req.offset) {
		if write {
			return errNoSpc, fmt.Sprintf("%d bytes at offset %d pass the end of the export (%d bytes)", req.length, req.offset, size)
		}
		return errInval, fmt.Sprintf("%d bytes at offset %d pass the end of the export (%d bytes)", req.length, req.offset, size)
	}
	return 0, ""
}

// serveRequest does what req asks of the device and replies.
func (c *conn) serveRequest(req request, buf []byte) {
	dev := c.export.Device
	ctx := c.ctx
	off, n := int64(req.offset), int64(req.length)
	var err error
	switch req.typ {
	case cmdRead:
		if n > 0 {
			_, err = dev.ReadAtContext(ctx, buf, off)
		}
		if err == nil {
			c.replyRead(req, buf)
			return
		}
	case cmdWrite:
		if n > 0 {
			err = c.write(ctx, buf, off, req.flags&cmdFlagFUA != 0)
		}
	case cmdFlush:
		err = dev.Sync(ctx)
	case cmdTrim:
		if n > 0 {
			err = dev.(Discarder).Discard(ctx, off, n)
		}
		if err == nil && req.flags&cmdFlagFUA != 0 {
			err = dev.Sync(ctx)
		}
	case cmdWriteZeroes:
		if n > 0 {
			err = c.zeroes(ctx, off, n, req.flags&cmdFlagNoHole != 0)
		}
		if err == nil && req.flags&cmdFlagFUA != 0 {
			err = dev.Sync(ctx)
		}
	case cmdBlockStatus:
		var descs []byte
		descs, err = c.blockStatus(ctx, req)
		if err == nil {
			c.replyChunk(req, replyTypeBlockStatus, descs)
			return
		}
	}
	if err != nil {
		errno := errnoOf(err)
		if c.ctx.Err() == nil {
			c.log.Warn("nbd: request failed", "type", req.typ, "offset", req.offset, "length", req.length, "errno", errno, "err", err)
		}
		c.replyError(req, errno, err.Error())
		return
	}
	c.replyOK(req)
}

// write writes p at off; with fua, the data is on the medium when it
// returns: one WRITE with FUA for whole blocks the device can take in one
// command, otherwise the write and then a SYNCHRONIZE CACHE.
func (c *conn) write(ctx context.Context, p []byte, off int64, fua bool) error {
	dev := c.export.Device
	if fua {
		bs := int64(c.geo.BlockSize)
		fw, ok := dev.(FlagWriter)
		if ok && off%bs == 0 && int64(len(p))%bs == 0 && (c.geo.MaxTransfer == 0 || len(p) <= int(c.geo.MaxTransfer)) {
			_, err := fw.WriteWithFlags(ctx, uint64(off/bs), uint32(int64(len(p))/bs), iovector.New(p), scsi.FUA).Wait()
			return err
		}
	}
	if _, err := dev.WriteAtContext(ctx, p, off); err != nil {
		return err
	}
	if fua {
		return dev.Sync(ctx)
	}
	return nil
}

// zeroChunk bounds the zeros written with one WRITE, and the blocks of one
// WRITE SAME.
const zeroChunk = 1 << 20

// zeroes makes n bytes at off read as zeros. With noHole the blocks stay
// allocated: WRITE SAME without UNMAP, or zeros written.
func (c *conn) zeroes(ctx context.Context, off, n int64, noHole bool) error {
	dev := c.export.Device
	if !noHole {
		if z, ok := dev.(Zeroer); ok {
			return z.WriteZeroes(ctx, off, n)
		}
		return writeZeros(ctx, dev, off, n)
	}
	sw, ok := dev.(SameWriter)
	bs := int64(c.geo.BlockSize)
	first, last := (off+bs-1)/bs, (off+n)/bs
	if !ok || last <= first {
		return writeZeros(ctx, dev, off, n)
	}
	if head := first*bs - off; head > 0 {
		if err := writeZeros(ctx, dev, off, head); err != nil {
			return err
		}
	}
	if tail := off + n - last*bs; tail > 0 {
		if err := writeZeros(ctx, dev, last*bs, tail); err != nil {
			return err
		}
	}
	zero := make([]byte, bs)
	for lba := first; lba < last; {
		k := min(last-lba, 0xffff)
		err := sw.WriteSame(ctx, uint64(lba), uint32(k), zero, 0)
		if errors.Is(err, scsi.ErrInvalidOpcode) {
			return writeZeros(ctx, dev, lba*bs, (last-lba)*bs)
		}
		if err != nil {
			return err
		}
		lba += k
	}
	return nil
}

// writeZeros writes n zero bytes at off.
func writeZeros(ctx context.Context, dev Device, off, n int64) error {
	zero := make([]byte, min(n, zeroChunk))
	for n > 0 {
		k := min(n, int64(len(zero)))
		if _, err := dev.WriteAtContext(ctx, zero[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// blockStatus builds the payload of a base:allocation block status chunk:
// the context ID, then (length, flags) descriptors covering at most the
// request's range, from its offset on.
func (c *conn) blockStatus(ctx context.Context, req request) ([]byte, error) {
	d := binary.BigEndian.AppendUint32(nil, baseAllocationID)
	off, end := req.offset, req.offset+uint64(req.length)
	el, ok := c.export.Device.(ExtentLister)
	if !ok {
		d = binary.BigEndian.AppendUint32(d, req.length)
		return binary.BigEndian.AppendUint32(d, 0), nil
	}
	bs := uint64(c.geo.BlockSize)
	limit := maxExtents
	if req.flags&cmdFlagReqOne != 0 {
		limit = 1
	}
	count := 0
	var last uint32 // flags of the last descriptor
	for ext, err := range el.Extents(ctx, off/bs, (end+bs-1)/bs) {
		if err != nil {
			if count > 0 {
				break // what is known so far is a valid answer
			}
			return nil, err
		}
		from, to := max(ext.LBA*bs, off), min((ext.LBA+ext.Blocks)*bs, end)
		if to <= from {
			continue
		}
		var flags uint32
		if !ext.Mapped() {
			flags = stateHole
			if c.geo.UnmappedReadsZero {
				flags |= stateZero
			}
		}
		if count > 0 && flags == last {
			i := len(d) - 8
			binary.BigEndian.PutUint32(d[i:], binary.BigEndian.Uint32(d[i:])+uint32(to-from))
			continue
		}
		if count == limit {
			break
		}
		d = binary.BigEndian.AppendUint32(d, uint32(to-from))
		d = binary.BigEndian.AppendUint32(d, flags)
		count++
		last = flags
	}
	if count == 0 {
		return nil, fmt.Errorf("nbd: no extent reported for offset %d", off)
	}
	return d, nil
}

// errnoOf maps a device error to the NBD error a client sees.
func errnoOf(err error) uint32 {
	var se *scsi.StatusError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, session.ErrSessionClosed):
		return errShutdown
	case errors.Is(err, session.ErrBeyondEnd):
		return errNoSpc
	case errors.Is(err, session.ErrNotThin), errors.Is(err, scsi.ErrInvalidOpcode):
		return errNotSup
	case errors.As(err, &se) && se.Sense != nil:
		switch {
		case se.Sense.ASC == scsi.ASCSpaceAllocationFailed:
			return errNoSpc
		case se.Sense.Key == scsi.SenseDataProtect:
			return errPerm
		case se.Sense.Key == scsi.SenseIllegalRequest:
			return errInval
		}
	}
	return errIO
}

// replyOK answers a request without data.
func (c *conn) replyOK(req request) {
	if c.structured {
		c.send(appendChunk(nil, replyFlagDone, replyTypeNone, req.handle, 0))
		return
	}
	c.send(appendSimpleReply(nil, 0, req.handle))
}

// replyRead answers a READ with its data.
func (c *conn) replyRead(req request, data []byte) {
	if !c.structured {
		c.send(appendSimpleReply(nil, 0, req.handle), data)
		return
	}
	if len(data) == 0 {
		c.replyOK(req)
		return
	}
	h := appendChunk(nil, replyFlagDone, replyTypeOffsetData, req.handle, uint32(8+len(data)))
	h = binary.BigEndian.AppendUint64(h, req.offset)
	c.send(h, data)
}

// replyChunk answers with one structured chunk.
func (c *conn) replyChunk(req request, typ uint16, payload []byte) {
	c.send(appendChunk(nil, replyFlagDone, typ, req.handle, uint32(len(payload))), payload)
}

// replyError answers with an error, and its message when structured
// replies allow one.
func (c *conn) replyError(req request, errno uint32, msg string) {
	if !c.structured {
		c.send(appendSimpleReply(nil, errno, req.handle))
		return
	}
	if len(msg) > maxStringLen {
		msg = msg[:maxStringLen]
	}
	p := binary.BigEndian.AppendUint32(nil, errno)
	p = binary.BigEndian.AppendUint16(p, uint16(len(msg)))
	p = append(p, msg...)
	c.replyChunk(req, replyTypeError, p)
}
