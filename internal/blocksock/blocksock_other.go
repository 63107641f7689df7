//go:build !linux || 386

package blocksock

import (
	"context"
	"net"
)

// Dial connects with d (a zero net.Dialer if nil). Only Linux has blocking
// sockets here (and not linux/386); elsewhere this is d.DialContext.
func Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	return d.DialContext(ctx, network, address)
}
