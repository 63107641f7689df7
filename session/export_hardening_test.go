package session

// Exports for the tests of issue 17 (hardening_fake_test.go).

// QueuedBytes returns the bytes queued on the session's connection and not
// yet handed to a write.
func QueuedBytes(s *Session) int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.c.Buffered()
}

// ReceivedPDUs returns the PDUs the session has read.
func ReceivedPDUs(s *Session) uint64 { return s.rxPDUs.Load() }

// LUNIdentified reports whether the identity of lun has been read.
func LUNIdentified(s *Session, lun uint64) bool {
	m := s.lunRecs.m.Load()
	if m == nil {
		return false
	}
	r := (*m)[lun]
	return r != nil && r.state.Load() == idKnown
}
