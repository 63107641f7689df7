package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// checkSense looks at the sense data of a CHECK CONDITION or an
// asynchronous event for what the session must act on: a changed capacity
// drops the LUN's cached geometry. It reports whether the sense was readable.
func (s *Session) checkSense(lun uint64, sense []byte) bool {
	sd, err := scsi.ParseSense(sense)
	if err != nil {
		return false
	}
	s.senseReceived(lun, sense, sd)
	if sd.Key == scsi.SenseUnitAttention && sd.ASC == scsi.ASCCapacityDataChanged {
		s.log.Info("iscsi: capacity data has changed", "lun", scsi.LUN(lun))
		s.geometryChanged(lun)
	}
	return true
}

// readLoop is the reader goroutine of the connection of epoch: it reads
// until the connection fails, except while it lends the read role to a
// caller (readrole.go).
func (s *Session) readLoop(epoch uint32, c *conn.Conn, dead chan struct{}) {
	defer s.loops.Done()
	for {
		s.completed = false
		switch s.readOne(epoch, c) {
		case readFailed:
			return
		case readExpired:
			// A wait deadline a caller left behind: no bound for us.
			c.SetWaitDeadline(time.Time{})
			continue
		}
		if s.completed && c.ReadBuffered() == 0 && !s.park(epoch, c, dead) {
			return
		}
	}
}

type readOutcome uint8

const (
	readOK      readOutcome = iota // a PDU was handled
	readExpired                    // the wait deadline passed before a header came
	readFailed                     // the connection failed, and was reported lost
)

// readOne reads and handles one PDU. Only the holder of the read role
// calls it.
func (s *Session) readOne(epoch uint32, c *conn.Conn) readOutcome {
	s.streamHint(c)
	h, _, err := c.ReadHeader()
	if err != nil {
		if errors.Is(err, conn.ErrWaitExpired) {
			return readExpired
		}
		if errors.Is(err, conn.ErrHeaderDigest) {
			s.stats.digestErrors.Add(1)
		}
		s.lost(epoch, fmt.Errorf("read: %w", err))
		return readFailed
	}
	s.rxPDUs.Add(1)
	s.deferWake.Or(deferring)
	err = s.dispatch(h)
	if err != nil || c.ReadBuffered() == 0 {
		s.endDeferring() // the next read may wait for the socket
	}
	if err != nil {
		s.lost(epoch, err)
		return readFailed
	}
	return readOK
}

// streamReads is the fewest reads in flight, of any size, for which
// streamHint expects several answers to come together (conn.ExpectBytes).
// With fewer, a reader that waits for them sleeps and wakes as often as it
// would without, and the nap the blocking socket takes first costs more
// than it saves: 4 KiB random reads at QD4 and QD8 took 1.5 times the CPU
// per I/O with it (docs/BENCHMARKS.md, session 9).
const streamReads = 16

// streamHint tells the connection what will most likely come next when
// the reader has to wait for it. With two or more commands in flight,
// every one a read still expecting conn.LargeSegment bytes or more: the
// fewest any of them expects, at most the longest data segment the target
// may send (conn.Expect: the next PDU carries that much). Otherwise, with
// streamReads or more in flight, every one a read: a quarter of the bytes all of
// them still expect, headers included (conn.ExpectBytes: several answers
// are on their way). Either lets the blocking socket wait for more than the
// first bytes to come (blocksock.Conn.ReadMark); if less comes (an error's
// status, a NOP-In), the other reads' data is on its way to wake the
// reader, or a Tick passes.
func (s *Session) streamHint(c *conn.Conn) {
	if c.ReadBuffered() != 0 {
		return
	}
	all := s.tasks.all.Load()
	big, reads := s.tasks.bigReads.Load(), s.tasks.reads.Load()
	large := big >= 2 && big == all
	if !large && (reads < streamReads || reads != all) {
		return
	}
	least, total, ok := s.tasks.readsPending(int(s.params.MaxRecvDataSegmentLength))
	switch {
	case !ok: // a task came or went since the counts
	case large:
		if least >= conn.LargeSegment {
			c.Expect(least)
		}
	default:
		c.ExpectBytes(total / 4)
	}
}

// dataDigest handles a data digest mismatch: the PDU's data is lost. With
// recovery, the connection is replaced and the command sent again (the
// error is returned, fatal to the connection); without, the one command
// fails (nil is returned: the caller records err on the task).
func (s *Session) dataDigest(err error) error {
	s.stats.digestErrors.Add(1)
	if s.cfg.DisableRecovery {
		return nil
	}
	return err
}

