//go:build linux && !386

package conn

import (
	"syscall"
	"unsafe"
)

// writev writes tw.iov on fd without waiting: sendmsg with MSG_DONTWAIT
// rather than writev, so that it never waits even on a blocking socket
// (internal/blocksock).
func (tw *tryWriter) writev(fd uintptr) (uintptr, syscall.Errno) {
	tw.msg.Iov = &tw.iov[0]
	setLen(&tw.msg.Iovlen, len(tw.iov))
	n, _, errno := syscall.Syscall(syscall.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&tw.msg)), syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
	tw.msg.Iov = nil
	return n, errno
}

// setLen sets a Msghdr's Iovlen, whose type depends on the architecture.
func setLen[T uint32 | uint64](p *T, n int) { *p = T(n) }
