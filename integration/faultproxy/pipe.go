package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Pipe is one direction of a Conn: it reads from one socket and writes to the
// other, applying the faults armed on it. Offsets count this direction's
// bytes from 0. Its methods are safe for concurrent use and may be called
// before the connection forwards anything (from the OnAccept hook) or while
// it does.
type Pipe struct {
	c         *Conn
	dir       Direction
	forwarded atomic.Int64 // bytes written to the destination

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change (wakes the pump and waiters)
	src        net.Conn      // set when the pump starts
	pos        int64         // bytes claimed for forwarding (flips applied); >= forwarded
	cutAt      int64         // -1: none
	cutReset   bool
	flips      []flip
	flipped    int
	stallAt    int64 // -1: none
	stallAtFor time.Duration
	stalled    bool
	stallUntil time.Time // zero: until Release
	noRead     bool
	delay      time.Duration
	maxChunk   int
	held       int // bytes in hand while stalled
}

type flip struct {
	off  int64
	mask byte
}

func newPipe(c *Conn, dir Direction) *Pipe {
	return &Pipe{c: c, dir: dir, changed: make(chan struct{}), cutAt: -1, stallAt: -1}
}

// Direction returns the pipe's direction.
func (pp *Pipe) Direction() Direction { return pp.dir }

// Next returns the offset of the next byte this direction will forward:
// the offset to arm a fault at for the next PDU while no command is in
// flight. It can be ahead of Forwarded, which counts bytes once written to
// the destination (the destination may already have answered them).
func (pp *Pipe) Next() int64 {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.pos
}

// Forwarded returns how many bytes this direction has forwarded. While no
// command is in flight and the peer sends nothing on its own (no NOP-In), it
// is the offset of the next PDU this direction will carry.
func (pp *Pipe) Forwarded() int64 { return pp.forwarded.Load() }

// Flipped returns how many bits FlipBit has flipped so far.
func (pp *Pipe) Flipped() int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.flipped
}

// Held returns how many bytes the pipe holds because it is stalled (0 when
// it is not stalled or nothing has arrived).
func (pp *Pipe) Held() int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.held
}

// notify wakes the pump and waiters; pp.mu must be held.
func (pp *Pipe) notify() {
	close(pp.changed)
	pp.changed = make(chan struct{})
}

// CutAt forwards bytes [0, off) of this direction, then closes both sockets
// (FIN to both peers). An offset already reached cuts now. Err then wraps
// ErrCut.
func (pp *Pipe) CutAt(off int64) { pp.armCut(off, false) }

// ResetAt forwards bytes [0, off), then closes both sockets with SO_LINGER 0
// (RST to both peers). An offset already reached resets now. Err then wraps
// ErrReset.
func (pp *Pipe) ResetAt(off int64) { pp.armCut(off, true) }

func (pp *Pipe) armCut(off int64, reset bool) {
	pp.mu.Lock()
	if off > pp.pos {
		pp.cutAt, pp.cutReset = off, reset
		pp.notify()
		pp.mu.Unlock()
		return
	}
	pp.mu.Unlock()
	pp.c.end(pp.cutError(off, reset), reset)
}

func (pp *Pipe) cutError(off int64, reset bool) error {
	base := ErrCut
	if reset {
		base = ErrReset
	}
	return fmt.Errorf("%w: %s at byte %d of connection %d", base, pp.dir, off, pp.c.index)
}

// FlipBit flips bit (0 = least significant, taken mod 8) of the byte at
// offset off of this direction when it passes. It reports false when off
// was already forwarded (nothing will be flipped). Several flips may be armed.
func (pp *Pipe) FlipBit(off int64, bit uint) bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if off < pp.pos {
		return false
	}
	pp.flips = append(pp.flips, flip{off: off, mask: 1 << (bit & 7)})
	return true
}

// Stall stops forwarding from now on, sockets open: data that arrives is held
// (and the source is no longer read, so its sender backs up) for d, or until
// Release when d <= 0.
func (pp *Pipe) Stall(d time.Duration) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.startStall(d)
	pp.notify()
}

