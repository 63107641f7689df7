package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes every connection until the client closes its side,
// then closes. It stops at test cleanup, goroutines included.
type echoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startEcho(t *testing.T, network, addr string) *echoServer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) Addr() string { return e.ln.Addr().String() }

func newProxy(t *testing.T, target string, opts ...Option) *Proxy {
	t.Helper()
	p, err := New(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second)) // nothing in these tests may hang
	return c
}

// refused connects to p and reads until an error: a reset arriving before
// connect returned fails the dial itself.
func refused(t *testing.T, p *Proxy) error {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = readAll(c)
	return err
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// readAll reads until EOF or an error and returns what arrived.
func readAll(c net.Conn) ([]byte, error) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	return buf.Bytes(), err
}

func TestForward(t *testing.T) {
	for _, tc := range []struct{ name, network, addr string }{
		{"ipv4", "tcp4", "127.0.0.1:0"},
		{"ipv6", "tcp6", "[::1]:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.network == "tcp6" {
				if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				} else {
					l.Close()
				}
			}
			e := startEcho(t, tc.network, tc.addr)
			p := newProxy(t, e.Addr())
			if host, _, _ := net.SplitHostPort(p.Addr()); (tc.network == "tcp6") != (net.ParseIP(host).To4() == nil) {
				t.Errorf("proxy listens on %s for target %s: wrong family", p.Addr(), e.Addr())
			}
			data := pattern(100 << 10)
			for n := 0; n < 2; n++ {
				c := dial(t, p)
				go c.Write(data)
				got := make([]byte, len(data))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatal("echo through the proxy differs")
				}
				c.Close()
				pc, err := p.WaitConn(ctx(t), n)
				if err != nil {
					t.Fatal(err)
				}
				if err := pc.Wait(ctx(t)); !errors.Is(err, io.EOF) {
					t.Errorf("connection %d ended with %v, want io.EOF (both peers closed)", n, err)
				}
				if pc.Up().Forwarded() != int64(len(data)) || pc.Down().Forwarded() != int64(len(data)) {
					t.Errorf("connection %d forwarded up %d down %d, want %d each", n, pc.Up().Forwarded(), pc.Down().Forwarded(), len(data))
				}
			}
			if p.Accepted() != 2 || len(p.Conns()) != 2 {
				t.Errorf("Accepted() = %d, %d Conns, want 2", p.Accepted(), len(p.Conns()))
			}
			if p.Bytes(Up) != 2*int64(len(data)) || p.Bytes(Down) != 2*int64(len(data)) {
				t.Errorf("Bytes up %d down %d, want %d each", p.Bytes(Up), p.Bytes(Down), 2*len(data))
			}
		})
	}
}

func TestCutAt(t *testing.T) {
	for _, reset := range []bool{false, true} {
		name := "cut"
		if reset {
			name = "reset"
		}
		t.Run(name, func(t *testing.T) {
			e := startEcho(t, "tcp", "127.0.0.1:0")
			p := newProxy(t, e.Addr())
			const at = 1000
			p.OnAccept(func(c *Conn) {
				if reset {
					c.Down().ResetAt(at)
				} else {
					c.Down().CutAt(at)
				}
			})
			c := dial(t, p)
			if _, err := c.Write(pattern(5000)); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(c)
			pc := p.Conn(0)
			if err := pc.Wait(ctx(t)); !errors.Is(err, map[bool]error{false: ErrCut, true: ErrReset}[reset]) {
				t.Errorf("Err() = %v", err)
			}
			if pc.Down().Forwarded() != at {
				t.Errorf("down forwarded %d bytes, want %d", pc.Down().Forwarded(), at)
			}
			if reset {
				// An RST may discard what the client had not read yet.
				if !errors.Is(err, syscall.ECONNRESET) || len(got) > at {
					t.Errorf("client read %d bytes then %v, want at most %d then ECONNRESET", len(got), err, at)
				}
			} else if err != nil || !bytes.Equal(got, pattern(5000)[:at]) {
				t.Errorf("client read %d bytes then %v, want exactly the first %d then EOF", len(got), err, at)
			}
		})
	}
}

