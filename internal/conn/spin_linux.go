//go:build linux

package conn

import (
	"io"
	"os"
	"syscall"
	"time"
)

// spinReader is the Linux read path: a read(2) straight on the
// non-blocking socket through syscall.RawConn.Read, which, when the socket
// is empty and the reader may spin, tries again for a short while before it
// lets the runtime park the goroutine in the netpoller. A park and a wake
// cost two thread switches on a VM, more than the few microseconds the next
// piece of a segment, or the next answer at a deep queue, usually takes.
type spinReader struct {
	rc syscall.RawConn
	fn func(fd uintptr) bool // c.spinRead, made once (a method value allocates)
	p  []byte
	n  int
	// budget is the spin in nanoseconds the next empty socket gets, adapted
	// to what spinning found: halved when a spin ends empty, reset to
	// spinMax when one finds data. At zero the reader parks at once, and
	// tries spinning again after spinRetry parks.
	budget int64
	idle   int // parks without spinning since the budget fell to zero
	spun   bool
	// want: whether this read may spin (spinAsk: if c.spinWhile says so).
	want spinMode
	err  error
}

// spinMax is the longest spin on an empty socket, in nanoseconds; spinMin
// the shortest worth doing; spinRetry how many parks without spinning come
// before a new try once spinning stopped paying. Variables for tests.
var (
	spinMax   int64 = 20_000
	spinMin   int64 = 1_000
	spinRetry       = 64
)

func (c *Conn) initSpin() {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.sr.rc = rc
	c.sr.fn = c.spinRead
	c.sr.budget = spinMax
}

// readSocket reads from the socket into p, spinning before it parks as
// spin says; where there is no raw socket, it is c.nc.Read.
func (c *Conn) readSocket(p []byte, spin spinMode) (int, error) {
	sr := &c.sr
	if sr.rc == nil {
		return c.nc.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	sr.p, sr.n, sr.err, sr.spun, sr.want = p, 0, nil, false, spin
	err := sr.rc.Read(sr.fn)
	sr.p = nil
	if err != nil {
		return 0, err
	}
	return sr.n, sr.err
}

// spinRead is the RawConn.Read function: true when it read something, hit
// the end or an error; false to park until the socket is readable.
func (c *Conn) spinRead(fd uintptr) bool {
	sr := &c.sr
	var start int64
	for {
		n, err := syscall.Read(int(fd), sr.p)
		switch {
		case n > 0:
			sr.n = n
			if start != 0 {
				sr.budget = spinMax // spinning paid: keep it up
			}
			return true
		case err == nil:
			sr.err = io.EOF
			return true
		case err == syscall.EINTR:
			continue
		case err != syscall.EAGAIN:
			sr.err = os.NewSyscallError("read", err)
			return true
		}
		if sr.want == spinAsk {
			sr.want = spinNo
			if c.spinWhile != nil && c.spinWhile() {
				sr.want = spinYes
			}
		}
		if sr.want == spinNo || sr.spun {
			return false
		}
		if sr.budget == 0 {
			if sr.idle++; sr.idle < spinRetry {
				sr.spun = true
				return false
			}
			sr.idle, sr.budget = 0, spinMin
		}
		now := nanotime()
		if start == 0 {
			start = now
			continue
		}
		if now-start >= sr.budget {
			sr.spun = true
			if sr.budget /= 2; sr.budget < spinMin {
				sr.budget = 0
			}
			return false
		}
	}
}

// epoch is the start of the monotonic clock nanotime reads.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }
