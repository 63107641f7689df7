package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start serves srv on a loopback port until the test ends.
func start(t *testing.T, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(clientTimeout):
			t.Error("Serve did not return after Close")
		}
	})
	return l.Addr().String()
}

func memServer(t *testing.T, size int, bs uint32, configure ...func(*Server)) (*Server, *memDevice, string) {
	return serveDevice(t, newMemDevice(size, bs), configure...)
}

// serveDevice serves dev as export "1", the default, configured before
// it starts.
func serveDevice(t *testing.T, dev *memDevice, configure ...func(*Server)) (*Server, *memDevice, string) {
	srv := &Server{Exports: []Export{{Name: "1", Description: "LUN 1", Device: dev}}, Default: "1"}
	for _, f := range configure {
		f(srv)
	}
	return srv, dev, start(t, srv)
}

func TestGoReadWrite(t *testing.T) {
	for _, structured := range []bool{false, true} {
		t.Run(map[bool]string{false: "simple", true: "structured"}[structured], func(t *testing.T) {
			_, dev, addr := memServer(t, 1<<20, 512)
			c := dial(t, addr)
			size, flags := c.goExport("", structured, false)
			if size != 1<<20 {
				t.Errorf("size %d, want %d", size, 1<<20)
			}
			want := uint16(tfHasFlags | tfSendFlush | tfSendFUA | tfSendTrim | tfSendWriteZeroes | tfCanMultiConn)
			if structured {
				want |= tfSendDF
			}
			if flags != want {
				t.Errorf("transmission flags %#x, want %#x", flags, want)
			}
			data := bytes.Repeat([]byte("nbd!"), 1024)
			c.request(cmdWrite, 0, 7, 4096, uint32(len(data)), data)
			if r := c.reply(structured, 0); r.handle != 7 || r.errno != 0 {
				t.Fatalf("write: %v", r)
			}
			if !bytes.Equal(dev.bytes(4096, len(data)), data) {
				t.Fatal("device does not hold what was written")
			}
			c.request(cmdRead, 0, 8, 4096+100, 1000, nil)
			r, got := c.readReply(structured, 1000)
			if r.handle != 8 || r.errno != 0 || !bytes.Equal(got, data[100:1100]) {
				t.Fatalf("read: %v, data equal %v", r, bytes.Equal(got, data[100:1100]))
			}
			c.request(cmdFlush, 0, 9, 0, 0, nil)
			if r := c.reply(structured, 0); r.errno != 0 {
				t.Fatalf("flush: %v", r)
			}
			dev.mu.Lock()
			syncs := dev.syncs
			dev.mu.Unlock()
			if syncs != 1 {
				t.Errorf("%d syncs after one flush", syncs)
			}
			c.request(cmdDisc, 0, 10, 0, 0, nil)
			c.expectClosed()
		})
	}
}

// reply reads the reply to a request without data.
func (c *client) reply(structured bool, _ int) reply {
	c.t.Helper()
	if structured {
		r := c.chunk()
		if r.flags&replyFlagDone == 0 {
			c.t.Fatalf("single chunk without DONE: %v", r)
		}
		return r
	}
	r, _ := c.simpleReply(0)
	return r
}

// readReply reads the reply to a READ of n bytes.
func (c *client) readReply(structured bool, n int) (reply, []byte) {
	c.t.Helper()
	if !structured {
		return c.simpleReply(n)
	}
	r := c.chunk()
	if r.typ != replyTypeOffsetData {
		return r, nil
	}
	if r.flags&replyFlagDone == 0 {
		c.t.Fatalf("read chunk without DONE: %v", r)
	}
	return r, r.payload[8:]
}

func TestExportNameOldClient(t *testing.T) {
	for _, noZeroes := range []bool{false, true} {
		_, _, addr := memServer(t, 64<<10, 512)
		c := dial(t, addr)
		var f uint32 = flagFixedNewstyle
		if noZeroes {
			f |= flagNoZeroes
		}
		c.greet(f)
		c.option(optExportName, []byte("1"))
		b := c.read(10)
		if size := binary.BigEndian.Uint64(b); size != 64<<10 {
			t.Errorf("size %d", size)
		}
		if !noZeroes {
			if z := c.read(zeroPadding); !bytes.Equal(z, make([]byte, zeroPadding)) {
				t.Error("padding not zero")
			}
		}
		c.request(cmdRead, 0, 1, 0, 512, nil)
		if r, data := c.simpleReply(512); r.errno != 0 || len(data) != 512 {
			t.Fatalf("read after EXPORT_NAME: %v", r)
		}
	}
}

