//go:build linux && !386

package blocksock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
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
// with os.ErrDeadlineExceeded (within Tick), and a past deadline ends
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
	released := c.fdClosed.Load()
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

// waitQuiet waits until no reader blocks a thread (a reader goes quiet
// after a Tick with nothing; the bound only ends a test that failed).
func waitQuiet(t *testing.T) {
	t.Helper()
	for start := time.Now(); blocked.Load() > 0; time.Sleep(Tick) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%d readers still block a thread each", blocked.Load())
		}
	}
}

// TestQuietReaders: readers that find nothing for a while go quiet: none
// of 300 idle connections' readers blocks a thread any more. Each then gets its data, and a
// quiet reader's deadline ends its read, as does Close.
func TestQuietReaders(t *testing.T) {
	const n = 300
	conns := make([]*Conn, n)
	peers := make([]net.Conn, n)
	for i := range conns {
		conns[i], peers[i] = pair(t)
	}
	got := make(chan error, n)
	for i, c := range conns {
		go func() {
			p := make([]byte, 4)
			_, err := io.ReadFull(c, p)
			if err == nil && string(p) != fmt.Sprintf("%04d", i) {
				err = fmt.Errorf("conn %d read %q", i, p)
			}
			got <- err
		}()
	}
	waitQuiet(t)
	for i, p := range peers {
		if _, err := fmt.Fprintf(p, "%04d", i); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	}

	// A quiet reader's deadline, then Close.
	c := conns[0]
	c.SetReadDeadline(time.Now().Add(5 * Tick))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("quiet read with a deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(2 * Tick) // the read blocks, then goes quiet
	waitQuiet(t)
	c.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("quiet read after Close: %v", err)
	}
}

// TestMaxBlocked: no more than maxBlocked readers block a thread at once;
// the others wait in the poller, and all get their data.
func TestMaxBlocked(t *testing.T) {
	defer maxBlocked.Store(maxBlocked.Load())
	maxBlocked.Store(2)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		c, srv := pair(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 3)
			for j := range 30 {
				if _, err := io.ReadFull(c, p); err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("%d%02d", i, j); string(p) != want {
					errs <- fmt.Errorf("read %q, want %q", p, want)
					return
				}
			}
		}()
		go func() {
			for j := range 30 {
				time.Sleep(time.Millisecond)
				if _, err := fmt.Fprintf(srv, "%d%02d", i, j); err != nil {
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		if b := blocked.Load(); b > 2 {
			t.Fatalf("%d readers block a thread, at most 2 may", b)
		}
		select {
		case <-done:
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			return
		case <-time.After(100 * time.Microsecond):
		}
	}
}

// TestQuietUntilBusy: a quiet reader that gets a byte now and then (a
// keepalive) stays quiet, holding no thread; one whose data comes right
// after it begins to wait (a ping-pong) blocks in read(2) again.
func TestQuietUntilBusy(t *testing.T) {
	c, srv := pair(t)
	echo := make(chan error, 1)
	go func() {
		p := make([]byte, 1)
		for {
			if _, err := c.Read(p); err != nil {
				echo <- err
				return
			}
			if _, err := c.Write(p); err != nil {
				echo <- err
				return
			}
		}
	}()
	time.Sleep(3 * Tick) // the reader blocks, then goes quiet
	waitQuiet(t)
	p := make([]byte, 1)
	for i := range 5 {
		time.Sleep(4 * Busy)
		if _, err := srv.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(srv, p); err != nil || p[0] != byte(i) {
			t.Fatalf("echo %v, %v", p, err)
		}
		time.Sleep(4 * Busy)
		if b := blocked.Load(); b != 0 {
			t.Fatalf("after a keepalive-like byte, %d readers block a thread", b)
		}
	}
	// Ping-pong: each byte answers the echo of the one before.
	sawBlocked := false
	for i := 0; i < 20000 && !sawBlocked; i++ {
		if _, err := srv.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(srv, p); err != nil {
			t.Fatal(err)
		}
		sawBlocked = blocked.Load() > 0
	}
	if !sawBlocked {
		t.Fatal("a busy reader never blocked in read(2) again")
	}
	c.Close()
	if err := <-echo; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("reader ended with %v", err)
	}
}

