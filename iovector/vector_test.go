package iovector

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/iscsi-go/iscsi/digest"
)

// layout builds a Vector of buffers with the given sizes, filled with
// consecutive byte values, and returns it with the flat equivalent.
func layout(sizes ...int) (*Vector, []byte) {
	v := new(Vector)
	var flat []byte
	for _, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(len(flat) + i + 1)
		}
		flat = append(flat, b...)
		v.Append(b)
	}
	return v, flat
}

// flatten returns a copy of v's bytes.
func flatten(v *Vector) []byte {
	var out []byte
	for i := range v.NumBuffers() {
		out = append(out, v.Buffer(i)...)
	}
	return out
}

// linearLocate is the O(n) reference for Locate.
func linearLocate(v *Vector, off int64) (int, int) {
	start := int64(0)
	for i := range v.NumBuffers() {
		n := int64(len(v.Buffer(i)))
		if off < start+n {
			return i, int(off - start)
		}
		start += n
	}
	return -1, -1
}

var layouts = [][]int{
	{},
	{0},
	{1},
	{7},
	{0, 0, 0},
	{3, 5, 2},
	{0, 3, 0, 0, 5, 0, 2, 0},
	{1, 1, 1, 1, 1},
	{4096, 512, 1},
}

func TestLen(t *testing.T) {
	for _, sizes := range layouts {
		v, flat := layout(sizes...)
		if v.Len() != int64(len(flat)) || v.NumBuffers() != len(sizes) {
			t.Errorf("%v: Len %d NumBuffers %d, want %d %d", sizes, v.Len(), v.NumBuffers(), len(flat), len(sizes))
		}
	}
	var zero Vector
	if zero.Len() != 0 || zero.NumBuffers() != 0 {
		t.Errorf("zero Vector: Len %d NumBuffers %d", zero.Len(), zero.NumBuffers())
	}
}

func TestLocate(t *testing.T) {
	for _, sizes := range layouts {
		v, flat := layout(sizes...)
		for off := int64(0); off < int64(len(flat)); off++ {
			i, inner, err := v.Locate(off)
			wi, winner := linearLocate(v, off)
			if err != nil || i != wi || inner != winner {
				t.Fatalf("%v: Locate(%d) = %d, %d, %v; want %d, %d", sizes, off, i, inner, err, wi, winner)
			}
			if v.Buffer(i)[inner] != flat[off] {
				t.Fatalf("%v: Locate(%d) points at %d, want %d", sizes, off, v.Buffer(i)[inner], flat[off])
			}
		}
		for _, off := range []int64{-1, -1 << 63, int64(len(flat)), int64(len(flat)) + 1, 1<<63 - 1} {
			if _, _, err := v.Locate(off); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("%v: Locate(%d) error = %v, want ErrOutOfRange", sizes, off, err)
			}
		}
	}
}

func TestReadAt(t *testing.T) {
	v, flat := layout(0, 3, 0, 5, 2, 0) // 10 bytes
	tests := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"all", 0, 10, 10, nil},
		{"inside one buffer", 4, 2, 2, nil},
		{"across two boundaries", 2, 7, 7, nil},
		{"to the end", 8, 2, 2, nil},
		{"empty inside", 5, 0, 0, nil},
		{"partial past end", 6, 10, 4, io.EOF},
		{"at end", 10, 1, 0, io.EOF},
		{"empty at end", 10, 0, 0, io.EOF},
		{"past end", 11, 1, 0, io.EOF},
		{"huge offset", 1<<63 - 1, 1, 0, io.EOF},
		{"negative", -1, 1, 0, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bytes.Repeat([]byte{0xee}, tt.n)
			n, err := v.ReadAt(p, tt.off)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d, %v", tt.n, tt.off, n, err, tt.wantN, tt.wantErr)
			}
			if n > 0 && !bytes.Equal(p[:n], flat[tt.off:tt.off+int64(n)]) {
				t.Errorf("read % x, want % x", p[:n], flat[tt.off:tt.off+int64(n)])
			}
			for _, c := range p[n:] {
				if c != 0xee {
					t.Fatalf("ReadAt wrote beyond n: % x", p)
				}
			}
		})
	}
}