// dispatch handles one PDU whose header was read. A returned error is fatal.
func (s *Session) dispatch(h *pdu.BHS) error {
	m, err := s.dec.Decode(h)
	if err != nil {
		return protoErr("full feature phase", "%v", err)
	}
	switch m := m.(type) {
	case *pdu.DataIn:
		return s.onDataIn(m)
	case *pdu.SCSIResponse:
		return s.onResponse(m)
	case *pdu.R2T:
		return s.onR2T(m)
	case *pdu.NOPIn:
		return s.onNOPIn(m)
	case *pdu.TaskMgmtResponse:
		s.window(m.ExpCmdSN, m.MaxCmdSN)
		s.statSN(m.StatSN)
		t, err := s.taskFor(m.ITT, "Task Management Response")
		if t == nil || err != nil {
			return s.discard(err)
		}
		if err := s.discard(nil); err != nil {
			return err
		}
		s.onTMFDone(t, m.Response)
	case *pdu.TextResponse:
		return s.onText(m)
	case *pdu.LogoutResponse:
		s.window(m.ExpCmdSN, m.MaxCmdSN)
		s.statSN(m.StatSN)
		t, err := s.taskFor(m.ITT, "Logout Response")
		if t == nil || err != nil {
			return s.discard(err)
		}
		if err := s.discard(nil); err != nil {
			return err
		}
		t.response = m.Response
		if m.Response == pdu.LogoutSuccess && t.reason == pdu.LogoutCloseSession {
			s.loggedOut.Store(true)
		}
		s.complete(t, nil)
	case *pdu.AsyncMessage:
		return s.onAsync(m)
	case *pdu.Reject:
		return s.onReject(m)
	default:
		return protoErr(m.Opcode().String(), "not expected in the full feature phase")
	}
	return nil
}

// taskFor finds the task of itt. A PDU for a task that is gone (late, after
// an abort) returns (nil, nil) and is dropped; an ITT we never issued is a
// protocol error.
func (s *Session) taskFor(itt uint32, what string) (*task, error) {
	t, late := s.tasks.lookup(itt)
	if t != nil {
		if t.state.Load() == stateQueued {
			// Registered but not sent yet: the writer may be encoding it.
			return nil, protoErr(what, "ITT %#x answered before the command was sent", itt)
		}
		return t, nil
	}
	if late {
		s.log.Debug("iscsi: dropping PDU for a finished task", "pdu", what, "itt", fmt.Sprintf("%#x", itt))
		return nil, nil
	}
	return nil, protoErr(what, "ITT %#x was never issued", itt)
}

// discard skips the current data segment and returns err (or the read error).
func (s *Session) discard(err error) error {
	if derr := s.c.DiscardData(); derr != nil && !errors.Is(derr, conn.ErrDataDigest) {
		return derr
	}
	return err
}

// readSmall reads the current data segment into the session's scratch buffer.
func (s *Session) readSmall() ([]byte, error) {
	n := s.c.DataLen()
	if cap(s.small) < n {
		s.small = make([]byte, n)
	}
	b := s.small[:n]
	return b, s.c.ReadData(b)
}

// window takes ExpCmdSN and MaxCmdSN from a target PDU (RFC 7143 §4.2.2.1).
func (s *Session) window(exp, max uint32) {
	if pdu.SNLess(max, exp-1) {
		return // MaxCmdSN < ExpCmdSN-1: the fields are to be ignored
	}
	if pdu.SNGreater(exp, s.expCmdSN.Load()) {
		s.expCmdSN.Store(exp)
	}
	if pdu.SNGreater(max, s.maxCmdSN.Load()) {
		s.maxCmdSN.Store(max)
		if s.parked.Load() {
			s.wakeSoon() // commands wait at the window: the writer sends them
		}
	}
}

// statSN records a status sequence number: ExpStatSN is the one after it.
func (s *Session) statSN(sn uint32) {
	if next := sn + 1; pdu.SNGreater(next, s.expStatSN.Load()) {
		s.expStatSN.Store(next)
	}
}