// TestCloseWhileBusy: Close while a read and a write (one of each at a
// time, as a Conn allows) are under way and new ones start ends them all with net.ErrClosed (or the peer's EOF), and the
// descriptor is closed once, after the last of them.
func TestCloseWhileBusy(t *testing.T) {
	for range 30 {
		c, srv := pair(t)
		go func() { _, _ = io.Copy(io.Discard, srv) }()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				p := make([]byte, 512)
				for {
					var err error
					if g%2 == 0 {
						_, err = c.Read(p)
					} else {
						_, err = c.Write(p)
					}
					if err != nil {
						if !errors.Is(err, net.ErrClosed) && err != io.EOF {
							t.Errorf("after Close: %v", err)
						}
						return
					}
				}
			}()
		}
		close(start)
		time.Sleep(time.Millisecond)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
		wg.Wait()
		if !c.fdClosed.Load() {
			t.Fatal("descriptor still open after Close and the last read and write")
		}
		if c.state.Load() != closedBit {
			t.Fatalf("state %#x after all ended, want closed with no users", c.state.Load())
		}
	}
}

// TestReadWaitAll: ReadWaitAll returns a buffer that comes in pieces in one
// call (a busy reader waits for all of it in the kernel), and a peer that
// stops short (closes, or sends no more before the deadline) gets the
// caller what came, then the error.
func TestReadWaitAll(t *testing.T) {
	c, srv := pair(t)
	pieces := [][]byte{bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 2000), bytes.Repeat([]byte{3}, 3000)}
	want := bytes.Join(pieces, nil)
	// The pieces come 2 ms apart, well within a Tick; on a machine so
	// loaded that a gap passes a Tick the call returns early, so a few
	// attempts are allowed, each checking the bytes.
	whole := false
	for attempt := 0; attempt < 5 && !whole; attempt++ {
		done := make(chan error, 1)
		go func() {
			for _, p := range pieces {
				if _, err := srv.Write(p); err != nil {
					done <- err
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			done <- nil
		}()
		got := make([]byte, len(want))
		n, err := c.ReadWaitAll(got)
		if err != nil {
			t.Fatal(err)
		}
		whole = n == len(want)
		if _, err := io.ReadFull(c, got[n:]); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("attempt %d: bytes differ", attempt)
		}
	}
	if !whole {
		t.Fatal("ReadWaitAll never returned the whole buffer in one call")
	}

	// The deadline: what came is returned, then the deadline's error.
	if _, err := srv.Write(pieces[0]); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * Tick))
	got := make([]byte, len(want))
	n, err := c.ReadWaitAll(got)
	if err != nil || n != len(pieces[0]) || !bytes.Equal(got[:n], pieces[0]) {
		t.Fatalf("ReadWaitAll with the peer silent: %d bytes, %v; want %d bytes", n, err, len(pieces[0]))
	}
	deadline := time.After(10 * time.Second)
	for err == nil {
		select {
		case <-deadline:
			t.Fatal("the read deadline never ended ReadWaitAll")
		default:
		}
		_, err = c.ReadWaitAll(got)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadWaitAll after the deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})

	// The peer closes after part of the buffer: that part, then EOF.
	if _, err := srv.Write(pieces[1]); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	n, err = c.ReadWaitAll(got)
	if err != nil || n != len(pieces[1]) || !bytes.Equal(got[:n], pieces[1]) {
		t.Fatalf("ReadWaitAll before the peer's close: %d bytes, %v; want %d bytes", n, err, len(pieces[1]))
	}
	if _, err := c.ReadWaitAll(got); err != io.EOF {
		t.Fatalf("ReadWaitAll after the peer's close: %v, want io.EOF", err)
	}
}

// TestCloseWakesReadWaitAll: a ReadWaitAll waiting in the kernel for the
// rest of its buffer (the peer sent part and stopped) ends at Close with
// the part that came, or net.ErrClosed; the next call fails with
// net.ErrClosed.
func TestCloseWakesReadWaitAll(t *testing.T) {
	c, srv := pair(t)
	if _, err := srv.Write(bytes.Repeat([]byte{4}, 1000)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		n, err := c.ReadWaitAll(make([]byte, 64<<10))
		res <- result{n, err}
	}()
	time.Sleep(Tick / 4) // let it wait (not a bound: either outcome below is checked)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if !(r.err == nil && r.n == 1000) && !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("ReadWaitAll at Close: %d bytes, %v; want the 1000 that came or net.ErrClosed", r.n, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a waiting ReadWaitAll")
	}
	if _, err := c.ReadWaitAll(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadWaitAll after Close: %v, want net.ErrClosed", err)
	}
}

