package session

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
)

type taskKind uint8

const (
	kindSCSI taskKind = iota
	kindText
	kindNOP
	kindTMF
	kindLogout
)

// Task states (task.state) and who moves a task from one to the next. Each
// phase has one owner; the compare-and-swap into stateDone is what makes
// completion happen exactly once when two phases meet (a caller cancelling
// while the janitor closes).
//
//	queued    → sent       the flusher, under wmu, once the PDU is in the batch
//	queued    → done       the caller cancelling, under wmu (never sent, no CmdSN
//	                       used), or the janitor once the writer has stopped
//	sent      → abandoned  the caller whose context ended (Future.Wait)
//	sent      → done       the reader (status, Reject, the answer of an ABORT
//	abandoned → done       TASK or a LUN reset), or the janitor once the reader
//	                       has stopped
const (
	stateQueued uint32 = iota
	stateSent
	stateAbandoned
	stateDone
)

// idleWaiter is the bit of task.bufUsers that says a goroutine waits in
// waitIdle for the count to reach zero.
const idleWaiter = 1 << 30

// task is one command in flight. Tasks are pooled: a task returns to the
// pool from Future.Wait once the caller has its result, or from the caller
// that cancelled it before it was sent. A task abandoned in flight is never
// pooled (nobody is left to hand it back); the garbage collector takes it.
type task struct {
	// gen is the task's generation times two, plus one once a Future has
	// claimed it (Wait). A Future remembers the generation it was issued
	// for: a copy or a stale Future finds another generation, or the claim
	// taken, and never touches the recycled task. Bumped under mu.
	gen atomic.Uint64

	// state is one of the state* constants; see the table above.
	state atomic.Uint32

	// itt is assigned by table.add before the task is queued and is
	// stable until the task is released.
	itt atomic.Uint32

	// bufUsers counts the goroutines using the caller's buffers right now:
	// the reader filling vec from a Data-In, and each batch being written
	// that reads vec (immediate data, Data-Out). A user increments it, then
	// checks that the task is still sent; the caller sets abandoned, then
	// waits for zero (waitIdle): one of the two always sees the other.
	// The idleWaiter bit marks a waiter, who gets a token on idle.
	bufUsers atomic.Int32
	idle     chan struct{} // buffered 1

	// Request: set before the task is registered, read-only after.
	kind      taskKind
	lun       uint64
	cdb       [16]byte
	read      bool
	write     bool
	expLen    uint32
	vec       *iovector.Vector
	data      []byte // text request or ping data
	tmf       uint8
	refITT    uint32
	refCmdSN  uint32
	reason    uint8 // logout reason
	immediate bool
	priority  bool // sent ahead of held commands during a reconnect
	ordered   bool // sent with the ORDERED task attribute (barrier.go)
	// fence: the command may change the medium (anything but the reads
	// of readOnly), so a caller that gives up on it waits until the
	// target has ended it: nothing of it executes after the call returns.
	fence bool
	// uaRetry: a command of the block API (Read, Write, their callbacks),
	// sent once more when its answer is a unit attention, as ReadAt does.
	uaRetry bool
	lba     int64     // the first block a SCSI command addresses, for its errors; -1 if none
	start   time.Time // when it was issued; only with a CommandHook
	// fn, if set, is called with the result instead of waking a waiter
	// (callback.go); watch stops the watch of fn's context, if any.
	fn    Done
	watch func() bool

	// victim is the abandoned task an ABORT TASK was sent for; the reader
	// completes it with the abort's answer. stall fails the connection
	// when the abort is not answered in time. Both set before registering.
	victim    *task
	escalated *task // the unanswered ABORT TASK a LUN reset follows
	stall     *time.Timer

	// cmdSN is written by the flusher under wmu before the state becomes
	// sent, and read after that by the reader (RefCmdSN of aborts, LUN
	// reset victims).
	cmdSN   uint32
	epoch   uint32 // the connection it was sent on; written with cmdSN
	replays uint8  // times sent again after a lost connection; the supervisor's
	// uaRetried: sent again after a unit attention already (the reader's).
	uaRetried bool

	// why is the reason its caller gave up on a sent task (the context's
	// cause, or a protocol error of the target), written by that caller
	// before the move to abandoned and read after it. noPool, set by
	// finish for an abandoned task, keeps it out of the pool: an ABORT
	// TASK may still name it.
	why    error
	noPool bool
	// parties counts, for an abandoned callback task that may change the
	// medium, the two that must be done before its callback runs: the
	// abandoner (its wait for the buffers and its ABORT TASK) and the
	// completer (the end of the task on the target). The second calls it:
	// two goroutines never wait for the buffers at once (waitIdle has one
	// waiter slot).
	parties atomic.Int32

	// mu guards completed and doneCh (Future.Done) and the generation bump.
	mu        sync.Mutex
	completed bool
	doneCh    chan struct{}

	// Progress: owned by the reader while the task is sent.
	expDataSN uint32
	received  uint32
	r2tSN     uint32
	failErr   error // a protocol error seen before the status arrived
	// r2tNext is the end of the data asked for (R2T) or sent unasked: an
	// R2T must ask for bytes beyond it. Set when the command is encoded,
	// then the reader's. r2tQueued counts the R2Ts whose Data-Out waits in
	// the batch being filled (r2t.go).
	r2tNext   uint32
	r2tQueued atomic.Int32

	// Result: written by the completing goroutine before done is signalled.
	status    uint8
	response  uint8
	residual  uint32
	underflow bool
	overflow  bool
	senseBuf  [252]byte
	senseLen  int
	text      []byte
	err       error

	done chan struct{} // buffered 1: one token per completion

	// sums: for a write with data digests on, the CRC32C of each
	// conn.PieceSize bytes of vec, summed by the caller at submit
	// (sumPieces); empty otherwise. Set before the task is registered,
	// read-only after; the slice is kept for the next use of the task.
	sums []uint32
}

