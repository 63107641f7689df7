//go:build linux && !386

package session_test

import (
	"context"
	"net"
	"runtime"
	"testing"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/session"
)

// TestBlockingDialerGOMAXPROCS: BlockingDialer takes the socket out of the
// netpoller with two Ps or more, and leaves it a net.TCPConn with one (a
// blocked read would hold the only P).
func TestBlockingDialerGOMAXPROCS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dial := func(procs int) net.Conn {
		t.Helper()
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		c, err := (&session.BlockingDialer{}).DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if c := dial(1); !isTCPConn(c) {
		t.Fatalf("with GOMAXPROCS 1: %T, want *net.TCPConn", c)
	}
	if c := dial(2); isTCPConn(c) {
		t.Fatalf("with GOMAXPROCS 2: %T, want the blocking socket", c)
	}
}

func isTCPConn(c net.Conn) bool {
	_, ok := c.(*net.TCPConn)
	return ok
}

// TestBlockingDialerInProcess: a target of this process (an iscsitest
// Server) gets a netpoller connection, whose goroutines would miss the P
// that a blocked read holds; once it is closed, its address is a plain
// one again.
func TestBlockingDialerInProcess(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	srv := iscsitest.NewServer()
	addr := srv.Addr()
	c, err := (&session.BlockingDialer{}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !isTCPConn(c) {
		t.Fatalf("to an iscsitest Server: %T, want *net.TCPConn (the netpoller)", c)
	}
	srv.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on the closed server's address: %v", err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c2, err := (&session.BlockingDialer{}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if isTCPConn(c2) {
		t.Fatalf("after the server closed: %T, want the blocking socket", c2)
	}
}
