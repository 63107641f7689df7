//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package lunfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/iscsi-go/iscsi/session"
)

// Options are the mount's settings; the zero value mounts read-write with
// the page cache, visible to the mounting user only.
type Options struct {
	// ReadOnly makes every file read-only (a read-only mount: EROFS).
	ReadOnly bool
	// DirectIO bypasses the page cache: each read and write a program
	// makes goes to the LUN as it is (up to MaxIO at a time). Without it
	// reads are cached, and the cache of a file is dropped when it is
	// opened again.
	DirectIO bool
	// AllowOther lets other users than the mounting one use the mount
	// (FUSE's allow_other; a user other than root needs user_allow_other
	// in /etc/fuse.conf).
	AllowOther bool
	// FsName is shown as the mount's source in /proc/mounts (a URL
	// without its password); "iscsi" if empty.
	FsName string
	// Logger receives the failures (with their SCSI sense) and, at debug
	// level, every errno returned; nil discards them.
	Logger *slog.Logger
	// Debug logs every FUSE request (go-fuse's debug output) on stderr.
	Debug bool
}

// MaxIO is the largest read or write the kernel sends in one request.
const MaxIO = 1 << 20

// Server is a mounted Tree.
type Server struct {
	srv *fuse.Server
	dir string
	log *slog.Logger
}

// Mount mounts the files of t on dir, which must exist, and serves them
// until Unmount, or until the file system is unmounted from outside
// (fusermount3 -u): then Wait returns. t's sessions stay open; close them
// after Wait.
func Mount(dir string, t *Tree, o Options) (*Server, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root := &fs.Inode{}
	now := time.Now()
	nodes := make([]*lunFile, len(t.Files))
	for i, f := range t.Files {
		nodes[i] = &lunFile{unit: f.Unit, path: path.Join(f.Dir, f.Name), mtime: now, log: log,
			readOnly: o.ReadOnly || f.WriteProtected, direct: o.DirectIO}
	}
	zero := time.Duration(0)
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:    o.AllowOther,
			FsName:        o.FsName,
			Name:          "iscsi",
			MaxWrite:      MaxIO,
			MaxReadAhead:  MaxIO,
			MaxBackground: 64,
			DirectMount:   true, // mount(2) when root; fusermount3 otherwise
			// Reads return bytes, never a file descriptor to splice from:
			// go-fuse's splice attempt would cost syscalls on every read (and
			// fail, logging, for reads of MaxIO).
			DisableSplice: true,
			// No cache invalidation by the kernel from attributes: with it,
			// and the attributes never cached, every read(2) in the cached
			// mode would ask for them first (a READ CAPACITY per read).
			// Opening a file drops its cache (no FOPEN_KEEP_CACHE).
			ExplicitDataCacheControl: true,
			Debug:                    o.Debug,
		},
		// The size is read again at every stat (a LUN may be resized).
		AttrTimeout: &zero,
		UID:         uint32(os.Getuid()),
		GID:         uint32(os.Getgid()),
		OnAdd: func(ctx context.Context) {
			dirs := map[string]*fs.Inode{"": root}
			for i, f := range t.Files {
				parent := dirs[f.Dir]
				if parent == nil {
					parent = root.NewPersistentInode(ctx, &fs.Inode{}, fs.StableAttr{Mode: syscall.S_IFDIR})
					root.AddChild(f.Dir, parent, false)
					dirs[f.Dir] = parent
				}
				ch := parent.NewPersistentInode(ctx, nodes[i], fs.StableAttr{Mode: syscall.S_IFREG, Ino: uint64(i + 2)})
				parent.AddChild(f.Name, ch, false)
			}
		},
	}
	if opts.FsName == "" {
		opts.FsName = "iscsi"
	}
	// The kernel checks the files' modes (0644, 0444 read-only; owner the
	// mounting user): with AllowOther, others may read but not write.
	opts.MountOptions.Options = append(opts.MountOptions.Options, "default_permissions")
	if o.ReadOnly {
		opts.MountOptions.Options = append(opts.MountOptions.Options, "ro")
	}
	srv, err := fs.Mount(dir, root, opts)
	if err != nil {
		return nil, fmt.Errorf("mount on %s: %w", dir, err)
	}
	if !o.DirectIO {
		setReadahead(dir, log)
	}
	return &Server{srv: srv, dir: dir, log: log}, nil
}

