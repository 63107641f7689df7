package nbd

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// client plays an NBD client, byte by byte, for corner cases no real
// client produces. Every read is bounded by a deadline.
type client struct {
	t  *testing.T
	nc net.Conn
}

const clientTimeout = 10 * time.Second

// dial connects to srv through an in-process listener.
func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

func (c *client) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(clientTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) read(n int) []byte {
	c.t.Helper()
	b, err := c.tryRead(n)
	if err != nil {
		c.t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func (c *client) tryRead(n int) ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(clientTimeout))
	b := make([]byte, n)
	_, err := io.ReadFull(c.nc, b)
	return b, err
}

// expectClosed checks that the server closes the connection (EOF or a
// reset), not that it merely stays silent.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(clientTimeout))
	var b [1]byte
	n, err := c.nc.Read(b[:])
	if err == nil {
		c.t.Fatalf("server sent %d more bytes (%#x), want the connection closed", n, b[0])
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("server kept the connection open: %v", err)
	}
}

// greet reads the server's greeting and answers with client flags.
func (c *client) greet(flags uint32) {
	c.t.Helper()
	g := c.read(18)
	if m := binary.BigEndian.Uint64(g); m != magicNBD {
		c.t.Fatalf("greeting magic %#x", m)
	}
	if m := binary.BigEndian.Uint64(g[8:]); m != magicOpt {
		c.t.Fatalf("greeting second magic %#x", m)
	}
	if f := binary.BigEndian.Uint16(g[16:]); f != flagFixedNewstyle|flagNoZeroes {
		c.t.Fatalf("handshake flags %#x", f)
	}
	c.write(binary.BigEndian.AppendUint32(nil, flags))
}

type optReply struct {
	code, typ uint32
	data      []byte
}

func (c *client) option(code uint32, data []byte) {
	c.t.Helper()
	c.write(appendOption(nil, code, data))
}

func (c *client) optReply() optReply {
	c.t.Helper()
	h := c.read(20)
	if m := binary.BigEndian.Uint64(h); m != magicOptReply {
		c.t.Fatalf("option reply magic %#x", m)
	}
	r := optReply{code: binary.BigEndian.Uint32(h[8:]), typ: binary.BigEndian.Uint32(h[12:])}
	n := binary.BigEndian.Uint32(h[16:])
	if n > 1<<20 {
		c.t.Fatalf("option reply of %d bytes", n)
	}
	r.data = c.read(int(n))
	return r
}

// ack expects NBD_REP_ACK to option code.
func (c *client) ack(code uint32) {
	c.t.Helper()
	r := c.optReply()
	if r.code != code || r.typ != repAck {
		c.t.Fatalf("reply to option %d: option %d type %#x (%q), want ACK", code, r.code, r.typ, r.data)
	}
}

// goExport negotiates structured replies (if asked), base:allocation (if
// asked) and enters transmission with NBD_OPT_GO; it returns the size and
// transmission flags.
func (c *client) goExport(name string, structured, meta bool) (uint64, uint16) {
	c.t.Helper()
	c.greet(flagFixedNewstyle | flagNoZeroes)
	if structured {
		c.option(optStructuredReply, nil)
		c.ack(optStructuredReply)
	}
	if meta {
		c.option(optSetMetaContext, metaRequest{name: name, queries: []string{baseAllocation}}.appendTo(nil))
		r := c.optReply()
		if r.typ != repMetaContext || binary.BigEndian.Uint32(r.data) != baseAllocationID || string(r.data[4:]) != baseAllocation {
			c.t.Fatalf("SET_META_CONTEXT: type %#x data %q", r.typ, r.data)
		}
		c.ack(optSetMetaContext)
	}
	c.option(optGo, infoRequest{name: name, infos: []uint16{infoBlockSize}}.appendTo(nil))
	var size uint64
	var flags uint16
	for {
		r := c.optReply()
		if r.typ == repAck {
			break
		}
		if r.typ != repInfo {
			c.t.Fatalf("GO %q: reply type %#x: %s", name, r.typ, r.data)
		}
		if binary.BigEndian.Uint16(r.data) == infoExport {
			size = binary.BigEndian.Uint64(r.data[2:])
			flags = binary.BigEndian.Uint16(r.data[10:])
		}
	}
	return size, flags
}

func (c *client) request(typ, flags uint16, handle, off uint64, length uint32, data []byte) {
	c.t.Helper()
	b := request{flags: flags, typ: typ, handle: handle, offset: off, length: length}.appendTo(nil)
	c.write(append(b, data...))
}

// reply is one reply: simple, or one structured chunk.
type reply struct {
	structured bool
	flags, typ uint16
	handle     uint64
	errno      uint32
	payload    []byte // structured payload
	msg        string // structured error message
}

// simpleReply reads a simple reply with dataLen bytes of data (for a
// successful READ).
func (c *client) simpleReply(dataLen int) (reply, []byte) {
	c.t.Helper()
	h := c.read(16)
	if m := binary.BigEndian.Uint32(h); m != magicSimple {
		c.t.Fatalf("simple reply magic %#x", m)
	}
	r := reply{errno: binary.BigEndian.Uint32(h[4:]), handle: binary.BigEndian.Uint64(h[8:])}
	var data []byte
	if r.errno == 0 && dataLen > 0 {
		data = c.read(dataLen)
	}
	return r, data
}

// chunk reads one structured reply chunk.
func (c *client) chunk() reply {
	c.t.Helper()
	h := c.read(20)
	if m := binary.BigEndian.Uint32(h); m != magicStructured {
		c.t.Fatalf("structured reply magic %#x", m)
	}
	r := reply{structured: true, flags: binary.BigEndian.Uint16(h[4:]), typ: binary.BigEndian.Uint16(h[6:]), handle: binary.BigEndian.Uint64(h[8:])}
	n := binary.BigEndian.Uint32(h[16:])
	if n > 64<<20 {
		c.t.Fatalf("chunk of %d bytes", n)
	}
	r.payload = c.read(int(n))
	if r.typ&(1<<15) != 0 {
		if len(r.payload) < 6 {
			c.t.Fatalf("error chunk of %d bytes", len(r.payload))
		}
		r.errno = binary.BigEndian.Uint32(r.payload)
		ml := int(binary.BigEndian.Uint16(r.payload[4:]))
		if 6+ml > len(r.payload) {
			c.t.Fatalf("error message of %d bytes in %d", ml, len(r.payload))
		}
		r.msg = string(r.payload[6 : 6+ml])
	}
	return r
}

func (r reply) String() string {
	return fmt.Sprintf("handle %d type %d flags %#x errno %d msg %q", r.handle, r.typ, r.flags, r.errno, r.msg)
}
