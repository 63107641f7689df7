package nbd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
)

// Defaults of the Server's limits.
const (
	DefaultMaxRequest  = 32 << 20
	DefaultMaxInFlight = 64 << 20
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("nbd: server closed")

// Export is one device the server offers, under a name.
type Export struct {
	Name        string
	Description string // optional, shown by nbdinfo
	Device      Device
}

// Server serves exports over the NBD protocol (fixed newstyle handshake,
// structured replies, base:allocation block status) to any number of
// clients, each on as many connections as it likes: the exports
// advertise NBD_FLAG_CAN_MULTI_CONN, since the server keeps no cache of
// its own and a flush reaches the device. Set the fields before Serve;
// the zero value of each limit means its default.
type Server struct {
	// Exports are the devices served, by name. NBD_OPT_LIST lists them.
	Exports []Export
	// Default is the name of the export a client gets when it asks for
	// the empty name "" (the default export). Empty: no default export,
	// unless an export is itself named "".
	Default string
	// ReadOnly refuses every write (NBD_FLAG_READ_ONLY; EPERM).
	ReadOnly bool
	// MaxRequest bounds the length of one READ or WRITE (announced as the
	// maximum block size); a longer one fails with EINVAL and the
	// connection goes on. Default DefaultMaxRequest.
	MaxRequest uint32
	// MaxInFlight bounds the bytes of the READs and WRITEs of one
	// connection being served at once; the next request is not read from
	// the connection until enough of them have been answered. Default
	// DefaultMaxInFlight.
	MaxInFlight int64
	// Logger receives connection events at debug level and protocol
	// violations and device errors at warn level. Nil: nothing is logged.
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  bool
	wg        sync.WaitGroup
}

func (s *Server) maxRequest() uint32 {
	if s.MaxRequest == 0 {
		return DefaultMaxRequest
	}
	return s.MaxRequest
}

func (s *Server) maxInFlight() int64 {
	if s.MaxInFlight <= 0 {
		return DefaultMaxInFlight
	}
	return s.MaxInFlight
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// lookup finds the export of a name; "" is the default export.
func (s *Server) lookup(name string) (Export, bool) {
	if name == "" {
		name = s.Default
	}
	for _, e := range s.Exports {
		if e.Name == name {
			return e, true
		}
	}
	return Export{}, false
}

// Serve accepts connections on l and serves each on its own goroutine
// until Shutdown or Close, then returns ErrServerClosed. Any other error
// of Accept ends it too. l is closed when Serve returns.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		if s.conns == nil {
			s.conns = make(map[*conn]struct{})
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// ServeConn serves one connection, already accepted, on the calling
// goroutine, and returns when it ends.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	c.serve()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting connections and ends each connection
// gracefully: a client still negotiating is cut off; one in transmission
// gets no more requests read, and the requests it has in flight are
// answered before the connection is closed. If ctx ends first, the
// remaining connections are closed at once (their requests cancelled)
// and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.stop()
	for _, c := range conns {
		c.drain()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.abort()
		}
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once; the requests
// in flight are cancelled. It waits for the connections' goroutines.
func (s *Server) Close() error {
	for _, c := range s.stop() {
		c.abort()
	}
	s.wg.Wait()
	return nil
}

// stop marks the server shut down, closes its listeners and returns its
// connections.
func (s *Server) stop() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}