// StallAt forwards bytes [0, off), then stalls like Stall(d). An offset
// already reached stalls now.
func (pp *Pipe) StallAt(off int64, d time.Duration) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if off <= pp.pos {
		pp.startStall(d)
	} else {
		pp.stallAt, pp.stallAtFor = off, d
	}
	pp.notify()
}

func (pp *Pipe) startStall(d time.Duration) {
	pp.stalled = true
	pp.stallUntil = time.Time{}
	if d > 0 {
		pp.stallUntil = time.Now().Add(d)
	}
}

// Release ends a stall and disarms a StallAt; held data is forwarded.
func (pp *Pipe) Release() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.stalled = false
	pp.stallAt = -1
	pp.notify()
}

// StopReading stops reading from this direction's source socket (the client
// for Up, the target for Down), like a peer that stops reading: the
// sender's writes fill the socket buffers and then block. Data already read
// is still forwarded. ResumeReading undoes it.
func (pp *Pipe) StopReading() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.noRead = true
	if pp.src != nil {
		// Wake a pump blocked in Read; it returns a timeout without
		// consuming anything, then waits at its gate.
		pp.src.SetReadDeadline(time.Now())
	}
	pp.notify()
}

// ResumeReading undoes StopReading.
func (pp *Pipe) ResumeReading() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.noRead = false
	pp.notify()
}

// Delay makes the pipe wait d before forwarding each chunk (what one read
// returned, at most BufferSize, or MaxChunk); 0 stops delaying.
func (pp *Pipe) Delay(d time.Duration) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.delay = d
	pp.notify()
}

// MaxChunk makes the pipe forward at most n bytes per write (each chunk
// delayed by Delay); 0 removes the limit. With n = 1 the receiver sees
// every PDU split across many reads.
func (pp *Pipe) MaxChunk(n int) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.maxChunk = n
	pp.notify()
}

// WaitForwarded waits until the pipe has forwarded at least n bytes. It fails
// when ctx is done or the connection ends first.
func (pp *Pipe) WaitForwarded(ctx context.Context, n int64) error {
	return pp.waitFor(ctx, func() bool { return pp.forwarded.Load() >= n },
		fmt.Sprintf("%d bytes forwarded", n))
}

// WaitHeld waits until the pipe is stalled with data in hand (the data it
// would forward next is held). It fails when ctx is done or the connection
// ends first.
func (pp *Pipe) WaitHeld(ctx context.Context) error {
	return pp.waitFor(ctx, func() bool { return pp.held > 0 }, "data held at a stall")
}

func (pp *Pipe) waitFor(ctx context.Context, cond func() bool, what string) error {
	for {
		pp.mu.Lock()
		ok, ch := cond(), pp.changed
		pp.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-pp.c.endCh:
			pp.mu.Lock()
			ok := cond()
			pp.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("faultproxy: waiting for %s on %s of connection %d: connection ended: %w", what, pp.dir, pp.c.index, pp.c.Err())
		case <-ctx.Done():
			return fmt.Errorf("faultproxy: waiting for %s on %s of connection %d (%d forwarded): %w", what, pp.dir, pp.c.index, pp.Forwarded(), ctx.Err())
		}
	}
}

// pump forwards src to dst until EOF, an error, or the connection's end.
func (pp *Pipe) pump(src, dst net.Conn) {
	buf := make([]byte, pp.c.p.bufferSize)
	pp.mu.Lock()
	pp.src = src
	pp.mu.Unlock()
	for {
		if !pp.gateRead(src) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 && (!pp.holdWhileNotReading() || !pp.forward(buf[:n], dst)) {
			return
		}
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				continue // kicked by StopReading
			case errors.Is(err, io.EOF):
				closeWrite(dst)
			default:
				pp.c.end(fmt.Errorf("faultproxy: %s of connection %d: %w", pp.dir, pp.c.index, err), isReset(err))
			}
			return
		}
	}
}

// gateRead waits while reading is stopped. It clears the read deadline under
// the lock StopReading takes, so a kick is never lost. It reports false when
// the connection has ended.
func (pp *Pipe) gateRead(src net.Conn) bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for pp.noRead {
		if !pp.waitLocked(time.Time{}) {
			return false
		}
	}
	src.SetReadDeadline(time.Time{})
	return !pp.c.Ended()
}