func TestExportNameUnknownCloses(t *testing.T) {
	_, _, addr := memServer(t, 64<<10, 512)
	c := dial(t, addr)
	c.greet(flagFixedNewstyle)
	c.option(optExportName, []byte("nope"))
	c.expectClosed()
}

func TestListInfoAbort(t *testing.T) {
	dev := newMemDevice(64<<10, 4096)
	srv := &Server{Exports: []Export{{Name: "1", Device: dev}, {Name: "2", Description: "second", Device: dev}}, Default: "1"}
	c := dial(t, start(t, srv))
	c.greet(flagFixedNewstyle)
	c.option(optList, nil)
	var names []string
	for {
		r := c.optReply()
		if r.typ == repAck {
			break
		}
		if r.typ != repServer {
			t.Fatalf("LIST reply type %#x", r.typ)
		}
		n := binary.BigEndian.Uint32(r.data)
		names = append(names, string(r.data[4:4+n])+"|"+string(r.data[4+n:]))
	}
	if got := strings.Join(names, ","); got != "1|,2|second" {
		t.Errorf("LIST: %s", got)
	}
	// INFO on a missing export: an error, and the haggling goes on.
	c.option(optInfo, infoRequest{name: "9"}.appendTo(nil))
	if r := c.optReply(); r.typ != repErrUnknown {
		t.Errorf("INFO of a missing export: %#x", r.typ)
	}
	c.option(optInfo, infoRequest{name: "2", infos: []uint16{infoName, infoDescription, infoBlockSize}}.appendTo(nil))
	got := map[uint16][]byte{}
	for {
		r := c.optReply()
		if r.typ == repAck {
			break
		}
		got[binary.BigEndian.Uint16(r.data)] = r.data[2:]
	}
	if string(got[infoName]) != "2" || string(got[infoDescription]) != "second" {
		t.Errorf("name %q description %q", got[infoName], got[infoDescription])
	}
	if bsz := got[infoBlockSize]; len(bsz) != 12 || binary.BigEndian.Uint32(bsz) != 4096 || binary.BigEndian.Uint32(bsz[8:]) != DefaultMaxRequest {
		t.Errorf("block size info % x", bsz)
	}
	if e := got[infoExport]; len(e) != 10 || binary.BigEndian.Uint64(e) != 64<<10 {
		t.Errorf("export info % x", e)
	}
	c.option(optAbort, nil)
	c.ack(optAbort)
	c.expectClosed()
}

func TestUnknownOptionAndTLS(t *testing.T) {
	_, _, addr := memServer(t, 64<<10, 512)
	c := dial(t, addr)
	c.greet(flagFixedNewstyle)
	for _, o := range []struct{ code, want uint32 }{{999, repErrUnsup}, {optExtendedHeaders, repErrUnsup}, {optStartTLS, repErrPolicy}, {optList, repErrInvalid}} {
		var data []byte
		if o.code == optList {
			data = []byte{1}
		}
		c.option(o.code, data)
		if r := c.optReply(); r.code != o.code || r.typ != o.want {
			t.Errorf("option %d: reply %#x, want %#x", o.code, r.typ, o.want)
		}
	}
	// Meta contexts need structured replies first.
	c.option(optSetMetaContext, metaRequest{name: "1", queries: []string{baseAllocation}}.appendTo(nil))
	if r := c.optReply(); r.typ != repErrInvalid {
		t.Errorf("SET_META_CONTEXT before structured replies: %#x", r.typ)
	}
	// Too much option data: refused, and the haggling goes on.
	c.option(optInfo, make([]byte, maxOptionLen+1))
	if r := c.optReply(); r.typ != repErrTooBig {
		t.Errorf("oversized option: %#x", r.typ)
	}
	size, _ := c.goExportAfterGreeting("1")
	if size != 64<<10 {
		t.Errorf("size %d", size)
	}
}

func (c *client) goExportAfterGreeting(name string) (uint64, uint16) {
	c.t.Helper()
	c.option(optGo, infoRequest{name: name}.appendTo(nil))
	var size uint64
	var flags uint16
	for {
		r := c.optReply()
		if r.typ == repAck {
			return size, flags
		}
		if r.typ != repInfo {
			c.t.Fatalf("GO: %#x %s", r.typ, r.data)
		}
		if binary.BigEndian.Uint16(r.data) == infoExport {
			size, flags = binary.BigEndian.Uint64(r.data[2:]), binary.BigEndian.Uint16(r.data[10:])
		}
	}
}

