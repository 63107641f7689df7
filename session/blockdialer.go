package session

import (
	"context"
	"net"

	"github.com/iscsi-go/iscsi/internal/blocksock"
)

// BlockingDialer is a Dialer (Config.Dialer) whose connections live
// outside Go's netpoller, on Linux: the socket is blocking, and the
// session's reader waits for the target in read(2) on its own OS thread,
// woken by the kernel when data arrives, the way a C initiator's poll loop
// is. That spares the thread switches of the netpoller (the thread waiting
// in epoll_wait woken by every TCP segment, then waking the reader) and
// the wake-ups of the runtime's sysmon: 5–20% less CPU per I/O against
// tgtd in docs/BENCHMARKS.md ("Speed, third round").
//
// It is an experiment, for a few busy sessions: each connection keeps an
// OS thread blocked while it waits (thousands of idle sessions would need
// thousands of threads), and deadlines are looked at every 20 ms (every
// second by a read with none), so a context's end or a keepalive is
// noticed up to that much later. Elsewhere
// than on Linux (and on linux/386) it is an ordinary net.Dialer. The
// embedded net.Dialer makes the connection (timeouts, local address).
type BlockingDialer struct {
	net.Dialer
}

// DialContext connects to address, then takes the socket out of the
// netpoller (see BlockingDialer).
func (d *BlockingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return blocksock.Dial(ctx, &d.Dialer, network, address)
}
