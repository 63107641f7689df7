// Package blocksock is a TCP connection on a blocking socket, outside Go's
// netpoller (Linux; elsewhere Dial returns an ordinary net.Conn).
//
// A busy connection's reader blocks its OS thread in read(2), and the
// kernel wakes that thread when data arrives, as a C initiator's poll loop
// is woken: no netpoller thread wakes to find the goroutine, no idle P's
// thread is woken by each TCP segment (Go registers sockets with epoll
// edge-triggered, and the one thread blocked in epoll_wait wakes for any
// of them), and the process does not wake sysmon on every read after it
// went idle.
//
// A reader that finds nothing for a Tick goes quiet: it stops blocking a
// thread and parks its goroutine until the process's one poller goroutine
// (epoll, EPOLLONESHOT) finds its socket readable. It blocks in read(2)
// again when data comes within Busy of the last data it got; data after a
// longer silence (a keepalive's answer on an idle session) leaves it
// quiet. So idle connections hold no thread each, and a busy connection
// never wakes the poller. At
// most MaxBlocked readers block a thread at once; others wait in the
// poller.
//
// Deadlines: a read blocked in read(2) looks at its deadline every Tick
// (the socket's SO_RCVTIMEO and SO_SNDTIMEO are set to it), since a
// deadline set from another goroutine cannot interrupt it; a quiet reader
// waits for its deadline on a timer, and wakes at once when a new one is
// set. A write blocked on a full socket looks at its deadline every Tick.
// Close shuts the socket down, which wakes a blocked read or write at
// once; the descriptor is closed when the last of them has returned.
package blocksock

import "time"

// Tick is how often a read or write blocked in a system call looks at its
// deadline, and how long a reader waits in read(2) before it goes quiet.
const Tick = 20 * time.Millisecond

// Busy is the longest silence between two pieces of data after which the
// second makes a quiet reader block in read(2) again.
const Busy = time.Millisecond