func TestBadMagicClosesOnlyThatConnection(t *testing.T) {
	_, _, addr := memServer(t, 64<<10, 512)
	t.Run("option", func(t *testing.T) {
		c := dial(t, addr)
		c.greet(flagFixedNewstyle)
		c.write(bytes.Repeat([]byte{0xee}, optHeaderLen))
		c.expectClosed()
	})
	t.Run("request", func(t *testing.T) {
		c := dial(t, addr)
		c.goExport("1", true, false)
		b := request{typ: cmdRead, handle: 1, length: 512}.appendTo(nil)
		b[0] ^= 0xff
		c.write(b)
		c.expectClosed()
	})
	t.Run("client flags", func(t *testing.T) {
		c := dial(t, addr)
		c.greet(1 << 7)
		c.expectClosed()
	})
	t.Run("server still serves", func(t *testing.T) {
		c := dial(t, addr)
		c.goExport("1", true, false)
		c.request(cmdRead, 0, 1, 0, 512, nil)
		if r, _ := c.readReply(true, 512); r.errno != 0 {
			t.Fatalf("read: %v", r)
		}
	})
}

func TestRequestErrors(t *testing.T) {
	_, dev, addr := memServer(t, 64<<10, 512, func(s *Server) { s.MaxRequest = 8192 })
	c := dial(t, addr)
	c.goExport("1", true, false)
	cases := []struct {
		name  string
		typ   uint16
		flags uint16
		off   uint64
		n     uint32
		data  []byte
		errno uint32
	}{
		{"oversized read", cmdRead, 0, 0, 8193, nil, errInval},
		{"oversized write", cmdWrite, 0, 0, 16384, bytes.Repeat([]byte{0xaa}, 16384), errInval},
		{"read past the end", cmdRead, 0, 64<<10 - 512, 1024, nil, errInval},
		{"write past the end", cmdWrite, 0, 64 << 10, 512, make([]byte, 512), errNoSpc},
		{"offset overflow", cmdRead, 0, ^uint64(0), 512, nil, errInval},
		{"unknown command", 42, 0, 0, 0, nil, errInval},
		{"cache not advertised", cmdCache, 0, 0, 512, nil, errInval},
		{"unknown flag", cmdWrite, 1 << 9, 0, 512, make([]byte, 512), errInval},
		{"fast zero", cmdWriteZeroes, cmdFlagFastZero, 0, 512, nil, errNotSup},
		{"block status without a context", cmdBlockStatus, 0, 0, 512, nil, errInval},
	}
	for i, tc := range cases {
		c.request(tc.typ, tc.flags, uint64(i), tc.off, tc.n, tc.data)
		r := c.chunk()
		if r.handle != uint64(i) || r.typ != replyTypeError || r.errno != tc.errno || r.msg == "" || r.flags&replyFlagDone == 0 {
			t.Errorf("%s: %v, want errno %d with a message", tc.name, r, tc.errno)
		}
	}
	// The refused writes left nothing behind, and the stream is in step.
	if !bytes.Equal(dev.bytes(0, 16384), make([]byte, 16384)) {
		t.Error("a refused write changed the device")
	}
	c.request(cmdRead, 0, 99, 0, 512, nil)
	if r, data := c.readReply(true, 512); r.errno != 0 || r.handle != 99 || len(data) != 512 {
		t.Fatalf("read after the errors: %v", r)
	}
}

func TestReadOnly(t *testing.T) {
	_, dev, addr := memServer(t, 64<<10, 512, func(s *Server) { s.ReadOnly = true })
	c := dial(t, addr)
	_, flags := c.goExport("1", false, false)
	if flags&tfReadOnly == 0 || flags&(tfSendTrim|tfSendWriteZeroes) != 0 {
		t.Errorf("flags %#x", flags)
	}
	c.request(cmdWrite, 0, 1, 0, 512, bytes.Repeat([]byte{1}, 512))
	if r, _ := c.simpleReply(0); r.errno != errPerm {
		t.Errorf("write to a read-only export: errno %d", r.errno)
	}
	c.request(cmdRead, 0, 2, 0, 512, nil)
	if r, _ := c.simpleReply(512); r.errno != 0 {
		t.Errorf("read: errno %d", r.errno)
	}
	if !bytes.Equal(dev.bytes(0, 512), make([]byte, 512)) {
		t.Error("the write went through")
	}
}

