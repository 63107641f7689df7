//go:build linux && !386

package blocksock

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a connected TCP socket in blocking mode. It is safe for one
// reader and one writer at a time (writes are serialized).
type Conn struct {
	fd           int
	laddr, raddr net.Addr
	rdl, wdl     atomic.Int64 // deadlines, Unix nanoseconds; 0: none

	// state: closedBit once Close began, plus the reads, writes and
	// Close using fd; the last of them to end after Close closes fd.
	state    atomic.Int64
	fdClosed atomic.Bool

	wmu sync.Mutex // one write at a time; guards iov
	iov []syscall.Iovec

	// The reader's (one at a time): quiet once a read found nothing for a
	// Tick, until data comes; it then waits in the poller, not in read(2).
	quiet bool
	// lastData: when the quiet reader last got data (Unix ns; 0 when it
	// went quiet). Data within Busy of the last ends the quiet.
	lastData int64
	timer    *time.Timer // the quiet reader's deadline
	yielded  int64       // when the busy reader last went through the scheduler (yieldNow)
	reads    uint32      // blocking reads, counted by yieldNow
	// mark is the socket's receive low-water mark (ReadMark); 0 or 1: none.
	// asked is the mark last asked for, which setMark may have capped;
	// marks counts the setMark calls with one, to look at the segment
	// size again now and then.
	mark, asked int
	marks       uint32
	// nap is the busy reader's sleep before it reads while a stream is
	// expected (napRead).
	nap time.Duration

	ready chan struct{} // the poller found the socket readable
	kick  chan struct{} // a new read deadline, or Close
}

// Dial connects with d (a zero net.Dialer if nil), honouring ctx, then
// takes the socket out of Go's netpoller and makes it blocking.
func Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc, nil
	}
	c, err := fromTCP(tc)
	if err != nil {
		tc.Close()
		return nil, err
	}
	return c, nil
}

// fromTCP moves tc's socket to a Conn: a duplicate of its descriptor,
// blocking, with the deadline tick as its timeouts; tc is closed (which
// takes the socket out of the netpoller).
func fromTCP(tc *net.TCPConn) (*Conn, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = dupCloexec(int(s)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("dup", derr)
	}
	c := &Conn{fd: fd, laddr: tc.LocalAddr(), raddr: tc.RemoteAddr(),
		ready: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
	tc.Close()
	tv := syscall.NsecToTimeval(int64(Tick))
	for _, e := range []error{
		syscall.SetNonblock(fd, false),
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1),
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv),
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv),
	} {
		if e != nil {
			syscall.Close(fd)
			return nil, fmt.Errorf("blocksock: %w", e)
		}
	}
	if err := thePoller.add(c); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("blocksock: %w", err)
	}
	return c, nil
}

