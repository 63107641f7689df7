package iscsitest

import (
	"net"
	"sync"
	"time"
)

// conn is an accepted connection. Its writes go through a delay line when
// the server has a delay set (SetDelay).
type conn struct {
	net.Conn
	s    *Server
	done chan struct{} // closed by Close
	port *port         // the target port it came in through; nil without port groups

	uaMu    sync.Mutex
	uaArmed bool            // ASYMMETRIC ACCESS STATE CHANGED is pending
	uaTaken map[uint64]bool // the LUNs (wire form) that have been told since

	wcall sync.Mutex // serializes Write calls

	mu       sync.Mutex
	cond     sync.Cond
	q        []pending
	inflight bool // the delay line is writing an element taken from q
	started  bool
	closed   bool
	err      error
	wg       sync.WaitGroup
}

type pending struct {
	due time.Time
	b   []byte
}

// Write sends b at once when there is no delay and nothing is held back;
// otherwise it queues a copy, due after the delay, and returns. An error of
// the delay line shows in the next Write.
func (c *conn) Write(b []byte) (int, error) {
	c.wcall.Lock()
	defer c.wcall.Unlock()
	d := time.Duration(c.s.delay.Load())
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if d == 0 && len(c.q) == 0 && !c.inflight {
		c.mu.Unlock()
		// Nothing queued, and only Write adds to the queue.
		return c.Conn.Write(b)
	}
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.q = append(c.q, pending{due: time.Now().Add(d), b: append([]byte(nil), b...)})
	if !c.started {
		c.started = true
		c.wg.Add(1)
		go c.delayLine()
	}
	c.cond.Signal()
	c.mu.Unlock()
	return len(b), nil
}

func (c *conn) delayLine() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		for len(c.q) == 0 && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		p := c.q[0]
		c.q[0] = pending{}
		c.q = c.q[1:]
		c.inflight = true
		c.mu.Unlock()

		if wait := time.Until(p.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.done:
				t.Stop()
			}
		}
		_, err := c.Conn.Write(p.b)
		c.mu.Lock()
		c.inflight = false
		if err != nil && c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
}

// Close closes the connection, drops what the delay line holds and waits
// for it to stop.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.q = nil
	c.cond.Broadcast()
	c.mu.Unlock()
	err := c.Conn.Close()
	c.wg.Wait()
	return err
}
