//go:build linux

package conn

import (
	"net"
	"syscall"
)

// lowat drives the socket's receive low-water mark (SO_RCVLOWAT): while
// the rest of a large data segment is on its way, the socket becomes
// readable only once all of it (or as much as the kernel can queue) is
// there, so the reader wakes once instead of once per piece.
//
// Linux never makes a read wait for the mark: a read returns what is
// queued, and the kernel still wakes the reader below the mark when its
// receive memory is under pressure, when the window left is under a
// segment, and on FIN or error. A mark can thus not hang the connection as
// long as it asks for no byte the peer has not committed to send, which is
// why it covers only the current data segment and is lowered back to 1
// before the next header is read.
// lowatMin is the smallest mark worth a system call: less than this is
// likely already in flight, and arrives about as soon as the reader parks.
const lowatMin = 8 << 10

type lowat struct {
	rc    syscall.RawConn
	apply func(fd uintptr) // l.set, bound once: Control then allocates nothing
	want  int              // the mark apply sets
	cur   int              // the mark on the socket (1 is the kernel's default)
	max   int              // the highest mark set: half the receive buffer
	err   error            // of the last setsockopt
	sets  int              // setsockopt calls made (for tests and measurements)
}

// init finds the socket under nc; with none (a net.Pipe, a wrapped
// connection), lowat stays off.
func (l *lowat) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var rcvbuf int
	if err := rc.Control(func(fd uintptr) {
		rcvbuf, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil || rcvbuf <= 0 {
		return
	}
	// SO_RCVBUF reports the receive memory the kernel allows, about twice
	// the payload it queues. A mark above half of it would make the kernel
	// grow the buffer and clamp the window to the mark.
	l.max = rcvbuf / 2
	l.rc = rc
	l.cur = 1
	l.apply = l.set
}

func (l *lowat) set(fd uintptr) {
	l.err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, l.want)
}

// adjust readies the mark for a read of the current data segment, of
// which rest bytes (padding and digest included) are still to come. The
// mark never exceeds rest: bytes past the segment may never be sent. When
// more asks for it, the mark is raised to rest (capped), if that is worth
// a system call.
func (l *lowat) adjust(rest int, more bool) {
	if l.rc == nil {
		return
	}
	want := 1
	if more && rest >= lowatMin {
		want = min(rest, l.max)
	}
	if l.cur > rest || want > l.cur {
		l.setTo(want)
	}
}

// reset puts the mark back to 1 byte if it was raised.
func (l *lowat) reset() {
	if l.cur > 1 {
		l.setTo(1)
	}
}

func (l *lowat) setTo(n int) {
	l.want = n
	l.sets++
	if err := l.rc.Control(l.apply); err != nil || l.err != nil {
		return // closed (reads fail from now on), or the old mark is kept
	}
	l.cur = n
}