func dupCloexec(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// closedBit is set in Conn.state by Close.
const closedBit = 1 << 62

func (c *Conn) acquire() bool {
	for {
		v := c.state.Load()
		if v&closedBit != 0 {
			return false
		}
		if c.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (c *Conn) release() {
	if c.state.Add(-1) == closedBit {
		c.closeFD()
	}
}

// closeFD closes the descriptor, once: closed and no longer used.
func (c *Conn) closeFD() {
	if c.fdClosed.CompareAndSwap(false, true) {
		thePoller.remove(c)
		syscall.Close(c.fd)
	}
}

func (c *Conn) isClosed() bool { return c.state.Load()&closedBit != 0 }

// expired reports whether the deadline d (Unix ns, 0 none) has passed.
func expired(d int64) bool { return d != 0 && time.Now().UnixNano() >= d }

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

// Read reads from the socket, blocking the calling thread until data
// comes, the deadline passes (os.ErrDeadlineExceeded) or Close.
func (c *Conn) Read(p []byte) (int, error) { return c.read(p, 0, readPlain) }

// ReadWaitAll is Read for a reader that knows len(p) bytes are coming: a
// busy reader waits for all of them in one recv(2) with MSG_WAITALL
// rather than returning to Go (and calling again) for each piece that
// comes. It can still return fewer bytes (a Tick with nothing more, a
// signal, the deadline, the peer's close); the caller reads the rest. A
// quiet reader reads what is there, as Read does.
func (c *Conn) ReadWaitAll(p []byte) (int, error) { return c.read(p, 0, readAll) }

// ReadMark is Read for a reader that expects mark bytes or more to come
// together (a message it knows the likely length of): a busy reader that
// has to wait is woken when mark bytes are queued, or two TCP segments'
// worth if that is less (setMark), rather than at the first segment (the
// socket's receive low-water mark, SO_RCVLOWAT). It returns at once when
// min(len(p), mark) bytes are queued, and a wait that reaches neither ends
// after a Tick with what came then, so a shorter message is late by a Tick
// at most. The mark stays set for the next ReadMark; a Read or ReadWaitAll that has to wait lowers it
// first, and so does a reader going quiet (its poller would not be woken
// below the mark). A quiet reader ignores the mark.
func (c *Conn) ReadMark(p []byte, mark int) (int, error) { return c.read(p, mark, readPlain) }

// ReadNap is ReadMark for a reader that expects several messages to come
// one after another (answers to many commands): a busy reader first sleeps
// on a timer for a short, adaptive time and takes what is queued then
// (napRead), and only if nothing is waits as ReadMark does.
func (c *Conn) ReadNap(p []byte, mark int) (int, error) { return c.read(p, mark, readNap) }

// How a busy reader reads: read(2); recv(2) with MSG_WAITALL (ReadWaitAll);
// a nap first (ReadNap).
const (
	readPlain = iota
	readAll
	readNap
)

func (c *Conn) read(p []byte, mark int, how int) (int, error) {
	if !c.acquire() {
		return 0, c.opErr("read", net.ErrClosed)
	}
	defer c.release()
	if len(p) == 0 {
		return 0, nil
	}
	for {
		dl := c.rdl.Load()
		if expired(dl) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		quiet := c.quiet
		if !quiet && !tryBlock() {
			quiet = true
		}
		var n int
		var err error
		if quiet {
			n, err = recv(c.fd, p, syscall.MSG_DONTWAIT)
		} else {
			n, err = c.blockingRead(p, mark, how)
			blocked.Add(-1)
		}
		switch {
		case n > 0:
			// Data within Busy of the last data the quiet reader got: the
			// connection is busy again, and its reader blocks in read(2).
			// Data after a longer silence (a keepalive's answer, or a
			// lone command's) leaves it quiet.
			if c.quiet {
				now := time.Now().UnixNano()
				if now-c.lastData < int64(Busy) {
					c.quiet = false
				}
				c.lastData = now
			}
			return n, nil
		case err == nil:
			if c.isClosed() {
				return 0, c.opErr("read", net.ErrClosed)
			}
			return 0, io.EOF
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			if c.isClosed() {
				return 0, c.opErr("read", net.ErrClosed)
			}
			if !quiet {
				c.quiet = true // a Tick passed with nothing: wait in the poller
				c.lastData = 0
				c.setMark(1)
				continue
			}
			if err := c.waitReadable(dl); err != nil {
				return 0, c.opErr("read", err)
			}
		default:
			if c.isClosed() {
				return 0, c.opErr("read", net.ErrClosed)
			}
			return 0, c.opErr("read", os.NewSyscallError("read", err))
		}
	}
}

// blockingRead is the busy reader's read(2): it blocks the thread until
// data comes (mark bytes of it with a mark above 1; all of p with readAll;
// with readNap, after a nap if that found nothing), a Tick passes with
// nothing (EAGAIN), or Close.
func (c *Conn) blockingRead(p []byte, mark int, how int) (int, error) {
	if mark <= 1 && c.mark > 1 {
		// The mark an earlier ReadMark left would hold this read's
		// wake-up back: take what is queued, and lower the mark only
		// when there is nothing, to wait.
		if n, err := recv(c.fd, p, syscall.MSG_DONTWAIT); err != syscall.EAGAIN {
			return n, err
		}
		c.setMark(1)
	}
	if mark > 1 {
		if how == readNap {
			if n, ok, err := c.napRead(p, mark); ok {
				return n, err
			}
		}
		c.setMark(mark)
	}
	c.yieldNow()
	if how == readAll {
		return recv(c.fd, p, syscall.MSG_WAITALL)
	}
	return syscall.Read(c.fd, p)
}

// napping counts the readers in napRead, which keep their Ps while they
// nap.
var napping atomic.Int32

// Bounds of the busy reader's nap (napRead).
const (
	napMin   = 2 * time.Microsecond
	napMax   = 100 * time.Microsecond
	napStart = 10 * time.Microsecond
)

// napRead is the first try of a busy reader that expects mark bytes or
// more to come in several messages (ReadNap): it sleeps on a timer of
// its own for a short, adaptive time and then takes what came, without
// waiting. ok is false when nothing came: the caller then waits in the
// kernel as before. It naps even if bytes are already queued: more answers
// come behind them within the nap and one read takes them together (a
// recv first cost 6.2 against 5.4 µs per I/O at 4 KiB QD32).
//
// Why a timer: a thread asleep on the socket is woken by the sender, and on
// the loopback of a VM whose idle vCPUs halt, that wake-up is an IPI sent
// from the target's thread (a VM exit there): with tgtd the limit at 4 KiB
// QD32, its wake-ups of our reader took 6-12% of its time. Woken by its own
// timer, the reader costs the target nothing; it then finds several
// answers, or a whole large PDU, at once. The nap shrinks by an eighth when
// it found the mark's worth (it could have been shorter) and grows by a
// quarter when it found less, between napMin and napMax; the thread's timer
// slack is set to 1 µs so that the nap is not stretched by the kernel's
// default 50 µs.
func (c *Conn) napRead(p []byte, mark int) (int, bool, error) {
	// A napping thread keeps its P: leave one P to the rest of the
	// program (many sessions' readers could otherwise hold them all).
	if napping.Add(1) > int32(runtime.GOMAXPROCS(0)-1) {
		napping.Add(-1)
		return 0, false, nil
	}
	defer napping.Add(-1)
	if c.nap == 0 {
		c.nap = napStart
	}
	// PR_SET_TIMERSLACK: per thread, and the reader's goroutine can move
	// between threads, so set it each time (a system call that does not
	// block).
	syscall.RawSyscall(syscall.SYS_PRCTL, 29, 1000, 0)
	ts := syscall.NsecToTimespec(int64(c.nap))
	// Not as a system call the runtime sees (Syscall): for 100 µs at most
	// the thread keeps its P, as it would computing, and sysmon is not
	// set polling every 20 µs for a P to take back.
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
	n, err := recv(c.fd, p, syscall.MSG_DONTWAIT)
	if n >= min(mark, len(p)) {
		c.nap = max(napMin, c.nap-c.nap/8)
	} else {
		c.nap = min(napMax, c.nap+c.nap/4)
	}
	if err == syscall.EAGAIN {
		return 0, false, nil
	}
	return n, true, err
}

// setMark sets the socket's receive low-water mark to n, at most two of
// the segments the socket receives, if that changes it. It cannot fail on
// an open TCP socket (acquire keeps this one open).
//
// The cap: while the unread bytes are below the mark, the kernel ACKs a
// second full segment at once rather than with the reader's next write
// (tcp_input.c, __tcp_ack_snd_check), and over the loopback that ACK is
// sent and handled by the sender's thread, which is the target: a mark of
// a whole 128 KiB PDU (two 64 KiB segments and a tail) cost tgtd one more
// pure ACK per I/O and 2-6% of its IOPS. Two segments wake the reader once
// for such a PDU without that; the tail comes right behind them. The
// kernel's segment size follows the traffic (it starts at 536 bytes), so
// it is looked at again every 32nd mark asked for.
func (c *Conn) setMark(n int) {
	if n > 1 {
		c.marks++
		if n == c.asked && c.marks%32 != 0 {
			return
		}
		c.asked = n
		n = min(n, 2*c.rcvMSS())
	} else {
		c.asked = 0
	}
	if n == c.mark || n <= 1 && c.mark <= 1 {
		return
	}
	_ = syscall.SetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	c.mark = n
}

// rcvMSS returns the kernel's estimate of the segment size the socket
// receives (TCP_INFO's tcpi_rcv_mss: the largest recent segment), 0 if it
// cannot tell.
func (c *Conn) rcvMSS() int {
	var ti syscall.TCPInfo
	l := uint32(unsafe.Sizeof(ti))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(c.fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&ti)), uintptr(unsafe.Pointer(&l)), 0)
	if errno != 0 {
		return 0
	}
	return int(ti.Rcv_mss)
}

// waitReadable parks the quiet reader until the poller finds the socket
// readable, the deadline dl (Unix ns, 0 none) passes, the deadline
// changes, or Close. Which of them it was, the caller finds out.
func (c *Conn) waitReadable(dl int64) error {
	if err := thePoller.arm(c); err != nil {
		return err
	}
	var expiry <-chan time.Time
	if dl != 0 {
		d := time.Duration(dl - time.Now().UnixNano())
		if c.timer == nil {
			c.timer = time.NewTimer(d)
		} else {
			c.timer.Reset(d)
		}
		expiry = c.timer.C
	}
	select {
	case <-c.ready:
	case <-c.kick:
	case <-expiry:
	}
	if expiry != nil {
		c.timer.Stop()
	}
	return nil
}

// yieldNow passes the reader through the scheduler (runtime.Gosched)
// every yieldEvery. Go's sysmon takes the P of a goroutine that has not
// been through the scheduler for 10 ms whenever it finds it in a system
// call, again and again until it has been: a busy reader, which only
// reads, answers and reads again, would otherwise lose its P on most of
// its blocking reads, and keep sysmon polling every 20 µs.
func (c *Conn) yieldNow() {
	// The clock is read every 16th blocking read: a reader makes several
	// per millisecond when busy, and one that makes fewer is not busy.
	if c.reads++; c.reads&15 != 0 {
		return
	}
	now := time.Now().UnixNano()
	if now-c.yielded < int64(yieldEvery) {
		return
	}
	c.yielded = now
	runtime.Gosched()
}

// yieldEvery is how often a busy reader goes through the scheduler: well
// within sysmon's 10 ms.
const yieldEvery = 2 * time.Millisecond

// signal leaves a token in ch (ready or kick) without waiting.
func (c *Conn) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Write writes all of p, blocking the calling thread while the socket is
// full, until the deadline passes or Close.
func (c *Conn) Write(p []byte) (int, error) {
	bufs := net.Buffers{p}
	n, err := c.WriteBuffers(&bufs)
	return int(n), err
}

// WriteBuffers writes all of *v with writev, consuming it as
// net.Buffers.WriteTo does.
func (c *Conn) WriteBuffers(v *net.Buffers) (int64, error) {
	if !c.acquire() {
		return 0, c.opErr("write", net.ErrClosed)
	}
	defer c.release()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var total int64
	for {
		c.iov = c.iov[:0]
		for _, b := range *v {
			if len(c.iov) == 1024 {
				break
			}
			if len(b) > 0 {
				iv := syscall.Iovec{Base: &b[0]}
				iv.SetLen(len(b))
				c.iov = append(c.iov, iv)
			}
		}
		if len(c.iov) == 0 {
			*v = (*v)[:0]
			clear(c.iov[:cap(c.iov)])
			return total, nil
		}
		if expired(c.wdl.Load()) {
			clear(c.iov[:cap(c.iov)])
			return total, c.opErr("write", os.ErrDeadlineExceeded)
		}
		n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, uintptr(c.fd), uintptr(unsafe.Pointer(&c.iov[0])), uintptr(len(c.iov)))
		switch errno {
		case 0:
			total += int64(n)
			consume(v, int(n))
		case syscall.EINTR:
		case syscall.EAGAIN: // a tick passed with the socket full
			if c.isClosed() {
				clear(c.iov[:cap(c.iov)])
				return total, c.opErr("write", net.ErrClosed)
			}
		default:
			clear(c.iov[:cap(c.iov)])
			if c.isClosed() {
				return total, c.opErr("write", net.ErrClosed)
			}
			return total, c.opErr("write", os.NewSyscallError("writev", errno))
		}
	}
}