// Readahead is the read-ahead window the mount asks the kernel for in the
// cached mode: several requests of MaxIO in flight. The kernel starts FUSE
// mounts at 128 KiB, whatever the file system says, which makes sequential
// reads a queue of 128 KiB requests, one or two at a time.
const Readahead = 4 * MaxIO

// setReadahead raises the read-ahead of the mount on dir to Readahead,
// through its backing device's read_ahead_kb in sysfs; it needs root, and
// without it the kernel's default stays.
func setReadahead(dir string, log *slog.Logger) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		log.Debug("iscsi-fuse: read-ahead left as it is", "err", err)
		return
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(path, []byte(strconv.Itoa(Readahead>>10)), 0); err != nil {
		log.Debug("iscsi-fuse: read-ahead left as it is", "err", err)
	}
}

// Wait returns when the file system is unmounted.
func (s *Server) Wait() { s.srv.Wait() }

// Unmount unmounts the file system. When it is busy (a program has a file
// open) it is detached lazily instead: gone from the namespace at once,
// served until the last file is closed (Wait returns then).
func (s *Server) Unmount() error {
	err := s.srv.Unmount()
	if err == nil {
		return nil
	}
	s.log.Warn("iscsi-fuse: unmount failed; detaching lazily", "dir", s.dir, "err", err)
	if lerr := syscall.Unmount(s.dir, syscall.MNT_DETACH); lerr == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, ferr := exec.CommandContext(ctx, "fusermount3", "-u", "-z", s.dir).CombinedOutput(); ferr != nil {
		return errors.Join(err, fmt.Errorf("fusermount3 -u -z: %w: %s", ferr, out))
	}
	return nil
}

// lunFile is one LUN as a file.
type lunFile struct {
	fs.Inode
	unit     *session.LogicalUnit
	path     string // under the mount point, for the log
	mtime    time.Time
	readOnly bool
	direct   bool
	log      *slog.Logger

	// blocks caches the count of 512-byte blocks a thin LUN has mapped
	// (st_blocks), for a second: stat is frequent, the count takes GET
	// LBA STATUS over the whole LUN.
	mu       sync.Mutex
	blocks   uint64
	blocksAt time.Time
}

var (
	_ fs.NodeGetattrer = (*lunFile)(nil)
	_ fs.NodeSetattrer = (*lunFile)(nil)
	_ fs.NodeOpener    = (*lunFile)(nil)
	_ fs.NodeReader    = (*lunFile)(nil)
	_ fs.NodeWriter    = (*lunFile)(nil)
	_ fs.NodeFsyncer   = (*lunFile)(nil)
	_ fs.NodeAllocater = (*lunFile)(nil)
	_ fs.NodeLseeker   = (*lunFile)(nil)
)

// uninterrupted returns ctx without its cancellation: a request the kernel
// interrupts (a signal to the program, FUSE_INTERRUPT) still completes, as
// a read or write of a local disk does. Answering EINTR instead would fail
// programs that never expect it from a regular file (qemu-img does not
// retry an interrupted pread); a program killed meanwhile is not waited
// for by the kernel, and the session's own timeouts bound the command.
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// fail logs err and returns its errno.
func (f *lunFile) fail(op string, off int64, n int, err error) syscall.Errno {
	e := Errno(err)
	lvl := slog.LevelWarn
	if e == syscall.EINTR || e == syscall.EOPNOTSUPP || e == syscall.EROFS || e == syscall.ENOSPC {
		lvl = slog.LevelDebug // the program's business, not a failure of the LUN
	}
	f.log.Log(context.Background(), lvl, "iscsi-fuse: "+op+" failed", "file", f.path, "offset", off, "len", n, "errno", e.Error(), "err", err)
	return e
}

// geometry returns the LUN's geometry as the target now reports it: READ
// CAPACITY is asked every time, and a change of size or block length
// makes the session read the whole geometry again.
func (f *lunFile) geometry(ctx context.Context) (session.Geometry, error) {
	g, err := f.unit.Geometry(ctx)
	if err != nil {
		return g, err
	}
	c, err := f.unit.ReadCapacity(ctx)
	if err != nil {
		return g, err
	}
	if c.ReturnedLBA+1 != g.Blocks || c.BlockLength != g.BlockSize {
		f.log.Info("iscsi-fuse: the LUN's capacity changed", "file", f.path, "bytes", int64(c.ReturnedLBA+1)*int64(c.BlockLength))
		f.mu.Lock()
		f.blocksAt = time.Time{}
		f.mu.Unlock()
		return f.unit.Refresh(ctx)
	}
	return g, nil
}

