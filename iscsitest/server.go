package iscsitest

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/internal/blocksock"
	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/pdu"
)

// Server is an iSCSI target listening on a TCP port (of the loopback
// interface unless WithAddress says otherwise).
type Server struct {
	tg  *faketarget.Target
	lns []net.Listener // the first is the one of Addr; one per Port with port groups
	// unmark ends what blocksock.MarkInProcess recorded of each listener:
	// sessions dialing a server of their own process use the netpoller.
	unmark []func()
	addr   string
	luns   []uint32
	alua   *alua // nil without port groups

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted  atomic.Int64
	delay     atomic.Int64 // time.Duration
	dropAfter atomic.Int64 // PDUs to let through before closing; <0: off

	fmu    sync.Mutex
	faults []*faultState
}

// NewServer starts a Server on 127.0.0.1 with a port of the system's
// choosing (see WithAddress). Without a LUN option it has one LUN (number 1) of
// DefaultLUNSize bytes in 512-byte blocks. Like httptest.NewServer it
// panics when it cannot listen or an option is invalid; the caller must
// Close it.
func NewServer(opts ...Option) *Server {
	s, err := newServer(opts)
	if err != nil {
		panic(err)
	}
	return s
}

func newServer(opts []Option) (*Server, error) {
	c := config{name: DefaultTargetName, address: "127.0.0.1:0"}
	for _, o := range opts {
		o(&c)
	}
	if c.explicit && len(c.groups) == 0 {
		c.fail("WithExplicitALUA without WithPortGroup")
	}
	if c.err != nil {
		return nil, c.err
	}
	if len(c.luns) == 0 {
		WithLUN(DefaultLUNSize, 512)(&c)
	}
	s := &Server{conns: map[*conn]struct{}{}}
	s.dropAfter.Store(-1)
	listeners := 1
	if len(c.groups) > 0 {
		s.alua = newALUA(c.groups)
		listeners = len(s.alua.ports)
	}
	for i := range listeners {
		address := c.address
		if i > 0 {
			// The other portals: the same host, ports of the system's
			// choosing.
			host, _, _ := net.SplitHostPort(s.addr)
			address = net.JoinHostPort(host, "0")
		}
		ln, err := net.Listen("tcp", address)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("iscsitest: listen: %w", err)
		}
		s.lns = append(s.lns, ln)
		s.unmark = append(s.unmark, blocksock.MarkInProcess(ln.Addr().String()))
		if i == 0 {
			s.addr = ln.Addr().String()
		}
	}
	tc := faketarget.Config{
		Name:         c.name,
		LUNs:         c.luns,
		CHAP:         c.chap,
		HeaderDigest: c.hd.keyValue(),
		DataDigest:   c.dd.keyValue(),
		QueueDepth:   c.queueDepth,
		ExtendedCopy: c.xcopy,
		Sanitize:     c.sanitize,
		Hooks: faketarget.Hooks{
			Login:    s.login(requireDigests(c.hd == DigestRequired, c.dd == DigestRequired)),
			Received: s.received,
			Command:  s.command,
		},
	}
	if s.alua != nil {
		entry := faketarget.DiscoveryEntry{Name: c.name}
		for i, pt := range s.alua.ports {
			pt.addr = s.lns[i].Addr().String()
			entry.Addresses = append(entry.Addresses, pt.addr+","+strconv.FormatUint(uint64(pt.id), 10))
		}
		tc.Discovery = []faketarget.DiscoveryEntry{entry}
		tc.ALUA = &faketarget.ALUA{Port: s.alua.portOf, Groups: s.alua.report}
		if c.explicit {
			tc.ALUA.Set = s.setTargetPortGroups
		}
	}
	tg, err := faketarget.New(tc)
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("iscsitest: %w", err)
	}
	s.tg = tg
	for _, l := range c.luns {
		s.luns = append(s.luns, l.Number)
	}
	for i, ln := range s.lns {
		var pt *port
		if s.alua != nil {
			pt = s.alua.ports[i]
		}
		s.wg.Add(1)
		go s.accept(ln, pt)
	}
	return s, nil
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		ln.Close()
	}
	for _, unmark := range s.unmark {
		unmark()
	}
}

