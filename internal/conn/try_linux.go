//go:build linux

package conn

import (
	"os"
	"syscall"
)

// iovMax is Linux's IOV_MAX: the most buffers one writev takes.
const iovMax = 1024

// tryWriter is TryWriteBatch's state: a writev of the batch straight on
// the non-blocking socket, through syscall.RawConn.Write with a function
// that never asks to wait.
type tryWriter struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool // c.tryWritev, made once (a method value allocates)
	b    *Batch
	done bool
	err  error
	iov  []syscall.Iovec
	msg  syscall.Msghdr
}

func (c *Conn) initTry() {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.tw.rc = rc
	c.tw.fn = c.tryWritev
}

func (c *Conn) canTry() bool { return c.tw.rc != nil }

func (c *Conn) tryWrite(b *Batch) (bool, error) {
	tw := &c.tw
	tw.b, tw.done, tw.err = b, false, nil
	err := tw.rc.Write(tw.fn)
	tw.b = nil
	clear(tw.iov[:cap(tw.iov)]) // keep no caller's memory alive
	if err != nil {
		return false, err
	}
	return tw.done, tw.err
}

// tryWritev writes b.tmp on fd until it is all written or the socket is
// full. It always returns true: RawConn.Write must not wait.
func (c *Conn) tryWritev(fd uintptr) bool {
	tw := &c.tw
	b := tw.b
	for len(b.tmp) > 0 {
		tw.iov = tw.iov[:0]
		for _, p := range b.tmp {
			if len(tw.iov) == iovMax {
				break
			}
			if len(p) == 0 {
				continue
			}
			v := syscall.Iovec{Base: &p[0]}
			v.SetLen(len(p))
			tw.iov = append(tw.iov, v)
		}
		if len(tw.iov) == 0 {
			b.tmp = b.tmp[:0]
			break
		}
		n, errno := tw.writev(fd)
		switch errno {
		case 0:
			consume(&b.tmp, int(n))
		case syscall.EINTR:
		case syscall.EAGAIN:
			return true // full: the rest is for WriteBatch
		default:
			tw.err = os.NewSyscallError("writev", errno)
			return true
		}
	}
	tw.done = true
	return true
}