func (s *Session) onDataIn(m *pdu.DataIn) error {
	s.window(m.ExpCmdSN, m.MaxCmdSN)
	if m.HasStatus {
		s.statSN(m.StatSN)
	}
	t, err := s.taskFor(m.ITT, "SCSI Data-In")
	if t == nil || err != nil {
		return s.discard(err)
	}
	n := m.DataSegmentLength
	switch {
	case n == 0:
	case t.failErr != nil:
		if err := s.discard(nil); err != nil {
			return err
		}
	case t.kind != kindSCSI || !t.read:
		t.failErr = protoErr("SCSI Data-In", "data for ITT %#x, which is not a read", m.ITT)
		if err := s.discard(nil); err != nil {
			return err
		}
	case m.DataSN != t.expDataSN:
		t.failErr = protoErr("SCSI Data-In", "DataSN %d for ITT %#x, expected %d", m.DataSN, m.ITT, t.expDataSN)
		if err := s.discard(nil); err != nil {
			return err
		}
	case m.BufferOffset != t.received:
		t.failErr = protoErr("SCSI Data-In", "BufferOffset %d for ITT %#x, expected %d (data must arrive in order)", m.BufferOffset, m.ITT, t.received)
		if err := s.discard(nil); err != nil {
			return err
		}
	case uint64(m.BufferOffset)+uint64(n) > uint64(t.expLen):
		t.failErr = protoErr("SCSI Data-In", "%d bytes at offset %d for ITT %#x, beyond the %d bytes expected", n, m.BufferOffset, m.ITT, t.expLen)
		if err := s.discard(nil); err != nil {
			return err
		}
	default:
		if t.use(m.ITT) {
			err = s.c.ReadDataVector(t.vec, int64(m.BufferOffset))
			t.unuse()
		} else {
			err = s.c.DiscardData() // abandoned: its caller is gone
		}
		if err != nil {
			if !errors.Is(err, conn.ErrDataDigest) {
				return err
			}
			if ferr := s.dataDigest(err); ferr != nil {
				return ferr
			}
			t.failErr = err
		}
		t.received += n
	}
	if m.DataSN == t.expDataSN {
		t.expDataSN++
	}
	if !m.HasStatus {
		return nil
	}
	if !m.Final {
		return protoErr("SCSI Data-In", "S bit without F bit for ITT %#x", m.ITT)
	}
	t.status = m.Status
	t.setResidual(m.Underflow, m.Overflow, m.ResidualCount)
	s.finishSCSI(t)
	return nil
}

func (t *task) setResidual(under, over bool, count uint32) {
	t.underflow, t.overflow = under, over
	if under || over {
		t.residual = count
	}
}

// finishSCSI completes a SCSI task whose status arrived, checking first that
// a read that reports GOOD delivered every byte it claims: otherwise stale
// bytes of the caller's buffer would pass for data.
func (s *Session) finishSCSI(t *task) {
	if t.failErr == nil && t.read && scsi.Status(t.status).OK() {
		want := t.expLen
		if t.underflow {
			want = t.expLen - min(t.residual, t.expLen)
		}
		if t.received != want {
			t.failErr = protoErr("SCSI status", "GOOD for ITT %#x after %d bytes of Data-In, %d expected", t.itt.Load(), t.received, want)
		}
	}
	if scsi.Status(t.status) == scsi.StatusCheckCondition && t.senseLen > 0 {
		s.checkSense(t.lun, t.senseBuf[:t.senseLen])
		if t.uaRetry && !t.uaRetried && t.failErr == nil && unitAttention(t.senseBuf[:t.senseLen]) && s.resend(t) {
			return
		}
	}
	s.completed = true
	s.complete(t, t.failErr)
}

// unitAttention reports whether sense data says UNIT ATTENTION.
func unitAttention(sense []byte) bool {
	sd, err := scsi.ParseSense(sense)
	return err == nil && sd.Key == scsi.SenseUnitAttention
}

// resend sends t once more, with a new ITT and CmdSN, after its answer was
// a unit attention (a command of the block API: task.uaRetry). It reports
// false, and t completes with the unit attention, when t is no longer
// sent (its caller gave up) or the session is ending. Called by the reader.
func (s *Session) resend(t *task) bool {
	s.wmu.Lock()
	// Under wmu: a caller abandoning t finds it queued, and takes it out
	// of the queue, only once it is in there.
	if s.wclosed || !t.state.CompareAndSwap(stateSent, stateQueued) {
		s.wmu.Unlock()
		return false
	}
	t.uaRetried = true
	t.expDataSN, t.received, t.r2tSN = 0, 0, 0
	t.status, t.response, t.residual, t.underflow, t.overflow, t.senseLen = 0, 0, 0, false, false, 0
	s.tasks.reassign(t)
	s.handle(wreq{kind: wCommand, t: t})
	if s.flushing || s.paused {
		s.wmu.Unlock()
		return true
	}
	s.wmu.Unlock()
	s.wakeSoon()
	return true
}

