//go:build linux && 386

package conn

import (
	"syscall"
	"unsafe"
)

// writev writes tw.iov on fd with writev: the socket is non-blocking
// (linux/386 has no sendmsg system call of its own in package syscall, and
// internal/blocksock is not used there).
func (tw *tryWriter) writev(fd uintptr) (uintptr, syscall.Errno) {
	n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&tw.iov[0])), uintptr(len(tw.iov)))
	return n, errno
}