func TestWriteAt(t *testing.T) {
	tests := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"all", 0, 10, 10, nil},
		{"inside one buffer", 4, 2, 2, nil},
		{"across two boundaries", 2, 7, 7, nil},
		{"to the end", 8, 2, 2, nil},
		{"empty", 5, 0, 0, nil},
		{"empty at end", 10, 0, 0, nil},
		{"one past end", 9, 2, 0, ErrOutOfRange},
		{"at end", 10, 1, 0, ErrOutOfRange},
		{"past end", 11, 0, 0, ErrOutOfRange},
		{"huge offset", 1<<63 - 1, 1, 0, ErrOutOfRange},
		{"negative", -1, 1, 0, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, flat := layout(0, 3, 0, 5, 2, 0)
			p := bytes.Repeat([]byte{0xee}, tt.n)
			n, err := v.WriteAt(p, tt.off)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want %d, %v", tt.n, tt.off, n, err, tt.wantN, tt.wantErr)
			}
			if err == nil {
				copy(flat[tt.off:], p)
			}
			if got := flatten(v); !bytes.Equal(got, flat) {
				t.Errorf("vector holds % x, want % x", got, flat)
			}
		})
	}
}

// errReader returns its error after n bytes of zeros.
type errReader struct {
	n   int
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	m := min(len(p), r.n)
	clear(p[:m])
	r.n -= m
	return m, nil
}

func TestFillFrom(t *testing.T) {
	src := []byte("abcdefghijklmnop")
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		r       func() io.Reader
		off     int64
		n       int
		wantN   int
		wantErr error
		want    string // the vector afterwards, '.' for untouched
	}{
		{"all", func() io.Reader { return bytes.NewReader(src) }, 0, 10, 10, nil, "abcdefghij"},
		{"middle", func() io.Reader { return bytes.NewReader(src) }, 2, 6, 6, nil, "..abcdef.."},
		{"one byte reads", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(src)) }, 1, 9, 9, nil, ".abcdefghi"},
		{"half reads", func() io.Reader { return iotest.HalfReader(bytes.NewReader(src)) }, 0, 10, 10, nil, "abcdefghij"},
		{"EOF with data", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(src)) }, 0, 10, 10, nil, "abcdefghij"},
		{"empty", func() io.Reader { return bytes.NewReader(src) }, 4, 0, 0, nil, ".........."},
		{"short source", func() io.Reader { return bytes.NewReader(src[:4]) }, 0, 10, 4, io.ErrUnexpectedEOF, "abcd......"},
		{"short at boundary", func() io.Reader { return bytes.NewReader(src[:3]) }, 0, 10, 3, io.ErrUnexpectedEOF, "abc......."},
		{"empty source", func() io.Reader { return bytes.NewReader(nil) }, 0, 10, 0, io.EOF, ".........."},
		{"reader error", func() io.Reader { return &errReader{5, errBoom} }, 0, 10, 5, errBoom, "\x00\x00\x00\x00\x00....."},
		{"past end", func() io.Reader { return bytes.NewReader(src) }, 5, 6, 0, ErrOutOfRange, ".........."},
		{"negative length", func() io.Reader { return bytes.NewReader(src) }, 5, -1, 0, ErrOutOfRange, ".........."},
		{"negative offset", func() io.Reader { return bytes.NewReader(src) }, -1, 1, 0, ErrOutOfRange, ".........."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := New(bytes.Repeat([]byte("."), 3), nil, bytes.Repeat([]byte("."), 5), bytes.Repeat([]byte("."), 2), []byte{})
			r := tt.r()
			n, err := v.FillFrom(r, tt.off, tt.n)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("FillFrom(%d, %d) = %d, %v; want %d, %v", tt.off, tt.n, n, err, tt.wantN, tt.wantErr)
			}
			if got := string(flatten(v)); got != tt.want {
				t.Errorf("vector holds %q, want %q", got, tt.want)
			}
			if br, ok := r.(*bytes.Reader); ok && err == nil {
				if rest := int(br.Size()) - br.Len(); rest != tt.n {
					t.Errorf("consumed %d bytes from the reader, want %d", rest, tt.n)
				}
			}
			if br, ok := r.(*bytes.Reader); ok && errors.Is(err, ErrOutOfRange) && br.Len() != int(br.Size()) {
				t.Errorf("out-of-range FillFrom consumed %d bytes", int(br.Size())-br.Len())
			}
		})
	}
}