func TestDisconnectMidRequest(t *testing.T) {
	_, dev, addr := memServer(t, 64<<10, 512)
	c := dial(t, addr)
	c.goExport("1", true, false)
	b := request{typ: cmdWrite, handle: 1, length: 4096}.appendTo(nil)
	c.write(append(b, bytes.Repeat([]byte{7}, 1000)...))
	c.nc.Close()
	// The server is unharmed and wrote nothing of the torn request.
	c2 := dial(t, addr)
	c2.goExport("1", true, false)
	c2.request(cmdRead, 0, 2, 0, 4096, nil)
	if r, data := c2.readReply(true, 4096); r.errno != 0 || !bytes.Equal(data, make([]byte, 4096)) {
		t.Fatalf("read after a torn write: %v", r)
	}
	_ = dev
}

// TestPipelined: requests are served concurrently. The device holds every
// read until four are in flight at once; served one at a time, they would
// never complete (the test would fail at the gate's timeout).
func TestPipelined(t *testing.T) {
	dev := newMemDevice(1<<20, 512)
	const depth = 4
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	dev.gate = func(context.Context) {
		mu.Lock()
		arrived++
		if arrived == depth {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(clientTimeout):
		}
	}
	_, _, addr := serveDevice(t, dev)
	c := dial(t, addr)
	c.goExport("1", true, false)
	for i := range depth {
		c.request(cmdRead, 0, uint64(i), uint64(i)*4096, 4096, nil)
	}
	select {
	case <-all:
	case <-time.After(clientTimeout):
		t.Fatal("the reads were not in flight together")
	}
	seen := map[uint64]bool{}
	for range depth {
		r, data := c.readReply(true, 4096)
		if r.errno != 0 || len(data) != 4096 {
			t.Fatalf("read: %v", r)
		}
		seen[r.handle] = true
	}
	if len(seen) != depth {
		t.Errorf("handles answered: %v", seen)
	}
}

