package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Conn is one proxied connection: the client's socket, the proxy's socket to
// the target, and a Pipe for each direction. Its methods are safe for
// concurrent use.
type Conn struct {
	p      *Proxy
	index  int
	client net.Conn
	pipes  [2]*Pipe
	endCh  chan struct{} // closed when the sockets are being closed
	done   chan struct{} // closed when the connection's goroutines have exited

	mu     sync.Mutex
	target net.Conn // nil until dialed
	ended  bool
	cause  error
}

func newConn(p *Proxy, index int, client net.Conn) *Conn {
	c := &Conn{p: p, index: index, client: client, endCh: make(chan struct{}), done: make(chan struct{})}
	c.pipes[Up] = newPipe(c, Up)
	c.pipes[Down] = newPipe(c, Down)
	return c
}

// Index returns the connection's number: 0 for the first accepted.
func (c *Conn) Index() int { return c.index }

// ClientAddr returns the client's address (the initiator's local address).
func (c *Conn) ClientAddr() net.Addr { return c.client.RemoteAddr() }

// Up returns the client-to-target direction.
func (c *Conn) Up() *Pipe { return c.pipes[Up] }

// Down returns the target-to-client direction.
func (c *Conn) Down() *Pipe { return c.pipes[Down] }

// Pipe returns direction dir.
func (c *Conn) Pipe(dir Direction) *Pipe { return c.pipes[dir&1] }

// Cut closes both sockets now (FIN to both peers); Err then wraps ErrCut.
func (c *Conn) Cut() { c.end(fmt.Errorf("%w by Cut", ErrCut), false) }

// Reset closes both sockets now with SO_LINGER 0 (RST to both peers); Err
// then wraps ErrReset.
func (c *Conn) Reset() { c.end(fmt.Errorf("%w by Reset", ErrReset), true) }

// Stall stops forwarding in both directions, sockets open, for d (or until
// Release if d <= 0).
func (c *Conn) Stall(d time.Duration) {
	c.pipes[Up].Stall(d)
	c.pipes[Down].Stall(d)
}

// Release ends stalls (armed or active) in both directions.
func (c *Conn) Release() {
	c.pipes[Up].Release()
	c.pipes[Down].Release()
}

// Done is closed when the connection has ended and its goroutines have
// exited.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Ended reports whether the connection's sockets were closed (by a fault,
// by either peer, or by Close).
func (c *Conn) Ended() bool {
	select {
	case <-c.endCh:
		return true
	default:
		return false
	}
}

// Err returns why the connection ended: an error wrapping ErrCut, ErrReset,
// ErrClosed or ErrDial, io.EOF when both peers closed their side, or the
// socket error that ended it. It returns nil while the connection is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Wait waits until the connection has ended (Done) or ctx is done, and
// returns Err or ctx's error.
func (c *Conn) Wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
		return fmt.Errorf("faultproxy: waiting for connection %d to end: %w", c.index, ctx.Err())
	}
}

func (c *Conn) String() string {
	return fmt.Sprintf("conn %d from %s (up %d, down %d bytes)", c.index, c.ClientAddr(),
		c.pipes[Up].Forwarded(), c.pipes[Down].Forwarded())
}

// run dials the target, calls the OnAccept hook and forwards both directions
// until the connection ends. It is the connection's goroutine.
func (c *Conn) run(target string) {
	defer c.p.wg.Done()
	defer close(c.done)
	ctx, cancel := context.WithTimeout(c.p.ctx, c.p.dialTimeout)
	var d net.Dialer
	tc, err := d.DialContext(ctx, "tcp", target)
	cancel()
	if err != nil {
		if c.p.ctx.Err() == nil {
			c.p.dialFailures.Add(1)
		}
		// A refused dial looks like a refused connection to the client.
		c.end(fmt.Errorf("%w: %s: %v", ErrDial, target, err), true)
		return
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		tc.Close()
		return
	}
	c.target = tc
	c.mu.Unlock()
	if fn := c.p.hook(); fn != nil {
		fn(c)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.pipes[Down].pump(tc, c.client)
	}()
	c.pipes[Up].pump(c.client, tc)
	wg.Wait()
	c.end(io.EOF, false) // both peers closed their side (no-op if ended)
}

// end closes both sockets once, recording cause; with reset, SO_LINGER 0
// first so that both peers get an RST.
func (c *Conn) end(cause error, reset bool) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.cause = cause
	socks := []net.Conn{c.client, c.target}
	c.mu.Unlock()
	close(c.endCh)
	for _, s := range socks {
		if s == nil {
			continue
		}
		if tc, ok := s.(*net.TCPConn); ok && reset {
			tc.SetLinger(0)
		}
		s.Close()
	}
}

// isReset reports whether err is a peer's RST, to pass on to the other.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// closeWrite half-closes s (FIN) when it is TCP, else closes it.
func closeWrite(s net.Conn) {
	if tc, ok := s.(*net.TCPConn); ok {
		tc.CloseWrite()
		return
	}
	s.Close()
}
