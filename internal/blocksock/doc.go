// Package blocksock is a TCP connection on a blocking socket, outside Go's
// netpoller (Linux; elsewhere Dial returns an ordinary net.Conn).
//
// A goroutine reading it blocks its OS thread in read(2), and the kernel
// wakes that thread when data arrives, as a C initiator's poll loop is
// woken: no netpoller thread wakes to find the goroutine, no idle P's
// thread is woken by each TCP segment (Go registers sockets with epoll
// edge-triggered, and the one thread blocked in epoll_wait wakes for any
// of them), and the process does not wake sysmon on every read after it
// went idle. The price is one OS thread per connection waiting in a read,
// so this is for a few busy connections, not thousands of idle ones.
//
// Deadlines are checked every Tick: the socket has SO_RCVTIMEO and
// SO_SNDTIMEO set to it, and a read or write that times out looks at the
// deadline before it tries again. A read with no deadline waits IdleTick
// between looks instead (an idle connection's thread wakes once a second),
// so a deadline set while such a read waits (to wake it) is seen up to
// IdleTick late, and one set while a read with a deadline waits up to
// Tick late. Close shuts the socket down,
// which wakes a blocked read or write at once; the descriptor is closed
// when the last of them has returned.
package blocksock

import "time"

// Tick is how often a blocked read or write looks at its deadline.
const Tick = 20 * time.Millisecond

// IdleTick is how often a blocked read without a deadline looks whether
// one was set meanwhile.
const IdleTick = time.Second