func TestCutNowAndAll(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p := newProxy(t, e.Addr())
	c0, c1, c2 := dial(t, p), dial(t, p), dial(t, p)
	for _, c := range []net.Conn{c0, c1, c2} {
		c.Write([]byte("x"))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	p.Conn(0).Cut()
	p.Conn(1).Down().CutAt(1) // already reached: cuts now
	p.Conn(2).Reset()
	for k, c := range []net.Conn{c0, c1, c2} {
		_, err := readAll(c)
		want := []error{nil, nil, syscall.ECONNRESET}[k]
		if !errors.Is(err, want) {
			t.Errorf("conn %d: client read ended with %v, want %v", k, err, want)
		}
	}
	d := dial(t, p)
	d.Write([]byte("y"))
	if _, err := io.ReadFull(d, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	p.CutAll()
	if _, err := readAll(d); err != nil {
		t.Errorf("after CutAll: %v, want EOF", err)
	}
	for k, pc := range p.Conns() {
		want := []error{ErrCut, ErrCut, ErrReset, ErrCut}[k]
		if err := pc.Wait(ctx(t)); !errors.Is(err, want) {
			t.Errorf("conn %d: Err() = %v, want %v", k, err, want)
		}
	}
}

func TestFlipBit(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p := newProxy(t, e.Addr(), BufferSize(1024)) // flips across chunks
	p.OnAccept(func(c *Conn) {
		c.Down().FlipBit(10, 3)
		c.Down().FlipBit(5000, 8) // bit mod 8: bit 0
		c.Up().FlipBit(7000, 7)
	})
	c := dial(t, p)
	data := pattern(8000)
	go c.Write(data)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), data...)
	want[10] ^= 1 << 3
	want[5000] ^= 1
	want[7000] ^= 1 << 7
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("byte %d: got %#x want %#x (sent %#x)", i, got[i], want[i], data[i])
			}
		}
	}
	pc := p.Conn(0)
	if pc.Down().Flipped() != 2 || pc.Up().Flipped() != 1 {
		t.Errorf("Flipped down %d up %d, want 2 and 1", pc.Down().Flipped(), pc.Up().Flipped())
	}
	if pc.Down().FlipBit(100, 0) {
		t.Error("FlipBit at an offset already forwarded reported true")
	}
	if !pc.Down().FlipBit(8000, 0) {
		t.Error("FlipBit at the next offset reported false")
	}
	c.Write([]byte{0x10})
	if _, err := io.ReadFull(c, got[:1]); err != nil || got[0] != 0x11 {
		t.Errorf("next byte after FlipBit(8000, 0): %#x, %v; want 0x11", got[0], err)
	}
}