// TestInFlightLimit: with a budget of two requests' bytes, no more than two
// reads reach the device at once, however many the client sends.
func TestInFlightLimit(t *testing.T) {
	dev := newMemDevice(1<<20, 512)
	release := make(chan struct{})
	dev.gate = func(context.Context) {
		select {
		case <-release:
		case <-time.After(clientTimeout):
		}
	}
	_, _, addr := serveDevice(t, dev, func(s *Server) { s.MaxInFlight = 2 * 65536 })
	c := dial(t, addr)
	c.goExport("1", true, false)
	const n = 8
	for i := range n {
		c.request(cmdRead, 0, uint64(i), uint64(i)*65536, 65536, nil)
	}
	// Wait until two are held by the device, give the server time to
	// (wrongly) start more, then let them all go.
	deadline := time.Now().Add(clientTimeout)
	for {
		dev.mu.Lock()
		in := dev.inFlight
		dev.mu.Unlock()
		if in >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	for range n {
		if r, _ := c.readReply(true, 65536); r.errno != 0 {
			t.Fatalf("read: %v", r)
		}
	}
	dev.mu.Lock()
	maxIn := dev.maxIn
	dev.mu.Unlock()
	if maxIn != 2 {
		t.Errorf("%d reads at the device at once, want 2", maxIn)
	}
}

func TestBlockStatus(t *testing.T) {
	_, dev, addr := memServer(t, 64<<10, 4096)
	// Blocks 2..4 mapped, the rest holes.
	dev.WriteAtContext(context.Background(), bytes.Repeat([]byte{1}, 3*4096), 2*4096)
	c := dial(t, addr)
	c.goExport("1", true, true)
	c.request(cmdBlockStatus, 0, 1, 0, 64<<10, nil)
	r := c.chunk()
	if r.typ != replyTypeBlockStatus || r.flags&replyFlagDone == 0 {
		t.Fatalf("block status: %v", r)
	}
	if got := descriptors(r.payload); got != "8192:3 12288:0 45056:3" {
		t.Errorf("extents %s", got)
	}
	// From the middle of a block, one descriptor only.
	c.request(cmdBlockStatus, cmdFlagReqOne, 2, 100, 20000, nil)
	if got := descriptors(c.chunk().payload); got != "8092:3" {
		t.Errorf("REQ_ONE extents %s", got)
	}
	// TRIM makes a hole; WRITE_ZEROES with NO_HOLE keeps blocks mapped
	// (WRITE SAME without UNMAP); without, it may deallocate.
	c.request(cmdTrim, 0, 3, 2*4096, 4096, nil)
	c.request(cmdWriteZeroes, cmdFlagNoHole, 4, 8*4096, 2*4096, nil)
	c.request(cmdWriteZeroes, cmdFlagFUA, 5, 3*4096, 4096, nil)
	for range 3 {
		if r := c.chunk(); r.errno != 0 {
			t.Fatalf("%v", r)
		}
	}
	c.request(cmdBlockStatus, 0, 6, 0, 64<<10, nil)
	if got := descriptors(c.chunk().payload); got != "16384:3 4096:0 12288:3 8192:0 24576:3" {
		t.Errorf("extents after trim and zeroes: %s", got)
	}
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if len(dev.sames) != 1 || dev.sames[0] != 0 || dev.zeroes != 1 || dev.syncs != 1 {
		t.Errorf("write sames %v, write zeroes %d, syncs %d", dev.sames, dev.zeroes, dev.syncs)
	}
}

// descriptors formats a block status payload as "length:flags ...".
func descriptors(p []byte) string {
	if len(p) < 4 || binary.BigEndian.Uint32(p) != baseAllocationID {
		return "bad context"
	}
	var s []string
	for p = p[4:]; len(p) >= 8; p = p[8:] {
		s = append(s, strings.Join([]string{itoa(binary.BigEndian.Uint32(p)), itoa(binary.BigEndian.Uint32(p[4:]))}, ":"))
	}
	return strings.Join(s, " ")
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func TestMultiConn(t *testing.T) {
	_, _, addr := memServer(t, 64<<10, 512)
	a, b := dial(t, addr), dial(t, addr)
	if _, f := a.goExport("1", true, false); f&tfCanMultiConn == 0 {
		t.Fatal("no CAN_MULTI_CONN")
	}
	b.goExport("", true, false)
	data := bytes.Repeat([]byte{0x5a}, 4096)
	a.request(cmdWrite, cmdFlagFUA, 1, 8192, 4096, data)
	if r := a.chunk(); r.errno != 0 {
		t.Fatal(r)
	}
	b.request(cmdRead, 0, 2, 8192, 4096, nil)
	if _, got := b.readReply(true, 4096); !bytes.Equal(got, data) {
		t.Fatal("a write acknowledged on one connection is not seen on the other")
	}
}

// TestShutdownAnswersInFlight: Shutdown lets a request being served finish
// and answers it before closing; Serve returns ErrServerClosed.
func TestShutdownAnswersInFlight(t *testing.T) {
	dev := newMemDevice(64<<10, 512)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	dev.gate = func(context.Context) {
		once.Do(func() { close(entered) })
		select {
		case <-release:
		case <-time.After(clientTimeout):
		}
	}
	srv := &Server{Exports: []Export{{Name: "x", Device: dev}}, Default: "x"}
	addr := start(t, srv)
	c := dial(t, addr)
	c.goExport("", true, false)
	c.request(cmdRead, 0, 1, 0, 512, nil)
	select {
	case <-entered:
	case <-time.After(clientTimeout):
		t.Fatal("read never reached the device")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	time.Sleep(10 * time.Millisecond)
	close(release)
	if r, data := c.readReply(true, 512); r.errno != 0 || len(data) != 512 {
		t.Fatalf("in-flight read: %v", r)
	}
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the listener still accepts")
	}
}

// TestShutdownDeadline: when Shutdown's context ends first, the requests
// still in flight are cancelled, the connections closed, and Shutdown
// returns the context's error.
func TestShutdownDeadline(t *testing.T) {
	dev := newMemDevice(64<<10, 512)
	entered := make(chan struct{})
	var once sync.Once
	dev.gate = func(ctx context.Context) {
		once.Do(func() { close(entered) })
		select {
		case <-ctx.Done():
		case <-time.After(clientTimeout):
		}
	}
	srv := &Server{Exports: []Export{{Name: "x", Device: dev}}, Default: "x"}
	c := dial(t, start(t, srv))
	c.goExport("", true, false)
	c.request(cmdRead, 0, 1, 0, 512, nil)
	select {
	case <-entered:
	case <-time.After(clientTimeout):
		t.Fatal("read never reached the device")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	// The cancelled read may or may not have been answered (ESHUTDOWN)
	// before the connection closed; then nothing more comes.
	c.nc.SetReadDeadline(time.Now().Add(clientTimeout))
	rest, _ := io.ReadAll(c.nc)
	if len(rest) != 0 {
		ok := len(rest) >= 26 && binary.BigEndian.Uint16(rest[6:]) == replyTypeError &&
			int(binary.BigEndian.Uint32(rest[16:])) == len(rest)-20 && binary.BigEndian.Uint32(rest[20:]) == errShutdown
		if !ok {
			t.Errorf("after the abort the server sent % x, want nothing or one ESHUTDOWN", rest)
		}
	}
}
