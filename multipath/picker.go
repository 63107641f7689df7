package multipath

import (
	"fmt"
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
)

func (s Selector) String() string {
	switch s {
	case LeastQueueDepth:
		return "least-queue-depth"
	case RoundRobin:
		return "round-robin"
	case FailoverOnly:
		return "failover-only"
	}
	return fmt.Sprintf("Selector(%d)", uint8(s))
}

// picker chooses among a fixed set of ready paths. A new one is built on
// every change of a path's state and swapped in atomically: choosing
// takes no lock (the model is gRPC-Go's balancer.Picker).
type picker interface {
	pick() *path // nil when no path is ready
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
	}
	return leastQueue(ready)
}

type noPath struct{}

func (noPath) pick() *path { return nil }

type first struct{ p *path }

func (f first) pick() *path { return f.p }

type roundRobin struct {
	paths []*path
	next  atomic.Uint64
}

func (r *roundRobin) pick() *path {
	n := r.next.Add(1) - 1
	return r.paths[n%uint64(len(r.paths))]
}

type leastQueue []*path

func (l leastQueue) pick() *path {
	best := l[0]
	depth := best.inflight.Load()
	for _, p := range l[1:] {
		if d := p.inflight.Load(); d < depth {
			best, depth = p, d
		}
	}
	return best
}
