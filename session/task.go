package session

import (
	"sync"
	"sync/atomic"

	"github.com/iscsi-go/iscsi/iovector"
)

type taskKind uint8

const (
	kindSCSI taskKind = iota
	kindText
	kindNOP
	kindTMF
	kindLogout
)

// Task states. A task moves queued → sent → done, or queued → done when it
// is cancelled or failed before the writer sent it. Exactly one transition
// into done happens: that is what makes completion happen exactly once.
const (
	stateQueued uint32 = iota
	stateSent
	stateDone
)

// task is one command in flight. Tasks are pooled; a task returns to the
// pool only from Future.Wait after it completed normally, never while a
// goroutine of the session can still reach it (abandoned tasks are left to
// the garbage collector).
type task struct {
	itt   atomic.Uint32
	state atomic.Uint32
	kind  taskKind

	// abandoned is set when the caller stopped waiting (context cancelled).
	// ioMu is held by the reader while it writes Data-In into vec; abandon
	// takes it, and waits for wrefs to reach zero, so that once the caller
	// returns nothing touches its memory.
	abandoned atomic.Bool
	ioMu      sync.Mutex
	// wrefs counts the batches being written that read this task's
	// buffers (Data-Out); abandon and Wait wait for it to drop to zero.
	wrefs atomic.Int32

	// Request, set before the task is queued and read-only after.
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

	cmdSN atomic.Uint32 // set by the writer when the command is sent
	// encoded is set by the writer once the command's PDU is in a batch:
	// until then the reader must not complete the task (a target cannot
	// answer a command it has not received; one that does is lying).
	encoded atomic.Bool

	// mu guards doneCh and completed, for Future.Done.
	mu        sync.Mutex
	completed bool
	doneCh    chan struct{}

	// Reader-owned progress.
	expDataSN uint32
	received  uint32
	r2tSN     uint32
	failErr   error // a protocol error seen before the status arrived

	// Result, written before done is signalled.
	status    uint8
	response  uint8
	residual  uint32
	underflow bool
	overflow  bool
	senseBuf  [252]byte
	senseLen  int
	text      []byte
	err       error

	done chan struct{} // buffered 1: one send per completion
}

var taskPool = sync.Pool{New: func() any { return &task{done: make(chan struct{}, 1)} }}

func getTask() *task {
	t := taskPool.Get().(*task)
	return t
}

// putTask resets t and returns it to the pool.
func putTask(t *task) {
	done, text := t.done, t.text[:0]
	select {
	case <-done:
	default:
	}
	t.reset()
	t.done, t.text = done, text
	taskPool.Put(t)
}

func (t *task) reset() {
	t.itt.Store(0)
	t.state.Store(stateQueued)
	t.abandoned.Store(false)
	t.kind = 0
	t.lun, t.cdb, t.read, t.write, t.expLen, t.vec, t.data = 0, [16]byte{}, false, false, 0, nil, nil
	t.tmf, t.refITT, t.refCmdSN, t.reason, t.immediate = 0, 0, 0, 0, false
	t.cmdSN.Store(0)
	t.encoded.Store(false)
	t.completed, t.doneCh = false, nil
	t.expDataSN, t.received, t.r2tSN, t.failErr = 0, 0, 0, nil
	t.status, t.response, t.residual, t.underflow, t.overflow, t.senseLen = 0, 0, 0, false, false, 0
	t.err = nil
}

// table maps ITTs to tasks. An ITT is a 16-bit generation and a 16-bit slot:
// a reused slot gets a new generation, so a late PDU for the slot's previous
// task finds no match and is dropped.
type table struct {
	mu     sync.Mutex
	slots  []*task
	gens   []uint16
	free   []uint16
	closed error // set once: no more tasks are accepted
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
	}
	tb.mu.Unlock()
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
