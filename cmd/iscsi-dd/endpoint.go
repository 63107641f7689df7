package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/session"
)

// endpoint is the source or the destination of a copy: a LUN or a local
// file.
type endpoint interface {
	// Name is what messages call it: a URL without its password, or a
	// path.
	Name() string
	// Size is its size in bytes.
	Size() int64
	// BlockSize is the unit of its I/O: the LUN's block length, 1 for a
	// file.
	BlockSize() int64
	ReadAt(ctx context.Context, p []byte, off int64) error
	WriteAt(ctx context.Context, p []byte, off int64) error
	// Extent says whether the bytes from off on are known to read as
	// zeros without being read (a hole, a deallocated extent) and where
	// that run ends. end <= off means it does not know: read everything.
	Extent(ctx context.Context, off int64) (zero bool, end int64, err error)
	// Zero makes [off, off+n) read as zeros without writing data when it
	// can, and says how many bytes from off it did so (0: write them).
	Zero(ctx context.Context, off, n int64) (int64, error)
	// Discards says whether Zero can do anything at all.
	Discards() bool
	Close() error
}

// isURL reports whether arg names a LUN rather than a file.
func isURL(arg string) bool { return strings.HasPrefix(arg, "iscsi://") }

// fileEndpoint is a local file or block device.
type fileEndpoint struct {
	f    *os.File
	path string
	size int64
	// fresh: a regular file created or truncated by us, whose holes
	// read as zeros: a run of zeros needs no write.
	fresh bool
	// noSeekData: SEEK_DATA/SEEK_HOLE failed once; stop asking.
	noSeekData bool
}

func openFileSource(path string) (*fileEndpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	size, err := fileSize(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileEndpoint{f: f, path: path, size: size}, nil
}

// openFileDestination opens path for writing. A regular file (new or
// existing) is truncated and sized to size, as qemu-img convert and cp do;
// a block device must already hold size bytes; a character device
// (/dev/null) takes what comes.
func openFileDestination(path string, size int64, sparse bool) (*fileEndpoint, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	e := &fileEndpoint{f: f, path: path, size: size}
	if fi.Mode().IsRegular() {
		err := f.Truncate(0)
		if err == nil {
			err = f.Truncate(size)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		e.fresh = sparse
		return e, nil
	}
	if fi.Mode()&os.ModeCharDevice != 0 {
		// /dev/null and the like: no size to check.
		return e, nil
	}
	have, err := fileSize(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if have < size {
		f.Close()
		return nil, &sizeError{dst: path, have: have, need: size}
	}
	return e, nil
}

// fileSize is the size of a regular file or of a device (by seeking to
// its end).
func fileSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Mode().IsRegular() {
		return fi.Size(), nil
	}
	if fi.IsDir() {
		return 0, fmt.Errorf("%s is a directory", f.Name())
	}
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("%s: cannot tell its size: %w", f.Name(), err)
	}
	return n, nil
}

func (e *fileEndpoint) Name() string     { return e.path }
func (e *fileEndpoint) Size() int64      { return e.size }
func (e *fileEndpoint) BlockSize() int64 { return 1 }
func (e *fileEndpoint) Close() error     { return e.f.Close() }

func (e *fileEndpoint) ReadAt(_ context.Context, p []byte, off int64) error {
	n, err := e.f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %d of %d bytes at offset %d (did the file shrink?)", errShortRead, n, len(p), off)
	}
	return err
}

var errShortRead = errors.New("short read")

func (e *fileEndpoint) WriteAt(_ context.Context, p []byte, off int64) error {
	_, err := e.f.WriteAt(p, off)
	return err
}

// Whence values of lseek(2) on Linux (and the BSDs, Solaris).
const (
	seekData = 3
	seekHole = 4
)

func (e *fileEndpoint) Extent(_ context.Context, off int64) (bool, int64, error) {
	if e.noSeekData || off >= e.size {
		return false, 0, nil
	}
	data, err := e.f.Seek(off, seekData)
	switch {
	case errors.Is(err, syscall.ENXIO):
		return true, e.size, nil // no data from off to the end
	case err != nil:
		e.noSeekData = true
		return false, 0, nil
	case data > off:
		return true, data, nil
	}
	hole, err := e.f.Seek(off, seekHole)
	if err != nil || hole <= off {
		e.noSeekData = true
		return false, 0, nil
	}
	return false, hole, nil
}

func (e *fileEndpoint) Discards() bool { return e.fresh }

func (e *fileEndpoint) Zero(_ context.Context, _, n int64) (int64, error) {
	if e.fresh {
		return n, nil
	}
	return 0, nil
}

// lunEndpoint is a LUN behind an iscsi:// URL.
type lunEndpoint struct {
	s    *session.Session
	name string
	g    session.Geometry
	lbp  *provisioning // nil: sparse handling off
}

func openLUN(ctx context.Context, t *cli.Tool, rawURL string, sparse bool) (*lunEndpoint, error) {
	s, err := t.Connect(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	g, err := s.Geometry(ctx)
	if err != nil {
		cli.Close(s)
		return nil, cli.CommandError(s.LUN(), "READ CAPACITY", err)
	}
	e := &lunEndpoint{s: s, name: cli.DisplayURL(rawURL), g: g}
	if sparse {
		e.lbp = probeProvisioning(ctx, s, g)
	}
	return e, nil
}

func (e *lunEndpoint) Name() string     { return e.name }
func (e *lunEndpoint) Size() int64      { return e.g.Size() }
func (e *lunEndpoint) BlockSize() int64 { return int64(e.g.BlockSize) }

func (e *lunEndpoint) Close() error {
	cli.Close(e.s)
	return nil
}

func (e *lunEndpoint) ReadAt(ctx context.Context, p []byte, off int64) error {
	ctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	n, err := e.s.ReadAtContext(ctx, p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %d of %d bytes at offset %d", errShortRead, n, len(p), off)
	}
	return err
}

func (e *lunEndpoint) WriteAt(ctx context.Context, p []byte, off int64) error {
	ctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	_, err := e.s.WriteAtContext(ctx, p, off)
	return err
}

func (e *lunEndpoint) Extent(ctx context.Context, off int64) (bool, int64, error) {
	if e.lbp == nil || !e.lbp.status {
		return false, 0, nil
	}
	return e.lbp.extent(ctx, e.s, e.g, off)
}

func (e *lunEndpoint) Discards() bool { return e.lbp != nil && e.lbp.unmap }

func (e *lunEndpoint) Zero(ctx context.Context, off, n int64) (int64, error) {
	if e.lbp == nil || !e.lbp.unmap {
		return 0, nil
	}
	return e.lbp.discard(ctx, e.s, e.g, off, n)
}

// flusher is a destination with a write cache to flush at the end.
type flusher interface {
	Flush(ctx context.Context) error
}

// Flush sends SYNCHRONIZE CACHE over the whole LUN.
func (e *lunEndpoint) Flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	if err := e.s.Sync(ctx); err != nil {
		return cli.CommandError(e.s.LUN(), "SYNCHRONIZE CACHE", err)
	}
	return nil
}

// sizeError is a destination too small for the source.
type sizeError struct {
	dst        string // its name
	have, need int64
}

func (e *sizeError) Error() string {
	return fmt.Sprintf("too small: it holds %d bytes, the source %d", e.have, e.need)
}
