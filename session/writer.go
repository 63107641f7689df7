package session

import (
	"fmt"

	"github.com/iscsi-go/iscsi/internal/conn"
	"runtime"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
)

type wkind uint8

const (
	wCommand   wkind = iota // a task needing a CmdSN: waits at the window
	wImmediate              // a task sent with the I bit: never waits
	wData                   // Data-Out answering an R2T
	wTextCont               // an empty Text Request asking for the rest of an answer
	wNOPReply               // NOP-Out answering the target's NOP-In
)

// wreq is one piece of work for the writer.
type wreq struct {
	kind wkind
	t    *task
	itt  uint32
	ttt  uint32
	off  uint32
	n    uint32
	lun  uint64
	// stall is the session's stallSeq when the command was queued: a
	// different one when it is sent means that it waited at a closed window.
	stall uint32
}

// The write path is a combining writer. Whoever has work takes wmu, encodes
// it into the connection's current batch (or parks a command at the CmdSN
// window), and, if nobody is flushing, becomes the flusher: it detaches the
// batch, writes it with one writev outside the lock, and repeats while
// others queued more meanwhile. A caller's command thus usually goes on the
// wire from the caller's own goroutine, with no hand-off; under load one
// writev carries the commands of many callers.
//
// The reader never flushes (a reader blocked in a write while the target
// blocks writing to us would deadlock): it queues its work (Data-Out for an
// R2T, NOP-Out answers) and, if nobody is flushing, wakes the writer
// goroutine to flush.

// push queues r and flushes unless someone else is flushing. fromReader
// hands the flush to the writer goroutine instead.
func (s *Session) push(r wreq, fromReader bool) {
	s.wmu.Lock()
	if s.wclosed {
		s.wmu.Unlock()
		return // the janitor fails every registered task
	}
	s.handle(r)
	if s.flushing || s.paused {
		s.wmu.Unlock()
		return
	}
	if fromReader {
		s.wmu.Unlock()
		s.wakeSoon()
		return
	}
	s.flushing = true
	s.flushLocked()
	s.wmu.Unlock()
}

// wakeSoon asks the writer goroutine to flush, once the reader has handled
// the PDUs it has buffered: the commands and Data-Out that their handling
// queues (callbacks issuing the next command, R2Ts) then go in one batch,
// for one wake-up of the writer. While the reader handles no buffered
// PDUs, it wakes the writer at once.
func (s *Session) wakeSoon() {
	for {
		v := s.deferWake.Load()
		if v&deferring == 0 {
			s.wake()
			return
		}
		if v&deferred != 0 || s.deferWake.CompareAndSwap(v, v|deferred) {
			return
		}
	}
}

// Bits of Session.deferWake.
const (
	deferring uint32 = 1 << iota // the reader handles PDUs it has buffered
	deferred                     // a wake of the writer waits for the reader to finish
)

// endDeferring ends a run of buffered PDUs: what their handling queued is
// written (readerFlush). Called by the reader before it may wait for the
// socket.
func (s *Session) endDeferring() {
	if s.deferWake.Swap(0)&deferred != 0 {
		s.readerFlush()
	}
}

// readerFlush writes what is queued from the reader's goroutine when the
// socket takes all of it without waiting (conn.TryWriteBatch never
// blocks, so the reader still never waits for the target), which spares
// the writer goroutine's wake-up: a callback that issues the next command
// sends it from the goroutine that read the answer, as libiscsi's event
// loop does. What the socket does not take goes to the writer goroutine.
func (s *Session) readerFlush() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.flushing {
		return // the flusher writes what was queued before it stops
	}
	// Others may queue while it writes, leaving the writing to it: a few
	// rounds, then the writer goroutine.
	for range 4 {
		if s.wclosed || s.paused {
			return
		}
		c, epoch, b, users := s.takeBatch()
		if b == nil {
			return
		}
		s.flushing = true
		s.wmu.Unlock()
		done, err := c.TryWriteBatch(b)
		if !done && err == nil {
			// The rest waits for the socket: the writer goroutine's, with
			// the flusher's turn.
			s.wmu.Lock()
			s.handoff, s.handoffUsers = b, users
			s.wake()
			return
		}
		s.batchWritten(c, b, users)
		s.stopFlushing()
		if err != nil {
			s.wmu.Unlock()
			s.lost(epoch, fmt.Errorf("write: %w", err))
			s.wmu.Lock()
			return
		}
	}
	if s.c.Buffered() > 0 {
		s.wake()
	}
}

