// Package iovector provides Vector, a scatter-gather list of caller-owned byte
// buffers addressed as one contiguous range of bytes: the Go form of
// libiscsi's scsi_iovector.
//
// An iSCSI command's data lives in the caller's buffers. Data-In segments
// arrive at arbitrary offsets (the PDU's BufferOffset) and are read from the
// socket straight into those buffers with FillFrom or Range; Data-Out segments
// are handed to writev with AppendBuffers. Nothing is copied through an
// intermediate buffer.
//
// Appending a buffer is O(1) amortized. A Vector keeps the cumulative end
// offset of every buffer, so finding the buffer that holds an offset is a
// binary search, O(log n) in the number of buffers. Lookups, reads, writes,
// fills and ranges allocate nothing; a Vector reused with Set or Reset
// allocates nothing once its capacity has grown to the number of buffers.
//
// # Concurrency
//
// A Vector is not safe for concurrent mutation: Append, Set and Reset must
// not run at the same time as any other method. Without a mutation in
// flight, any number of goroutines may call the read-only methods (Len,
// Locate, ReadAt, Range, AppendBuffers) on the same or overlapping ranges,
// and goroutines may call WriteAt or FillFrom on disjoint ranges at the same
// time: those methods change no state of the Vector, only the bytes of the
// caller's buffers. Overlapping writes, or a write and a read of the same
// bytes, race like any other shared memory.
package iovector

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
)

// ErrOutOfRange is matched (with errors.Is) by every error that reports an
// offset or length outside a Vector or negative. Such errors are *RangeError
// values carrying the numbers.
var ErrOutOfRange = errors.New("iovector: out of range")

// RangeError reports an offset or length that does not fit a Vector.
type RangeError struct {
	Op  string // the method that failed, e.g. "WriteAt"
	Off int64  // the offset asked for
	N   int64  // the number of bytes asked for (0 for Locate)
	Len int64  // the length of the Vector
}

// Error implements error.
func (e *RangeError) Error() string {
	switch {
	case e.Off < 0:
		return fmt.Sprintf("iovector: %s: negative offset %d", e.Op, e.Off)
	case e.N < 0:
		return fmt.Sprintf("iovector: %s: negative length %d", e.Op, e.N)
	case e.Op == "Locate":
		return fmt.Sprintf("iovector: %s: offset %d out of range, vector length %d", e.Op, e.Off, e.Len)
	}
	return fmt.Sprintf("iovector: %s: range [%d, %d+%d) out of range, vector length %d", e.Op, e.Off, e.Off, e.N, e.Len)
}

// Is reports whether target is ErrOutOfRange.
func (e *RangeError) Is(target error) bool { return target == ErrOutOfRange }

var (
	_ io.ReaderAt = (*Vector)(nil)
	_ io.WriterAt = (*Vector)(nil)
)

// Vector is an ordered list of byte buffers read and written as if they were
// one contiguous range of Len bytes. The zero value is an empty Vector ready
// to use.
//
// A Vector refers to the caller's buffers; it never copies their bytes and
// never reallocates them. It keeps its own copy of each slice header, so
// reslicing the caller's variables does not change it, while writes to the
// bytes are seen both ways.
type Vector struct {
	bufs [][]byte
	ends []int64 // ends[i] is the offset one past the last byte of bufs[i]
}

// New returns a Vector over bufs, in order. The buffers are not copied.
func New(bufs ...[]byte) *Vector {
	v := new(Vector)
	v.Set(bufs...)
	return v
}

// Set replaces the contents of v with bufs, in order, reusing v's capacity.
// The buffers' bytes are not copied, and bufs itself is not retained: later
// changes to the slice of slices do not affect v.
func (v *Vector) Set(bufs ...[]byte) {
	v.Reset()
	v.bufs = slices.Grow(v.bufs, len(bufs))
	v.ends = slices.Grow(v.ends, len(bufs))
	for _, b := range bufs {
		v.Append(b)
	}
}

// Append adds b at the end of v, in O(1) amortized time. A zero-length b is
// allowed and occupies no offset.
func (v *Vector) Append(b []byte) {
	v.bufs = append(v.bufs, b)
	v.ends = append(v.ends, v.Len()+int64(len(b)))
}

// Reset empties v and keeps its capacity for reuse. It drops v's references
// to the buffers so that they can be garbage collected.
func (v *Vector) Reset() {
	clear(v.bufs)
	v.bufs = v.bufs[:0]
	v.ends = v.ends[:0]
}

// Len returns the total number of bytes in v's buffers.
func (v *Vector) Len() int64 {
	if len(v.ends) == 0 {
		return 0
	}
	return v.ends[len(v.ends)-1]
}

// NumBuffers returns the number of buffers in v, zero-length ones included.
func (v *Vector) NumBuffers() int { return len(v.bufs) }

// Buffer returns the i'th buffer of v. It panics if i is not in
// [0, NumBuffers()), like a slice index.
func (v *Vector) Buffer(i int) []byte { return v.bufs[i] }

