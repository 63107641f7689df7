//go:build linux && !386

package session_test

import (
	"context"
	"net"
	"runtime"
	"testing"

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
