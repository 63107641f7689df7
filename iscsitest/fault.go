package iscsitest

import (
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
)

// Action is what a Fault does to a command it strikes.
type Action int

const (
	// Proceed lets the server act on the command as usual (after the
	// Fault's Delay).
	Proceed Action = iota
	// Respond ends the command with the Fault's Status and Sense instead
	// of its normal outcome: a READ moves no data; a WRITE's data is
	// received as usual (R2Ts and all) and discarded, then the status
	// comes.
	Respond
	// Drop closes the connection without answering.
	Drop
	// Ignore never answers: the command stays in progress on the target
	// until the initiator aborts it (ABORT TASK answers FUNCTION COMPLETE)
	// or the connection ends.
	Ignore
)

// A Fault makes the server misbehave on chosen SCSI commands.
type Fault struct {
	// Match picks the commands, by their CDB; nil picks every command.
	// See Opcode. It runs on the server's goroutines, under a lock: it must
	// not call the Server's methods.
	Match func(cdb []byte) bool
	// After lets this many picked commands through untouched first.
	After int
	// Count is how many picked commands the fault strikes before it is
	// spent; zero means every one until ClearFaults.
	Count int

	// Delay stalls the connection for this long before the Action: the
	// server stops reading and answering on it, as a busy target does.
	Delay time.Duration
	// Action is what then happens to the command.
	Action Action
	// Status and Sense are the answer of Respond. Sense (nil for none) is
	// sense data as a target returns it; see Sense.
	Status scsi.Status
	Sense  []byte
}

type faultState struct {
	f            Fault
	seen, struck int
}

// Opcode returns a Fault.Match that picks commands with any of the given
// operation codes.
func Opcode(ops ...scsi.OpCode) func(cdb []byte) bool {
	return func(cdb []byte) bool {
		for _, op := range ops {
			if len(cdb) > 0 && scsi.OpCode(cdb[0]) == op {
				return true
			}
		}
		return false
	}
}

// Sense returns fixed-format sense data (response code 0x70, current) with
// a sense key and an additional sense code, for Fault.Sense.
func Sense(key scsi.SenseKey, asc scsi.ASC) []byte { return faketarget.FixedSense(key, asc) }

// Inject adds a fault. Faults are tried in the order they were injected;
// every fault whose Match picks a command counts it, and the first one
// that strikes decides what happens to it.
func (s *Server) Inject(f Fault) {
	if f.Sense != nil {
		f.Sense = append([]byte(nil), f.Sense...)
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = append(s.faults, &faultState{f: f})
}

// ClearFaults removes every fault injected and disarms DropAfter. A delay
// set with SetDelay stays.
func (s *Server) ClearFaults() {
	s.fmu.Lock()
	s.faults = nil
	s.fmu.Unlock()
	s.dropAfter.Store(-1)
}

// strike returns the fault that strikes the command, if any.
func (s *Server) strike(cdb []byte) (Fault, bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	var hit *faultState
	for _, fs := range s.faults {
		if fs.f.Match != nil && !fs.f.Match(cdb) {
			continue
		}
		fs.seen++
		if hit == nil && fs.seen > fs.f.After {
			hit = fs
			fs.struck++
		}
	}
	if hit == nil {
		return Fault{}, false
	}
	if hit.f.Count > 0 && hit.struck >= hit.f.Count {
		for i, fs := range s.faults {
			if fs == hit {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				break
			}
		}
	}
	return hit.f, true
}

func (s *Server) command(c *faketarget.Command) faketarget.Verdict {
	if s.alua != nil && s.access(c) {
		return faketarget.Proceed
	}
	f, ok := s.strike(c.CDB)
	if !ok {
		return faketarget.Proceed
	}
	if f.Delay > 0 {
		// Stall, unless the connection closes meanwhile.
		done := make(<-chan struct{})
		if nc, ok := c.Peer.Conn().NetConn().(*conn); ok {
			done = nc.done
		}
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-done:
			t.Stop()
			return faketarget.Close
		}
	}
	switch f.Action {
	case Respond:
		c.Fail(f.Status, f.Sense)
		return faketarget.Proceed
	case Drop:
		return faketarget.Close
	case Ignore:
		return faketarget.Handled
	}
	return faketarget.Proceed
}
