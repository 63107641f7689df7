package session_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Bulk tests run against a RAM LUN of bulkBlocks 512-byte blocks whose
// Block Limits page says bulkMaxBlocks per command, so that a few hundred
// KiB already make many commands, and check the target's bytes directly.
const (
	bulkBlocks    = 4096 // 2 MiB
	bulkMaxBlocks = 16   // MaxTransfer 8 KiB
	bulkXfer      = bulkMaxBlocks * 512
)

// rwLBA returns the LBA of a READ or WRITE CDB and whether it is one.
func rwLBA(cdb []byte) (lba uint64, write, ok bool) {
	switch scsi.OpCode(cdb[0]) {
	case scsi.OpRead10, scsi.OpWrite10:
		return uint64(binary.BigEndian.Uint32(cdb[2:])), scsi.OpCode(cdb[0]) == scsi.OpWrite10, true
	case scsi.OpRead16, scsi.OpWrite16:
		return binary.BigEndian.Uint64(cdb[2:]), scsi.OpCode(cdb[0]) == scsi.OpWrite16, true
	}
	return 0, false, false
}

// bulkTarget starts a RAM LUN filled with a pattern; hook, if not nil,
// sees each READ and WRITE (LBA, write) first.
// It returns a function that copies the LUN's bytes from the target.
func bulkTarget(t *testing.T, hook func(c *faketarget.Command, lba uint64, write bool) faketarget.Verdict, scfg *session.Config) (func() []byte, *session.LogicalUnit) {
	t.Helper()
	data := pattern(bulkBlocks*512, 7)
	cfg := faketarget.Config{MaxTransferLength: bulkMaxBlocks, MaxRecvDataSegmentLength: 65536,
		LUNs: []faketarget.LUN{{Number: 1, Blocks: bulkBlocks, Data: data}}}
	if hook != nil {
		cfg.Hooks.Command = func(c *faketarget.Command) faketarget.Verdict {
			if lba, write, ok := rwLBA(c.CDB); ok {
				return hook(c, lba, write)
			}
			return faketarget.Proceed
		}
	}
	tg, s := dial(t, cfg, scfg)
	u := s.DefaultUnit()
	g, err := u.Geometry(ctxT(t))
	if err != nil || g.MaxTransfer != bulkXfer {
		t.Fatalf("geometry %+v, %v; want MaxTransfer %d", g, err, bulkXfer)
	}
	return func() []byte { return tg.LUNData(1) }, u
}

// failAt makes the first READ or WRITE (as write says) starting at lba end
// with CHECK CONDITION, MEDIUM ERROR, after its data transfer.
func failAt(lba uint64, write bool, hits *atomic.Int32) func(*faketarget.Command, uint64, bool) faketarget.Verdict {
	return func(c *faketarget.Command, l uint64, w bool) faketarget.Verdict {
		if l == lba && w == write && hits.Add(1) == 1 {
			asc := scsi.ASCUnrecoveredReadError
			if write {
				asc = scsi.ASCWriteError
			}
			c.Fail(scsi.StatusCheckCondition, fixedSense(scsi.SenseMediumError, asc))
		}
		return faketarget.Proceed
	}
}

// lunBytes reads the whole LUN through the session.
func lunBytes(t *testing.T, u *session.LogicalUnit) []byte {
	t.Helper()
	p := make([]byte, bulkBlocks*512)
	if n, err := u.ReadAt(p, 0); n != len(p) || err != nil {
		t.Fatalf("reading the LUN back: %d, %v", n, err)
	}
	return p
}

// the ranges of the bulk tests: aligned or not at either end, one command
// or many, and up to the end of the LUN.
var bulkRanges = []struct {
	name   string
	off, n int64
}{
	{"aligned", 0, 40 * bulkXfer},
	{"unaligned-start", 100, 30*bulkXfer + 412},
	{"unaligned-both", 1000, 25*bulkXfer + 77},
	{"unaligned-end", 4096, 33*bulkXfer + 5},
	{"small", 513, 1000},
	{"one-block", 1024, 512},
	{"to-end", bulkBlocks*512 - 20*bulkXfer - 300, 20*bulkXfer + 300},
}