func TestStall(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p := newProxy(t, e.Addr())
	p.OnAccept(func(c *Conn) { c.Down().StallAt(100, 0) })
	c := dial(t, p)
	data := pattern(300)
	c.Write(data)
	got := make([]byte, 300)
	if _, err := io.ReadFull(c, got[:100]); err != nil {
		t.Fatal(err)
	}
	pc := p.Conn(0)
	if err := pc.Down().WaitHeld(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if pc.Down().Forwarded() != 100 || pc.Down().Held() == 0 {
		t.Errorf("stalled at 100: forwarded %d, held %d", pc.Down().Forwarded(), pc.Down().Held())
	}
	// Nothing more arrives while stalled (the sockets stay open).
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.Read(got[100:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during a stall: %d bytes, %v; want a timeout", n, err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	pc.Release()
	if _, err := io.ReadFull(c, got[100:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("data after a stall differs")
	}

	// A timed stall ends by itself; WaitForwarded sees it through.
	pc.Down().Stall(30 * time.Millisecond)
	start := time.Now()
	c.Write([]byte("abc"))
	if err := pc.Down().WaitForwarded(ctx(t), 303); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("a 30 ms stall let data through after %v", d)
	}
	if _, err := io.ReadFull(c, got[:3]); err != nil || string(got[:3]) != "abc" {
		t.Errorf("after a timed stall: %q, %v", got[:3], err)
	}
}

// fillUntilBlocked writes to c until a write makes no progress for 200 ms
// and returns how many bytes were written. It fails the test past limit.
func fillUntilBlocked(t *testing.T, c net.Conn, limit int) int {
	t.Helper()
	chunk := make([]byte, 64<<10)
	total := 0
	for total < limit {
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Write(chunk)
		total += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.SetWriteDeadline(time.Time{})
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("wrote %d bytes without blocking", total)
	return 0
}

func TestStopReading(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p := newProxy(t, e.Addr())
	c := dial(t, p)
	c.Write([]byte("hello"))
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	pc := p.Conn(0)
	if err := pc.Up().WaitForwarded(ctx(t), 5); err != nil {
		t.Fatal(err)
	}
	pc.Up().StopReading() // the pump sits in Read: the kick must stop it
	written := fillUntilBlocked(t, c, 64<<20)
	if f := pc.Up().Forwarded(); f != 5 {
		t.Errorf("forwarded %d bytes up while reading was stopped, want 5", f)
	}
	var got int64
	done := make(chan error, 1)
	go func() {
		n, err := io.CopyN(io.Discard, c, int64(written))
		got = n
		done <- err
	}()
	pc.Up().ResumeReading()
	if err := <-done; err != nil {
		t.Fatalf("read back %d of %d bytes: %v", got, written, err)
	}
	// The counter moves after the write returns, maybe after the echo.
	if err := pc.Up().WaitForwarded(ctx(t), int64(5+written)); err != nil {
		t.Error(err)
	}
	if pc.Up().Forwarded() != int64(5+written) {
		t.Errorf("forwarded %d, want %d", pc.Up().Forwarded(), 5+written)
	}
	t.Logf("client wrote %d bytes before blocking", written)
}

func TestDelayAndMaxChunk(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p := newProxy(t, e.Addr())
	p.OnAccept(func(c *Conn) {
		c.Down().MaxChunk(1)
		c.Down().Delay(2 * time.Millisecond)
	})
	c := dial(t, p)
	data := pattern(20)
	start := time.Now()
	c.Write(data)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("20 one-byte chunks delayed 2 ms each arrived after %v", d)
	}
	if !bytes.Equal(got, data) {
		t.Error("data through small delayed chunks differs")
	}
}

func TestDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p := newProxy(t, dead)
	if err := refused(t, p); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client of an unreachable target: %v, want a reset", err)
	}
	pc, err := p.WaitConn(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Wait(ctx(t)); !errors.Is(err, ErrDial) {
		t.Errorf("Err() = %v, want ErrDial", err)
	}
	if p.DialFailures() != 1 {
		t.Errorf("DialFailures() = %d, want 1", p.DialFailures())
	}
	// SetTarget: the next connection reaches a live target.
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p.SetTarget(e.Addr())
	c := dial(t, p)
	c.Write([]byte("ok"))
	if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
}

func TestOnAcceptRefusesFirst(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p := newProxy(t, e.Addr())
	p.OnAccept(func(c *Conn) {
		if c.Index() == 0 {
			c.Reset()
		}
	})
	if err := refused(t, p); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("refused connection: %v, want ECONNRESET", err)
	}
	c := dial(t, p)
	c.Write([]byte("ok"))
	if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	if p.Accepted() != 2 {
		t.Errorf("Accepted() = %d, want 2", p.Accepted())
	}
}

func TestHalfClose(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p := newProxy(t, e.Addr())
	c := dial(t, p)
	c.Write([]byte("bye"))
	c.(*net.TCPConn).CloseWrite()
	got, err := readAll(c)
	if err != nil || string(got) != "bye" {
		t.Errorf("after half-close: %q, %v; want \"bye\" then EOF", got, err)
	}
	if err := p.Conn(0).Wait(ctx(t)); !errors.Is(err, io.EOF) {
		t.Errorf("Err() = %v, want io.EOF", err)
	}
}

// TestCloseUnblocksEverything: Close returns with connections stalled
// holding data, not reading with a writer blocked, and delayed by an hour;
// every connection ends with ErrClosed and goleak finds nothing left.
func TestCloseUnblocksEverything(t *testing.T) {
	e := startEcho(t, "tcp", "127.0.0.1:0")
	p, err := New(e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p.OnAccept(func(c *Conn) {
		switch c.Index() {
		case 0:
			c.Stall(0)
		case 1:
			c.Up().StopReading()
		case 2:
			c.Down().Delay(time.Hour)
		}
	})
	clients := []net.Conn{dial(t, p), dial(t, p), dial(t, p)}
	for _, c := range clients {
		c.Write([]byte("data"))
	}
	pc0, _ := p.WaitConn(ctx(t), 0)
	if err := pc0.Up().WaitHeld(ctx(t)); err != nil {
		t.Fatal(err)
	}
	pc1, _ := p.WaitConn(ctx(t), 1)
	pc2, _ := p.WaitConn(ctx(t), 2)
	if err := pc2.Up().WaitForwarded(ctx(t), 4); err != nil {
		t.Fatal(err)
	}
	fillUntilBlocked(t, clients[1], 64<<20)

	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, pc := range []*Conn{pc0, pc1, pc2} {
		select {
		case <-pc.Done():
		default:
			t.Errorf("%v not done after Close", pc)
		}
		if !errors.Is(pc.Err(), ErrClosed) {
			t.Errorf("%v: Err() = %v, want ErrClosed", pc, pc.Err())
		}
	}
	if _, err := p.WaitConn(ctx(t), 5); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitConn after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("proxy still accepts after Close")
	}
}

func TestNewBadTarget(t *testing.T) {
	if _, err := New("no-port"); err == nil {
		t.Error("New with a target without a port succeeded")
	}
}

func TestDirectionString(t *testing.T) {
	if Up.String() != "up" || Down.String() != "down" || Direction(7).String() != "Direction(7)" {
		t.Errorf("Direction strings: %v %v %v", Up, Down, Direction(7))
	}
}