func TestRange(t *testing.T) {
	v, flat := layout(0, 3, 0, 5, 2, 0)
	tests := []struct {
		name    string
		off     int64
		n       int
		want    []int // lengths of the slices fn sees
		wantErr error
	}{
		{"all", 0, 10, []int{3, 5, 2}, nil},
		{"inside one", 4, 3, []int{3}, nil},
		{"from a boundary", 3, 7, []int{5, 2}, nil},
		{"to a boundary", 1, 7, []int{2, 5}, nil},
		{"across", 2, 7, []int{1, 5, 1}, nil},
		{"empty", 3, 0, nil, nil},
		{"empty at end", 10, 0, nil, nil},
		{"past end", 9, 2, nil, ErrOutOfRange},
		{"after end", 11, 0, nil, ErrOutOfRange},
		{"negative offset", -1, 2, nil, ErrOutOfRange},
		{"negative length", 2, -2, nil, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lens []int
			var got []byte
			err := v.Range(tt.off, tt.n, func(b []byte) error {
				lens = append(lens, len(b))
				got = append(got, b...)
				return nil
			})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Range(%d, %d) error = %v, want %v", tt.off, tt.n, err, tt.wantErr)
			}
			if !slicesEqual(lens, tt.want) {
				t.Errorf("slice lengths %v, want %v", lens, tt.want)
			}
			if err == nil && !bytes.Equal(got, flat[tt.off:tt.off+int64(tt.n)]) {
				t.Errorf("bytes % x, want % x", got, flat[tt.off:tt.off+int64(tt.n)])
			}
		})
	}

	t.Run("stops on error", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := v.Range(0, 10, func([]byte) error { calls++; return errStop })
		if err != errStop || calls != 1 {
			t.Errorf("Range = %v after %d calls, want errStop after 1", err, calls)
		}
	})
	t.Run("slices alias the buffers", func(t *testing.T) {
		_ = v.Range(2, 2, func(b []byte) error { b[0] = 0xaa; return nil })
		if v.Buffer(1)[2] != 0xaa || v.Buffer(3)[0] != 0xaa {
			t.Errorf("writes through Range slices did not reach the buffers")
		}
	})
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAppendBuffers(t *testing.T) {
	v, flat := layout(0, 3, 0, 5, 2, 0)
	head := []byte("BHS")
	dst := net.Buffers{head}
	got, err := v.AppendBuffers(dst, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || &got[0][0] != &head[0] {
		t.Fatalf("AppendBuffers gave %d slices, want the header and 3", len(got))
	}
	if &got[1][0] != &v.Buffer(1)[2] || &got[2][0] != &v.Buffer(3)[0] || &got[3][0] != &v.Buffer(4)[0] {
		t.Errorf("AppendBuffers copied instead of aliasing the buffers")
	}
	var w bytes.Buffer
	if _, err := got.WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("BHS"), flat[2:9]...); !bytes.Equal(w.Bytes(), want) {
		t.Errorf("written % x, want % x", w.Bytes(), want)
	}

	for _, tc := range []struct {
		off int64
		n   int
	}{{9, 2}, {-1, 1}, {0, -1}, {11, 0}} {
		got, err := v.AppendBuffers(dst[:1], tc.off, tc.n)
		if !errors.Is(err, ErrOutOfRange) || len(got) != 1 {
			t.Errorf("AppendBuffers(%d, %d) = %d slices, %v; want dst unchanged and ErrOutOfRange", tc.off, tc.n, len(got), err)
		}
	}
	if got, err := v.AppendBuffers(nil, 10, 0); err != nil || len(got) != 0 {
		t.Errorf("empty range at end = %d slices, %v", len(got), err)
	}
}

func TestSetReset(t *testing.T) {
	a, b, c := []byte("ab"), []byte("cde"), []byte("f")
	bufs := [][]byte{a, b, c}
	v := New(bufs...)
	bufs[0] = []byte("zz") // v keeps its own list
	if got := string(flatten(v)); got != "abcdef" {
		t.Fatalf("after changing the caller's list: %q", got)
	}
	a[0] = 'A' // but shares the bytes
	if got := string(flatten(v)); got != "Abcdef" {
		t.Fatalf("after changing a buffer: %q", got)
	}

	capBufs, capEnds := cap(v.bufs), cap(v.ends)
	full := v.bufs[:capBufs]
	v.Reset()
	if v.Len() != 0 || v.NumBuffers() != 0 {
		t.Fatalf("after Reset: Len %d NumBuffers %d", v.Len(), v.NumBuffers())
	}
	if cap(v.bufs) != capBufs || cap(v.ends) != capEnds {
		t.Errorf("Reset dropped capacity")
	}
	for i, x := range full {
		if x != nil {
			t.Errorf("Reset kept a reference to buffer %d", i)
		}
	}
	if _, _, err := v.Locate(0); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("Locate on empty vector: %v", err)
	}
	v.Set(c, b)
	if got := string(flatten(v)); got != "fcde" || v.Len() != 4 {
		t.Errorf("after Set: %q, Len %d", got, v.Len())
	}
	if i, inner, _ := v.Locate(3); i != 1 || inner != 2 {
		t.Errorf("Locate(3) after Set = %d, %d", i, inner)
	}
}

