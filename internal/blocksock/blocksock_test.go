//go:build linux && !386

package blocksock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns a blocking Conn and the net.Conn of its peer.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var srv net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv, _ = ln.Accept()
	}()
	nc, err := Dial(context.Background(), nil, "tcp", ln.Addr().String())
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if srv == nil {
		t.Fatal("accept failed")
	}
	c, ok := nc.(*Conn)
	if !ok {
		t.Fatalf("Dial returned %T, want *Conn", nc)
	}
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c, srv
}

// TestReadWrite: bytes go both ways, WriteBuffers sends every buffer in
// order, and the addresses are the socket's.
func TestReadWrite(t *testing.T) {
	c, srv := pair(t)
	if c.RemoteAddr().String() != srv.LocalAddr().String() || c.LocalAddr().String() != srv.RemoteAddr().String() {
		t.Fatalf("addresses %v -> %v, peer %v -> %v", c.LocalAddr(), c.RemoteAddr(), srv.LocalAddr(), srv.RemoteAddr())
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than the socket holds
	bufs := net.Buffers{[]byte("head"), nil, big, []byte("tail")}
	errc := make(chan error, 1)
	go func() {
		n, err := c.WriteBuffers(&bufs)
		if err == nil && n != int64(8+len(big)) {
			err = errors.New("short WriteBuffers")
		}
		errc <- err
	}()
	got := make([]byte, 8+len(big))
	if _, err := io.ReadFull(srv, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if string(got[:4]) != "head" || !bytes.Equal(got[4:4+len(big)], big) || string(got[4+len(big):]) != "tail" {
		t.Fatal("WriteBuffers sent other bytes")
	}
	if len(bufs) != 0 {
		t.Fatalf("%d buffers left after WriteBuffers", len(bufs))
	}
	if _, err := srv.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4)
	if _, err := io.ReadFull(c, p); err != nil || string(p) != "pong" {
		t.Fatalf("read %q, %v", p, err)
	}
	srv.Close()
	if n, err := c.Read(p); n != 0 || err != io.EOF {
		t.Fatalf("after the peer closed: %d, %v; want 0, EOF", n, err)
	}
}

// TestDeadlineWakesRead: a read deadline set while a read waits ends it
// with os.ErrDeadlineExceeded (within IdleTick), and a past deadline ends
// the next read at once; clearing it lets reads wait again.
func TestDeadlineWakesRead(t *testing.T) {
	c, srv := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(2 * Tick) // let the read block (not a bound: the result is the same either way)
	c.SetReadDeadline(time.Now())
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read ended with %v, want the deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a passed deadline did not end the blocked read")
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	if _, err := srv.Write([]byte{7}); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 1)
	if _, err := c.Read(p); err != nil || p[0] != 7 {
		t.Fatalf("read %v, %v after clearing the deadline", p, err)
	}
}

// TestCloseWakesRead: Close ends a blocked read with net.ErrClosed, and
// later calls fail the same way; the descriptor is released.
func TestCloseWakesRead(t *testing.T) {
	c, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(2 * Tick)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the blocked read")
	}
	if _, err := c.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	c.mu.Lock()
	released := c.fdClosed
	c.mu.Unlock()
	if !released {
		t.Fatal("descriptor still open after Close with no read or write left")
	}
}

// TestWriteDeadline: a write into a full socket (the peer reads nothing)
// ends at its deadline.
func TestWriteDeadline(t *testing.T) {
	c, _ := pair(t)
	c.SetWriteDeadline(time.Now().Add(3 * Tick))
	_, err := c.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write into a full socket: %v, want the deadline", err)
	}
}

// TestRawWriteNeverWaits: the raw Write (the non-blocking kind) does not
// wait for a write under way: it returns without calling its function.
func TestRawWriteNeverWaits(t *testing.T) {
	c, _ := pair(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	c.wmu.Lock() // a write under way
	called := false
	err = rc.Write(func(uintptr) bool { called = true; return true })
	c.wmu.Unlock()
	if err != nil || called {
		t.Fatalf("raw Write during another write: called %v, err %v; want not called, nil", called, err)
	}
	if err := rc.Write(func(uintptr) bool { called = true; return true }); err != nil || !called {
		t.Fatalf("raw Write: called %v, err %v", called, err)
	}
}