func TestBulkReadAtWriteAt(t *testing.T) {
	lun, u := bulkTarget(t, nil, nil)
	for _, c := range bulkRanges {
		t.Run(c.name, func(t *testing.T) {
			data := lun()
			got := make([]byte, c.n)
			if n, err := u.ReadAt(got, c.off); n != int(c.n) || err != nil {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			if !bytes.Equal(got, data[c.off:c.off+c.n]) {
				t.Fatal("ReadAt returned other bytes than the LUN's")
			}
			before := data
			in := pattern(int(c.n), byte(c.off))
			if n, err := u.WriteAt(in, c.off); n != int(c.n) || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
			copy(before[c.off:], in)
			if !bytes.Equal(lun(), before) {
				t.Fatal("the LUN does not hold the bytes written (and only them)")
			}
		})
	}
	data := lun()
	// Past the end: the bytes up to the end, then io.EOF.
	p := make([]byte, 5*bulkXfer)
	off := int64(len(data)) - 3*bulkXfer - 10
	if n, err := u.ReadAt(p, off); n != 3*bulkXfer+10 || err != io.EOF || !bytes.Equal(p[:n], data[off:]) {
		t.Fatalf("ReadAt across the end = %d, %v", n, err)
	}
	if _, err := u.WriteAt(p, off); !errors.Is(err, session.ErrBeyondEnd) {
		t.Fatalf("WriteAt across the end: %v", err)
	}
}

// TestBulkReadAtErrorMidway: a failed command in the middle of a large
// ReadAt ends it with the bytes before that command and the error, which
// says where; a later command that failed too does not hide it.
func TestBulkReadAtErrorMidway(t *testing.T) {
	const badLBA = 101 + 9*bulkMaxBlocks // the 10th command after the head block, 100
	var hits, later atomic.Int32
	first := failAt(badLBA, false, &hits)
	lun, u := bulkTarget(t, func(c *faketarget.Command, lba uint64, w bool) faketarget.Verdict {
		if lba == badLBA+2*bulkMaxBlocks && later.Add(1) == 1 {
			c.Fail(scsi.StatusCheckCondition, fixedSense(scsi.SenseHardwareError, 0x4400))
		}
		return first(c, lba, w)
	}, nil)
	off := int64(100*512 + 17)
	p := make([]byte, 30*bulkXfer)
	n, err := u.ReadAt(p, off)
	want := badLBA*512 - off
	if int64(n) != want || !errors.Is(err, scsi.ErrMediumError) {
		t.Fatalf("ReadAt = %d, %v; want %d, MEDIUM ERROR", n, err, want)
	}
	var oe *session.OpError
	if !errors.As(err, &oe) || oe.Offset != badLBA*512 {
		t.Fatalf("error does not say the failed command's offset: %v", err)
	}
	if !bytes.Equal(p[:n], lun()[off:off+int64(n)]) {
		t.Fatal("the bytes reported read are not the LUN's")
	}
}

// TestBulkWriteAtErrorMidway: a failed WRITE in the middle of a large
// WriteAt: n ends where it starts, and the bytes before are written.
func TestBulkWriteAtErrorMidway(t *testing.T) {
	const badLBA = 40 + 5*bulkMaxBlocks
	var hits atomic.Int32
	lun, u := bulkTarget(t, failAt(badLBA, true, &hits), nil)
	old := lun()
	off := int64(40*512 - 3)
	in := pattern(20*bulkXfer, 99)
	n, err := u.WriteAt(in, off)
	want := badLBA*512 - off
	if int64(n) != want || !errors.Is(err, scsi.ErrMediumError) {
		t.Fatalf("WriteAt = %d, %v; want %d, MEDIUM ERROR", n, err, want)
	}
	// Aborted WRITEs after the failed one may still be landing: look
	// through the session, not at the target's memory.
	data := lunBytes(t, u)
	if !bytes.Equal(data[off:off+int64(n)], in[:n]) || !bytes.Equal(data[:off], old[:off]) {
		t.Fatal("the bytes reported written are not on the LUN, or bytes before them changed")
	}
	// The failed command's blocks were not written by it.
	bad := data[badLBA*512 : badLBA*512+bulkXfer]
	if !bytes.Equal(bad, old[badLBA*512:badLBA*512+bulkXfer]) {
		t.Fatal("the failed WRITE's blocks changed")
	}
}

// noWriterTo hides a reader's WriterTo, so that io.Copy uses the
// destination's ReaderFrom.
type noWriterTo struct{ io.Reader }

// noReaderFrom hides a writer's ReaderFrom, so that io.Copy uses the
// source's WriterTo.
type noReaderFrom struct{ io.Writer }

func TestReaderCopy(t *testing.T) {
	lun, u := bulkTarget(t, nil, nil)
	data := lun()
	ctx := ctxT(t)
	for _, c := range bulkRanges {
		t.Run(c.name, func(t *testing.T) {
			// WriteTo.
			var out bytes.Buffer
			r := u.NewReader(ctx, c.off, c.n)
			if n, err := io.Copy(noReaderFrom{&out}, r); n != c.n || err != nil {
				t.Fatalf("io.Copy = %d, %v", n, err)
			}
			if !bytes.Equal(out.Bytes(), data[c.off:c.off+c.n]) {
				t.Fatal("WriteTo delivered other bytes than the LUN's")
			}
			if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Fatalf("Read after the end = %d, %v", n, err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			// Read, in pieces of odd sizes, and the io.Reader contract.
			r = u.NewReader(ctx, c.off, c.n)
			if err := iotest.TestReader(r, data[c.off:c.off+c.n]); err != nil {
				t.Fatal(err)
			}
			r.Close()
		})
	}
	// n < 0, or past the end: up to the end of the LUN.
	off := int64(len(data) - 5*bulkXfer - 3)
	for _, n := range []int64{-1, 1 << 40} {
		got, err := io.ReadAll(u.NewReader(ctx, off, n))
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Fatalf("NewReader(%d, %d): %d bytes, %v", off, n, len(got), err)
		}
	}
	if _, err := u.NewReader(ctx, int64(len(data)), 10).Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("Read at the end of the LUN: %v", err)
	}
	if _, err := u.NewReader(ctx, -1, 10).Read(make([]byte, 1)); !errors.Is(err, session.ErrNegativeOffset) {
		t.Fatalf("negative offset: %v", err)
	}
}