func TestErrors(t *testing.T) {
	v, _ := layout(4, 4)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"locate", func() error { _, _, err := v.Locate(8); return err }(), "iovector: Locate: offset 8 out of range, vector length 8"},
		{"read negative", func() error { _, err := v.ReadAt(nil, -3); return err }(), "iovector: ReadAt: negative offset -3"},
		{"write past end", func() error { _, err := v.WriteAt(make([]byte, 4), 6); return err }(), "iovector: WriteAt: range [6, 6+4) out of range, vector length 8"},
		{"fill negative", func() error { _, err := v.FillFrom(strings.NewReader(""), 0, -2); return err }(), "iovector: FillFrom: negative length -2"},
		{"range", v.Range(9, 0, nil), "iovector: Range: range [9, 9+0) out of range, vector length 8"},
		{"buffers", func() error { _, err := v.AppendBuffers(nil, 1, 8); return err }(), "iovector: AppendBuffers: range [1, 1+8) out of range, vector length 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || tt.err.Error() != tt.want {
				t.Fatalf("error = %v, want %q", tt.err, tt.want)
			}
			var re *RangeError
			if !errors.Is(tt.err, ErrOutOfRange) || !errors.As(tt.err, &re) || re.Len != 8 {
				t.Errorf("error %v is not a *RangeError matching ErrOutOfRange", tt.err)
			}
		})
	}
}

// TestZeroAllocs proves the hot-path methods allocate nothing.
func TestZeroAllocs(t *testing.T) {
	var bufs [][]byte
	for i := range 64 {
		bufs = append(bufs, make([]byte, 100+i))
	}
	v := New(bufs...)
	p := make([]byte, 1000)
	src := bytes.Repeat([]byte{7}, 1000)
	br := bytes.NewReader(src)
	dst := make(net.Buffers, 0, 64)
	var sink uint32
	tests := []struct {
		name string
		fn   func()
	}{
		{"Locate", func() { i, inner, _ := v.Locate(3333); sink += uint32(i + inner) }},
		{"ReadAt", func() { _, _ = v.ReadAt(p, 1234) }},
		{"ReadAt past end", func() { _, _ = v.ReadAt(p, v.Len()-10) }},
		{"WriteAt", func() { _, _ = v.WriteAt(p, 2345) }},
		{"FillFrom", func() { br.Reset(src); _, _ = v.FillFrom(br, 555, 1000) }},
		{"Range with digest", func() {
			crc := uint32(0)
			_ = v.Range(100, 5000, func(b []byte) error { crc = digest.Update(crc, b); return nil })
			sink += crc
		}},
		{"Range filling from a reader with digest", func() {
			br.Reset(src)
			crc := uint32(0)
			_ = v.Range(4000, 1000, func(b []byte) error {
				_, err := io.ReadFull(br, b)
				crc = digest.Update(crc, b)
				return err
			})
			sink += crc
		}},
		{"AppendBuffers", func() { dst, _ = v.AppendBuffers(dst[:0], 10, 6000) }},
		{"Set and Reset", func() { v.Set(bufs...); v.Reset(); v.Set(bufs...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
				t.Errorf("%s: %v allocs per run, want 0", tt.name, n)
			}
		})
	}
	_ = sink
}

// TestConcurrent exercises the documented concurrent uses under -race:
// readers of one range together, and writers of disjoint ranges together.
func TestConcurrent(t *testing.T) {
	v, flat := layout(100, 0, 37, 200, 63, 1, 99)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			p := make([]byte, 300)
			for range 100 {
				if n, err := v.ReadAt(p, 50); err != nil || !bytes.Equal(p[:n], flat[50:350]) {
					t.Errorf("concurrent ReadAt = %d, %v", n, err)
					return
				}
				_ = v.Range(10, 400, func([]byte) error { return nil })
			}
		})
	}
	wg.Wait()
	chunk := int(v.Len()) / 4
	for g := range 4 {
		wg.Go(func() {
			p := bytes.Repeat([]byte{byte(0xa0 + g)}, chunk)
			for range 100 {
				if _, err := v.WriteAt(p, int64(g*chunk)); err != nil {
					t.Errorf("concurrent WriteAt: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := flatten(v)
	for g := range 4 {
		for i := g * chunk; i < (g+1)*chunk; i++ {
			if got[i] != byte(0xa0+g) {
				t.Fatalf("byte %d = %#x, want %#x", i, got[i], 0xa0+g)
			}
		}
	}
}