func newTask() any { return &task{done: make(chan struct{}, 1), idle: make(chan struct{}, 1)} }

// getTask takes a task from the session's pool. Each session has its own
// pool: a task never moves from one session to another.
func (s *Session) getTask() *task { return s.pool.Get().(*task) }

// putTask resets t, moves it to the next generation and returns it to the pool.
func (s *Session) putTask(t *task) {
	done, idle, text := t.done, t.idle, t.text[:0]
	select {
	case <-done:
	default:
	}
	select {
	case <-idle:
	default:
	}
	t.mu.Lock()
	t.gen.Store((t.gen.Load() | 1) + 1)
	t.completed, t.doneCh = false, nil
	t.mu.Unlock()
	t.state.Store(stateQueued)
	t.itt.Store(0)
	t.bufUsers.Store(0)
	t.kind, t.lun, t.cdb, t.read, t.write, t.expLen, t.vec, t.data = 0, 0, [16]byte{}, false, false, 0, nil, nil
	t.tmf, t.refITT, t.refCmdSN, t.reason, t.immediate, t.lba = 0, 0, 0, 0, false, 0
	t.victim, t.escalated, t.stall, t.cmdSN, t.epoch, t.priority, t.ordered, t.start = nil, nil, nil, 0, 0, false, false, time.Time{}
	t.replays, t.fn, t.watch = 0, nil, nil
	t.fence, t.uaRetry, t.uaRetried, t.why, t.noPool = false, false, false, nil, false
	t.parties.Store(0)
	t.expDataSN, t.received, t.r2tSN, t.failErr = 0, 0, 0, nil
	t.status, t.response, t.residual, t.underflow, t.overflow, t.senseLen = 0, 0, 0, false, false, 0
	t.err = nil
	t.done, t.idle, t.text = done, idle, text
	t.sums = t.sums[:0]
	s.pool.Put(t)
}

// use registers a user of t's buffers if t is still the sent task of itt.
// The caller calls unuse when done with the buffers.
func (t *task) use(itt uint32) bool {
	t.bufUsers.Add(1)
	if t.itt.Load() != itt || t.state.Load() != stateSent {
		t.unuse()
		return false
	}
	return true
}

// unuse ends one use of t's buffers and wakes a waiter on the last one.
func (t *task) unuse() {
	if t.bufUsers.Add(-1) == idleWaiter {
		select {
		case t.idle <- struct{}{}:
		default:
		}
	}
}

// waitIdle returns once no goroutine uses t's buffers. New users are
// refused first (the task is abandoned or done). limit bounds the wait: a
// reader or writer stuck that long on a stalled connection is unstuck by
// failing the session, which closes the connection.
func (s *Session) waitIdle(t *task, limit time.Duration) {
	for {
		n := t.bufUsers.Load()
		if n == 0 {
			return
		}
		if t.bufUsers.CompareAndSwap(n, n|idleWaiter) {
			break
		}
	}
	epoch := s.epoch.Load()
	stall := time.AfterFunc(limit, func() {
		s.lost(epoch, errConnStalled)
	})
	<-t.idle
	stall.Stop()
	t.bufUsers.And(^int32(idleWaiter))
}

// table maps ITTs to tasks. An ITT is a 16-bit generation and a 16-bit slot:
// a reused slot gets a new generation, so a late PDU for the slot's previous
// task finds no match and is dropped.
type table struct {
	mu     sync.Mutex
	slots  []*task  // guarded by mu
	gens   []uint16 // guarded by mu
	free   []uint16 // guarded by mu
	closed error    // guarded by mu; set once: no more tasks are accepted
	// scsi counts the registered SCSI tasks; drained, when not nil, is
	// closed when it drops to zero (a logout waiting for work to finish).
	scsi    int
	drained chan struct{}
	n       int // every registered task
	// all mirrors n, and bigReads counts the tasks that are bigRead, for
	// the reader to look at without mu (streamHint); written under mu.
	// reads counts the tasks that are pureRead.
	all, bigReads, reads atomic.Int32
}

