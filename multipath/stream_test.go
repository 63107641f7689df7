package multipath_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/session"
)

const streamLUN = 6<<20 + 3*bs // not a multiple of the 1 MiB commands

// samePaths dials a Device over two paths to one in-process target (two
// sessions, one storage), so that the data can be checked whichever path
// carried it.
func samePaths(t *testing.T, data []byte) (*multipath.Device, *iscsitest.Server) {
	t.Helper()
	srv := iscsitest.NewServer(iscsitest.WithLUNData(data, bs))
	t.Cleanup(srv.Close)
	d, err := multipath.Dial(testCtx(t), []string{srv.URL(), srv.URL()}, &multipath.Config{Selector: multipath.RoundRobin, CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, srv
}

func TestReader(t *testing.T) {
	data := make([]byte, streamLUN)
	rand.Read(data)
	d, _ := samePaths(t, data)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name   string
		off, n int64
		want   []byte
	}{
		{"whole LUN", 0, -1, data},
		{"unaligned range", 777, 3<<20 + 5, data[777 : 777+3<<20+5]},
		{"to the end from an unaligned offset", streamLUN - 1<<20 - 100, 1 << 30, data[streamLUN-1<<20-100:]},
		{"inside one block", 10, 20, data[10:30]},
		{"empty at the end", streamLUN, 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// io.Copy uses WriteTo; iotest.OneByteReader forces Read in pieces.
			var viaWriteTo bytes.Buffer
			if _, err := io.Copy(&viaWriteTo, d.NewReader(ctx, tc.off, tc.n)); err != nil {
				t.Fatal(err)
			}
			r := d.NewReader(ctx, tc.off, tc.n)
			viaRead, err := io.ReadAll(io.LimitReader(iotest.HalfReader(r), 1<<40))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(viaWriteTo.Bytes(), tc.want) || !bytes.Equal(viaRead, tc.want) {
				t.Fatalf("read %d and %d bytes, want %d equal to the LUN's", viaWriteTo.Len(), len(viaRead), len(tc.want))
			}
			if r.Offset() != tc.off+int64(len(tc.want)) {
				t.Fatalf("Offset %d after the read, want %d", r.Offset(), tc.off+int64(len(tc.want)))
			}
			if _, err := r.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("Read after the end: %v, want io.EOF", err)
			}
			r.Close()
			if _, err := r.Read(make([]byte, 1)); !errors.Is(err, session.ErrStreamClosed) {
				t.Fatalf("Read after Close: %v, want ErrStreamClosed", err)
			}
		})
	}
	// Closing a Reader with read-ahead in flight stops it.
	r := d.NewReader(ctx, 0, -1)
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	var oe *session.OpError
	if _, err := d.NewReader(ctx, -1, 10).Read(make([]byte, 1)); !errors.As(err, &oe) || !errors.Is(err, session.ErrNegativeOffset) {
		t.Fatalf("Reader at -1: %v, want an *OpError matching ErrNegativeOffset", err)
	}
	st := d.Stats()
	if st.Paths[0].Commands == 0 || st.Paths[1].Commands == 0 {
		t.Fatalf("the streams did not use both paths: %+v", st.Paths)
	}
}