// TestReaderErrorMidStream: the bytes before the failed command are
// delivered, then its error; the LUN's bytes were delivered exactly.
func TestReaderErrorMidStream(t *testing.T) {
	const badLBA = 8 + 12*bulkMaxBlocks
	var hits atomic.Int32
	lun, u := bulkTarget(t, failAt(badLBA, false, &hits), nil)
	data := lun()
	off := int64(8*512 + 100)
	for _, name := range []string{"WriteTo", "Read"} {
		hits.Store(0)
		r := u.NewReader(ctxT(t), off, 40*bulkXfer)
		var out bytes.Buffer
		var n int64
		var err error
		if name == "WriteTo" {
			n, err = r.WriteTo(&out)
		} else {
			n, err = io.CopyBuffer(&out, noWriterTo{r}, make([]byte, 3000))
		}
		want := badLBA*512 - off
		if n != want || !errors.Is(err, scsi.ErrMediumError) {
			t.Fatalf("%s: %d, %v; want %d, MEDIUM ERROR", name, n, err, want)
		}
		if !bytes.Equal(out.Bytes(), data[off:off+want]) {
			t.Fatalf("%s: delivered other bytes than the LUN's", name)
		}
		if _, err2 := r.Read(make([]byte, 1)); !errors.Is(err2, scsi.ErrMediumError) {
			t.Fatalf("%s: Read after the error: %v", name, err2)
		}
		r.Close()
	}
}