// TestReadMark: a busy reader waiting with a mark is woken when that many
// bytes are queued, not at the first piece; bytes already queued come at
// once; a shorter message comes after a Tick at most; the mark stays for
// the next ReadMark, and a Read that has to wait, or a reader going quiet,
// lowers it (a quiet reader's poller would not be woken below it).
func TestReadMark(t *testing.T) {
	c, srv := pair(t)
	markNow := func() int {
		t.Helper()
		v, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	write := func(b []byte) {
		t.Helper()
		if _, err := srv.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel's estimate of the segment size starts at 536 bytes and
	// grows with the segments that come: 256 KiB first, in one write.
	go srv.Write(make([]byte, 256<<10))
	if _, err := io.ReadFull(c, make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	mss := c.rcvMSS()
	if mss < 4<<10 {
		t.Fatalf("the loopback's segments are %d bytes after 256 KiB; want 4 KiB or more", mss)
	}
	// A mark above two segments is capped at two.
	write([]byte("ten bytes!"))
	time.Sleep(Tick / 4)
	if n, err := c.ReadMark(make([]byte, 10), 8*mss); n != 10 || err != nil {
		t.Fatalf("ReadMark of 10 queued bytes: %d, %v", n, err)
	}
	if v := markNow(); v != 2*mss {
		t.Fatalf("SO_RCVLOWAT %d after a mark of 8 segments, want two segments: %d", v, 2*mss)
	}
	mark := min(64<<10, 2*mss)
	big := bytes.Repeat([]byte{5}, mark)

	// Woken at the mark: 1000 bytes, then the rest 2 ms later (within a
	// Tick; a few attempts allow for a machine that is slower than that).
	whole := false
	for attempt := 0; attempt < 5 && !whole; attempt++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.Write(big[:1000])
			time.Sleep(2 * time.Millisecond)
			srv.Write(big[1000:])
		}()
		got := make([]byte, mark)
		n, err := c.ReadMark(got, mark)
		if err != nil {
			t.Fatal(err)
		}
		whole = n == mark
		if _, err := io.ReadFull(c, got[n:]); err != nil {
			t.Fatal(err)
		}
		<-done
		if !bytes.Equal(got, big) {
			t.Fatalf("attempt %d: bytes differ", attempt)
		}
	}
	if !whole {
		t.Fatal("ReadMark never waited for its mark")
	}

	// A read of no more than is queued returns it; the mark stays.
	write([]byte("queued"))
	time.Sleep(Tick / 4)
	p := make([]byte, 100)
	n, err := c.ReadMark(p[:len("queued")], mark)
	if err != nil || string(p[:n]) != "queued" {
		t.Fatalf("ReadMark of queued bytes: %q, %v", p[:n], err)
	}
	if v := markNow(); v != mark {
		t.Fatalf("SO_RCVLOWAT %d after ReadMark, want %d", v, mark)
	}

	// A short message while waiting at the mark: late by a Tick at most.
	go func() {
		time.Sleep(Tick / 4)
		srv.Write([]byte("short"))
	}()
	n, err = c.ReadMark(p, mark)
	if err != nil || string(p[:n]) != "short" {
		t.Fatalf("ReadMark of a short message: %q, %v", p[:n], err)
	}

	// A Read that has to wait lowers the mark.
	go func() {
		time.Sleep(Tick / 4)
		srv.Write([]byte("plain"))
	}()
	n, err = c.Read(p)
	if err != nil || string(p[:n]) != "plain" {
		t.Fatalf("Read after ReadMark: %q, %v", p[:n], err)
	}
	if v := markNow(); v != 1 {
		t.Fatalf("SO_RCVLOWAT %d after a Read that waited, want 1", v)
	}

	// Nothing for longer than a Tick: the reader goes quiet, the mark goes
	// down, and the poller wakes it for a short message.
	go func() {
		time.Sleep(3 * Tick)
		srv.Write([]byte("late"))
	}()
	res := make(chan string, 1)
	go func() {
		n, err := c.ReadMark(p, mark)
		res <- fmt.Sprintf("%s %v", p[:n], err)
	}()
	select {
	case r := <-res:
		if r != "late <nil>" {
			t.Fatalf("quiet ReadMark: %s", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a quiet reader waiting with a mark was never woken")
	}
	if v := markNow(); v != 1 {
		t.Fatalf("SO_RCVLOWAT %d after the reader went quiet, want 1", v)
	}
}

// TestReadNap: a busy reader's ReadNap returns what was queued, or came
// during its nap, after the nap, and, when nothing came, waits
// as ReadMark does (the bytes come when sent, a short message after a
// Tick at most); the nap stays between its bounds, shrinking when it found
// the mark's worth and growing when it did not.
func TestReadNap(t *testing.T) {
	c, srv := pair(t)
	write := func(b []byte) {
		t.Helper()
		if _, err := srv.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	p := make([]byte, 64<<10)

	// Queued: after the nap, which found the mark's worth and shrinks.
	write(bytes.Repeat([]byte{1}, 3000))
	time.Sleep(Tick / 4)
	n, err := c.ReadNap(p, 2000)
	if err != nil || n != 3000 {
		t.Fatalf("ReadNap of 3000 queued bytes: %d, %v", n, err)
	}
	if c.nap >= napStart || c.nap < napMin {
		t.Fatalf("nap %v after it found the mark's worth, want below %v and at least %v", c.nap, napStart, napMin)
	}

	// Nothing for a while: the nap finds nothing and grows, and the read
	// waits in the kernel for the mark, or a Tick with less.
	before := c.nap
	go func() {
		time.Sleep(Tick / 4)
		srv.Write([]byte("short"))
	}()
	n, err = c.ReadNap(p, 2000)
	if err != nil || string(p[:n]) != "short" {
		t.Fatalf("ReadNap of a short message: %q, %v", p[:n], err)
	}
	if c.nap <= before || c.nap > napMax {
		t.Fatalf("nap %v after it found nothing, want above %v and at most %v", c.nap, before, napMax)
	}

	// Many naps that find nothing (the bytes come 5 ms after each read
	// begins): the nap grows to napMax and stops there (a few may find
	// the bytes on a loaded machine, so at least half of it).
	for i := 0; i < 40; i++ {
		go func() {
			time.Sleep(5 * time.Millisecond)
			srv.Write([]byte{byte(i), byte(i)})
		}()
		if n, err := io.ReadAtLeast(napReader{c}, p[:2], 2); err != nil || n != 2 || p[1] != byte(i) {
			t.Fatalf("ReadNap %d: %d bytes, %v", i, n, err)
		}
	}
	if c.nap < napMax/2 || c.nap > napMax {
		t.Fatalf("nap %v after 40 naps that found nothing, want %v (at least half)", c.nap, napMax)
	}
}

// napReader reads with ReadNap at a mark of 2 bytes.
type napReader struct{ c *Conn }

func (r napReader) Read(p []byte) (int, error) { return r.c.ReadNap(p, 2) }

// TestNapLeavesAP: with as many readers napping as there are Ps but one,
// another ReadNap does not nap (its nap is left as it was) and still
// returns the bytes that come.
func TestNapLeavesAP(t *testing.T) {
	c, srv := pair(t)
	busy := int32(runtime.GOMAXPROCS(0) - 1)
	napping.Add(busy)
	defer napping.Add(-busy)
	go func() {
		time.Sleep(time.Millisecond)
		srv.Write([]byte("ab"))
	}()
	p := make([]byte, 10)
	n, err := io.ReadAtLeast(napReader{c}, p, 2)
	if err != nil || string(p[:n]) != "ab" {
		t.Fatalf("ReadNap with no P to spare: %q, %v", p[:n], err)
	}
	if c.nap != 0 {
		t.Fatalf("nap %v with no P to spare, want none taken (0)", c.nap)
	}
}

// TestCloseWakesReadMark: a ReadMark or ReadNap waiting in the kernel for
// its mark (part of the bytes came) ends at Close with what came, or
// net.ErrClosed.
func TestCloseWakesReadMark(t *testing.T) {
	for _, nap := range []bool{false, true} {
		c, srv := pair(t)
		if _, err := srv.Write(bytes.Repeat([]byte{6}, 100)); err != nil {
			t.Fatal(err)
		}
		type result struct {
			n   int
			err error
		}
		res := make(chan result, 1)
		go func() {
			p := make([]byte, 64<<10)
			var r result
			if nap {
				r.n, r.err = c.ReadNap(p, 32<<10)
			} else {
				r.n, r.err = c.ReadMark(p, 32<<10)
			}
			res <- r
		}()
		time.Sleep(Tick / 4) // let it wait (not a bound: either outcome below is checked)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-res:
			if !(r.err == nil && r.n == 100) && !errors.Is(r.err, net.ErrClosed) {
				t.Fatalf("nap %v: read at Close: %d bytes, %v; want the 100 that came or net.ErrClosed", nap, r.n, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("nap %v: Close did not end a read waiting at its mark", nap)
		}
	}
}
