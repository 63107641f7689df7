package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The numbers of the NBD protocol (NetworkBlockDevice/nbd, doc/proto.md).
const (
	magicNBD         = 0x4e42444d41474943 // "NBDMAGIC"
	magicOpt         = 0x49484156454f5054 // "IHAVEOPT"
	magicOptReply    = 0x3e889045565a9
	magicRequest     = 0x25609513
	magicSimple      = 0x67446698
	magicStructured  = 0x668e33ef
	zeroPadding      = 124 // bytes of zeros after an NBD_OPT_EXPORT_NAME reply
	optHeaderLen     = 16
	requestHeaderLen = 28
)

// Handshake flags (server) and client flags.
const (
	flagFixedNewstyle = 1 << 0
	flagNoZeroes      = 1 << 1
	clientFlagsKnown  = flagFixedNewstyle | flagNoZeroes
	handshakeFlags    = flagFixedNewstyle | flagNoZeroes
)

// Transmission flags.
const (
	tfHasFlags        = 1 << 0
	tfReadOnly        = 1 << 1
	tfSendFlush       = 1 << 2
	tfSendFUA         = 1 << 3
	tfSendTrim        = 1 << 5
	tfSendWriteZeroes = 1 << 6
	tfSendDF          = 1 << 7
	tfCanMultiConn    = 1 << 8
)

// Options.
const (
	optExportName      = 1
	optAbort           = 2
	optList            = 3
	optStartTLS        = 5
	optInfo            = 6
	optGo              = 7
	optStructuredReply = 8
	optListMetaContext = 9
	optSetMetaContext  = 10
	optExtendedHeaders = 11 // refused (NBD_REP_ERR_UNSUP): 32-bit lengths only
)

// Option replies.
const (
	repAck         = 1
	repServer      = 2
	repInfo        = 3
	repMetaContext = 4
	repErr         = 1 << 31
	repErrUnsup    = repErr | 1
	repErrPolicy   = repErr | 2
	repErrInvalid  = repErr | 3
	repErrUnknown  = repErr | 6
	repErrTooBig   = repErr | 9
)

// NBD_INFO types.
const (
	infoExport      = 0
	infoName        = 1
	infoDescription = 2
	infoBlockSize   = 3
)

// Commands and command flags.
const (
	cmdRead        = 0
	cmdWrite       = 1
	cmdDisc        = 2
	cmdFlush       = 3
	cmdTrim        = 4
	cmdCache       = 5 // not advertised, refused
	cmdWriteZeroes = 6
	cmdBlockStatus = 7

	cmdFlagFUA      = 1 << 0
	cmdFlagNoHole   = 1 << 1
	cmdFlagDF       = 1 << 2
	cmdFlagReqOne   = 1 << 3
	cmdFlagFastZero = 1 << 4
)

// Structured reply chunk types and flags.
const (
	replyFlagDone         = 1 << 0
	replyTypeNone         = 0
	replyTypeOffsetData   = 1
	replyTypeBlockStatus  = 5
	replyTypeError        = 1<<15 | 1
	stateHole             = 1 << 0
	stateZero             = 1 << 1
	baseAllocation        = "base:allocation"
	baseAllocationID      = 1
	maxStringLen          = 4096
	maxOptionLen          = 64 << 10 // larger option data is refused (NBD_REP_ERR_TOO_BIG)
	maxOptionLenToDiscard = 16 << 20 // beyond that the client is cut off
)

// NBD error values (errno numbers, as the protocol fixes them).
const (
	errPerm     = 1
	errIO       = 5
	errInval    = 22
	errNoSpc    = 28
	errNotSup   = 95
	errShutdown = 108
)

// ErrBadMagic is the error that ends a connection whose client sent a
// request or option that does not start with the protocol's magic number:
// the stream cannot be followed any further.
var ErrBadMagic = errors.New("nbd: bad magic number")

// ErrProtocol is a violation of the handshake by the client.
var ErrProtocol = errors.New("nbd: protocol violation")

// option is an option header from the client: the option number and the
// length of its data, which follows.
type option struct {
	code   uint32
	length uint32
}

// decodeOption parses a 16-byte option header.
func decodeOption(b []byte) (option, error) {
	if len(b) < optHeaderLen {
		return option{}, fmt.Errorf("%w: option header of %d bytes", ErrProtocol, len(b))
	}
	if m := binary.BigEndian.Uint64(b); m != magicOpt {
		return option{}, fmt.Errorf("%w: option magic %#x, want %#x", ErrBadMagic, m, uint64(magicOpt))
	}
	return option{code: binary.BigEndian.Uint32(b[8:]), length: binary.BigEndian.Uint32(b[12:])}, nil
}

