//go:build linux

package conn

import (
	"net"
	"syscall"
	"testing"
	"unsafe"
)

// queued returns the bytes waiting in nc's receive queue (SIOCINQ), or -1.
func queued(nc net.Conn) int {
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	_ = rc.Control(func(fd uintptr) {
		var v int32
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, siocinq, uintptr(unsafe.Pointer(&v)))
		if e == 0 {
			n = int(v)
		}
	})
	return n
}

// checkLowat: the reader raised the socket's low-water mark while it waited
// for the rest of a large segment, and left it at 1 byte afterwards.
func checkLowat(t *testing.T, c *Conn) {
	t.Helper()
	if c.lw.sets == 0 {
		t.Errorf("the low-water mark was never raised while the second part of the segment was awaited (cap %d)", c.lw.max)
	}
	rc, err := c.NetConn().(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	_ = rc.Control(func(fd uintptr) { v, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) })
	if err != nil || v != 1 || c.lw.cur != 1 {
		t.Errorf("low-water mark after the segment: %d (err %v, recorded %d), want 1", v, err, c.lw.cur)
	}
}

// siocinq is SIOCINQ (FIONREAD on a TCP socket), which package syscall
// names only as TIOCINQ; it is the same number on every Linux architecture
// Go supports except mips, ppc64 and sparc, where the test falls back to a
// short sleep (queued then fails and returns -1 or a wrong count, and
// waitDrained stops after its bound).
const siocinq = syscall.TIOCINQ
