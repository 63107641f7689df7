package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/session"
)

// endpoint is the source, destination or base of a copy: a LUN or a local
// file, handed to blockcopy.Copy as it is.
type endpoint struct {
	// name is what messages call it: a URL without its password, or a
	// path.
	name string
	// rw is a *session.LogicalUnit or an *os.File.
	rw io.ReaderAt
	// size is its size in bytes; -1 for a character device.
	size  int64
	close func()
}

func (e *endpoint) Close() { e.close() }

// isURL reports whether arg names a LUN rather than a file.
func isURL(arg string) bool { return strings.HasPrefix(arg, "iscsi://") }

// openSource opens a LUN or a file to read; paths are more URLs of the
// LUN (--src-path).
func openSource(ctx context.Context, t *cli.Tool, arg string, paths []string) (*endpoint, error) {
	if isURL(arg) {
		return openLUN(ctx, t, arg, paths)
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, err
	}
	size, err := fileSize(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &endpoint{name: arg, rw: f, size: size, close: func() { f.Close() }}, nil
}

// openDestination opens a LUN or a file to write. A regular file is
// truncated (unless keep: --resume and --base need what it holds) and
// sized to the source by the copy, as qemu-img convert and cp do; a block
// device or a LUN must already hold size bytes; a character device
// (/dev/null) takes what comes. With verify a file is opened to read too.
func openDestination(ctx context.Context, t *cli.Tool, arg string, paths []string, size int64, keep, verify bool) (*endpoint, error) {
	if isURL(arg) {
		e, err := openLUN(ctx, t, arg, paths)
		if err != nil {
			return nil, err
		}
		if e.size < size {
			e.Close()
			return nil, &sizeError{have: e.size, need: size}
		}
		return e, nil
	}
	flag := os.O_WRONLY | os.O_CREATE
	if verify {
		flag = os.O_RDWR | os.O_CREATE
	}
	f, err := os.OpenFile(arg, flag, 0o666)
	if err != nil {
		return nil, err
	}
	e := &endpoint{name: arg, size: -1, close: func() { f.Close() }}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	switch {
	case fi.Mode().IsRegular():
		if !keep {
			if err := f.Truncate(0); err != nil {
				f.Close()
				return nil, err
			}
		}
	case fi.Mode()&os.ModeCharDevice != 0:
		// /dev/null and the like: no size to check.
	default:
		have, err := fileSize(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if have < size {
			f.Close()
			return nil, &sizeError{have: have, need: size}
		}
	}
	e.rw = f
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

// openLUN logs in to the LUN of a URL and reads its geometry. With paths
// (more URLs of the same LUN, through other portals) it opens a
// multipath.Device over all of them instead of one session.
func openLUN(ctx context.Context, t *cli.Tool, rawURL string, paths []string) (*endpoint, error) {
	if len(paths) > 0 {
		return openMultipath(ctx, t, rawURL, paths)
	}
	s, err := t.Connect(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	g, err := s.Geometry(ctx)
	if err != nil {
		cli.Close(s)
		return nil, cli.CommandError(s.LUN(), "READ CAPACITY", err)
	}
	var u *session.LogicalUnit = s.DefaultUnit()
	return &endpoint{name: cli.DisplayURL(rawURL), rw: u, size: g.Size(), close: func() { cli.Close(s) }}, nil
}

// sizeError is a destination too small for the source.
type sizeError struct {
	have, need int64
}

func (e *sizeError) Error() string {
	return fmt.Sprintf("too small: it holds %d bytes, the source %d", e.have, e.need)
}

// openMultipath opens a multipath.Device over rawURL and paths: the copy
// goes on over the other paths when one fails (docs/MULTIPATH.md). The
// Device maps no extents and unmaps nothing: with it the source is read
// whole and zeros are written.
func openMultipath(ctx context.Context, t *cli.Tool, rawURL string, paths []string) (*endpoint, error) {
	d, err := multipath.Dial(ctx, append([]string{rawURL}, paths...), &multipath.Config{Session: t.Config()})
	if err != nil {
		return nil, err
	}
	g, err := d.Geometry(ctx)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("READ CAPACITY: %w", err)
	}
	name := cli.DisplayURL(rawURL)
	return &endpoint{name: name, rw: &multipathLUN{d, g}, size: g.Size(), close: func() {
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Logout(lctx)
	}}, nil
}

// multipathLUN is a Device as blockcopy takes it: ReadAtContext,
// WriteAtContext and Sync(ctx) are the Device's; it adds the size and the
// block size.
type multipathLUN struct {
	*multipath.Device
	g session.Geometry
}

func (m *multipathLUN) Size() int64      { return m.g.Size() }
func (m *multipathLUN) BlockSize() int64 { return int64(m.g.BlockSize) }

// printPaths prints the counters of each path of a multipath endpoint,
// one line each: what it carried, what was moved off it when it failed.
func printPaths(w io.Writer, what string, e *endpoint) {
	m, ok := e.rw.(*multipathLUN)
	if !ok {
		return
	}
	st := m.Stats()
	fmt.Fprintf(w, "%s: %d paths, %d commands failed over\n", what, len(st.Paths), st.Failovers)
	for i, p := range st.Paths {
		fmt.Fprintf(w, "%s path %d %s: %s, %d commands, %d errors, %d failed over, %d reconnects\n",
			what, i, p.Portal, p.State, p.Commands, p.Errors, p.Failovers, p.Session.Reconnects)
	}
}