// appendOption encodes an option header and its data (the client's side,
// for tests and fuzzers).
func appendOption(dst []byte, code uint32, data []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, magicOpt)
	dst = binary.BigEndian.AppendUint32(dst, code)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	return append(dst, data...)
}

// appendOptReply encodes an option reply.
func appendOptReply(dst []byte, code, typ uint32, data []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, magicOptReply)
	dst = binary.BigEndian.AppendUint32(dst, code)
	dst = binary.BigEndian.AppendUint32(dst, typ)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	return append(dst, data...)
}

// reader is a cursor over option data with a sticky error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrProtocol, what)
	}
}

func (r *reader) u16() uint16 {
	if r.err != nil || len(r.b) < 2 {
		r.fail("data too short")
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.fail("data too short")
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// str reads a string of a 32-bit length.
func (r *reader) str() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if n > maxStringLen || uint64(n) > uint64(len(r.b)) {
		r.fail(fmt.Sprintf("string of %d bytes", n))
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// done fails unless every byte was read.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d bytes of trailing data", len(r.b)))
	}
	return r.err
}

// infoRequest is the data of NBD_OPT_INFO and NBD_OPT_GO: an export name
// and the NBD_INFO types the client asks for.
type infoRequest struct {
	name  string
	infos []uint16
}

func decodeInfoRequest(b []byte) (infoRequest, error) {
	r := reader{b: b}
	var q infoRequest
	q.name = r.str()
	n := r.u16()
	if r.err == nil && int(n)*2 != len(r.b) {
		r.fail(fmt.Sprintf("%d information requests in %d bytes", n, len(r.b)))
	}
	for i := 0; i < int(n) && r.err == nil; i++ {
		q.infos = append(q.infos, r.u16())
	}
	return q, r.done()
}

func (q infoRequest) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(q.name)))
	dst = append(dst, q.name...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(q.infos)))
	for _, t := range q.infos {
		dst = binary.BigEndian.AppendUint16(dst, t)
	}
	return dst
}

// metaRequest is the data of NBD_OPT_LIST_META_CONTEXT and
// NBD_OPT_SET_META_CONTEXT: an export name and queries.
type metaRequest struct {
	name    string
	queries []string
}

// maxMetaQueries bounds the queries of one meta context option.
const maxMetaQueries = 128

func decodeMetaRequest(b []byte) (metaRequest, error) {
	r := reader{b: b}
	var q metaRequest
	q.name = r.str()
	n := r.u32()
	if r.err == nil && n > maxMetaQueries {
		r.fail(fmt.Sprintf("%d queries", n))
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		s := r.str()
		if r.err == nil {
			q.queries = append(q.queries, s)
		}
	}
	return q, r.done()
}

func (q metaRequest) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(q.name)))
	dst = append(dst, q.name...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(q.queries)))
	for _, s := range q.queries {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// request is a transmission request header. The data of a WRITE follows
// it on the wire.
type request struct {
	flags  uint16
	typ    uint16
	handle uint64
	offset uint64
	length uint32
}

// decodeRequest parses a 28-byte request header.
func decodeRequest(b []byte) (request, error) {
	if len(b) < requestHeaderLen {
		return request{}, fmt.Errorf("%w: request header of %d bytes", ErrProtocol, len(b))
	}
	if m := binary.BigEndian.Uint32(b); m != magicRequest {
		return request{}, fmt.Errorf("%w: request magic %#x, want %#x", ErrBadMagic, m, uint32(magicRequest))
	}
	return request{
		flags:  binary.BigEndian.Uint16(b[4:]),
		typ:    binary.BigEndian.Uint16(b[6:]),
		handle: binary.BigEndian.Uint64(b[8:]),
		offset: binary.BigEndian.Uint64(b[16:]),
		length: binary.BigEndian.Uint32(b[24:]),
	}, nil
}

func (q request) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, magicRequest)
	dst = binary.BigEndian.AppendUint16(dst, q.flags)
	dst = binary.BigEndian.AppendUint16(dst, q.typ)
	dst = binary.BigEndian.AppendUint64(dst, q.handle)
	dst = binary.BigEndian.AppendUint64(dst, q.offset)
	return binary.BigEndian.AppendUint32(dst, q.length)
}

// appendSimpleReply encodes a simple reply header (16 bytes); a READ's
// data follows it.
func appendSimpleReply(dst []byte, errno uint32, handle uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, magicSimple)
	dst = binary.BigEndian.AppendUint32(dst, errno)
	return binary.BigEndian.AppendUint64(dst, handle)
}

// appendChunk encodes a structured reply chunk header (20 bytes) for a
// payload of n bytes, which follows it.
func appendChunk(dst []byte, flags, typ uint16, handle uint64, n uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, magicStructured)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, typ)
	dst = binary.BigEndian.AppendUint64(dst, handle)
	return binary.BigEndian.AppendUint32(dst, n)
}
