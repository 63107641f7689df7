package nbd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/iscsi-go/iscsi/session"
)

// conn is one client connection: the handshake, then the transmission
// phase, in which one goroutine (serve) reads requests and each request
// is served on a goroutine of its own, so that the client's queue depth
// reaches the device. Replies are written under wmu, one whole reply at a
// time, in the order they complete.
type conn struct {
	s   *Server
	nc  net.Conn
	br  *bufio.Reader
	log *slog.Logger

	// ctx is cancelled when the connection is aborted; requests run under it.
	ctx    context.Context
	cancel context.CancelFunc

	wmu sync.Mutex

	// Negotiated in the handshake.
	noZeroes   bool
	structured bool
	meta       bool   // base:allocation selected
	metaExport string // the export it was selected for
	export     Export
	geo        session.Geometry
	flags      uint16

	budget *budget
	reqs   sync.WaitGroup

	mu       sync.Mutex
	draining bool
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		s:      s,
		nc:     nc,
		br:     bufio.NewReaderSize(nc, 64<<10),
		log:    s.logger().With("client", nc.RemoteAddr().String()),
		ctx:    ctx,
		cancel: cancel,
		budget: newBudget(s.maxInFlight()),
	}
}

// serve runs the connection to its end and closes it.
func (c *conn) serve() {
	defer c.cancel()
	defer c.nc.Close()
	c.log.Debug("nbd: client connected")
	if !c.handshake() {
		return
	}
	c.log.Debug("nbd: transmission", "export", c.export.Name, "size", c.geo.Size(), "structured", c.structured)
	c.transmit()
	// No more requests are read; answer those in flight, then close.
	c.reqs.Wait()
	c.log.Debug("nbd: client disconnected")
}

// drain stops reading requests; those in flight are answered.
func (c *conn) drain() {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	c.nc.SetReadDeadline(time.Now())
}

// abort ends the connection now, cancelling its requests.
func (c *conn) abort() {
	c.drain()
	c.cancel()
	c.budget.close()
	c.nc.Close()
}

func (c *conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// ended logs why reading from the client stopped.
func (c *conn) ended(what string, err error) {
	switch {
	case errors.Is(err, io.EOF):
		c.log.Debug("nbd: client hung up", "while", what)
	case c.isDraining() && errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Debug("nbd: connection drained for shutdown", "while", what)
	case errors.Is(err, net.ErrClosed):
		c.log.Debug("nbd: connection closed", "while", what)
	default:
		c.log.Warn("nbd: connection lost", "while", what, "err", err)
	}
}

// violation logs a protocol violation that ends the connection.
func (c *conn) violation(err error) {
	c.log.Warn("nbd: closing the connection", "err", err)
}

// send writes b whole; on failure the connection is closed.
func (c *conn) send(b ...[]byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	bufs := net.Buffers(b)
	if _, err := bufs.WriteTo(c.nc); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			c.log.Warn("nbd: writing to the client", "err", err)
		}
		c.nc.Close()
		return false
	}
	return true
}

// budget bounds the bytes of the requests of one connection being served.
type budget struct {
	mu     sync.Mutex
	cond   sync.Cond
	avail  int64
	max    int64
	closed bool
}

func newBudget(n int64) *budget {
	b := &budget{avail: n, max: n}
	b.cond.L = &b.mu
	return b
}

// acquire takes n bytes (at most the whole budget), waiting for them; it
// returns the amount taken, or false once the budget is closed.
func (b *budget) acquire(n int64) (int64, bool) {
	n = min(max(n, 1), b.max)
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.avail < n && !b.closed {
		b.cond.Wait()
	}
	if b.closed {
		return 0, false
	}
	b.avail -= n
	return n, true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.avail += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *budget) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

// bufPool holds request buffers by size class, powers of two from 4 KiB.
var bufPool [14]sync.Pool // 4 KiB … 32 MiB

func getBuf(n int) []byte {
	class, size := 0, 4096
	for size < n && class < len(bufPool)-1 {
		class++
		size <<= 1
	}
	if size < n {
		return make([]byte, n)
	}
	if p, ok := bufPool[class].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, size)
}

func putBuf(b []byte) {
	c := cap(b)
	class, size := 0, 4096
	for size < c && class < len(bufPool)-1 {
		class++
		size <<= 1
	}
	if size != c {
		return
	}
	bufPool[class].Put(&b)
}
