//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package lunfs

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Errno maps an error of the session to the errno a program sees:
//
//	nil, io.EOF                                  0
//	context.Canceled (the request interrupted)   EINTR
//	context.DeadlineExceeded                     ETIMEDOUT
//	WRITE PROTECTED (any ASCQ)                   EROFS
//	session.ErrBeyondEnd                         ENOSPC
//	session.ErrNegativeOffset                    EINVAL
//	session.ErrNotThin, INVALID COMMAND OPCODE   EOPNOTSUPP
//	RESERVATION CONFLICT                         EBUSY (another initiator holds the LUN)
//	NOT READY, MEDIUM NOT PRESENT                ENOMEDIUM for the latter, EIO otherwise
//	anything else (MEDIUM ERROR, session closed) EIO
func Errno(err error) syscall.Errno {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return 0
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, scsi.ErrWriteProtected):
		return syscall.EROFS
	case errors.Is(err, session.ErrBeyondEnd):
		return syscall.ENOSPC
	case errors.Is(err, session.ErrNegativeOffset):
		return syscall.EINVAL
	case errors.Is(err, session.ErrNotThin), errors.Is(err, scsi.ErrInvalidOpcode):
		return syscall.EOPNOTSUPP
	case errors.Is(err, scsi.ErrReservationConflict):
		return syscall.EBUSY
	case errors.Is(err, scsi.ErrMediumNotPresent):
		return syscall.ENOMEDIUM
	}
	return syscall.EIO
}
