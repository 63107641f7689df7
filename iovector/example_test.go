package iovector_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/iscsi-go/iscsi/digest"
	"github.com/iscsi-go/iscsi/iovector"
)

// A Data-In segment lands in the caller's buffers straight from the
// connection, and its data digest is computed over the same slices.
func ExampleVector_Range() {
	a, b := make([]byte, 4), make([]byte, 6)
	v := iovector.New(a, b)

	conn := bytes.NewReader([]byte("0123456789")) // stands for the socket
	crc := uint32(0)
	err := v.Range(0, 10, func(s []byte) error {
		_, err := io.ReadFull(conn, s)
		crc = digest.Update(crc, s)
		return err
	})
	fmt.Println(err, string(a), string(b), crc == digest.Checksum([]byte("0123456789")))
	// Output: <nil> 0123 456789 true
}

// A Data-Out segment goes to writev without a copy: the header and the
// covered slices of the caller's buffers in one net.Buffers.
func ExampleVector_AppendBuffers() {
	v := iovector.New([]byte("hello, "), []byte("scatter-gather"), []byte(" world"))
	bufs := make(net.Buffers, 0, 8)

	out, err := v.AppendBuffers(append(bufs, []byte("BHS|")), 7, 14)
	fmt.Println(len(out), err)

	var w bytes.Buffer // stands for the socket
	_, _ = out.WriteTo(&w)
	fmt.Println(w.String())
	// Output:
	// 2 <nil>
	// BHS|scatter-gather
}

func ExampleVector_ReadAt() {
	v := iovector.New([]byte("abc"), nil, []byte("defg"))
	p := make([]byte, 4)
	n, err := v.ReadAt(p, 1)
	fmt.Println(n, err, string(p[:n]))
	n, err = v.ReadAt(p, 5)
	fmt.Println(n, err, string(p[:n]))
	// Output:
	// 4 <nil> bcde
	// 2 EOF fg
}

// Three buffers of the caller read and written as one range of bytes: a
// write across their boundaries lands in each, and Locate finds the buffer
// that holds an offset by binary search.
func ExampleNew() {
	header, body, trailer := make([]byte, 4), make([]byte, 8), make([]byte, 4)
	v := iovector.New(header, body)
	v.Append(trailer) // O(1)

	n, err := v.WriteAt([]byte("AD0123456789AB"), 2)
	fmt.Println(v.Len(), v.NumBuffers(), n, err)
	fmt.Printf("%q %q %q\n", header, body, trailer)

	i, inner, err := v.Locate(13)
	fmt.Println(i, inner, err)
	_, _, err = v.Locate(16)
	fmt.Println(errors.Is(err, iovector.ErrOutOfRange))
	// Output:
	// 16 3 14 <nil>
	// "\x00\x00AD" "01234567" "89AB"
	// 2 1 <nil>
	// true
}
