//go:build !linux

package conn

import "net"

// lowat is a no-op where SO_RCVLOWAT is not known to behave as on Linux
// (some systems make a blocking read wait for the mark, or ignore it in
// poll): there the reader wakes per piece of a data segment, as before.
type lowat struct{ sets int }

func (l *lowat) init(net.Conn)    {}
func (l *lowat) adjust(int, bool) {}
func (l *lowat) reset()           {}
