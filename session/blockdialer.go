package session

import (
	"context"
	"net"
	"runtime"

	"github.com/iscsi-go/iscsi/internal/blocksock"
)

// BlockingDialer is the default Dialer (Config.Dialer nil). On Linux its
// connections live outside Go's netpoller: while a session is busy, its
// reader waits for the target in read(2) on its own OS thread, woken by
// the kernel when data arrives, the way a C initiator's poll loop is. That
// spares the thread switches of the netpoller (the thread waiting in
// epoll_wait woken by every TCP segment, then waking the reader) and the
// wake-ups of the runtime's sysmon: 27–47% less CPU per I/O against tgtd
// in docs/BENCHMARKS.md ("Speed, third round").
//
// A reader that finds nothing for 20 ms goes quiet: it gives its thread
// back and waits in one epoll poller that the whole process shares (which
// waits in turn in Go's netpoller), so idle sessions hold no thread each
// and cost about what they cost on the netpoller; it blocks in read(2)
// again when two pieces of data come within 1 ms of each other. At most 512 readers block a thread at
// once; the others wait in the poller. A deadline is looked at every 20 ms
// by a reader blocked in read(2), so a keepalive's timeout is noticed up
// to that much later.
//
// With GOMAXPROCS at 1 (a container limited to one CPU) it is an ordinary
// net.Dialer: a read blocked in read(2) holds the only P until the
// runtime's sysmon takes it back, which left 32 goroutines issuing
// commands with 30% fewer IOPS than the netpoller (docs/BENCHMARKS.md).
// GOMAXPROCS is looked at when a connection is made. It is an ordinary
// net.Dialer too for a target in this process (a package iscsitest
// Server), whose goroutines must run for every command: with the P that a
// blocked read holds missing, a 4 KiB read at queue depth 1 took 1.2–3.0
// times as long and a 4 KiB write at depth 32 2.1–2.6 times ("A target in
// the same process" in docs/BENCHMARKS.md). The same holds, less sharply,
// for a program whose other goroutines keep every P busy while it does
// I/O: give it a *net.Dialer.
//
// Elsewhere than on Linux (and on linux/386) it is an ordinary net.Dialer.
// The embedded net.Dialer makes the connection (timeouts, local address).
// For Go's netpoller on Linux, give a *net.Dialer as Config.Dialer.
type BlockingDialer struct {
	net.Dialer
}

// DialContext connects to address, then takes the socket out of the
// netpoller (see BlockingDialer), unless GOMAXPROCS is 1 or the target is
// in this process.
func (d *BlockingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if runtime.GOMAXPROCS(0) < 2 || blocksock.InProcess(address) {
		return d.Dialer.DialContext(ctx, network, address)
	}
	return blocksock.Dial(ctx, &d.Dialer, network, address)
}
