package multipath

import (
	"fmt"
	"math/bits"
	"sync/atomic"
)

// Selector chooses the path of each command among the ready ones, as
// dm-multipath's path selectors do.
type Selector uint8

const (
	// LeastQueueDepth sends each command to the ready path with the fewest
	// commands in flight (dm-multipath's queue-length); ties go to the
	// path listed first. The default.
	LeastQueueDepth Selector = iota
	// RoundRobin takes the ready paths in turn.
	RoundRobin
	// FailoverOnly sends everything to the first ready path in the order
	// the URLs were given: the others carry I/O only while it is not
	// ready, and it takes the I/O back when it returns.
	FailoverOnly
	// ServiceTime sends each command to the ready path whose bytes in
	// flight, this command's included, divided by the path's relative
	// throughput (Config.RelativeThroughput) are the fewest: the path
	// expected to finish it first (dm-multipath's service-time). Ties go
	// to the path with the fewest commands in flight, then to the path
	// listed first. A slow path keeps its commands longer, and so gets
	// fewer.
	ServiceTime
)

func (s Selector) String() string {
	switch s {
	case LeastQueueDepth:
		return "least-queue-depth"
	case RoundRobin:
		return "round-robin"
	case FailoverOnly:
		return "failover-only"
	case ServiceTime:
		return "service-time"
	}
	return fmt.Sprintf("Selector(%d)", uint8(s))
}

// picker chooses among a fixed set of ready paths. A new one is built on
// every change of a path's state and swapped in atomically: choosing
// takes no lock (the model is gRPC-Go's balancer.Picker).
type picker interface {
	// pick chooses the path of a command that moves size bytes; nil when
	// no path is ready.
	pick(size int64) *path
}

func buildPicker(sel Selector, ready []*path) picker {
	if len(ready) == 0 {
		return noPath{}
	}
	switch sel {
	case RoundRobin:
		return &roundRobin{paths: ready}
	case FailoverOnly:
		return first{ready[0]}
	case ServiceTime:
		return serviceTime(ready)
	}
	return leastQueue(ready)
}

type noPath struct{}

func (noPath) pick(int64) *path { return nil }

type first struct{ p *path }

func (f first) pick(int64) *path { return f.p }

type roundRobin struct {
	paths []*path
	next  atomic.Uint64
}

func (r *roundRobin) pick(int64) *path {
	n := r.next.Add(1) - 1
	return r.paths[n%uint64(len(r.paths))]
}

type leastQueue []*path

func (l leastQueue) pick(int64) *path {
	best := l[0]
	depth := best.inflight.Load()
	for _, p := range l[1:] {
		if d := p.inflight.Load(); d < depth {
			best, depth = p, d
		}
	}
	return best
}

type serviceTime []*path

func (l serviceTime) pick(size int64) *path {
	best := l[0]
	load, n := best.bytes.Load()+size, best.inflight.Load()
	for _, p := range l[1:] {
		pl, pn := p.bytes.Load()+size, p.inflight.Load()
		switch c := cmpLoad(pl, p.weight, load, best.weight); {
		case c < 0, c == 0 && pn < n:
			best, load, n = p, pl, pn
		}
	}
	return best
}

// cmpLoad compares the service times a/wa and b/wb (bytes over relative
// throughput, both positive) without dividing: a·wb against b·wa, in 128
// bits.
func cmpLoad(a, wa, b, wb int64) int {
	ah, al := bits.Mul64(uint64(max(a, 0)), uint64(wb))
	bh, bl := bits.Mul64(uint64(max(b, 0)), uint64(wa))
	switch {
	case ah < bh, ah == bh && al < bl:
		return -1
	case ah == bh && al == bl:
		return 0
	}
	return 1
}