func TestWriterCopy(t *testing.T) {
	lun, u := bulkTarget(t, nil, nil)
	ctx := ctxT(t)
	for _, c := range bulkRanges {
		for _, how := range []string{"ReadFrom", "Write-odd-pieces"} {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				before := lun()
				in := pattern(int(c.n), byte(c.n))
				w := u.NewWriter(ctx, c.off)
				var n int64
				var err error
				if how == "ReadFrom" {
					n, err = io.Copy(w, noWriterTo{bytes.NewReader(in)})
				} else {
					n, err = io.CopyBuffer(noReaderFrom{w}, noWriterTo{bytes.NewReader(in)}, make([]byte, 777))
				}
				if n != c.n || err != nil {
					t.Fatalf("io.Copy = %d, %v", n, err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if w.Written() != c.n {
					t.Fatalf("Written = %d, want %d", w.Written(), c.n)
				}
				copy(before[c.off:], in)
				if !bytes.Equal(lun(), before) {
					t.Fatal("the LUN does not hold the bytes written (and only them)")
				}
				if _, err := w.Write([]byte{1}); !errors.Is(err, session.ErrStreamClosed) {
					t.Fatalf("Write after Close: %v", err)
				}
			})
		}
	}
	// Flush in the middle of a block, then more: the block is read,
	// modified and written twice, and holds both parts.
	before := lun()
	w := u.NewWriter(ctx, 3000)
	a, b := pattern(bulkXfer+100, 1), pattern(2*bulkXfer+50, 2)
	if _, err := w.Write(a); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil || w.Written() != int64(len(a)) {
		t.Fatalf("Flush: %v, Written %d", err, w.Written())
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	copy(before[3000:], a)
	copy(before[3000+len(a):], b)
	if !bytes.Equal(lun(), before) {
		t.Fatal("Flush mid-block lost bytes")
	}
	// Past the end of the LUN.
	w = u.NewWriter(ctx, int64(len(before))-100)
	if n, err := w.Write(make([]byte, 200)); n != 100 || !errors.Is(err, session.ErrBeyondEnd) {
		t.Fatalf("Write past the end = %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after a write past the end: %v", err)
	}
}

// TestWriterErrorMidStream: a failed WRITE is reported by a later Write or
// by Close; Written stops before it; nothing reported as written differs
// from what was given, and the failed command's blocks are untouched.
func TestWriterErrorMidStream(t *testing.T) {
	const badLBA = 3 + 8*bulkMaxBlocks // buffers start at block 3, the head's
	var hits atomic.Int32
	lun, u := bulkTarget(t, failAt(badLBA, true, &hits), nil)
	old := lun()
	off := int64(4*512 - 200)
	in := pattern(40*bulkXfer, 5)
	w := u.NewWriter(ctxT(t), off)
	_, err := io.Copy(w, noWriterTo{bytes.NewReader(in)})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, scsi.ErrMediumError) {
		t.Fatalf("error %v, want MEDIUM ERROR", err)
	}
	data := lunBytes(t, u)
	var oe *session.OpError
	if !errors.As(err, &oe) || oe.Offset != badLBA*512 {
		t.Fatalf("error does not say the failed command's offset: %v", err)
	}
	if wr := w.Written(); wr != badLBA*512-off {
		t.Fatalf("Written = %d, want %d", wr, badLBA*512-off)
	}
	if !bytes.Equal(data[off:badLBA*512], in[:badLBA*512-off]) || !bytes.Equal(data[:off], old[:off]) {
		t.Fatal("the bytes reported written are not on the LUN, or bytes before them changed")
	}
	if !bytes.Equal(data[badLBA*512:badLBA*512+bulkXfer], old[badLBA*512:badLBA*512+bulkXfer]) {
		t.Fatal("the failed WRITE's blocks changed")
	}
	if _, err := w.Write([]byte{1}); err == nil {
		t.Fatal("Write after a failure succeeded")
	}
}

// TestBulkCancel: cancelling the context of a large ReadAtContext, a
// Reader or a Writer while a command is held by the target ends it with
// the context's error, and nothing stays in flight (goleak, Close).
func TestBulkCancel(t *testing.T) {
	const heldLBA = 6 * bulkMaxBlocks
	held := make(chan *faketarget.Command, 8)
	var hold atomic.Bool
	_, u := bulkTarget(t, func(c *faketarget.Command, lba uint64, w bool) faketarget.Verdict {
		if lba == heldLBA && hold.Load() {
			held <- c
			return faketarget.Handled // never answered; ABORT TASK finds it
		}
		return faketarget.Proceed
	}, nil)
	run := map[string]func(ctx context.Context) error{
		"ReadAtContext": func(ctx context.Context) error {
			_, err := u.ReadAtContext(ctx, make([]byte, 20*bulkXfer), 0)
			return err
		},
		"WriteAtContext": func(ctx context.Context) error {
			_, err := u.WriteAtContext(ctx, make([]byte, 20*bulkXfer), 0)
			return err
		},
		"Reader": func(ctx context.Context) error {
			r := u.NewReader(ctx, 0, 20*bulkXfer)
			defer r.Close()
			_, err := io.Copy(io.Discard, r)
			return err
		},
		"Writer": func(ctx context.Context) error {
			w := u.NewWriter(ctx, 0)
			_, err := w.Write(make([]byte, 20*bulkXfer))
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	for name, f := range run {
		t.Run(name, func(t *testing.T) {
			hold.Store(true)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- f(ctx) }()
			select {
			case <-held:
			case <-time.After(10 * time.Second):
				t.Fatal("the command never reached the target")
			}
			hold.Store(false)
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("error %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("cancel did not end it")
			}
		})
	}
}

// TestBulkCommandTimeout: each command of a large ReadAt is bounded by
// CommandTimeout; the pipe's reused contexts report it as a deadline and
// as ErrCommandTimeout.
func TestBulkCommandTimeout(t *testing.T) {
	const heldLBA = 3 * bulkMaxBlocks
	var hits atomic.Int32
	_, u := bulkTarget(t, func(c *faketarget.Command, lba uint64, w bool) faketarget.Verdict {
		if lba == heldLBA && hits.Add(1) == 1 {
			return faketarget.Handled // never answered
		}
		return faketarget.Proceed
	}, &session.Config{CommandTimeout: time.Second})
	p := make([]byte, 10*bulkXfer)
	n, err := u.ReadAt(p, 0)
	if n != heldLBA*512 || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, session.ErrCommandTimeout) {
		t.Fatalf("ReadAt = %d, %v; want %d, a command timeout", n, err, heldLBA*512)
	}
	// The slots' contexts were renewed: the next large read works.
	if n, err := u.ReadAt(p, 0); n != len(p) || err != nil {
		t.Fatalf("ReadAt after a timeout = %d, %v", n, err)
	}
	r := u.NewReader(context.Background(), 0, -1)
	hits.Store(0)
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, session.ErrCommandTimeout) {
		t.Fatalf("Reader: %v, want a command timeout", err)
	}
	r.Close()
}

