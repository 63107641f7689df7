package blockstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"go.uber.org/goleak"
)

// The engine starts no goroutine; goleak holds it to that.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errClosed   = errors.New("test: closed")
	errNegative = errors.New("test: negative offset")
	errBeyond   = errors.New("test: beyond the end")
	errMedium   = errors.New("test: medium error")
)

var testConfig = &Config{Prefix: "test", Depth: 4, Closed: errClosed, NegativeOffset: errNegative, BeyondEnd: errBeyond}

// opError is the fake's shape of a stream error: it says op and offset.
type opError struct {
	op  string
	off int64
	err error
}

func (e *opError) Error() string { return fmt.Sprintf("%s at %d: %v", e.op, e.off, e.err) }
func (e *opError) Unwrap() error { return e.err }

// fakeDev is a Device in memory, and its Pipe: a command moves its bytes
// when it is waited for, so that a stream touching a buffer in flight
// shows in the data. It checks what the engine promises its Device: whole
// aligned blocks of at most Chunk, never more than depth in flight,
// partial writes inside one block with nothing in flight.
type fakeDev struct {
	t       *testing.T
	data    []byte
	g       Geometry
	geomErr error
	failAt  int64 // the command starting at this byte fails with errMedium (once); -1: none

	depth, head, n int
	write          bool
	slots          []fakeCmd
	pipes, closes  int     // Pipe and Close calls
	issued         int     // commands issued
	partials       []int64 // offsets of WritePartial calls
}

type fakeCmd struct {
	off int64
	b   []byte
}

func newFake(t *testing.T, blocks, bs, chunk int64) *fakeDev {
	data := make([]byte, blocks*bs)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	return &fakeDev{t: t, data: data, g: Geometry{BlockSize: bs, Size: blocks * bs, Chunk: chunk}, failAt: -1}
}

func (d *fakeDev) Geometry(context.Context) (Geometry, error) { return d.g, d.geomErr }

func (d *fakeDev) Pipe(_ context.Context, depth int, write bool) Pipe {
	d.pipes++
	d.depth, d.write, d.slots, d.head, d.n = depth, write, make([]fakeCmd, depth), 0, 0
	return d
}

func (d *fakeDev) WritePartial(_ context.Context, b []byte, off int64) error {
	d.t.Helper()
	bs := d.g.BlockSize
	if d.n != 0 {
		d.t.Fatalf("WritePartial at %d with %d commands in flight", off, d.n)
	}
	if len(b) == 0 || len(b) >= int(bs) && off%bs == 0 || off/bs != (off+int64(len(b))-1)/bs {
		d.t.Fatalf("WritePartial of %d bytes at %d: not part of one block", len(b), off)
	}
	d.partials = append(d.partials, off)
	copy(d.data[off:], b)
	return nil
}

func (d *fakeDev) Err(op string, off int64, err error) error {
	if err == nil || err == io.EOF {
		d.t.Fatalf("Err(%q, %d, %v)", op, off, err)
	}
	return &opError{op, off, err}
}

func (d *fakeDev) Len() int  { return d.n }
func (d *fakeDev) Next() int { return (d.head + d.n) % d.depth }

func (d *fakeDev) Issue(off int64, b []byte) {
	d.t.Helper()
	bs := d.g.BlockSize
	if d.n == d.depth {
		d.t.Fatalf("Issue at %d with the pipe full", off)
	}
	if off%bs != 0 || len(b) == 0 || int64(len(b))%bs != 0 || int64(len(b)) > d.g.Chunk || off+int64(len(b)) > d.g.Size {
		d.t.Fatalf("Issue of %d bytes at %d: not whole blocks of the device, at most Chunk", len(b), off)
	}
	d.slots[d.Next()] = fakeCmd{off, b}
	d.n++
	d.issued++
}

func (d *fakeDev) Wait() (int, int64, int64, error) {
	if d.n == 0 {
		d.t.Fatal("Wait with nothing in flight")
	}
	i := d.head
	c := d.slots[i]
	d.head = (d.head + 1) % d.depth
	d.n--
	if c.off == d.failAt {
		d.failAt = -1
		op := "Reader"
		if d.write {
			op = "Writer"
		}
		return i, c.off, int64(len(c.b)), d.Err(op, c.off, errMedium)
	}
	if d.write {
		copy(d.data[c.off:], c.b)
	} else {
		copy(c.b, d.data[c.off:])
	}
	return i, c.off, int64(len(c.b)), nil
}