// takeHandoff finishes, as the flusher, a batch the reader could not
// write whole (readerFlush). Called by the writer goroutine with wmu held;
// returns with wmu held, still the flusher unless the write failed.
func (s *Session) takeHandoff(c *conn.Conn, epoch uint32) bool {
	b, users := s.handoff, s.handoffUsers
	s.handoff, s.handoffUsers = nil, nil
	s.wmu.Unlock()
	err := s.writeOut(c, b)
	s.batchWritten(c, b, users)
	if err != nil {
		s.stopFlushing()
		s.wmu.Unlock()
		s.lost(epoch, fmt.Errorf("write: %w", err))
		s.wmu.Lock()
		return false
	}
	return true
}

// takeBatch moves the commands the window allows into the batch and
// detaches it, with the tasks whose buffers it reads. b is nil when there
// is nothing to write. Called by the flusher with wmu held.
func (s *Session) takeBatch() (c *conn.Conn, epoch uint32, b *conn.Batch, users []*task) {
	s.sendWindow()
	c, epoch = s.c, s.epoch.Load()
	if s.nopReply.pending {
		s.nopReply.pending = false
		c.Queue(&pdu.NOPOut{Immediate: true, LUN: s.nopReply.lun, ITT: pdu.ReservedITT, TTT: s.nopReply.ttt,
			CmdSN: s.cmdSN, ExpStatSN: s.expStatSN.Load()}, nil, nil)
	}
	if b = c.Detach(); b == nil {
		return c, epoch, nil, nil
	}
	s.r2tDetached()
	users = s.batchUsers
	s.batchUsers = s.spareUsers[:0]
	return c, epoch, b, users
}

// batchWritten ends the flusher's write of b (done or failed): its tasks'
// buffers are free again, and b and users go back for reuse. Called
// without wmu; returns with it held.
func (s *Session) batchWritten(c *conn.Conn, b *conn.Batch, users []*task) {
	for _, t := range users {
		t.unuse()
	}
	clear(users)
	s.wmu.Lock()
	c.Release(b)
	s.spareUsers = users[:0]
}

// dropHandoff gives up a batch handed over by the reader that will never
// be written (the connection is gone): its tasks' buffers are free again
// and the flusher's turn ends. Called with wmu held.
func (s *Session) dropHandoff() {
	if s.handoff == nil {
		return
	}
	for _, t := range s.handoffUsers {
		t.unuse()
	}
	s.handoff, s.handoffUsers = nil, nil
	s.stopFlushing()
}

// writeOut writes b on c, the flusher's way. A write that makes no
// progress for CommandTimeout ends the session (a stalled target). Moving
// the deadline costs a timer update, so it moves only when half of it has
// passed: every write still has between half and all of CommandTimeout.
// One flusher at a time (flushing) owns wdeadline.
func (s *Session) writeOut(c *conn.Conn, b *conn.Batch) error {
	if now := time.Now(); now.After(s.wdeadline.Add(-s.cfg.CommandTimeout / 2)) {
		s.wdeadline = now.Add(s.cfg.CommandTimeout)
		_ = c.NetConn().SetWriteDeadline(s.wdeadline)
	}
	return c.WriteBatch(b)
}

// wake asks the writer goroutine to flush.
func (s *Session) wake() {
	select {
	case s.rqSignal <- struct{}{}:
	default:
	}
}