func (f *lunFile) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	g, err := f.geometry(ctx)
	if err != nil {
		return f.fail("stat", -1, 0, err)
	}
	f.fill(ctx, g, &out.Attr)
	return 0
}

func (f *lunFile) fill(ctx context.Context, g session.Geometry, a *fuse.Attr) {
	a.Mode = syscall.S_IFREG | 0o644
	if f.readOnly {
		a.Mode = syscall.S_IFREG | 0o444
	}
	a.Nlink = 1
	a.Size = uint64(g.Size())
	a.Blksize = g.PhysicalBlockSize
	a.Blocks = f.mappedBlocks(ctx, g)
	a.SetTimes(&f.mtime, &f.mtime, &f.mtime)
}

// maxExtents bounds the extents counted for st_blocks; a LUN with more
// shows as fully mapped.
const maxExtents = 1 << 14

// mappedBlocks returns st_blocks: the whole size for a thick LUN, the
// mapped blocks of a thin one whose unmapped blocks read as zeros (so
// that cp and tar look for holes), from a count at most a second old.
func (f *lunFile) mappedBlocks(ctx context.Context, g session.Geometry) uint64 {
	all := uint64(g.Size()+511) / 512
	if !g.Thin || !g.UnmappedReadsZero {
		return all
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.blocksAt) < time.Second {
		return f.blocks
	}
	var mapped uint64
	n := 0
	for e, err := range f.unit.Extents(ctx, 0, g.Blocks) {
		if err != nil || n == maxExtents {
			f.log.Debug("iscsi-fuse: counting mapped blocks", "file", f.path, "err", err, "extents", n)
			return all
		}
		n++
		if e.Mapped() {
			mapped += e.Blocks
		}
	}
	f.blocks = mapped * uint64(g.BlockSize) / 512
	f.blocksAt = time.Now()
	return f.blocks
}

// Setattr accepts what changes nothing on a LUN (times, a truncate to its
// size) and refuses a new size: EPERM.
func (f *lunFile) Setattr(ctx context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	g, err := f.geometry(ctx)
	if err != nil {
		return f.fail("setattr", -1, 0, err)
	}
	if sz, ok := in.GetSize(); ok && sz != uint64(g.Size()) {
		f.log.Debug("iscsi-fuse: refusing to change the size of a LUN", "file", f.path, "size", sz)
		return syscall.EPERM
	}
	f.fill(ctx, g, &out.Attr)
	return 0
}

func (f *lunFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if f.readOnly && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	if flags&syscall.O_TRUNC != 0 {
		g, err := f.geometry(ctx)
		if err != nil {
			return nil, 0, f.fail("open", -1, 0, err)
		}
		if g.Size() != 0 {
			return nil, 0, syscall.EPERM
		}
	}
	var ff uint32
	if f.direct {
		ff = fuse.FOPEN_DIRECT_IO | fuse.FOPEN_PARALLEL_DIRECT_WRITES
	}
	return nil, ff, 0
}