// pureRead reports a SCSI task that reads and does not write.
func (t *task) pureRead() bool { return t.kind == kindSCSI && t.read && !t.write }

// bigRead reports a pureRead of conn.LargeSegment bytes or more.
func (t *task) bigRead() bool { return t.pureRead() && t.expLen >= conn.LargeSegment }

// readsPending looks at what the registered tasks still expect, for
// streamHint: least is the fewest bytes of data any of them expects, at
// most max, and total the bytes all of them expect, a header's 48 bytes
// counted for each; ok is false if a task is not a pureRead. The reader's:
// it owns what the tasks received.
func (tb *table) readsPending(max int) (least, total int, ok bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	least = max
	for _, t := range tb.slots {
		if t == nil {
			continue
		}
		if !t.pureRead() {
			return 0, 0, false
		}
		rest := int(t.expLen - min(t.received, t.expLen))
		least = min(least, rest)
		total += pdu.BHSLen + rest
	}
	return least, total, true
}

const maxSlots = 0xfff0 // keeps every ITT below 0xffffffff, the reserved value

// add assigns t an ITT and registers it. It fails once the session closed.
func (tb *table) add(t *task) error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.closed != nil {
		return tb.closed
	}
	var slot uint16
	if n := len(tb.free); n > 0 {
		slot = tb.free[n-1]
		tb.free = tb.free[:n-1]
	} else {
		if len(tb.slots) >= maxSlots {
			return errTooManyTasks
		}
		slot = uint16(len(tb.slots))
		tb.slots = append(tb.slots, nil)
		tb.gens = append(tb.gens, 0)
	}
	tb.gens[slot]++
	tb.slots[slot] = t
	t.itt.Store(uint32(tb.gens[slot])<<16 | uint32(slot))
	tb.n++
	tb.all.Store(int32(tb.n))
	if t.bigRead() {
		tb.bigReads.Add(1)
	}
	if t.pureRead() {
		tb.reads.Add(1)
	}
	if t.kind == kindSCSI {
		tb.scsi++
	}
	return nil
}

// lookup returns the task of itt, or nil. late reports an ITT whose slot
// exists but belongs to another generation (a PDU for a task that is gone).
func (tb *table) lookup(itt uint32) (t *task, late bool) {
	slot := itt & 0xffff
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if int(slot) >= len(tb.slots) {
		return nil, false
	}
	t = tb.slots[slot]
	if t == nil || t.itt.Load() != itt {
		return nil, true
	}
	return t, false
}

// release frees t's slot if t still holds it.
func (tb *table) release(t *task) {
	itt := t.itt.Load()
	slot := itt & 0xffff
	tb.mu.Lock()
	if int(slot) < len(tb.slots) && tb.slots[slot] == t {
		tb.slots[slot] = nil
		tb.free = append(tb.free, uint16(slot))
		tb.removed(t)
	}
	tb.mu.Unlock()
}

// removed updates the SCSI count for a task leaving the table. Called with mu held.
func (tb *table) removed(t *task) {
	tb.n--
	tb.all.Store(int32(tb.n))
	if t.bigRead() {
		tb.bigReads.Add(-1)
	}
	if t.pureRead() {
		tb.reads.Add(-1)
	}
	if t.kind != kindSCSI {
		return
	}
	tb.scsi--
	if tb.scsi == 0 && tb.drained != nil {
		close(tb.drained)
		tb.drained = nil
	}
}

// reassign gives a registered task a new ITT (same slot, next generation),
// for a command sent again on a new connection.
func (tb *table) reassign(t *task) {
	slot := t.itt.Load() & 0xffff
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if int(slot) < len(tb.slots) && tb.slots[slot] == t {
		tb.gens[slot]++
		t.itt.Store(uint32(tb.gens[slot])<<16 | slot)
	}
}

// empty reports whether no task is registered.
func (tb *table) empty() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.n == 0
}

// whenDrained returns a channel closed once no SCSI task is registered.
func (tb *table) whenDrained() <-chan struct{} {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.scsi == 0 {
		return closedChan
	}
	if tb.drained == nil {
		tb.drained = make(chan struct{})
	}
	return tb.drained
}

// close refuses new tasks and returns every registered task, emptying the table.
func (tb *table) close(err error) []*task {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.closed == nil {
		tb.closed = err
	}
	var out []*task
	for i, t := range tb.slots {
		if t != nil {
			out = append(out, t)
			tb.slots[i] = nil
			tb.free = append(tb.free, uint16(i))
			tb.removed(t)
		}
	}
	return out
}

// each calls fn for every registered task, under the table lock.
func (tb *table) each(fn func(*task)) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, t := range tb.slots {
		if t != nil {
			fn(t)
		}
	}
}