// writeLoop flushes for the reader (R2T data, ping answers) and when the
// command window opens, and pings a silent target, for the connection of
// epoch, until dead is closed or the session ends.
func (s *Session) writeLoop(epoch uint32, c *conn.Conn, dead chan struct{}) {
	defer s.loops.Done()
	interval := s.cfg.NOPInterval
	if interval <= 0 {
		interval = DefaultNOPInterval // no keepalive, but idle buffers still go back
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastRx := s.rxPDUs.Load()
	for {
		select {
		case <-s.rqSignal:
		case <-tick.C:
			s.quiet(epoch, c, &lastRx)
			continue
		case <-dead:
			s.wmu.Lock()
			s.dropHandoff()
			s.wmu.Unlock()
			return
		case <-s.closing:
			s.wmu.Lock()
			s.wclosed = true
			s.dropHandoff()
			s.wmu.Unlock()
			return
		}
		s.wmu.Lock()
		switch {
		case s.handoff != nil:
			// The reader's turn as the flusher, now ours.
			if s.takeHandoff(c, epoch) {
				s.flushLocked()
			}
		case !s.flushing && !s.wclosed && !s.paused:
			s.flushing = true
			s.flushLocked()
		}
		s.wmu.Unlock()
	}
}

// flushLocked sends what the window allows and everything queued, batch
// after batch, until nothing is left. Called with wmu held and flushing set;
// returns with wmu held and flushing clear. wmu is released during writes.
func (s *Session) flushLocked() {
	// Group commit: let the goroutines that are ready to run (callers woken
	// by a burst of completions) queue their commands first, so that one
	// writev carries them all. With nothing else runnable this returns at once.
	s.wmu.Unlock()
	runtime.Gosched()
	s.wmu.Lock()
	for {
		if s.wclosed || s.paused {
			s.stopFlushing()
			return
		}
		c, epoch, b, users := s.takeBatch()
		if b == nil {
			s.stopFlushing()
			return
		}
		s.wmu.Unlock()
		err := s.writeOut(c, b)
		s.batchWritten(c, b, users)
		if err != nil {
			s.stopFlushing()
			s.wmu.Unlock()
			s.lost(epoch, fmt.Errorf("write: %w", err))
			s.wmu.Lock()
			return
		}
	}
}

// stopFlushing ends this goroutine's turn as the flusher and wakes the
// janitor if it waits for that. Called with wmu held.
func (s *Session) stopFlushing() {
	s.flushing = false
	s.flushDone.Broadcast()
}

// dropBatch gives up the batch being filled, which will never be written:
// its tasks' buffers are free again. Called with wmu held.
func (s *Session) dropBatch() {
	s.nopReply.pending = false // owed on the lost connection only
	s.r2tDetached()
	for _, t := range s.batchUsers {
		t.unuse()
	}
	clear(s.batchUsers)
	s.batchUsers = s.batchUsers[:0]
}

// handle encodes r into the current batch, or parks a command at the window.
func (s *Session) handle(r wreq) {
	switch {
	case r.t != nil && r.t.priority:
		s.priority = append(s.priority, r)
		return
	case s.paused && (r.kind == wData || r.kind == wNOPReply):
		return // for the lost connection
	}
	switch r.kind {
	case wCommand, wTextCont:
		r.stall = s.stallSeq
		s.pending = append(s.pending, r)
		s.parked.Store(true)
	case wImmediate:
		if s.paused || s.holding {
			// No connection to send it on yet: it waits with the rest.
			s.pending = append(s.pending, r)
			s.parked.Store(true)
			return
		}
		s.send(r.t)
	case wData:
		t := r.t
		if !s.useData(t, r.itt) {
			return
		}
		s.r2tQueuedAdd(t)
		s.queueDataOut(t, r.itt, r.ttt, r.off, r.n)
	case wNOPReply:
		// Owed, not queued: a target that pings faster than it reads gets
		// one answer, to its latest ping, whenever the socket takes it.
		s.nopReply.pending, s.nopReply.ttt, s.nopReply.lun = true, r.ttt, r.lun
	}
}

// useData records that the batch will read t's buffers, unless t is no
// longer the sent task of itt (abandoned, completed, recycled).
func (s *Session) useData(t *task, itt uint32) bool {
	if !t.use(itt) {
		return false
	}
	s.batchUsers = append(s.batchUsers, t)
	return true
}

// send encodes a queued task into the batch and marks it sent, unless its
// caller cancelled it meanwhile. Called with wmu held.
func (s *Session) send(t *task) bool {
	if t.state.Load() != stateQueued {
		return false // cancelled before it was sent: no CmdSN used
	}
	t.cmdSN, t.epoch = s.cmdSN, s.epoch.Load()
	s.queueTask(t, t.itt.Load())
	// Sent from now on: the reader accepts answers for it (an answer
	// before this is a protocol error, so nothing completes a task while
	// it is being encoded), and its caller can abandon it.
	t.state.Store(stateSent)
	return true
}

// unqueue removes t from the commands waiting at the window. Called with
// wmu held.
func (s *Session) unqueue(t *task) {
	for i := s.head; i < len(s.pending); i++ {
		if s.pending[i].t == t {
			s.pending[i] = wreq{}
		}
	}
	for i := range s.priority {
		if s.priority[i].t == t {
			s.priority[i] = wreq{}
		}
	}
}

// sendWindow sends queued commands, oldest first, while CmdSN is within
// the window the target granted: the supervisor's own commands first,
// the rest unless a new connection is being checked.
func (s *Session) sendWindow() {
	for len(s.priority) > 0 && pdu.SNLessEq(s.cmdSN, s.maxCmdSN.Load()) {
		if t := s.priority[0].t; t != nil && s.send(t) {
			s.cmdSN++
		}
		s.priority[0] = wreq{}
		s.priority = s.priority[1:]
	}
	if s.holding {
		return
	}
	for s.head < len(s.pending) {
		r := s.pending[s.head]
		t := r.t
		if t != nil && r.kind != wImmediate && !pdu.SNLessEq(s.cmdSN, s.maxCmdSN.Load()) {
			break
		}
		s.pending[s.head] = wreq{}
		s.head++
		switch {
		case t == nil:
			// Cancelled while it waited.
		case r.kind == wImmediate:
			s.send(t)
		case r.kind == wTextCont:
			if t.itt.Load() != r.itt || t.state.Load() != stateSent {
				continue // the text request ended (or its caller left) meanwhile
			}
			s.c.Queue(&pdu.TextRequest{Final: true, ITT: r.itt, TTT: r.ttt, CmdSN: s.cmdSN, ExpStatSN: s.expStatSN.Load()}, nil, nil)
			s.cmdSN++
		default:
			if s.send(t) {
				s.cmdSN++
				if r.stall != s.stallSeq {
					s.stats.windowStalls.Add(1)
				}
			}
		}
	}
	if s.head < len(s.pending) {
		s.stallSeq++ // the window closed on the commands left
	}
	if s.head == len(s.pending) {
		s.pending, s.head = s.pending[:0], 0
	} else if s.head > 1024 && s.head > len(s.pending)/2 {
		n := copy(s.pending, s.pending[s.head:])
		s.pending, s.head = s.pending[:n], 0
	}
	s.parked.Store(s.head < len(s.pending))
}

// queueTask encodes the PDU of a task that was just given its CmdSN.
func (s *Session) queueTask(t *task, itt uint32) {
	exp := s.expStatSN.Load()
	switch t.kind {
	case kindSCSI:
		s.queueSCSI(t, itt, exp)
	case kindText:
		s.c.Queue(&pdu.TextRequest{Immediate: t.immediate, Final: true, ITT: itt, TTT: pdu.ReservedITT,
			CmdSN: t.cmdSN, ExpStatSN: exp}, nil, t.data)
	case kindNOP:
		s.c.Queue(&pdu.NOPOut{Immediate: true, LUN: t.lun, ITT: itt, TTT: pdu.ReservedITT,
			CmdSN: t.cmdSN, ExpStatSN: exp}, nil, t.data)
	case kindTMF:
		s.c.Queue(&pdu.TaskMgmtRequest{Immediate: true, Function: t.tmf, LUN: t.lun, ITT: itt,
			ReferencedTaskTag: t.refITT, CmdSN: t.cmdSN, ExpStatSN: exp, RefCmdSN: t.refCmdSN}, nil, nil)
	case kindLogout:
		s.c.Queue(&pdu.LogoutRequest{Immediate: true, ReasonCode: t.reason, ITT: itt,
			CmdSN: t.cmdSN, ExpStatSN: exp}, nil, nil)
	}
}

// queueSCSI sends a SCSI Command with its immediate data and unsolicited
// Data-Out, as ImmediateData, InitialR2T and FirstBurstLength allow.
func (s *Session) queueSCSI(t *task, itt, exp uint32) {
	p := &s.params
	cmd := &s.wcmd
	*cmd = pdu.SCSICommand{Final: true, Read: t.read, Write: t.write, Attr: pdu.AttrSimple, LUN: t.lun,
		ITT: itt, ExpectedDataTransferLength: t.expLen, CmdSN: t.cmdSN, ExpStatSN: exp, CDB: t.cdb}
	if t.ordered {
		cmd.Attr = pdu.AttrOrdered
	}
	if !t.write || t.expLen == 0 {
		s.c.Queue(cmd, nil, nil)
		return
	}
	var imm, unsol uint32
	if p.ImmediateData {
		imm = min(t.expLen, p.FirstBurstLength, p.TargetMaxRecvDataSegmentLength)
	}
	unsol = imm
	if !p.InitialR2T {
		unsol = min(t.expLen, p.FirstBurstLength)
	}
	t.r2tNext = unsol
	cmd.Final = unsol == imm
	if unsol > 0 {
		// Still queued, so its caller cannot leave meanwhile (abandon
		// takes wmu to cancel a queued task).
		t.bufUsers.Add(1)
		s.batchUsers = append(s.batchUsers, t)
	}
	if err := s.c.QueueVectorSums(cmd, t.vec, 0, int(imm), t.sums); err != nil {
		s.lost(s.epoch.Load(), err)
		return
	}
	if unsol > imm {
		s.queueDataOut(t, itt, pdu.ReservedITT, imm, unsol-imm)
	}
}

// queueDataOut sends n bytes at off as one sequence of Data-Out PDUs: each
// at most the target's MaxRecvDataSegmentLength, DataSN from 0, F on the last.
func (s *Session) queueDataOut(t *task, itt, ttt, off, n uint32) {
	mrdsl := s.params.TargetMaxRecvDataSegmentLength
	exp := s.expStatSN.Load()
	for sn := uint32(0); n > 0; sn++ {
		seg := min(n, mrdsl)
		out := &s.wout
		*out = pdu.DataOut{Final: seg == n, LUN: t.lun, ITT: itt, TTT: ttt, ExpStatSN: exp, DataSN: sn, BufferOffset: off}
		if err := s.c.QueueVectorSums(out, t.vec, int64(off), int(seg), t.sums); err != nil {
			s.lost(s.epoch.Load(), err)
			return
		}
		off += seg
		n -= seg
	}
}
