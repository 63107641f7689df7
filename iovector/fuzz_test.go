package iovector

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"testing/iotest"
)

// fuzzInput hands out the fuzzer's bytes as small numbers; it returns zeros
// once the input is used up.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) done() bool { return len(in.b) == 0 }

// size returns a buffer size, zero fairly often.
func (in *fuzzInput) size() int {
	c := in.byte()
	if c < 32 {
		return 0
	}
	return int(c % 48)
}

// offset returns a number in [-2, limit+2], so a few are out of range.
func (in *fuzzInput) offset(limit int64) int64 {
	c := int64(in.byte())<<8 | int64(in.byte())
	return c%(limit+5) - 2
}

// FuzzVector runs a sequence of operations derived from the input on a Vector
// and on a flat []byte model, and compares every result.
func FuzzVector(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 40, 0, 50, 1, 0, 0, 0, 10})
	f.Add([]byte{4, 40, 33, 70, 90, 2, 0, 5, 0, 30, 3, 0, 2, 0, 40, 20, 4, 0, 1, 0, 60, 5, 0, 3, 0, 50, 6, 0, 7})
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 7, 0, 0})
	f.Add([]byte{2, 100, 100, 1, 255, 255, 255, 255, 2, 255, 255, 0, 0, 6, 255, 255, 0, 200})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data}
		v := new(Vector)
		var model []byte
		fill := byte(1)
		appendBuf := func() {
			b := make([]byte, in.size())
			for i := range b {
				b[i] = fill
				fill++
			}
			v.Append(b)
			model = append(model, b...)
		}
		for range int(in.byte() % 9) {
			appendBuf()
		}
		size := func() int64 { return int64(len(model)) }

		for step := 0; !in.done() && step < 64; step++ {
			op := in.byte() % 8
			switch op {
			case 0: // Append
				appendBuf()

			case 1: // ReadAt
				off, n := in.offset(size()), int(in.offset(size())+2)
				p := make([]byte, n)
				got, err := v.ReadAt(p, off)
				switch {
				case off < 0:
					if got != 0 || !errors.Is(err, ErrOutOfRange) {
						t.Fatalf("ReadAt(%d, %d) = %d, %v; want ErrOutOfRange", n, off, got, err)
					}
				case off >= size():
					if got != 0 || err != io.EOF {
						t.Fatalf("ReadAt(%d, %d) = %d, %v; want 0, EOF", n, off, got, err)
					}
				default:
					want := min(int64(n), size()-off)
					if int64(got) != want || (want < int64(n)) != (err == io.EOF) || (err != nil && err != io.EOF) {
						t.Fatalf("ReadAt(%d, %d) = %d, %v; want %d", n, off, got, err, want)
					}
					if !bytes.Equal(p[:got], model[off:off+want]) {
						t.Fatalf("ReadAt(%d, %d) read % x, want % x", n, off, p[:got], model[off:off+want])
					}
				}

			case 2: // WriteAt
				off, n := in.offset(size()), int(in.offset(size())+2)
				p := bytes.Repeat([]byte{0x80 | byte(step)}, n)
				got, err := v.WriteAt(p, off)
				if off < 0 || off+int64(n) > size() {
					if got != 0 || !errors.Is(err, ErrOutOfRange) {
						t.Fatalf("WriteAt(%d, %d) = %d, %v; want ErrOutOfRange", n, off, got, err)
					}
				} else {
					if got != n || err != nil {
						t.Fatalf("WriteAt(%d, %d) = %d, %v", n, off, got, err)
					}
					copy(model[off:], p)
				}

			case 3: // FillFrom, from a source that may be short
				off, n := in.offset(size()), int(in.offset(size()))
				avail := max(0, int(in.offset(size())))
				src := bytes.Repeat([]byte{0x40 | byte(step)}, avail)
				var r io.Reader = bytes.NewReader(src)
				if in.byte()&1 == 1 {
					r = iotest.OneByteReader(r)
				}
				got, err := v.FillFrom(r, off, n)
				if off < 0 || n < 0 || off+int64(n) > size() {
					if got != 0 || !errors.Is(err, ErrOutOfRange) {
						t.Fatalf("FillFrom(%d, %d) = %d, %v; want ErrOutOfRange", off, n, got, err)
					}
					break
				}
				want := min(n, avail)
				var wantErr error
				switch {
				case want == n:
				case want == 0:
					wantErr = io.EOF
				default:
					wantErr = io.ErrUnexpectedEOF
				}
				if got != want || err != wantErr {
					t.Fatalf("FillFrom(%d, %d) from %d bytes = %d, %v; want %d, %v", off, n, avail, got, err, want, wantErr)
				}
				copy(model[off:], src[:want])

			case 4, 5: // Range, AppendBuffers
				off, n := in.offset(size()), int(in.offset(size()))
				var got []byte
				var err error
				if op == 4 {
					err = v.Range(off, n, func(b []byte) error {
						if len(b) == 0 {
							t.Fatalf("Range(%d, %d) passed an empty slice", off, n)
						}
						got = append(got, b...)
						return nil
					})
				} else {
					head := []byte{0xff}
					var bufs net.Buffers
					bufs, err = v.AppendBuffers(net.Buffers{head}, off, n)
					if len(bufs) == 0 || &bufs[0][0] != &head[0] {
						t.Fatalf("AppendBuffers(%d, %d) lost dst", off, n)
					}
					for _, b := range bufs[1:] {
						if len(b) == 0 {
							t.Fatalf("AppendBuffers(%d, %d) appended an empty slice", off, n)
						}
						got = append(got, b...)
					}
				}
				if off < 0 || n < 0 || off+int64(n) > size() {
					if len(got) != 0 || !errors.Is(err, ErrOutOfRange) {
						t.Fatalf("op %d (%d, %d) = %d bytes, %v; want ErrOutOfRange", op, off, n, len(got), err)
					}
				} else if err != nil || !bytes.Equal(got, model[off:off+int64(n)]) {
					t.Fatalf("op %d (%d, %d) = % x, %v; want % x", op, off, n, got, err, model[off:off+int64(n)])
				}

			case 6: // Locate
				off := in.offset(size())
				i, inner, err := v.Locate(off)
				if off < 0 || off >= size() {
					if !errors.Is(err, ErrOutOfRange) {
						t.Fatalf("Locate(%d) error = %v, want ErrOutOfRange", off, err)
					}
					break
				}
				wi, winner := linearLocate(v, off)
				if err != nil || i != wi || inner != winner || v.Buffer(i)[inner] != model[off] {
					t.Fatalf("Locate(%d) = %d, %d, %v; want %d, %d", off, i, inner, err, wi, winner)
				}

			case 7: // Reset and Set again with the same buffers
				bufs := make([][]byte, v.NumBuffers())
				for i := range bufs {
					bufs[i] = v.Buffer(i)
				}
				v.Reset()
				if v.Len() != 0 || v.NumBuffers() != 0 {
					t.Fatalf("Reset left Len %d NumBuffers %d", v.Len(), v.NumBuffers())
				}
				v.Set(bufs...)
			}

			if v.Len() != size() || !bytes.Equal(flatten(v), model) {
				t.Fatalf("after op %d: vector % x (Len %d), model % x", op, flatten(v), v.Len(), model)
			}
		}
	})
}
