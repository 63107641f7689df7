package nbd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/iscsi-go/iscsi/session"
)

// geometryTimeout bounds reading an export's geometry during the
// handshake.
const geometryTimeout = 30 * time.Second

// handshake runs the fixed newstyle negotiation. It returns true when the
// client chose an export and the transmission phase begins (c.export,
// c.geo and c.flags are set), false when the connection is to be closed.
func (c *conn) handshake() bool {
	var b []byte
	b = binary.BigEndian.AppendUint64(b, magicNBD)
	b = binary.BigEndian.AppendUint64(b, magicOpt)
	b = binary.BigEndian.AppendUint16(b, handshakeFlags)
	if !c.send(b) {
		return false
	}
	var cf [4]byte
	if _, err := io.ReadFull(c.br, cf[:]); err != nil {
		c.ended("reading the client flags", err)
		return false
	}
	flags := binary.BigEndian.Uint32(cf[:])
	if flags&^clientFlagsKnown != 0 {
		c.violation(fmt.Errorf("%w: unknown client flags %#x", ErrProtocol, flags))
		return false
	}
	c.noZeroes = flags&flagNoZeroes != 0
	var hdr [optHeaderLen]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			c.ended("reading an option", err)
			return false
		}
		opt, err := decodeOption(hdr[:])
		if err != nil {
			c.violation(err)
			return false
		}
		if opt.length > maxOptionLen {
			if opt.code == optExportName || opt.length > maxOptionLenToDiscard {
				c.violation(fmt.Errorf("%w: option %d with %d bytes of data", ErrProtocol, opt.code, opt.length))
				return false
			}
			if _, err := io.CopyN(io.Discard, c.br, int64(opt.length)); err != nil {
				c.ended("reading an option", err)
				return false
			}
			if !c.optError(opt.code, repErrTooBig, fmt.Sprintf("option data of %d bytes exceeds the limit of %d", opt.length, maxOptionLen)) {
				return false
			}
			continue
		}
		data := make([]byte, opt.length)
		if _, err := io.ReadFull(c.br, data); err != nil {
			c.ended("reading an option", err)
			return false
		}
		next, ok := c.option(opt.code, data)
		if !ok {
			return false
		}
		if next {
			return true
		}
	}
}

