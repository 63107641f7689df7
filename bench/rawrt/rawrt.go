// Package rawrt is the fixed yardstick of the distance-to-the-limit
// benchmarks: a zero-work server and a pipelined client over one loopback TCP
// connection, with no protocol beyond fixed-size frames.
//
// The client sends 48-byte requests (the size of an iSCSI Basic Header
// Segment) and the server answers each with a 48-byte header followed by a
// payload of zeros (4 KiB or 128 KiB, like a SCSI READ's Data-In). The client
// keeps a fixed number of requests outstanding, with one writer goroutine and
// one reader goroutine, both buffered. Whatever an iSCSI initiator does on top
// of this — parsing PDUs, matching tasks, placing data — is overhead measured
// against these numbers.
//
// The code is deliberately plain and must stay unchanged, so that numbers
// from different runs and commits compare.
package rawrt

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

// HeaderSize is the size of a request and of a reply's header.
const HeaderSize = 48

// Server answers every 48-byte request on its connections with a 48-byte
// header (carrying the request's first 8 bytes, a tag) and PayloadSize zero
// bytes, doing no other work.
type Server struct {
	ln          net.Listener
	payloadSize int
	wg          sync.WaitGroup
}

// Listen starts a Server on a loopback TCP port.
func Listen(payloadSize int) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rawrt: listen: %w", err)
	}
	s := &Server{ln: ln, payloadSize: payloadSize}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the address the Server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener and waits for every connection handler to end
// (they end when their client closes its connection).
func (s *Server) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serve(c)
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	var req [HeaderSize]byte
	reply := make([]byte, HeaderSize+s.payloadSize)
	for {
		if _, err := io.ReadFull(r, req[:]); err != nil {
			return
		}
		copy(reply[:8], req[:8])
		binary.BigEndian.PutUint32(reply[8:12], uint32(s.payloadSize))
		if _, err := w.Write(reply); err != nil {
			return
		}
		// Flush only when no further request is already buffered, so that
		// pipelined requests are answered in batches.
		if r.Buffered() < HeaderSize {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// Client keeps Outstanding requests in flight on one connection to a Server.
type Client struct {
	c           net.Conn
	payloadSize int
}

// Dial connects a Client to addr; payloadSize must match the Server's.
func Dial(addr string, payloadSize int) (*Client, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rawrt: dial: %w", err)
	}
	return &Client{c: c, payloadSize: payloadSize}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// Run performs n round trips with at most outstanding requests in flight:
// one goroutine writes requests through a buffered writer whenever a credit
// is free, another reads replies through a buffered reader, each reply
// returning a credit. It returns when all n replies have arrived.
func (c *Client) Run(n, outstanding int) error {
	credits := make(chan struct{}, outstanding)
	for i := 0; i < outstanding; i++ {
		credits <- struct{}{}
	}
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(c.c, 64<<10)
		var req [HeaderSize]byte
		for i := 0; i < n; i++ {
			select {
			case <-credits:
			default:
				// No credit free: send what is buffered, then wait.
				if err := w.Flush(); err != nil {
					werr <- err
					return
				}
				<-credits
			}
			binary.BigEndian.PutUint64(req[:8], uint64(i))
			if _, err := w.Write(req[:]); err != nil {
				werr <- err
				return
			}
		}
		werr <- w.Flush()
	}()
	r := bufio.NewReaderSize(c.c, 64<<10)
	var hdr [HeaderSize]byte
	payload := make([]byte, c.payloadSize)
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("rawrt: reply %d header: %w", i, err)
		}
		if got := binary.BigEndian.Uint32(hdr[8:12]); int(got) != c.payloadSize {
			return fmt.Errorf("rawrt: reply %d announces %d payload bytes, want %d", i, got, c.payloadSize)
		}
		if _, err := io.ReadFull(r, payload); err != nil {
			return fmt.Errorf("rawrt: reply %d payload: %w", i, err)
		}
		credits <- struct{}{}
	}
	return <-werr
}