// holdWhileNotReading holds data that a Read returned although StopReading
// was called while it ran (the kick raced with arriving data) until
// ResumeReading, so that nothing read after StopReading is forwarded before.
// It reports false when the connection has ended.
func (pp *Pipe) holdWhileNotReading() bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for pp.noRead {
		if !pp.waitLocked(time.Time{}) {
			return false
		}
	}
	return true
}

// waitLocked releases pp.mu until a change, the connection's end, or until
// (if not zero), then takes it again. It reports false when the connection
// has ended.
func (pp *Pipe) waitLocked(until time.Time) bool {
	ch := pp.changed
	var timeout <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		timeout = t.C
	}
	pp.mu.Unlock()
	ended := false
	select {
	case <-ch:
	case <-timeout:
	case <-pp.c.endCh:
		ended = true
	}
	pp.mu.Lock()
	return !ended
}

// forward writes b to dst in chunks, applying the faults. It reports false
// when the connection has ended (by a fault or an error).
func (pp *Pipe) forward(b []byte, dst net.Conn) bool {
	for len(b) > 0 {
		k, delay, ok := pp.claim(b)
		if !ok {
			return false
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-pp.c.endCh:
				t.Stop()
				return false
			}
		}
		if _, err := dst.Write(b[:k]); err != nil {
			pp.c.end(fmt.Errorf("faultproxy: %s of connection %d: %w", pp.dir, pp.c.index, err), isReset(err))
			return false
		}
		pp.forwarded.Add(int64(k))
		pp.c.p.bytes[pp.dir].Add(int64(k))
		b = b[k:]
		if !pp.afterWrite() {
			return false
		}
	}
	return true
}

// claim waits out stalls, then decides how many bytes of b to forward now
// and applies the flips that fall in them. ok is false when the connection
// has ended (or a cut armed at the current offset ended it).
func (pp *Pipe) claim(b []byte) (k int, delay time.Duration, ok bool) {
	pp.mu.Lock()
	for {
		if pp.c.Ended() {
			pp.held = 0
			pp.mu.Unlock()
			return 0, 0, false
		}
		if pp.stallAt >= 0 && pp.pos >= pp.stallAt {
			pp.startStall(pp.stallAtFor)
			pp.stallAt = -1
		}
		if !pp.stalled {
			break
		}
		if !pp.stallUntil.IsZero() && !time.Now().Before(pp.stallUntil) {
			pp.stalled = false
			continue
		}
		if pp.held != len(b) {
			pp.held = len(b)
			pp.notify()
		}
		pp.waitLocked(pp.stallUntil)
	}
	if pp.held != 0 {
		pp.held = 0
		pp.notify()
	}
	if pp.cutAt >= 0 && pp.pos >= pp.cutAt {
		off, reset := pp.cutAt, pp.cutReset
		pp.mu.Unlock()
		pp.c.end(pp.cutError(off, reset), reset)
		return 0, 0, false
	}
	k = len(b)
	if pp.maxChunk > 0 && k > pp.maxChunk {
		k = pp.maxChunk
	}
	if pp.stallAt >= 0 && pp.stallAt-pp.pos < int64(k) {
		k = int(pp.stallAt - pp.pos)
	}
	if pp.cutAt >= 0 && pp.cutAt-pp.pos < int64(k) {
		k = int(pp.cutAt - pp.pos)
	}
	end := pp.pos + int64(k)
	kept := pp.flips[:0]
	for _, f := range pp.flips {
		switch {
		case f.off >= pp.pos && f.off < end:
			b[f.off-pp.pos] ^= f.mask
			pp.flipped++
		case f.off >= end:
			kept = append(kept, f)
		}
	}
	pp.flips = kept
	pp.pos = end
	delay = pp.delay
	pp.mu.Unlock()
	return k, delay, true
}

// afterWrite wakes waiters and performs a cut due at the new offset. It
// reports false when the connection has ended.
func (pp *Pipe) afterWrite() bool {
	pp.mu.Lock()
	pp.notify()
	due := pp.cutAt >= 0 && pp.pos >= pp.cutAt
	off, reset := pp.cutAt, pp.cutReset
	pp.mu.Unlock()
	if due {
		pp.c.end(pp.cutError(off, reset), reset)
		return false
	}
	return !pp.c.Ended()
}
