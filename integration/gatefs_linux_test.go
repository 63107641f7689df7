//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package integration

import (
	"bytes"
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// gateFile is a FUSE file backed by a real file whose writes can be held:
// a backing store for tgtd that keeps one of its WRITEs executing (a
// backing-store thread blocked in pwrite) for as long as a test wants, the
// way a slow disk does. Writes and reads go straight to the file (direct
// I/O, parallel writes), so a held write does not hold the others.
// go-fuse builds on 64-bit Linux only (as internal/lunfs).
type gateFile struct {
	fs.Inode
	f    *os.File
	size int64

	mu     sync.Mutex
	prefix []byte        // the next write starting with it is held
	held   chan struct{} // closed when that write arrived
	open   chan struct{} // closed to let it go on
	landed chan struct{} // closed when it has been written
}

var (
	_ fs.NodeOpener    = (*gateFile)(nil)
	_ fs.NodeReader    = (*gateFile)(nil)
	_ fs.NodeWriter    = (*gateFile)(nil)
	_ fs.NodeGetattrer = (*gateFile)(nil)
	_ fs.NodeFsyncer   = (*gateFile)(nil)
	_ fs.NodeSetattrer = (*gateFile)(nil)
)

// mountGate mounts a file system holding one file, "disk", of size bytes,
// backed by a file in a temporary directory, and returns the mounted
// file's path and its node.
func mountGate(t *testing.T, size int64) (string, *gateFile) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("/dev/fuse: %v (this test needs FUSE: scripts/install-deps.sh installs fuse3; load the module with modprobe fuse)", err)
	}
	f, err := os.CreateTemp(t.TempDir(), "gate-backing-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	g := &gateFile{f: f, size: size}
	root := &fs.Inode{}
	dir := t.TempDir()
	srv, err := fs.Mount(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{Name: "gatefs", FsName: "gatefs", DirectMount: true, DisableSplice: true, MaxBackground: 64},
		OnAdd: func(ctx context.Context) {
			root.AddChild("disk", root.NewPersistentInode(ctx, g, fs.StableAttr{Mode: syscall.S_IFREG, Ino: 2}), false)
		},
	})
	if err != nil {
		t.Fatalf("mount gatefs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		g.release()
		for i := 0; i < 50; i++ {
			if srv.Unmount() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("gatefs on %s would not unmount", dir)
	})
	return dir + "/disk", g
}

// hold makes the next write whose data starts with prefix wait until
// release; it returns channels closed when that write arrives and when it
// has been written.
func (g *gateFile) hold(prefix []byte) (held, landed <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prefix = bytes.Clone(prefix)
	g.held = make(chan struct{})
	g.open = make(chan struct{})
	g.landed = make(chan struct{})
	return g.held, g.landed
}

// release lets the held write go on (and any later one).
func (g *gateFile) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prefix = nil
	if g.open != nil {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	}
}

func (g *gateFile) Open(context.Context, uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_DIRECT_IO | fuse.FOPEN_PARALLEL_DIRECT_WRITES, 0
}

func (g *gateFile) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o644
	out.Size = uint64(g.size)
	out.Blocks = uint64(g.size) / 512
	return 0
}

func (g *gateFile) Setattr(_ context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok && int64(sz) != g.size {
		return syscall.EPERM
	}
	return g.Getattr(context.Background(), nil, out)
}

func (g *gateFile) Read(_ context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := g.f.ReadAt(dest, off)
	if err != nil && n == 0 && off < g.size {
		return nil, fs.ToErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (g *gateFile) Write(_ context.Context, _ fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	g.mu.Lock()
	var wait, landed chan struct{}
	if g.prefix != nil && bytes.HasPrefix(data, g.prefix) {
		g.prefix = nil // one write only
		close(g.held)
		wait, landed = g.open, g.landed
	}
	g.mu.Unlock()
	if wait != nil {
		<-wait
		defer close(landed)
	}
	n, err := g.f.WriteAt(data, off)
	if err != nil {
		return uint32(n), fs.ToErrno(err)
	}
	return uint32(n), 0
}

func (g *gateFile) Fsync(context.Context, fs.FileHandle, uint32) syscall.Errno {
	return fs.ToErrno(g.f.Sync())
}