// TestBulkRetries: BUSY on a command of a large ReadAt is retried in the
// pipe, as it is for one command.
func TestBulkRetries(t *testing.T) {
	const busyLBA = 5 * bulkMaxBlocks
	var busy atomic.Int32
	lun, u := bulkTarget(t, func(c *faketarget.Command, lba uint64, w bool) faketarget.Verdict {
		if lba == busyLBA && busy.Add(1) <= 2 {
			_ = c.Respond(scsi.StatusBusy, nil)
			return faketarget.Handled
		}
		return faketarget.Proceed
	}, nil)
	p := make([]byte, 12*bulkXfer)
	if n, err := u.ReadAt(p, 0); n != len(p) || err != nil || !bytes.Equal(p, lun()[:len(p)]) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if busy.Load() < 3 {
		t.Fatalf("BUSY answered %d times: not retried", busy.Load())
	}
}

// TestStreamsWithFiles: io.Copy between a file and the LUN, both ways, the
// everyday use (os.File has WriteTo and ReadFrom of its own: io.Copy must
// still end up in the Reader's WriteTo and the Writer's ReadFrom).
func TestStreamsWithFiles(t *testing.T) {
	lun, u := bulkTarget(t, nil, nil)
	ctx := ctxT(t)
	dir := t.TempDir()
	in := pattern(30*bulkXfer+123, 42)
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const off = 7*512 + 9
	before := lun()
	w := u.NewWriter(ctx, off)
	if n, err := io.Copy(w, f); n != int64(len(in)) || err != nil {
		t.Fatalf("io.Copy(Writer, file) = %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	copy(before[off:], in)
	if !bytes.Equal(lun(), before) {
		t.Fatal("the LUN does not hold the file's bytes (and only them)")
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	r := u.NewReader(ctx, off, int64(len(in)))
	defer r.Close()
	if n, err := io.Copy(out, r); n != int64(len(in)) || err != nil {
		t.Fatalf("io.Copy(file, Reader) = %d, %v", n, err)
	}
	got, err := os.ReadFile(out.Name())
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("the file read back from the LUN differs (%v)", err)
	}
}

// TestBulkThroughReconnects: the target drops the connection under a large
// WriteAt, a Writer, a large ReadAt and a Reader, each with 8 commands in
// flight; the session sends them again on a new connection and every
// byte lands and reads back right.
func TestBulkThroughReconnects(t *testing.T) {
	var cmds, cuts atomic.Int32
	lun, u := bulkTarget(t, func(c *faketarget.Command, lba uint64, w bool) faketarget.Verdict {
		if n := cmds.Add(1); n%40 == 0 && cuts.Load() < 4 { // one in each of the four
			cuts.Add(1)
			c.Peer.Close() // lost with the connection and those in flight
			return faketarget.Handled
		}
		return faketarget.Proceed
	}, nil)
	ctx := ctxT(t)
	const off = 3*512 + 1
	want := pattern(40*bulkXfer+99, 77)
	if n, err := u.WriteAtContext(ctx, want, off); n != len(want) || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	want2 := pattern(40*bulkXfer+99, 78)
	w := u.NewWriter(ctx, off)
	if _, err := w.Write(want2); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want2))
	if n, err := u.ReadAtContext(ctx, got, off); n != len(got) || err != nil || !bytes.Equal(got, want2) {
		t.Fatalf("ReadAt = %d, %v (equal %v)", n, err, bytes.Equal(got, want2))
	}
	r := u.NewReader(ctx, off, int64(len(want2)))
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, want2) {
		t.Fatalf("Reader: %v (equal %v)", err, bytes.Equal(got, want2))
	}
	if !bytes.Equal(lun()[off:off+len(want2)], want2) {
		t.Fatal("the LUN does not hold the Writer's bytes")
	}
	if st := u.Session().Stats(); cuts.Load() != 4 || st.Reconnects != 4 {
		t.Fatalf("cuts %d, stats %+v", cuts.Load(), st)
	}
}
