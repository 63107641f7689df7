package session

import "github.com/iscsi-go/iscsi/pdu"

// Bounds on what a target can make us queue with R2Ts (RFC 7143 §10.8).
//
// Each R2T queues Data-Out PDUs that reference the caller's buffer: the
// data is not copied, but every PDU costs a header and a slot in the
// batch. Without bounds, a target that answers one write with endless R2Ts
// for the same range, and stops reading, grows the batch until memory
// runs out. Two rules, both protocol errors that give up the connection
// (the write is then sent again on a new one):
//
//   - An R2T asks for bytes that were neither asked for before nor sent
//     unasked (immediate data, unsolicited Data-Out). With
//     DataSequenceInOrder=Yes, the only value this initiator negotiates,
//     R2Ts come in increasing offset order, and at ErrorRecoveryLevel 0 no
//     range is asked for twice. So a write's Data-Out never exceeds its
//     own length.
//   - At most MaxOutstandingR2T R2Ts of one command have their Data-Out
//     waiting in the batch being filled. A target may send R2T n+k only
//     once it received all the data of R2T n (k = MaxOutstandingR2T): by
//     then that data was at least handed to a write. So a target that
//     stops reading gets no more than MaxOutstandingR2T × MaxBurstLength
//     of Data-Out queued per command beyond the write under way.

// checkR2T applies the rules above to an R2T for t (a write, sent, its
// other fields checked). Called by the reader.
func (s *Session) checkR2T(t *task, m *pdu.R2T) error {
	if m.BufferOffset < t.r2tNext {
		return protoErr("R2T", "asks for %d bytes at offset %d of ITT %#x, but the bytes up to %d were asked for or sent already",
			m.DesiredDataTransferLength, m.BufferOffset, m.ITT, t.r2tNext)
	}
	if max := s.params.MaxOutstandingR2T; uint32(t.r2tQueued.Load()) >= max {
		return protoErr("R2T", "R2TSN %d for ITT %#x while the data of %d R2Ts was not sent yet (MaxOutstandingR2T %d)",
			m.R2TSN, m.ITT, t.r2tQueued.Load(), max)
	}
	t.r2tNext = m.BufferOffset + m.DesiredDataTransferLength
	return nil
}

// r2tQueuedAdd records that Data-Out for one R2T of t goes into the batch
// being filled. Called with wmu held.
func (s *Session) r2tQueuedAdd(t *task) {
	t.r2tQueued.Add(1)
	s.r2tBatch = append(s.r2tBatch, t)
}

// r2tDetached records that the batch being filled was handed to a write
// (or dropped): its R2Ts' data no longer waits. Called with wmu held.
func (s *Session) r2tDetached() {
	for _, t := range s.r2tBatch {
		t.r2tQueued.Add(-1)
	}
	clear(s.r2tBatch)
	s.r2tBatch = s.r2tBatch[:0]
}
