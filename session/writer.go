package session

import (
	"fmt"

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
}

// post hands the writer work from the reader without ever blocking it: a
// reader blocked on the writer while the writer waits for the target to read
// what we send, while the target waits for us to read, would deadlock.
func (s *Session) post(r wreq) {
	s.rqMu.Lock()
	s.rq = append(s.rq, r)
	s.rqMu.Unlock()
	s.wake()
}

func (s *Session) wake() {
	select {
	case s.rqSignal <- struct{}{}:
	default:
	}
}

// writeLoop is the only goroutine that writes to the connection. It gathers
// all work that is ready, sends the commands the window allows, and flushes
// the batch in one writev.
func (s *Session) writeLoop() {
	defer s.loops.Done()
	var batch []wreq
	for {
		select {
		case r := <-s.wq:
			s.handle(r)
		case <-s.rqSignal:
		case <-s.closing:
			return
		}
	drain:
		for {
			select {
			case r := <-s.wq:
				s.handle(r)
			default:
				break drain
			}
		}
		s.rqMu.Lock()
		batch, s.rq = s.rq, batch[:0]
		s.rqMu.Unlock()
		for _, r := range batch {
			s.handle(r)
		}
		clear(batch)
		s.sendWindow()
		err := s.c.Flush()
		for _, t := range s.locked {
			t.ioMu.Unlock()
		}
		clear(s.locked)
		s.locked = s.locked[:0]
		if err != nil {
			s.fail(fmt.Errorf("write: %w", err))
			return
		}
	}
}

func (s *Session) handle(r wreq) {
	switch r.kind {
	case wCommand, wTextCont:
		s.pending = append(s.pending, r)
	case wImmediate:
		t := r.t
		if !t.state.CompareAndSwap(stateQueued, stateSent) {
			return
		}
		t.cmdSN.Store(s.cmdSN)
		s.queueTask(t, t.itt.Load())
	case wData:
		t := r.t
		if !s.lockForWrite(t, r.itt) {
			return
		}
		s.queueDataOut(t, r.itt, r.ttt, r.off, r.n)
	case wNOPReply:
		s.c.Queue(&pdu.NOPOut{Immediate: true, LUN: r.lun, ITT: pdu.ReservedITT, TTT: r.ttt,
			CmdSN: s.cmdSN, ExpStatSN: s.expStatSN.Load()}, nil, nil)
	}
}

// lockForWrite takes t's I/O lock for the rest of the batch, unless t is no
// longer the task of itt (completed, failed or abandoned meanwhile).
func (s *Session) lockForWrite(t *task, itt uint32) bool {
	if !s.holds(t) {
		t.ioMu.Lock()
		s.locked = append(s.locked, t)
	}
	return t.itt.Load() == itt && t.state.Load() == stateSent && !t.abandoned.Load()
}

func (s *Session) holds(t *task) bool {
	for _, l := range s.locked {
		if l == t {
			return true
		}
	}
	return false
}

// sendWindow sends queued commands, oldest first, while CmdSN is within
// the window the target granted.
func (s *Session) sendWindow() {
	for s.head < len(s.pending) && pdu.SNLessEq(s.cmdSN, s.maxCmdSN.Load()) {
		r := s.pending[s.head]
		s.pending[s.head] = wreq{}
		s.head++
		t := r.t
		if r.kind == wTextCont {
			if t.itt.Load() != r.itt || t.state.Load() != stateSent {
				continue
			}
			s.c.Queue(&pdu.TextRequest{Final: true, ITT: r.itt, TTT: r.ttt, CmdSN: s.cmdSN, ExpStatSN: s.expStatSN.Load()}, nil, nil)
			s.cmdSN++
			continue
		}
		if t.vec != nil && t.write && !s.holds(t) {
			t.ioMu.Lock()
			s.locked = append(s.locked, t)
		}
		if !t.state.CompareAndSwap(stateQueued, stateSent) {
			continue // cancelled before it was sent: no CmdSN used
		}
		t.cmdSN.Store(s.cmdSN)
		s.cmdSN++
		s.queueTask(t, t.itt.Load())
	}
	if s.head == len(s.pending) {
		s.pending, s.head = s.pending[:0], 0
	} else if s.head > 1024 && s.head > len(s.pending)/2 {
		n := copy(s.pending, s.pending[s.head:])
		s.pending, s.head = s.pending[:n], 0
	}
}

// queueTask encodes the PDU of a task that was just given its CmdSN.
func (s *Session) queueTask(t *task, itt uint32) {
	exp := s.expStatSN.Load()
	switch t.kind {
	case kindSCSI:
		s.queueSCSI(t, itt, exp)
	case kindText:
		s.c.Queue(&pdu.TextRequest{Immediate: t.immediate, Final: true, ITT: itt, TTT: pdu.ReservedITT,
			CmdSN: t.cmdSN.Load(), ExpStatSN: exp}, nil, t.data)
	case kindNOP:
		s.c.Queue(&pdu.NOPOut{Immediate: true, LUN: t.lun, ITT: itt, TTT: pdu.ReservedITT,
			CmdSN: t.cmdSN.Load(), ExpStatSN: exp}, nil, t.data)
	case kindTMF:
		s.c.Queue(&pdu.TaskMgmtRequest{Immediate: true, Function: t.tmf, LUN: t.lun, ITT: itt,
			ReferencedTaskTag: t.refITT, CmdSN: t.cmdSN.Load(), ExpStatSN: exp, RefCmdSN: t.refCmdSN}, nil, nil)
	case kindLogout:
		s.c.Queue(&pdu.LogoutRequest{Immediate: true, ReasonCode: t.reason, ITT: itt,
			CmdSN: t.cmdSN.Load(), ExpStatSN: exp}, nil, nil)
	}
}

// queueSCSI sends a SCSI Command with its immediate data and unsolicited
// Data-Out, as ImmediateData, InitialR2T and FirstBurstLength allow.
func (s *Session) queueSCSI(t *task, itt, exp uint32) {
	p := &s.params
	cmd := &s.wcmd
	*cmd = pdu.SCSICommand{Final: true, Read: t.read, Write: t.write, Attr: pdu.AttrSimple, LUN: t.lun,
		ITT: itt, ExpectedDataTransferLength: t.expLen, CmdSN: t.cmdSN.Load(), ExpStatSN: exp, CDB: t.cdb}
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
	cmd.Final = unsol == imm
	if err := s.c.QueueVector(cmd, t.vec, 0, int(imm)); err != nil {
		s.fail(err)
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
		if err := s.c.QueueVector(out, t.vec, int64(off), int(seg)); err != nil {
			s.fail(err)
			return
		}
		off += seg
		n -= seg
	}
}
