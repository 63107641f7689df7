//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package lunfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// The file's methods are called directly here, without a mount: the
// mounted behaviour is tested against tgtd in integration/fuse.

func fakeFile(t *testing.T, hook func(c *faketarget.Command) faketarget.Verdict) (*lunFile, *bytes.Buffer) {
	t.Helper()
	tg := faketarget.Start(t, faketarget.Config{
		Name:        "iqn.2024-01.test:lunfs",
		LUNs:        []faketarget.LUN{{Number: 1, Blocks: 4096}},
		Hooks:       faketarget.Hooks{Command: hook},
		OnViolation: func(v string) { t.Errorf("target saw a violation: %s", v) },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, "iscsi://"+tg.Addr()+"/"+tg.Name()+"/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var log bytes.Buffer
	return &lunFile{unit: s.DefaultUnit(), path: "lun1", log: slog.New(slog.NewTextHandler(&log, nil))}, &log
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestStatFollowsCapacity: a LUN that grows shows its new size at the
// next stat, without waiting for a unit attention.
func TestStatFollowsCapacity(t *testing.T) {
	var grown atomic.Bool
	f, log := fakeFile(t, func(c *faketarget.Command) faketarget.Verdict {
		if grown.Load() && c.CDB[0] == byte(scsi.OpServiceActionIn16) {
			data := make([]byte, 32)
			binary.BigEndian.PutUint64(data, 2*4096-1)
			binary.BigEndian.PutUint32(data[8:], 512)
			c.Done()
			_ = c.Peer.Reply(&pdu.DataIn{ITT: c.ITT(), Final: true, HasStatus: true}, data)
			return faketarget.Handled
		}
		return faketarget.Proceed
	})
	ctx := ctxT(t)
	var out fuse.AttrOut
	if e := f.Getattr(ctx, nil, &out); e != 0 || out.Size != 4096*512 || out.Nlink != 1 || out.Mode != syscall.S_IFREG|0o644 {
		t.Fatalf("Getattr: %v, size %d, nlink %d, mode %o", e, out.Size, out.Nlink, out.Mode)
	}
	grown.Store(true)
	if e := f.Getattr(ctx, nil, &out); e != 0 || out.Size != 2*4096*512 {
		t.Fatalf("Getattr after the LUN grew: %v, size %d", e, out.Size)
	}
	if !strings.Contains(log.String(), "capacity changed") {
		t.Errorf("log: %s", log)
	}
}

// TestReadErrorLogsSense: a MEDIUM ERROR is EIO for the program, and the
// sense is in the log.
func TestReadErrorLogsSense(t *testing.T) {
	f, log := fakeFile(t, func(c *faketarget.Command) faketarget.Verdict {
		if op := scsi.OpCode(c.CDB[0]); op == scsi.OpRead10 || op == scsi.OpRead16 {
			sense := make([]byte, 18)
			sense[0], sense[2], sense[7], sense[12], sense[13] = 0x70, byte(scsi.SenseMediumError), 10, 0x11, 0x00
			c.Fail(scsi.StatusCheckCondition, sense)
			return faketarget.Proceed
		}
		return faketarget.Proceed
	})
	_, e := f.Read(ctxT(t), nil, make([]byte, 4096), 1000)
	if e != syscall.EIO {
		t.Fatalf("Read: %v, want EIO", e)
	}
	if l := log.String(); !strings.Contains(l, "MEDIUM ERROR") || !strings.Contains(l, "errno=") || !strings.Contains(l, "offset=1000") {
		t.Errorf("the log does not say what failed:\n%s", l)
	}
}

// TestWriteLimits: a write past the end is ENOSPC, one that crosses it is
// short; a read-only file refuses writes, fallocate and open for writing.
func TestWriteLimits(t *testing.T) {
	f, _ := fakeFile(t, nil)
	ctx := ctxT(t)
	size := int64(4096 * 512)
	if n, e := f.Write(ctx, nil, make([]byte, 100), size); n != 0 || e != syscall.ENOSPC {
		t.Errorf("write at the end: %d, %v; want ENOSPC", n, e)
	}
	if n, e := f.Write(ctx, nil, bytes.Repeat([]byte{7}, 1000), size-300); n != 300 || e != 0 {
		t.Errorf("write across the end: %d, %v; want 300 bytes written", n, e)
	}
	buf := make([]byte, 300)
	if r, e := f.Read(ctx, nil, buf, size-300); e != 0 {
		t.Fatal(e)
	} else if b, _ := r.Bytes(buf); !bytes.Equal(b, bytes.Repeat([]byte{7}, 300)) {
		t.Errorf("the last 300 bytes read back as %x...", b[:8])
	}
	if e := f.Allocate(ctx, nil, 0, 4096, fallocPunchHole|fallocKeepSize); e != syscall.EOPNOTSUPP {
		t.Errorf("punching a hole in a thick LUN: %v, want EOPNOTSUPP", e)
	}
	if e := f.Allocate(ctx, nil, 0, 4096, 0); e != syscall.EOPNOTSUPP {
		t.Errorf("fallocate mode 0: %v, want EOPNOTSUPP", e)
	}
	if off, e := f.Lseek(ctx, nil, 4096, seekHole); e != 0 || off != uint64(size) {
		t.Errorf("SEEK_HOLE on a thick LUN: %d, %v; want the size", off, e)
	}
	if _, e := f.Lseek(ctx, nil, uint64(size), seekData); e != syscall.ENXIO {
		t.Errorf("SEEK_DATA at the end: %v, want ENXIO", e)
	}
	f.readOnly = true
	if _, e := f.Write(ctx, nil, []byte{1}, 0); e != syscall.EROFS {
		t.Errorf("write to a read-only file: %v, want EROFS", e)
	}
	if _, _, e := f.Open(ctx, syscall.O_RDWR); e != syscall.EROFS {
		t.Errorf("open O_RDWR of a read-only file: %v, want EROFS", e)
	}
	if _, _, e := f.Open(ctx, syscall.O_RDONLY); e != 0 {
		t.Errorf("open O_RDONLY of a read-only file: %v", e)
	}
}

// TestInterruptedRequestCompletes: a request whose context the kernel
// cancels (FUSE_INTERRUPT) still completes: no EINTR for a read or write.
func TestInterruptedRequestCompletes(t *testing.T) {
	f, _ := fakeFile(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := bytes.Repeat([]byte{0x5a}, 3000)
	if n, e := f.Write(ctx, nil, data, 777); e != 0 || n != 3000 {
		t.Fatalf("Write with a cancelled context: %d, %v", n, e)
	}
	buf := make([]byte, 3000)
	r, e := f.Read(ctx, nil, buf, 777)
	if e != 0 {
		t.Fatalf("Read with a cancelled context: %v", e)
	}
	if b, _ := r.Bytes(buf); !bytes.Equal(b, data) {
		t.Fatal("read back other bytes")
	}
	var out fuse.AttrOut
	if e := f.Getattr(ctx, nil, &out); e != 0 {
		t.Fatalf("Getattr with a cancelled context: %v", e)
	}
}

// TestLargeReadSplit: a large read goes out as concurrent parts, and comes
// back whole, at any aligned offset, up to the end of the LUN.
func TestLargeReadSplit(t *testing.T) {
	var reads atomic.Int32
	f, _ := fakeFile(t, func(c *faketarget.Command) faketarget.Verdict {
		if op := scsi.OpCode(c.CDB[0]); op == scsi.OpRead10 || op == scsi.OpRead16 {
			reads.Add(1)
		}
		return faketarget.Proceed
	})
	ctx := ctxT(t)
	size := int64(4096 * 512)
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i*7 + i>>11)
	}
	if _, err := f.unit.WriteAtContext(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off     int64
		n, want int
		split   bool
	}{
		{0, 1 << 20, 1 << 20, true},
		{512 * 7, 1<<20 - 4096, 1<<20 - 4096, true},
		{size - 300<<10, 1 << 20, 300 << 10, true}, // past the end: short
		{100, 1 << 20, 1 << 20, false},             // unaligned: one ReadAt
		{size, 1 << 20, 0, true},
	} {
		reads.Store(0)
		buf := make([]byte, c.n)
		r, e := f.Read(ctx, nil, buf, c.off)
		if e != 0 {
			t.Fatalf("Read(%d bytes at %d): %v", c.n, c.off, e)
		}
		got, _ := r.Bytes(buf)
		if len(got) != c.want || !bytes.Equal(got, want[c.off:c.off+int64(c.want)]) {
			t.Fatalf("Read(%d bytes at %d): %d bytes, want %d of the LUN's", c.n, c.off, len(got), c.want)
		}
		if n := reads.Load(); c.split && c.want > 0 && n < 2 {
			t.Errorf("Read(%d bytes at %d) sent %d READ, want it split", c.n, c.off, n)
		}
	}
}