func (s *Session) onResponse(m *pdu.SCSIResponse) error {
	s.window(m.ExpCmdSN, m.MaxCmdSN)
	s.statSN(m.StatSN)
	t, err := s.taskFor(m.ITT, "SCSI Response")
	if t == nil || err != nil {
		return s.discard(err)
	}
	data, err := s.readSmall()
	if err != nil && !errors.Is(err, conn.ErrDataDigest) {
		return err
	}
	if err != nil {
		if ferr := s.dataDigest(err); ferr != nil {
			return ferr
		}
		if t.failErr == nil {
			t.failErr = err
		}
	}
	if t.kind != kindSCSI {
		return protoErr("SCSI Response", "for ITT %#x, which is not a SCSI command", m.ITT)
	}
	if len(data) >= 2 {
		sl := int(binary.BigEndian.Uint16(data))
		if sl > len(data)-2 {
			if t.failErr == nil {
				t.failErr = protoErr("SCSI Response", "SenseLength %d in a %d-byte data segment", sl, len(data))
			}
		} else {
			t.senseLen = copy(t.senseBuf[:], data[2:2+sl])
		}
	}
	t.status, t.response = m.Status, m.Response
	t.setResidual(m.Underflow, m.Overflow, m.ResidualCount)
	if m.Response != pdu.RespCommandCompleted && t.failErr == nil {
		t.failErr = fmt.Errorf("iscsi: target failure (response 0x%02x) for ITT %#x", m.Response, m.ITT)
	}
	s.finishSCSI(t)
	return nil
}

func (s *Session) onR2T(m *pdu.R2T) error {
	s.window(m.ExpCmdSN, m.MaxCmdSN)
	t, err := s.taskFor(m.ITT, "R2T")
	if t == nil || err != nil {
		return s.discard(err)
	}
	if err := s.discard(nil); err != nil {
		return err
	}
	var bad error
	switch {
	case t.kind != kindSCSI || !t.write:
		bad = protoErr("R2T", "for ITT %#x, which is not a write", m.ITT)
	case m.R2TSN != t.r2tSN:
		bad = protoErr("R2T", "R2TSN %d for ITT %#x, expected %d", m.R2TSN, m.ITT, t.r2tSN)
	case m.DesiredDataTransferLength == 0:
		bad = protoErr("R2T", "zero Desired Data Transfer Length for ITT %#x", m.ITT)
	case m.DesiredDataTransferLength > s.params.MaxBurstLength:
		bad = protoErr("R2T", "%d bytes asked for ITT %#x, above MaxBurstLength %d", m.DesiredDataTransferLength, m.ITT, s.params.MaxBurstLength)
	case uint64(m.BufferOffset)+uint64(m.DesiredDataTransferLength) > uint64(t.expLen):
		bad = protoErr("R2T", "%d bytes at offset %d for ITT %#x, beyond the %d bytes of the command", m.DesiredDataTransferLength, m.BufferOffset, m.ITT, t.expLen)
	case m.TTT == pdu.ReservedITT:
		bad = protoErr("R2T", "reserved Target Transfer Tag for ITT %#x", m.ITT)
	}
	if bad != nil {
		// The target waits for data we will not send: fail the task here and
		// abort it there.
		t.failErr = bad
		s.failAndAbort(t)
		return nil
	}
	if err := s.checkR2T(t, m); err != nil {
		return err // the connection is given up: the write is sent again on the next
	}
	t.r2tSN++
	s.push(wreq{kind: wData, t: t, itt: m.ITT, ttt: m.TTT, off: m.BufferOffset, n: m.DesiredDataTransferLength}, true)
	return nil
}

func (s *Session) onNOPIn(m *pdu.NOPIn) error {
	s.window(m.ExpCmdSN, m.MaxCmdSN)
	if m.ITT == pdu.ReservedITT {
		// Unsolicited: a ping from the target if TTT is set.
		if err := s.discard(nil); err != nil {
			return err
		}
		if m.TTT != pdu.ReservedITT {
			s.push(wreq{kind: wNOPReply, ttt: m.TTT, lun: m.LUN}, true)
		}
		return nil
	}
	s.statSN(m.StatSN)
	t, err := s.taskFor(m.ITT, "NOP-In")
	if t == nil || err != nil {
		return s.discard(err)
	}
	if err := s.discard(nil); err != nil {
		return err
	}
	if t.kind != kindNOP {
		return protoErr("NOP-In", "for ITT %#x, which is not a ping", m.ITT)
	}
	s.complete(t, nil)
	return nil
}