func (d *fakeDev) Close() {
	d.closes++
	for d.n > 0 {
		d.Wait()
	}
}

const (
	bs    = 512
	chunk = 8 * bs
	lun   = 400 * bs
)

func newReader(d *fakeDev, off, n int64) *Reader {
	r := new(Reader)
	r.Init(context.Background(), d, testConfig, off, n)
	return r
}

func newWriter(d *fakeDev, off int64) *Writer {
	w := new(Writer)
	w.Init(context.Background(), d, testConfig, off)
	return w
}

// noWriterTo and noReaderFrom hide a method from io.Copy.
type noWriterTo struct{ io.Reader }
type noReaderFrom struct{ io.Writer }

func TestReaderRanges(t *testing.T) {
	for _, c := range []struct {
		name        string
		off, n, end int64 // end: where the bytes delivered end
	}{
		{"aligned", 0, 20 * chunk, 20 * chunk},
		{"unaligned both", 100, 13*chunk + 77, 100 + 13*chunk + 77},
		{"inside one block", 10, 20, 30},
		{"whole device", 0, -1, lun},
		{"past the end", lun - chunk - 3, 1 << 40, lun},
		{"overflow", 5, 1<<63 - 1, lun},
		{"at the end", lun, 10, lun},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newFake(t, lun/bs, bs, chunk)
			want := d.data[c.off:c.end]
			var out bytes.Buffer
			r := newReader(d, c.off, c.n)
			if n, err := io.Copy(noReaderFrom{&out}, r); n != int64(len(want)) || err != nil {
				t.Fatalf("WriteTo: %d, %v; want %d, nil", n, err, len(want))
			}
			if !bytes.Equal(out.Bytes(), want) || r.Offset() != c.end {
				t.Fatalf("WriteTo delivered other bytes than the device's, or Offset %d != %d", r.Offset(), c.end)
			}
			if _, err := r.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("Read after the end: %v, want io.EOF", err)
			}
			if c.end > c.off && d.closes == 0 {
				t.Fatal("the pipe was not closed at the end")
			}
			r.Close()
			if _, err := r.Read(make([]byte, 1)); err != errClosed {
				t.Fatalf("Read after Close: %v, want the Config's Closed", err)
			}
			if err := iotest.TestReader(newReader(d, c.off, c.n), want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The read-ahead keeps Depth commands in flight (fewer for a short range).
func TestReaderDepth(t *testing.T) {
	d := newFake(t, lun/bs, bs, chunk)
	r := newReader(d, 0, -1)
	if _, err := r.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if d.depth != testConfig.Depth || d.n != testConfig.Depth-1 || d.write {
		t.Fatalf("pipe of depth %d (write %v), %d in flight after the first Read; want %d, %d", d.depth, d.write, d.n, testConfig.Depth, testConfig.Depth-1)
	}
	r.Close()
	if d.n != 0 || d.closes != 1 {
		t.Fatalf("Close left %d in flight, closed the pipe %d times", d.n, d.closes)
	}
	d = newFake(t, lun/bs, bs, chunk)
	r = newReader(d, 100, chunk)
	if _, err := r.Read(make([]byte, 1)); err != nil || d.depth != 2 {
		t.Fatalf("a range over two commands: depth %d, %v; want 2", d.depth, err)
	}
	r.Close()
}

func TestReaderErrors(t *testing.T) {
	d := newFake(t, lun/bs, bs, chunk)
	d.failAt = 5 * chunk
	const off = 300
	for _, how := range []string{"Read", "WriteTo"} {
		d.failAt = 5 * chunk
		r := newReader(d, off, -1)
		var out bytes.Buffer
		var n int64
		var err error
		if how == "WriteTo" {
			n, err = r.WriteTo(&out)
		} else {
			n, err = io.CopyBuffer(&out, noWriterTo{r}, make([]byte, 1000))
		}
		var oe *opError
		if n != 5*chunk-off || !errors.As(err, &oe) || oe.off != 5*chunk || oe.op != "Reader" || !errors.Is(err, errMedium) {
			t.Fatalf("%s: %d, %v; want %d and the failed command's error at %d", how, n, err, 5*chunk-off, 5*chunk)
		}
		if !bytes.Equal(out.Bytes(), d.data[off:5*chunk]) {
			t.Fatalf("%s: the bytes before the error are not the device's", how)
		}
		if _, err2 := r.Read(make([]byte, 1)); err2 != err {
			t.Fatalf("%s: Read after the error: %v, want it again", how, err2)
		}
		if d.n != 0 {
			t.Fatalf("%s: %d commands left in flight after the error", how, d.n)
		}
		r.Close()
		if _, err2 := r.Read(make([]byte, 1)); err2 != err {
			t.Fatalf("%s: Close replaced the error with %v", how, err2)
		}
	}

	var oe *opError
	if _, err := newReader(d, -1, 10).Read(make([]byte, 1)); !errors.As(err, &oe) || oe.op != "Reader" || oe.off != -1 || oe.err != errNegative {
		t.Fatalf("negative offset: %v", err)
	}
	d.geomErr = errMedium
	if _, err := newReader(d, 7, 10).Read(make([]byte, 1)); !errors.As(err, &oe) || oe.off != 7 || oe.err != errMedium {
		t.Fatalf("geometry error: %v", err)
	}
	d.geomErr = nil

	// A writer that says it took more than it was given.
	_, err := newReader(d, 0, 100).WriteTo(liar{})
	if err == nil || err.Error() != "test: Reader.WriteTo: the writer returned an invalid count" {
		t.Fatalf("invalid count: %v", err)
	}
	r := newReader(d, 0, 100)
	if n, err := r.WriteTo(short{}); n != 1 || err != io.ErrShortWrite || r.Offset() != 1 {
		t.Fatalf("short write: %d, %v, Offset %d", n, err, r.Offset())
	}
	r.Close()
}

type liar struct{}

func (liar) Write(p []byte) (int, error) { return len(p) + 1, nil }

type short struct{}

func (short) Write(p []byte) (int, error) { return 1, nil }

func TestWriter(t *testing.T) {
	d := newFake(t, lun/bs, bs, chunk)
	want := bytes.Clone(d.data)
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return p
	}
	const start = 1000
	w := newWriter(d, start)
	// ReadFrom, then Flush in the middle of a block.
	a := fill(3*chunk + 100)
	if n, err := io.Copy(w, noWriterTo{bytes.NewReader(a)}); n != int64(len(a)) || err != nil {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if d.write != true || d.depth != testConfig.Depth {
		t.Fatalf("pipe: write %v, depth %d", d.write, d.depth)
	}
	if err := w.Flush(); err != nil || w.Written() != int64(len(a)) || d.n != 0 {
		t.Fatalf("Flush: %v, Written %d, %d in flight", err, w.Written(), d.n)
	}
	copy(want[start:], a)
	if !bytes.Equal(d.data, want) {
		t.Fatal("the device differs after Flush")
	}
	// Then Write in odd pieces up to the end of the device.
	at := w.Offset()
	b := fill(int(lun - at))
	for q := b; len(q) > 0; {
		n := min(len(q), 777)
		if m, err := w.Write(q[:n]); m != n || err != nil {
			t.Fatalf("Write: %d, %v", m, err)
		}
		q = q[n:]
	}
	copy(want[at:], b)
	var oe *opError
	if n, err := w.Write([]byte{1}); n != 0 || !errors.As(err, &oe) || !errors.Is(err, errBeyond) || oe.off != lun || oe.op != "Writer" {
		t.Fatalf("Write past the end: %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.data, want) || w.Written() != lun-start {
		t.Fatalf("the device differs, or Written %d != %d", w.Written(), lun-start)
	}
	// The head block of the start and of the Flush, and the tail at the
	// Flush, were read-modify-written.
	flushAt := int64(start + len(a))
	if fmt.Sprint(d.partials) != fmt.Sprint([]int64{start, flushAt / bs * bs, flushAt}) {
		t.Fatalf("partial writes at %v, want %d, %d, %d", d.partials, start, flushAt/bs*bs, flushAt)
	}
	if _, err := w.Write([]byte{1}); err != errClosed {
		t.Fatalf("Write after Close: %v", err)
	}
	if n, err := newWriter(d, lun-10).ReadFrom(bytes.NewReader(make([]byte, 10))); n != 10 || err != nil {
		t.Fatalf("ReadFrom up to the end: %d, %v", n, err)
	}
	if n, err := newWriter(d, lun-10).ReadFrom(bytes.NewReader(make([]byte, 11))); n != 10 || !errors.Is(err, errBeyond) {
		t.Fatalf("ReadFrom past the end: %d, %v", n, err)
	}
	if _, err := newWriter(d, 0).ReadFrom(iotest.ErrReader(errMedium)); err != errMedium {
		t.Fatalf("ReadFrom of a failing reader: %v", err)
	}
	if _, err := newWriter(d, 0).ReadFrom(badReader{}); err == nil || err.Error() != "test: Writer.ReadFrom: the reader returned an invalid count" {
		t.Fatalf("ReadFrom of an invalid count: %v", err)
	}
}

type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return -1, nil }

func TestWriterErrors(t *testing.T) {
	d := newFake(t, lun/bs, bs, chunk)
	old := bytes.Clone(d.data)
	const start = 4*bs - 10
	failAt := int64(3*bs + 4*chunk) // buffers start at block 3, the head's
	d.failAt = failAt
	w := newWriter(d, start)
	in := make([]byte, 20*chunk)
	_, err := w.Write(in)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	var oe *opError
	if !errors.As(err, &oe) || oe.off != failAt || oe.op != "Writer" || !errors.Is(err, errMedium) {
		t.Fatalf("error %v, want the failed WRITE's at %d", err, failAt)
	}
	if w.Written() != failAt-start {
		t.Fatalf("Written %d, want %d", w.Written(), failAt-start)
	}
	if !bytes.Equal(d.data[start:failAt], in[:failAt-start]) || !bytes.Equal(d.data[failAt:failAt+chunk], old[failAt:failAt+chunk]) {
		t.Fatal("the bytes before the failed WRITE are not written, or its own are")
	}
	if d.n != 0 {
		t.Fatalf("%d commands left in flight", d.n)
	}
	if _, err2 := w.Write([]byte{1}); err2 != err {
		t.Fatalf("Write after the error: %v, want it again", err2)
	}
	if err2 := w.Flush(); err2 != err {
		t.Fatalf("Flush after the error: %v, want it again", err2)
	}
	if _, err := newWriter(d, -5).Write([]byte{1}); !errors.As(err, &oe) || oe.off != -5 || oe.err != errNegative {
		t.Fatalf("negative offset: %v", err)
	}
	if err := newWriter(d, 0).Close(); err != nil || d.pipes != 1 {
		t.Fatalf("Close of an unused Writer: %v, %d pipes made (want none more)", err, d.pipes)
	}
}

// In steady state a Reader and a Writer allocate nothing per command: the
// buffers are reused.
func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not those of a real build")
	}
	d := newFake(t, 1<<16, bs, chunk)
	r := newReader(d, 0, -1)
	defer r.Close()
	p := make([]byte, chunk)
	read := func() {
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * testConfig.Depth {
		read()
	}
	if n := testing.AllocsPerRun(100, read); n != 0 {
		t.Errorf("the Reader allocated %v times per command", n)
	}
	w := newWriter(newFake(t, 1<<16, bs, chunk), 0)
	write := func() {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * testConfig.Depth {
		write()
	}
	if n := testing.AllocsPerRun(100, write); n != 0 {
		t.Errorf("the Writer allocated %v times per command", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A Chunk larger than the pooled buffers gets buffers of its own.
func TestLargeChunk(t *testing.T) {
	d := newFake(t, 3*BufSize/bs, bs, 2*BufSize)
	got, err := io.ReadAll(newReader(d, 1, -1))
	if err != nil || !bytes.Equal(got, d.data[1:]) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}
