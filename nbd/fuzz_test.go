package nbd

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// pipeConn is a client that sends fixed bytes and swallows the replies:
// the server reads in until EOF, then ends as for a client that hung up.
type pipeConn struct {
	r      io.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	closed bool
}

func (p *pipeConn) Read(b []byte) (int, error) { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, net.ErrClosed
	}
	return p.out.Write(b)
}
func (p *pipeConn) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}
func (p *pipeConn) LocalAddr() net.Addr                { return &net.UnixAddr{Name: "server", Net: "unix"} }
func (p *pipeConn) RemoteAddr() net.Addr               { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (p *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (p *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

// serveBytes runs one server connection over in, a small thin device
// behind it, and returns what the server sent.
func serveBytes(in []byte) []byte {
	dev := newMemDevice(64<<10, 512)
	srv := &Server{Exports: []Export{{Name: "1", Device: dev}, {Name: "2", Device: dev}}, Default: "1", MaxRequest: 16 << 10, MaxInFlight: 32 << 10}
	pc := &pipeConn{r: bytes.NewReader(in)}
	srv.ServeConn(pc)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return append([]byte(nil), pc.out.Bytes()...)
}

// clientFlags are the 4 bytes a client sends after the greeting.
var clientFlags = binary.BigEndian.AppendUint32(nil, flagFixedNewstyle|flagNoZeroes)

// goPrefix is a client's whole handshake into transmission on export "1",
// with structured replies and base:allocation.
func goPrefix() []byte {
	b := append([]byte(nil), clientFlags...)
	b = appendOption(b, optStructuredReply, nil)
	b = appendOption(b, optSetMetaContext, metaRequest{name: "1", queries: []string{baseAllocation}}.appendTo(nil))
	return appendOption(b, optGo, infoRequest{name: "1", infos: []uint16{infoBlockSize}}.appendTo(nil))
}

// FuzzHandshake feeds the option haggling any bytes: the server must
// neither panic nor hang, every option reply it sends must be well
// formed, and what the decoders accept must re-encode to the same bytes.
func FuzzHandshake(f *testing.F) {
	f.Add(goPrefix())
	f.Add(append(append([]byte(nil), clientFlags...), appendOption(nil, optExportName, []byte("2"))...))
	f.Add(append(append([]byte(nil), clientFlags...), appendOption(appendOption(nil, optList, nil), optAbort, nil)...))
	f.Add(append(append([]byte(nil), clientFlags...), appendOption(appendOption(nil, optStructuredReply, nil), optListMetaContext, metaRequest{name: "", queries: []string{"base:"}}.appendTo(nil))...))
	f.Add(append(append([]byte(nil), clientFlags...), appendOption(nil, optInfo, infoRequest{name: "2", infos: []uint16{0, 1, 2, 3, 99}}.appendTo(nil))...))
	f.Add(append(append([]byte(nil), clientFlags...), appendOption(nil, 77, []byte{1, 2, 3})...))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := serveBytes(in)
		if len(out) < 18 || binary.BigEndian.Uint64(out) != magicNBD {
			t.Fatalf("no greeting: % x", out[:min(len(out), 18)])
		}
		checkOptReplies(t, out[18:])
		// The decoders on the data of the first option.
		if len(in) >= 4+optHeaderLen {
			if o, err := decodeOption(in[4:]); err == nil {
				data := in[4+optHeaderLen:]
				data = data[:min(len(data), int(min(o.length, 1<<20)))]
				if q, err := decodeInfoRequest(data); err == nil && !bytes.Equal(q.appendTo(nil), data) {
					t.Errorf("info request %+v re-encodes differently", q)
				}
				if q, err := decodeMetaRequest(data); err == nil && !bytes.Equal(q.appendTo(nil), data) {
					t.Errorf("meta request %+v re-encodes differently", q)
				}
			}
		}
	})
}

// checkOptReplies walks the server's option replies. It stops at anything
// that is not one: the 10 (or 134) bytes ending an NBD_OPT_EXPORT_NAME,
// then the transmission replies.
func checkOptReplies(t *testing.T, out []byte) {
	for len(out) >= 20 && binary.BigEndian.Uint64(out) == magicOptReply {
		n := binary.BigEndian.Uint32(out[16:])
		if uint64(len(out)-20) < uint64(n) {
			t.Fatalf("option reply announces %d bytes, %d sent", n, len(out)-20)
		}
		if typ := binary.BigEndian.Uint32(out[12:]); typ&repErr == 0 && typ > repMetaContext {
			t.Fatalf("option reply type %d", typ)
		}
		out = out[20+n:]
	}
}

// FuzzRequest feeds the transmission phase any bytes after a complete
// handshake: no panic, no hang, and every reply well formed with a handle
// the client sent.
func FuzzRequest(f *testing.F) {
	f.Add(request{typ: cmdRead, handle: 1, length: 512}.appendTo(nil))
	f.Add(append(request{typ: cmdWrite, flags: cmdFlagFUA, handle: 2, offset: 1000, length: 600}.appendTo(nil), make([]byte, 600)...))
	f.Add(request{typ: cmdBlockStatus, handle: 3, offset: 0, length: 64 << 10}.appendTo(nil))
	f.Add(request{typ: cmdWriteZeroes, flags: cmdFlagNoHole, handle: 4, offset: 700, length: 9000}.appendTo(nil))
	f.Add(append(request{typ: cmdTrim, handle: 5, offset: 512, length: 4096}.appendTo(nil), request{typ: cmdFlush, handle: 6}.appendTo(nil)...))
	f.Add(request{typ: cmdRead, handle: 7, length: 1 << 20}.appendTo(nil))
	f.Add(append(request{typ: cmdWrite, handle: 8, length: 100}.appendTo(nil), 1, 2, 3))
	f.Add(request{typ: cmdDisc, handle: 9}.appendTo(nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) >= requestHeaderLen {
			if q, err := decodeRequest(in); err == nil && !bytes.Equal(q.appendTo(nil), in[:requestHeaderLen]) {
				t.Errorf("request %+v re-encodes differently", q)
			}
		}
		handles := map[uint64]bool{}
		for b := in; len(b) >= requestHeaderLen; {
			q, err := decodeRequest(b)
			if err != nil {
				break
			}
			handles[q.handle] = true
			b = b[requestHeaderLen:]
			if q.typ == cmdWrite {
				b = b[min(len(b), int(q.length)):]
			}
		}
		out := serveBytes(append(goPrefix(), in...))
		// Skip the greeting and the option replies.
		out = out[18:]
		for len(out) >= 20 && binary.BigEndian.Uint64(out) == magicOptReply {
			out = out[20+binary.BigEndian.Uint32(out[16:]):]
		}
		for len(out) > 0 {
			if len(out) < 20 || binary.BigEndian.Uint32(out) != magicStructured {
				t.Fatalf("not a structured reply: % x", out[:min(len(out), 20)])
			}
			h, n := binary.BigEndian.Uint64(out[8:]), binary.BigEndian.Uint32(out[16:])
			if !handles[h] {
				t.Fatalf("reply for handle %d, never sent", h)
			}
			if binary.BigEndian.Uint16(out[4:])&replyFlagDone == 0 {
				t.Fatal("chunk without DONE")
			}
			if uint64(len(out)-20) < uint64(n) {
				t.Fatalf("chunk announces %d bytes, %d sent", n, len(out)-20)
			}
			out = out[20+n:]
		}
	})
}
