package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Defaults.
const (
	// DefaultDialTimeout bounds the proxy's dial of the target.
	DefaultDialTimeout = 5 * time.Second
	// DefaultBufferSize is the read size of each direction.
	DefaultBufferSize = 32 << 10
)

// Errors a Conn ends with (Conn.Err), usable with errors.Is.
var (
	// ErrCut: a cut fault (CutAt or Cut) closed the connection.
	ErrCut = errors.New("faultproxy: connection cut")
	// ErrReset: a reset fault (ResetAt or Reset) reset the connection.
	ErrReset = errors.New("faultproxy: connection reset")
	// ErrClosed: the Proxy was closed.
	ErrClosed = errors.New("faultproxy: proxy closed")
	// ErrDial: the target could not be reached; the client was reset.
	ErrDial = errors.New("faultproxy: dialing the target failed")
)

// Direction is one way of a connection.
type Direction int

const (
	// Up is client to target: the initiator's PDUs.
	Up Direction = iota
	// Down is target to client: the target's PDUs.
	Down
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// An Option configures New.
type Option func(*options)

type options struct {
	listen      string
	dialTimeout time.Duration
	bufferSize  int
}

// ListenAddr makes the proxy listen on addr (host:port; port 0 picks one)
// instead of 127.0.0.1:0, or [::1]:0 for an IPv6 target.
func ListenAddr(addr string) Option { return func(o *options) { o.listen = addr } }

// DialTimeout bounds the dial of the target for each accepted connection
// (DefaultDialTimeout).
func DialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// BufferSize sets how many bytes each direction reads at once
// (DefaultBufferSize); a chunk is what Delay delays.
func BufferSize(n int) Option { return func(o *options) { o.bufferSize = n } }

// Proxy forwards connections to a target and injects faults. Its methods are
// safe for concurrent use.
type Proxy struct {
	ln          net.Listener
	dialTimeout time.Duration
	bufferSize  int

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	accepted     atomic.Int64
	dialFailures atomic.Int64
	bytes        [2]atomic.Int64

	mu       sync.Mutex
	target   string
	onAccept func(*Conn)
	conns    []*Conn
	newConn  chan struct{} // closed and replaced when a connection is accepted
	closed   bool
	closeErr error
}

// Start is New for a test: it fails tb when the proxy cannot start, and
// closes the proxy when tb's test ends (t.Cleanup).
func Start(tb testing.TB, target string, opts ...Option) *Proxy {
	tb.Helper()
	p, err := New(target, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// New starts a proxy to target (host:port). It listens on 127.0.0.1:0, or on
// [::1]:0 when target's host is an IPv6 literal, unless ListenAddr says
// otherwise.
func New(target string, opts ...Option) (*Proxy, error) {
	o := options{dialTimeout: DefaultDialTimeout, bufferSize: DefaultBufferSize}
	for _, f := range opts {
		f(&o)
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			o.listen = "[::1]:0"
		}
	}
	if o.bufferSize <= 0 {
		o.bufferSize = DefaultBufferSize
	}
	if o.dialTimeout <= 0 {
		o.dialTimeout = DefaultDialTimeout
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", o.listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ln:          ln,
		dialTimeout: o.dialTimeout,
		bufferSize:  o.bufferSize,
		ctx:         ctx,
		cancel:      cancel,
		target:      target,
		newConn:     make(chan struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address the proxy listens on, host:port (brackets for
// IPv6): give it to the initiator instead of the target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// TargetURL returns "iscsi://<proxy address>/iqn/lun": the target's URL
// through the proxy.
func (p *Proxy) TargetURL(iqn string, lun int) string {
	return "iscsi://" + p.Addr() + "/" + iqn + "/" + strconv.Itoa(lun)
}

// Target returns the address new connections are forwarded to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetTarget changes where new connections are forwarded (open ones stay).
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// OnAccept sets a function called for every connection accepted from then
// on, after the target was dialed and before any byte is forwarded: arm the
// faults of a connection there to be sure they apply from byte 0 (Index
// tells which connection it is). It runs on the connection's goroutine and
// must not block (nor call Close, which waits for it); nil removes it. Resetting the connection there (c.Reset())
// makes the target look unreachable to that login.
func (p *Proxy) OnAccept(fn func(*Conn)) {
	p.mu.Lock()
	p.onAccept = fn
	p.mu.Unlock()
}

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// DialFailures returns how many accepted connections could not reach the
// target.
func (p *Proxy) DialFailures() int { return int(p.dialFailures.Load()) }

// Bytes returns the bytes forwarded in direction dir over all connections.
func (p *Proxy) Bytes(dir Direction) int64 { return p.bytes[dir&1].Load() }

// Conns returns every connection accepted so far, in order.
func (p *Proxy) Conns() []*Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Conn(nil), p.conns...)
}

// Conn returns the connection with index n (0 is the first accepted), or
// nil if there is none yet.
func (p *Proxy) Conn(n int) *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 0 || n >= len(p.conns) {
		return nil
	}
	return p.conns[n]
}

// WaitConn waits until connection n (0-based) has been accepted and returns
// it. It fails when ctx is done or the proxy is closed.
func (p *Proxy) WaitConn(ctx context.Context, n int) (*Conn, error) {
	for {
		p.mu.Lock()
		if n < len(p.conns) {
			c := p.conns[n]
			p.mu.Unlock()
			return c, nil
		}
		closed, ch := p.closed, p.newConn
		p.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("faultproxy: waiting for connection %d (%d accepted): %w", n, p.Accepted(), ctx.Err())
		case <-p.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// CutAll cuts every open connection now (close both sides), as a network
// failure would; new connections are still accepted.
func (p *Proxy) CutAll() {
	for _, c := range p.Conns() {
		c.Cut()
	}
}

// Close stops accepting, closes every connection and returns when all of the
// proxy's goroutines have exited. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return p.closeErr
	}
	p.closed = true
	conns := append([]*Conn(nil), p.conns...)
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	for _, c := range conns {
		c.end(ErrClosed, false)
	}
	p.wg.Wait()
	p.mu.Lock()
	p.closeErr = err
	close(p.newConn)
	p.newConn = make(chan struct{})
	p.mu.Unlock()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient accept error (EMFILE, ...): back off briefly.
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			nc.Close()
			return
		}
		c := newConn(p, len(p.conns), nc)
		p.conns = append(p.conns, c)
		p.accepted.Add(1)
		close(p.newConn)
		p.newConn = make(chan struct{})
		target := p.target
		// Registered under the lock that Close takes first: after Close
		// set closed, no goroutine is added.
		p.wg.Add(1)
		p.mu.Unlock()
		go c.run(target)
	}
}

func (p *Proxy) hook() func(*Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.onAccept
}