func TestWriter(t *testing.T) {
	want := make([]byte, streamLUN)
	rand.Read(want)
	d, srv := samePaths(t, bytes.Clone(want))
	ctx := testCtx(t)
	put := func(off int64, p []byte) { copy(want[off:], p) }

	// From an unaligned offset, through ReadFrom, not ending on a block.
	p := make([]byte, 3<<20+123)
	rand.Read(p)
	w := d.NewWriter(ctx, 1000)
	if n, err := io.Copy(w, bytes.NewReader(p)); err != nil || n != int64(len(p)) {
		t.Fatalf("io.Copy: %d, %v", n, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	put(1000, p)
	if w.Written() != int64(len(p)) || w.Offset() != 1000+int64(len(p)) {
		t.Fatalf("Written %d, Offset %d after Flush; want %d, %d", w.Written(), w.Offset(), len(p), 1000+len(p))
	}
	// Then on, through Write in odd pieces, to the end of the LUN.
	rest := make([]byte, streamLUN-w.Offset())
	rand.Read(rest)
	at := w.Offset()
	for q := rest; len(q) > 0; {
		n := min(len(q), 7777)
		if _, err := w.Write(q[:n]); err != nil {
			t.Fatal(err)
		}
		q = q[n:]
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, session.ErrBeyondEnd) {
		t.Fatalf("Write past the end: %v, want ErrBeyondEnd", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	put(at, rest)
	if _, err := w.Write([]byte{1}); !errors.Is(err, session.ErrStreamClosed) {
		t.Fatalf("Write after Close: %v, want ErrStreamClosed", err)
	}
	if !bytes.Equal(srv.Contents(1), want) {
		t.Fatal("the LUN differs from what was written")
	}
	// A short write inside one block, read-modify-written.
	w = d.NewWriter(ctx, 5*bs+3)
	if _, err := w.Write([]byte("middle")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	put(5*bs+3, []byte("middle"))
	if !bytes.Equal(srv.Contents(1), want) {
		t.Fatal("the LUN differs after a write inside one block")
	}
}

// A WRITE of a stream whose connection the target drops is sent again on
// the other path (fenced through it first); the stream goes on and the
// LUN holds every byte.
func TestWriterFailsOver(t *testing.T) {
	want := make([]byte, streamLUN)
	d, srv := samePaths(t, make([]byte, streamLUN))
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x2a, 0x8a), After: 3, Count: 1, Action: iscsitest.Drop})
	rand.Read(want)
	w := d.NewWriter(testCtx(t), 0)
	if _, err := io.Copy(w, bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(srv.Contents(1), want) {
		t.Fatal("the LUN differs from what was written")
	}
	if st := d.Stats(); st.Failovers == 0 {
		t.Fatalf("no failover: %+v", st)
	}
}

// A READ of a Reader whose connection the target drops is sent again on
// the other path; the stream delivers every byte.
func TestReaderFailsOver(t *testing.T) {
	want := make([]byte, streamLUN)
	rand.Read(want)
	d, srv := samePaths(t, bytes.Clone(want))
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x28, 0x88), After: 2, Count: 1, Action: iscsitest.Drop})
	got, err := io.ReadAll(d.NewReader(testCtx(t), 0, -1))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v; want the LUN's %d", len(got), err, len(want))
	}
	if st := d.Stats(); st.Failovers == 0 {
		t.Fatalf("no failover of the dropped READ: %+v", st)
	}
}

// A command of a stream that the target never answers ends after
// Config.CommandTimeout: the stream fails with an *session.OpError at the
// command's offset, matching context.DeadlineExceeded and
// session.ErrCommandTimeout (as a session's stream does), after
// delivering the bytes before it.
func TestStreamCommandTimeout(t *testing.T) {
	data := make([]byte, streamLUN)
	rand.Read(data)
	srv := iscsitest.NewServer(iscsitest.WithLUNData(data, bs))
	t.Cleanup(srv.Close)
	d, err := multipath.Dial(testCtx(t), []string{srv.URL()}, &multipath.Config{CheckInterval: -1, CommandTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	// One path: the third READ the target gets is the stream's third.
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x28, 0x88), After: 2, Count: 1, Action: iscsitest.Ignore})
	got, err := io.ReadAll(d.NewReader(testCtx(t), 0, -1))
	var oe *session.OpError
	if !errors.As(err, &oe) || oe.Offset != 2<<20 || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, session.ErrCommandTimeout) {
		t.Fatalf("%v, want an *OpError at %d matching context.DeadlineExceeded and ErrCommandTimeout", err, 2<<20)
	}
	if !bytes.Equal(got, data[:2<<20]) {
		t.Fatalf("read %d bytes before the error, want the LUN's first %d", len(got), 2<<20)
	}
}