func (s *Session) onText(m *pdu.TextResponse) error {
	s.window(m.ExpCmdSN, m.MaxCmdSN)
	s.statSN(m.StatSN)
	t, err := s.taskFor(m.ITT, "Text Response")
	if t == nil || err != nil {
		return s.discard(err)
	}
	if t.kind != kindText {
		return s.discard(protoErr("Text Response", "for ITT %#x, which is not a text request", m.ITT))
	}
	if len(t.text)+s.c.DataLen() > s.cfg.MaxText {
		t.failErr = fmt.Errorf("iscsi: text answer longer than %d bytes", s.cfg.MaxText)
		if err := s.discard(nil); err != nil {
			return err
		}
		s.failAndAbort(t)
		return nil
	}
	data, err := s.readSmall()
	if err != nil {
		if !errors.Is(err, conn.ErrDataDigest) {
			return err
		}
		if ferr := s.dataDigest(err); ferr != nil {
			return ferr
		}
		t.failErr = err
	}
	t.text = append(t.text, data...)
	if m.Final {
		if m.Continue {
			return protoErr("Text Response", "F and C bits both set")
		}
		s.complete(t, t.failErr)
		return nil
	}
	if m.TTT == pdu.ReservedITT {
		return protoErr("Text Response", "more to come (F=0) with a reserved Target Transfer Tag")
	}
	s.push(wreq{kind: wTextCont, t: t, itt: m.ITT, ttt: m.TTT}, true)
	return nil
}

func (s *Session) onAsync(m *pdu.AsyncMessage) error {
	s.window(m.ExpCmdSN, m.MaxCmdSN)
	s.statSN(m.StatSN)
	data, err := s.readSmall()
	if err != nil && !errors.Is(err, conn.ErrDataDigest) {
		return err
	}
	switch m.AsyncEvent {
	case pdu.AsyncSCSIEvent:
		var sense []byte
		if len(data) >= 2 {
			if sl := int(binary.BigEndian.Uint16(data)); sl <= len(data)-2 {
				sense = data[2 : 2+sl]
			}
		}
		s.log.Warn("iscsi: asynchronous SCSI event", "lun", scsi.LUN(m.LUN), "sense", fmt.Sprintf("%x", sense))
		if !s.checkSense(m.LUN, sense) {
			s.geometryChanged(m.LUN) // an event we cannot read: assume the worst
		}
	case pdu.AsyncLogoutRequest:
		if epoch := s.epoch.Load(); s.logoutEpoch.Swap(epoch) == epoch {
			return nil // a logout of this connection is under way already
		}
		seconds := m.Parameter3 // m is the decoder's, reused by the next PDU
		s.log.Warn("iscsi: the target asks us to log out", "within_seconds", seconds)
		s.background(func() { s.logoutOnRequest(seconds) })
	case pdu.AsyncDropConnection, pdu.AsyncDropAllConnections:
		s.targetTime2Wait.Store(uint32(m.Parameter2) + 1)
		return fmt.Errorf("the target announced it drops the connection (async event %d, Time2Wait %d s)", m.AsyncEvent, m.Parameter2)
	case pdu.AsyncRenegotiate:
		s.log.Info("iscsi: the target asks to renegotiate parameters; keeping the current ones")
	default:
		s.log.Info("iscsi: asynchronous message ignored", "event", m.AsyncEvent, "vcode", m.AsyncVCode)
	}
	return nil
}

func (s *Session) onReject(m *pdu.Reject) error {
	s.window(m.ExpCmdSN, m.MaxCmdSN)
	s.statSN(m.StatSN)
	data, err := s.readSmall()
	if err != nil && !errors.Is(err, conn.ErrDataDigest) {
		return err
	}
	if len(data) < pdu.BHSLen {
		return protoErr("Reject", "carries %d bytes, not the rejected PDU's 48-byte header", len(data))
	}
	h := (*pdu.BHS)(data[:pdu.BHSLen])
	itt := h.ITT()
	s.log.Warn("iscsi: target rejected a PDU", "reason", pdu.RejectReasonString(m.Reason), "op", h.Opcode().String(), "itt", fmt.Sprintf("%#x", itt))
	if itt == pdu.ReservedITT {
		return nil
	}
	t, _ := s.tasks.lookup(itt)
	if t == nil {
		return nil
	}
	if t.state.Load() == stateQueued {
		return protoErr("Reject", "for ITT %#x, which was not sent yet", itt)
	}
	if h.Opcode() == pdu.OpDataOut || h.Opcode() == pdu.OpSNACKReq {
		// The command itself lives on at the target: abort it.
		t.failErr = &RejectError{Reason: m.Reason}
		s.failAndAbort(t)
		return nil
	}
	s.complete(t, &RejectError{Reason: m.Reason})
	return nil
}
