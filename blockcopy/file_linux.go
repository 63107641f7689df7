//go:build linux

package blockcopy

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// Whence values of lseek(2) on Linux.
const (
	seekData = 3
	seekHole = 4
)

// fileMapper finds the holes of a regular file with SEEK_DATA and
// SEEK_HOLE. A file system without them (EINVAL) maps all as data. It
// moves f's offset, which ReadAt does not use.
func fileMapper(f *os.File) func(ctx context.Context, off int64) (bool, int64, error) {
	off := false
	return func(_ context.Context, pos int64) (bool, int64, error) {
		if off {
			return false, 0, nil
		}
		data, err := f.Seek(pos, seekData)
		switch {
		case errors.Is(err, syscall.ENXIO):
			// No data from pos to the end.
			fi, err := f.Stat()
			if err != nil {
				return false, 0, err
			}
			return true, fi.Size(), nil
		case err != nil:
			off = true
			return false, 0, nil
		case data > pos:
			return true, data, nil
		}
		hole, err := f.Seek(pos, seekHole)
		if err != nil || hole <= pos {
			off = true
			return false, 0, nil
		}
		return false, hole, nil
	}
}

// fallocate(2) modes.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// filePunch makes ranges of a regular file zero by punching holes. A file
// system that cannot (EOPNOTSUPP) gets the zeros written.
func filePunch(f *os.File) func(ctx context.Context, off, n int64) error {
	return func(_ context.Context, off, n int64) error {
		err := syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, n)
		if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
			return errors.ErrUnsupported
		}
		if err != nil {
			return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
		}
		return nil
	}
}
