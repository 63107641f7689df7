//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package lunfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		url  string
		want Kind
	}{
		{"iscsi://127.0.0.1", KindPortal},
		{"iscsi://127.0.0.1:3260/", KindPortal},
		{"iscsi://[::1]:3260?header_digest=crc32c", KindPortal},
		{"iscsi://127.0.0.1/iqn.2024-01.x:t", KindTarget},
		{"iscsi://127.0.0.1/iqn.2024-01.x:t/", KindTarget},
		{"iscsi://u%p/w@127.0.0.1/iqn.2024-01.x:t?auth=md5", KindTarget},
		{"iscsi://127.0.0.1/iqn.2024-01.x:t/1", KindLUN},
		{"iscsi://alice%secret@[fec0::1]:3261/iqn.2024-01.x:t/7?data_digest=none", KindLUN},
	} {
		if got := Classify(c.url); got != c.want {
			t.Errorf("Classify(%q) = %v, want %v", c.url, got, c.want)
		}
	}
}

func TestTargetURL(t *testing.T) {
	for in, want := range map[string]string{
		"iscsi://h/iqn.x:t":            "iscsi://h/iqn.x:t/0",
		"iscsi://h/iqn.x:t/":           "iscsi://h/iqn.x:t/0",
		"iscsi://h/iqn.x:t?auth=sha1":  "iscsi://h/iqn.x:t/0?auth=sha1",
		"iscsi://h/iqn.x:t/?auth=sha1": "iscsi://h/iqn.x:t/0?auth=sha1",
	} {
		if got := targetURL(in); got != want {
			t.Errorf("targetURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// sense returns a CHECK CONDITION with fixed-format sense key and ASC.
func sense(key scsi.SenseKey, asc scsi.ASC) error {
	b := make([]byte, 18)
	b[0], b[2], b[7] = 0x70, byte(key), 10
	b[12], b[13] = byte(asc>>8), byte(asc)
	return &session.OpError{Op: "WRITE(10)", LBA: 8, Offset: -1, Err: scsi.NewStatusError(scsi.StatusCheckCondition, b)}
}

func TestErrno(t *testing.T) {
	for _, c := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{io.EOF, 0},
		{fmt.Errorf("read: %w", context.Canceled), syscall.EINTR},
		{context.DeadlineExceeded, syscall.ETIMEDOUT},
		{sense(scsi.SenseDataProtect, scsi.ASCWriteProtected), syscall.EROFS},
		{sense(scsi.SenseDataProtect, scsi.ASCSoftwareWriteProtected), syscall.EROFS},
		{&session.OpError{Op: "WriteAt", Err: session.ErrBeyondEnd}, syscall.ENOSPC},
		{session.ErrNegativeOffset, syscall.EINVAL},
		{fmt.Errorf("x: %w", session.ErrNotThin), syscall.EOPNOTSUPP},
		{sense(scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode), syscall.EOPNOTSUPP},
		{&session.OpError{Err: scsi.NewStatusError(scsi.StatusReservationConflict, nil)}, syscall.EBUSY},
		{sense(scsi.SenseNotReady, 0x3a00), syscall.ENOMEDIUM},
		{sense(scsi.SenseMediumError, 0x1100), syscall.EIO},
		{sense(scsi.SenseHardwareError, 0x4400), syscall.EIO},
		{fmt.Errorf("%w: reset", session.ErrSessionClosed), syscall.EIO},
		{errors.New("anything"), syscall.EIO},
	} {
		if got := Errno(c.err); got != c.want {
			t.Errorf("Errno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