func (f *lunFile) Read(ctx context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx = uninterrupted(ctx)
	n, err := f.readSplit(ctx, dest, off)
	if err != nil && Errno(err) != 0 {
		return nil, f.fail("read", off, len(dest), err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (f *lunFile) Write(ctx context.Context, _ fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if f.readOnly {
		return 0, syscall.EROFS
	}
	g, err := f.unit.Geometry(ctx)
	if err != nil {
		return 0, f.fail("write", off, len(data), err)
	}
	if size := g.Size(); off+int64(len(data)) > size {
		if off >= size {
			return 0, syscall.ENOSPC
		}
		data = data[:size-off] // a short write; the next one fails
	}
	n, err := f.unit.WriteAtContext(ctx, data, off)
	if err != nil {
		if n > 0 {
			f.fail("write", off, len(data), err)
			return uint32(n), 0
		}
		return 0, f.fail("write", off, len(data), err)
	}
	return uint32(n), 0
}

func (f *lunFile) Fsync(ctx context.Context, _ fs.FileHandle, _ uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if err := f.unit.Sync(ctx); err != nil {
		return f.fail("fsync", -1, 0, err)
	}
	return 0
}

// fallocate modes (linux/falloc.h).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	fallocZeroRange = 0x10
)

// Allocate serves fallocate: PUNCH_HOLE|KEEP_SIZE on a thin LUN and
// ZERO_RANGE (with or without KEEP_SIZE) on any LUN make the range read as
// zeros, with WRITE SAME (with UNMAP where the LUN's unmapped blocks read
// as zeros, so that the blocks are freed) and writes for partial blocks.
// Anything else (allocating, a hole in a thick LUN) is EOPNOTSUPP.
func (f *lunFile) Allocate(ctx context.Context, _ fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if f.readOnly {
		return syscall.EROFS
	}
	g, err := f.unit.Geometry(ctx)
	if err != nil {
		return f.fail("fallocate", int64(off), int(size), err)
	}
	switch mode {
	case fallocPunchHole | fallocKeepSize:
		if !g.Thin {
			return syscall.EOPNOTSUPP
		}
	case fallocZeroRange, fallocZeroRange | fallocKeepSize:
	default:
		return syscall.EOPNOTSUPP
	}
	end := min(off+size, uint64(g.Size()))
	if off >= end {
		return 0
	}
	if err := f.unit.WriteZeroes(ctx, int64(off), int64(end-off)); err != nil {
		return f.fail("fallocate", int64(off), int(end-off), err)
	}
	f.mu.Lock()
	f.blocksAt = time.Time{}
	f.mu.Unlock()
	return 0
}

// lseek whence values for holes (unistd.h).
const (
	seekData = 3
	seekHole = 4
)

// Lseek serves SEEK_DATA and SEEK_HOLE (the kernel answers the others).
// Holes are the deallocated blocks of a thin LUN whose unmapped blocks
// read as zeros, from GET LBA STATUS; any other LUN is data from start to
// end.
func (f *lunFile) Lseek(ctx context.Context, _ fs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	ctx = uninterrupted(ctx)
	g, err := f.unit.Geometry(ctx)
	if err != nil {
		return 0, f.fail("lseek", int64(off), 0, err)
	}
	size := uint64(g.Size())
	if whence != seekData && whence != seekHole {
		return 0, syscall.EINVAL
	}
	if off >= size {
		return 0, syscall.ENXIO
	}
	if !g.Thin || !g.UnmappedReadsZero {
		if whence == seekData {
			return off, 0
		}
		return size, 0
	}
	bs := uint64(g.BlockSize)
	for e, err := range f.unit.Extents(ctx, off/bs, g.Blocks) {
		if err != nil {
			return 0, f.fail("lseek", int64(off), 0, err)
		}
		if e.Mapped() == (whence == seekData) {
			return max(off, e.LBA*bs), 0
		}
	}
	if whence == seekData {
		return 0, syscall.ENXIO
	}
	return size, 0
}

// Large reads are cut into splitPieces commands of at least splitMin
// bytes, sent at once: a program reading at queue depth 1 (dd with
// --direct-io) then has the target work on several parts at a time, and
// tgtd spends less CPU per byte on 256 KiB READs than on 1 MiB ones
// (bench/fuse.sh).
const (
	splitPieces = 4
	splitMin    = 256 << 10
)

// readSplit is ReadAtContext of dest at off, in splitPieces concurrent
// parts when dest is large and off block-aligned.
func (f *lunFile) readSplit(ctx context.Context, dest []byte, off int64) (int, error) {
	g, err := f.unit.Geometry(ctx)
	if err != nil {
		return 0, err
	}
	bs := int(g.BlockSize)
	if len(dest) < 2*splitMin || off%int64(bs) != 0 {
		return f.unit.ReadAtContext(ctx, dest, off)
	}
	size := (len(dest) + splitPieces - 1) / splitPieces
	size = max(splitMin, (size+bs-1)/bs*bs)
	type result struct {
		n   int
		err error
	}
	var out [splitPieces]result
	var wg sync.WaitGroup
	parts := 0
	for start := 0; start < len(dest) && parts < splitPieces; start += size {
		end := min(start+size, len(dest))
		if parts == splitPieces-1 {
			end = len(dest)
		}
		r := &out[parts]
		parts++
		wg.Go(func() { r.n, r.err = f.unit.ReadAtContext(ctx, dest[start:end], off+int64(start)) })
	}
	wg.Wait()
	// The bytes read contiguously from the start, and the first error by
	// offset (io.EOF for a read past the end).
	total := 0
	for i := range parts {
		total += out[i].n
		if out[i].err != nil {
			return total, out[i].err
		}
	}
	return total, nil
}