// Locate returns the buffer that holds the byte at offset off, as its index
// and the offset inner within it, so that the byte is Buffer(index)[inner].
// Zero-length buffers hold no byte and are never returned. Offsets outside
// [0, Len()) give an error matching ErrOutOfRange. Locate is a binary search
// and does not allocate.
func (v *Vector) Locate(off int64) (index, inner int, err error) {
	if off < 0 || off >= v.Len() {
		return 0, 0, &RangeError{Op: "Locate", Off: off, Len: v.Len()}
	}
	index, inner = v.locate(off)
	return index, inner, nil
}

// locate is Locate for 0 <= off < v.Len(): it finds the first buffer whose
// end is beyond off.
func (v *Vector) locate(off int64) (index, inner int) {
	lo, hi := 0, len(v.ends)-1 // the answer is in [lo, hi]
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if v.ends[mid] > off {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, int(off - (v.ends[lo] - int64(len(v.bufs[lo]))))
}

// check validates the range [off, off+n) against v.
func (v *Vector) check(op string, off int64, n int64) error {
	l := v.Len()
	if off < 0 || n < 0 || off > l || n > l-off {
		return &RangeError{Op: op, Off: off, N: n, Len: l}
	}
	return nil
}

// ReadAt copies into p the bytes of v starting at offset off, across buffer
// boundaries. It implements io.ReaderAt: when fewer than len(p) bytes remain
// it reads them and returns io.EOF, and an offset at or past Len returns 0,
// io.EOF. A negative offset gives an error matching ErrOutOfRange.
func (v *Vector) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &RangeError{Op: "ReadAt", Off: off, N: int64(len(p)), Len: v.Len()}
	}
	if off >= v.Len() {
		return 0, io.EOF
	}
	i, inner := v.locate(off)
	n := 0
	for n < len(p) && i < len(v.bufs) {
		n += copy(p[n:], v.bufs[i][inner:])
		i, inner = i+1, 0
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt copies p into v starting at offset off, across buffer boundaries.
// It implements io.WriterAt, all or nothing: if p does not fit entirely in
// [0, Len()) it writes nothing and returns 0 and an error matching
// ErrOutOfRange. A Vector never grows.
func (v *Vector) WriteAt(p []byte, off int64) (int, error) {
	if err := v.check("WriteAt", off, int64(len(p))); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	i, inner := v.locate(off)
	n := 0
	for n < len(p) {
		n += copy(v.bufs[i][inner:], p[n:])
		i, inner = i+1, 0
	}
	return n, nil
}

// FillFrom reads exactly n bytes from r into v's range [off, off+n), buffer
// slice by buffer slice with io.ReadFull, so the bytes land in the caller's
// buffers without an intermediate copy. It returns the number of bytes read
// and, like io.ReadFull, io.EOF if r ended before any byte was read and
// io.ErrUnexpectedEOF if it ended part way. A range outside the Vector is
// rejected before reading anything, with an error matching ErrOutOfRange.
// FillFrom allocates nothing unless r does.
//
// To compute a digest over the bytes as they arrive, use Range with a
// function that reads and sums each slice.
func (v *Vector) FillFrom(r io.Reader, off int64, n int) (int, error) {
	if err := v.check("FillFrom", off, int64(n)); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	i, inner := v.locate(off)
	done := 0
	for done < n {
		b := v.bufs[i][inner:]
		b = b[:min(len(b), n-done)]
		m, err := io.ReadFull(r, b)
		done += m
		if err != nil {
			if err == io.EOF && done > 0 {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
		i, inner = i+1, 0
	}
	return done, nil
}

// Range calls fn, in order, with each non-empty slice of v's buffers that
// covers the range [off, off+n). The slices alias the caller's buffers: fn may
// read them (to checksum or write them out) or fill them (from a socket). If
// fn returns an error, Range stops and returns it. A range outside the Vector
// gives an error matching ErrOutOfRange without calling fn. Range allocates
// nothing; a closure passed as fn stays on the caller's stack.
func (v *Vector) Range(off int64, n int, fn func(b []byte) error) error {
	if err := v.check("Range", off, int64(n)); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	i, inner := v.locate(off)
	for n > 0 {
		b := v.bufs[i][inner:]
		b = b[:min(len(b), n)]
		if len(b) > 0 {
			if err := fn(b); err != nil {
				return err
			}
		}
		n -= len(b)
		i, inner = i+1, 0
	}
	return nil
}

// AppendBuffers appends to dst the non-empty slices of v's buffers that cover
// the range [off, off+n), ready for writev through net.Buffers.WriteTo. The
// slices alias the caller's buffers; nothing is copied, and nothing is
// allocated when dst has room. A range outside the Vector returns dst
// unchanged and an error matching ErrOutOfRange.
//
// net.Buffers.WriteTo consumes the value it is called on: keep dst (reset to
// dst[:0]) to reuse its capacity, and call WriteTo on a copy of the result.
func (v *Vector) AppendBuffers(dst net.Buffers, off int64, n int) (net.Buffers, error) {
	if err := v.check("AppendBuffers", off, int64(n)); err != nil {
		return dst, err
	}
	if n == 0 {
		return dst, nil
	}
	i, inner := v.locate(off)
	for n > 0 {
		b := v.bufs[i][inner:]
		b = b[:min(len(b), n)]
		if len(b) > 0 {
			dst = append(dst, b)
		}
		n -= len(b)
		i, inner = i+1, 0
	}
	return dst, nil
}
