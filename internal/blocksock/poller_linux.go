//go:build linux && !386

package blocksock

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The poller waits for the sockets of quiet connections: one goroutine
// for the whole process, whatever the number of connections, waiting on
// an epoll instance of its own, which waits in turn in Go's netpoller. A reader that found nothing for a Tick stops
// blocking its thread in read(2): it arms its socket in the poller
// (EPOLLONESHOT, so a socket reports once per wait and busy sockets never
// wake the poller) and parks its goroutine until the poller says the
// socket is readable, its deadline passes, or Close. The poller's
// goroutine runs only while some socket is registered.
type poller struct {
	mu   sync.Mutex
	epfd int // -1 until first used; then kept for the process's life
	efd  int // an eventfd in epfd: wakes the loop to look whether to stop
	// epfile is epfd in Go's netpoller (an epoll instance is readable
	// while it has events): the loop waits there, holding no thread and no
	// P, as an idle program's netpoller does. Kept for the process's life
	// (its finalizer would close epfd).
	epfile  *os.File
	epraw   syscall.RawConn
	conns   map[int32]*Conn
	running bool
}

var thePoller = poller{epfd: -1, efd: -1}

// blocked counts the readers blocking a thread in read(2). Past
// MaxBlocked, readers wait in the poller instead: a process with thousands
// of busy connections stays far below Go's limit on threads (10,000).
var blocked atomic.Int32

// MaxBlocked is the most readers that block an OS thread each at once.
const MaxBlocked = 512

// maxBlocked is MaxBlocked, lowered by tests.
var maxBlocked = func() (m atomic.Int32) { m.Store(MaxBlocked); return }()

// tryBlock takes one of the maxBlocked places of readers blocking a
// thread, if one is free.
func tryBlock() bool {
	limit := maxBlocked.Load()
	for {
		b := blocked.Load()
		if b >= limit {
			return false
		}
		if blocked.CompareAndSwap(b, b+1) {
			return true
		}
	}
}

// open makes the epoll instance and its eventfd. Called with mu.
func (p *poller) open() error {
	if p.epfd >= 0 {
		return nil
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return os.NewSyscallError("eventfd2", errno)
	}
	efd := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(efd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, efd, &ev); err != nil {
		syscall.Close(efd)
		syscall.Close(epfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(efd)
		syscall.Close(epfd)
		return os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(epfd), "blocksock-epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		syscall.Close(efd)
		f.Close()
		return err
	}
	p.epfd, p.efd, p.epfile, p.epraw = epfd, efd, f, raw
	p.conns = make(map[int32]*Conn)
	return nil
}

// add registers c's socket, disarmed (EPOLLONESHOT with no events: only
// an error or hang-up could report, and arm re-arms it for reading).
func (p *poller) add(c *Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.open(); err != nil {
		return err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLONESHOT, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	p.conns[int32(c.fd)] = c
	if !p.running {
		p.running = true
		go p.loop()
	}
	return nil
}

// remove deregisters c's socket, before its descriptor is closed (so that
// a new socket given the same number is never taken for it); the loop
// stops when none is left.
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[int32(c.fd)] != c {
		return
	}
	delete(p.conns, int32(c.fd))
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	if len(p.conns) == 0 && p.running {
		p.wakeLoop()
	}
}

// wakeLoop makes epoll_wait return. Called with mu.
func (p *poller) wakeLoop() {
	one := uint64(1)
	_, _ = syscall.Write(p.efd, (*[8]byte)(unsafe.Pointer(&one))[:])
}

// arm asks the poller to tell c once when its socket is readable (or
// hung up). A socket readable already reports at once.
func (p *poller) arm(c *Conn) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// loop waits for armed sockets and wakes their readers, until no socket
// is registered.
func (p *poller) loop() {
	var evs [128]syscall.EpollEvent
	var drain [8]byte
	var n int
	var err error
	// wait takes what epfd has without waiting, and asks Go's netpoller
	// to wait for more when it has nothing.
	wait := func(fd uintptr) bool {
		n, err = syscall.EpollWait(int(fd), evs[:], 0)
		return n != 0 || (err != nil && err != syscall.EINTR)
	}
	for {
		if rerr := p.epraw.Read(wait); rerr != nil {
			n, err = 0, rerr
		}
		if err != nil && err != syscall.EINTR {
			// Not expected (a bad epfd would be a bug here): wake every
			// reader, which then finds its socket's state by itself.
			n = 0
			p.mu.Lock()
			for _, c := range p.conns {
				c.signal(c.ready)
			}
			p.mu.Unlock()
		}
		p.mu.Lock()
		for _, ev := range evs[:max(n, 0)] {
			if int(ev.Fd) == p.efd {
				_, _ = syscall.Read(p.efd, drain[:])
				continue
			}
			if c := p.conns[ev.Fd]; c != nil {
				c.signal(c.ready)
			}
		}
		if len(p.conns) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