// consume drops the first n bytes of v.
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

// Close shuts the socket down, which wakes a blocked read or write; the
// descriptor is closed when the last of them returns.
func (c *Conn) Close() error {
	// Mark closed and hold fd at once: a read or write ending meanwhile
	// must not close fd before it is shut down here.
	for {
		v := c.state.Load()
		if v&closedBit != 0 {
			return c.opErr("close", net.ErrClosed)
		}
		if c.state.CompareAndSwap(v, (v|closedBit)+1) {
			break
		}
	}
	_ = syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	c.signal(c.kick)
	c.release()
	return nil
}

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline. A read blocked in read(2) now
// sees it within Tick; one waiting in the poller at once.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdl.Store(unixNano(t))
	c.signal(c.kick)
	return nil
}

// SetWriteDeadline sets the write deadline, seen within Tick.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl.Store(unixNano(t))
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n > 0 {
		return n
	}
	return 1 // long past
}

// SyscallConn gives raw access to the socket, for a non-blocking write
// (MSG_DONTWAIT) on the blocking socket: Write and Read call f until it
// returns true, without waiting in between; Write does not call f at all
// while another write is under way.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return rawConn{c}, nil }

type rawConn struct{ c *Conn }

func (r rawConn) Control(f func(fd uintptr)) error {
	if !r.c.acquire() {
		return net.ErrClosed
	}
	defer r.c.release()
	f(uintptr(r.c.fd))
	return nil
}

func (r rawConn) Read(f func(fd uintptr) bool) error {
	if !r.c.acquire() {
		return net.ErrClosed
	}
	defer r.c.release()
	for !f(uintptr(r.c.fd)) {
	}
	return nil
}

func (r rawConn) Write(f func(fd uintptr) bool) error {
	if !r.c.acquire() {
		return net.ErrClosed
	}
	defer r.c.release()
	// Never wait for another write (this one is the non-blocking kind):
	// while one is under way, f is not called and the caller finds
	// nothing written.
	if !r.c.wmu.TryLock() {
		return nil
	}
	defer r.c.wmu.Unlock()
	for !f(uintptr(r.c.fd)) {
	}
	return nil
}

// recv is recvfrom(2) without an address.
func recv(fd int, p []byte, flags int) (int, error) {
	r, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags), 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}