// option answers one option. next: the transmission phase begins; ok
// false: the connection is to be closed.
func (c *conn) option(code uint32, data []byte) (next, ok bool) {
	switch code {
	case optExportName:
		return c.exportName(string(data))
	case optAbort:
		c.optReply(code, repAck, nil)
		return false, false
	case optList:
		if len(data) != 0 {
			return false, c.optError(code, repErrInvalid, "NBD_OPT_LIST takes no data")
		}
		for _, e := range c.s.Exports {
			var d []byte
			d = binary.BigEndian.AppendUint32(d, uint32(len(e.Name)))
			d = append(d, e.Name...)
			d = append(d, e.Description...)
			if !c.optReply(code, repServer, d) {
				return false, false
			}
		}
		return false, c.optReply(code, repAck, nil)
	case optStartTLS:
		return false, c.optError(code, repErrPolicy, "this server does not offer TLS")
	case optInfo, optGo:
		return c.info(code, data)
	case optStructuredReply:
		if len(data) != 0 {
			return false, c.optError(code, repErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data")
		}
		if c.structured {
			return false, c.optError(code, repErrInvalid, "structured replies already negotiated")
		}
		c.structured = true
		return false, c.optReply(code, repAck, nil)
	case optListMetaContext, optSetMetaContext:
		return false, c.metaContext(code, data)
	}
	return false, c.optError(code, repErrUnsup, fmt.Sprintf("option %d is not supported", code))
}

// exportName answers NBD_OPT_EXPORT_NAME, which cannot fail politely: an
// unknown export closes the connection.
func (c *conn) exportName(name string) (next, ok bool) {
	e, found := c.s.lookup(name)
	if !found {
		c.log.Warn("nbd: client asked for an unknown export", "export", name)
		return false, false
	}
	g, err := c.geometry(e)
	if err != nil {
		c.log.Warn("nbd: export unavailable", "export", name, "err", err)
		return false, false
	}
	c.choose(e, g)
	var b []byte
	b = binary.BigEndian.AppendUint64(b, uint64(g.Size()))
	b = binary.BigEndian.AppendUint16(b, c.flags)
	if !c.noZeroes {
		b = append(b, make([]byte, zeroPadding)...)
	}
	return true, c.send(b)
}

// info answers NBD_OPT_INFO and NBD_OPT_GO.
func (c *conn) info(code uint32, data []byte) (next, ok bool) {
	q, err := decodeInfoRequest(data)
	if err != nil {
		return false, c.optError(code, repErrInvalid, err.Error())
	}
	e, found := c.s.lookup(q.name)
	if !found {
		return false, c.optError(code, repErrUnknown, fmt.Sprintf("no export named %q", q.name))
	}
	g, err := c.geometry(e)
	if err != nil {
		c.log.Warn("nbd: export unavailable", "export", q.name, "err", err)
		return false, c.optError(code, repErrUnknown, fmt.Sprintf("export %q is unavailable: %v", q.name, err))
	}
	flags := c.flagsFor(e, g)
	for _, t := range q.infos {
		var d []byte
		d = binary.BigEndian.AppendUint16(d, t)
		switch t {
		case infoName:
			d = append(d, e.Name...)
		case infoDescription:
			if e.Description == "" {
				continue
			}
			d = append(d, e.Description...)
		case infoBlockSize:
			lo, pref, hi := blockSizes(g, c.s.maxRequest())
			d = binary.BigEndian.AppendUint32(d, lo)
			d = binary.BigEndian.AppendUint32(d, pref)
			d = binary.BigEndian.AppendUint32(d, hi)
		default:
			continue
		}
		if !c.optReply(code, repInfo, d) {
			return false, false
		}
	}
	var d []byte
	d = binary.BigEndian.AppendUint16(d, infoExport)
	d = binary.BigEndian.AppendUint64(d, uint64(g.Size()))
	d = binary.BigEndian.AppendUint16(d, flags)
	if !c.optReply(code, repInfo, d) || !c.optReply(code, repAck, nil) {
		return false, false
	}
	if code == optInfo {
		return false, true
	}
	c.choose(e, g)
	return true, true
}

// blockSizes are the sizes NBD_INFO_BLOCK_SIZE announces: the LUN's block
// as the minimum, at least 4 KiB preferred, the request limit (a
// multiple of the minimum) as the maximum.
func blockSizes(g session.Geometry, maxRequest uint32) (lo, pref, hi uint32) {
	lo = g.BlockSize
	if lo == 0 || lo&(lo-1) != 0 || lo > 64<<10 {
		lo = 1
	}
	pref = max(4096, lo)
	if p := g.PhysicalBlockSize; p > pref && p&(p-1) == 0 && p <= 32<<20 {
		pref = p
	}
	hi = max(maxRequest/lo*lo, pref)
	return lo, pref, hi
}

// metaContext answers NBD_OPT_LIST_META_CONTEXT and
// NBD_OPT_SET_META_CONTEXT. The one context is base:allocation.
func (c *conn) metaContext(code uint32, data []byte) bool {
	if !c.structured {
		return c.optError(code, repErrInvalid, "meta contexts need structured replies first")
	}
	q, err := decodeMetaRequest(data)
	if err != nil {
		return c.optError(code, repErrInvalid, err.Error())
	}
	e, found := c.s.lookup(q.name)
	if !found {
		return c.optError(code, repErrUnknown, fmt.Sprintf("no export named %q", q.name))
	}
	match := false
	if len(q.queries) == 0 {
		match = code == optListMetaContext // SET with no query selects nothing
	}
	for _, s := range q.queries {
		if s == baseAllocation || (code == optListMetaContext && s == "base:") {
			match = true
		}
	}
	if code == optSetMetaContext {
		c.meta = match
		c.metaExport = e.Name
	}
	if match {
		id := uint32(0) // LIST: reserved, zero
		if code == optSetMetaContext {
			id = baseAllocationID
		}
		var d []byte
		d = binary.BigEndian.AppendUint32(d, id)
		d = append(d, baseAllocation...)
		if !c.optReply(code, repMetaContext, d) {
			return false
		}
	}
	return c.optReply(code, repAck, nil)
}

// geometry reads an export's geometry, bounded.
func (c *conn) geometry(e Export) (session.Geometry, error) {
	ctx, cancel := context.WithTimeout(c.ctx, geometryTimeout)
	defer cancel()
	g, err := e.Device.Geometry(ctx)
	if err == nil && (g.BlockSize == 0 || g.Size() < 0) {
		err = errors.New("nbd: device reports a zero block size")
	}
	return g, err
}

// flagsFor returns the transmission flags of an export for this
// connection.
func (c *conn) flagsFor(e Export, g session.Geometry) uint16 {
	f := uint16(tfHasFlags | tfSendFlush | tfSendFUA | tfCanMultiConn)
	if c.s.ReadOnly {
		f |= tfReadOnly
	} else {
		f |= tfSendWriteZeroes
		if _, ok := e.Device.(Discarder); ok && g.Thin {
			f |= tfSendTrim
		}
	}
	if c.structured {
		f |= tfSendDF
	}
	return f
}

// choose makes e the export of the transmission phase.
func (c *conn) choose(e Export, g session.Geometry) {
	c.export, c.geo, c.flags = e, g, c.flagsFor(e, g)
	if c.metaExport != e.Name {
		c.meta = false // contexts were selected for another export
	}
}

func (c *conn) optReply(code, typ uint32, data []byte) bool {
	return c.send(appendOptReply(nil, code, typ, data))
}

func (c *conn) optError(code, typ uint32, msg string) bool {
	c.log.Debug("nbd: option refused", "option", code, "reply", typ&^repErr, "msg", msg)
	return c.optReply(code, typ, []byte(msg))
}