// accept serves the connections of one listener; pt is its port (nil
// without port groups).
func (s *Server) accept(ln net.Listener, pt *port) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := &conn{Conn: nc, s: s, done: make(chan struct{}), port: pt}
		c.cond.L = &c.mu
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.accepted.Add(1)
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			_ = s.tg.Serve(c) // closes c
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Addr returns the address the server listens on, "127.0.0.1:port" (or
// "[::1]:port" and so on, see WithAddress). With port groups it is the
// portal of the first Port.
func (s *Server) Addr() string { return s.addr }

// TargetName returns the target's IQN.
func (s *Server) TargetName() string { return s.tg.Name() }

// URL returns the iSCSI URL of the first LUN:
// "iscsi://127.0.0.1:port/<target>/1".
func (s *Server) URL() string { return s.LUNURL(s.luns[0]) }

// LUNURL returns the iSCSI URL of LUN lun.
func (s *Server) LUNURL(lun uint32) string {
	return "iscsi://" + s.addr + "/" + s.tg.Name() + "/" + strconv.FormatUint(uint64(lun), 10)
}

// PortalURL returns the URL of the portal, "iscsi://127.0.0.1:port", for
// discovery.
func (s *Server) PortalURL() string { return "iscsi://" + s.addr }

// LUNs returns the LUN numbers, in REPORT LUNS order.
func (s *Server) LUNs() []uint32 { return append([]uint32(nil), s.luns...) }

// Contents returns a copy of what LUN lun holds, so that a test can check
// what its writes stored; nil for a null or unknown LUN.
func (s *Server) Contents(lun uint32) []byte { return s.tg.LUNData(lun) }

// Violations returns the breaches of RFC 7143 the server noticed in what
// initiators sent (a wrong CmdSN, a burst beyond the negotiated length…),
// oldest first. A correct initiator causes none; faults do not count.
func (s *Server) Violations() []string { return s.tg.Violations() }

// Connections returns how many connections the server has accepted so
// far: a test sees from it whether a client reconnected after a fault.
func (s *Server) Connections() int { return int(s.accepted.Load()) }

// CloseClientConnections closes every connection the server has accepted,
// without a word to the initiators.
func (s *Server) CloseClientConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops listening, closes every connection and waits until every
// goroutine of the server has returned. It may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.closeListeners()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// SetDelay holds back every PDU the server sends from now on by d, on
// every connection, as a long network path would: answers keep their order
// and the server goes on reading commands meanwhile. Zero ends the delay
// (what is already held back still waits its turn).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(max(d, 0))) }

// DropAfter lets n more PDUs of the full feature phase through, on all
// connections together, and closes the connection that receives the next
// one, before the server acts on it. It strikes once; a negative n
// disarms it.
func (s *Server) DropAfter(n int) { s.dropAfter.Store(int64(max(n, -1))) }

// requireDigests fails a login that would end without the digests
// required (the keys' negotiation alone would settle on None).
func requireDigests(header, data bool) func(x *faketarget.LoginExchange) faketarget.Verdict {
	if !header && !data {
		return nil
	}
	return func(x *faketarget.LoginExchange) faketarget.Verdict {
		r := &x.Response
		if r.Transit && r.NSG == pdu.StageFullFeature && r.StatusClass == pdu.LoginSuccess {
			p := x.Peer.Params()
			if header && !p.HeaderDigest || data && !p.DataDigest {
				x.Fail(faketarget.StatusInitiatorError)
			}
		}
		return faketarget.Proceed
	}
}

func (s *Server) received(_ *faketarget.Peer, _ *pdu.BHS) faketarget.Verdict {
	if s.dropAfter.Load() < 0 {
		return faketarget.Proceed
	}
	if s.dropAfter.Add(-1) == -1 {
		return faketarget.Close
	}
	return faketarget.Proceed
}
