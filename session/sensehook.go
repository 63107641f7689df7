package session

import "github.com/iscsi-go/iscsi/scsi"

// SenseHook is told of the sense data of every CHECK CONDITION the
// session receives and of every asynchronous event that carries sense
// data, before anything else is done with it: those of the unit
// attentions the block API (Read, Write, ReadAt, WriteAt, …) answers by
// sending the command once more included, which no caller sees. A layer
// above the session learns from it what the target reports about the LUN
// as a whole (multipath re-reads the ALUA states on ASYMMETRIC ACCESS
// STATE CHANGED). It runs on the reader goroutine: it must be quick.
type SenseHook interface {
	OnSense(SenseEvent)
}

// SenseEvent is sense data the session received.
type SenseEvent struct {
	LUN scsi.LUN
	// Sense is the session's buffer, valid only during the call; Parsed
	// is its decoded form.
	Sense  []byte
	Parsed scsi.Sense
}

// senseReceived tells the sense hooks.
func (s *Session) senseReceived(lun uint64, sense []byte, sd scsi.Sense) {
	for _, h := range s.hooks.sense {
		h.OnSense(SenseEvent{LUN: scsi.LUN(lun), Sense: sense, Parsed: sd})
	}
}
