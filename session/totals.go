package session

import "sync"

// Add returns the sum of s and o, counter by counter.
func (s Stats) Add(o Stats) Stats {
	s.Reconnects += o.Reconnects
	s.Replayed += o.Replayed
	s.NotReplayed += o.NotReplayed
	s.DigestErrors += o.DigestErrors
	s.Keepalives += o.Keepalives
	s.Commands += o.Commands
	s.CommandErrors += o.CommandErrors
	s.BytesRead += o.BytesRead
	s.BytesWritten += o.BytesWritten
	s.WindowStalls += o.WindowStalls
	s.Barriers += o.Barriers
	return s
}

// Totals sums the Stats of a changing set of sessions, for metrics over
// many of them: a session that ended keeps counting with its last Stats
// (counters never go back), and is then no longer held. The zero value is
// ready; it is safe for concurrent use.
type Totals struct {
	mu      sync.Mutex
	live    []*Session // guarded by mu
	retired Stats      // guarded by mu: the last Stats of the sessions that ended
}

// Track adds s to the sessions summed.
func (t *Totals) Track(s *Session) {
	t.mu.Lock()
	t.live = append(t.live, s)
	t.mu.Unlock()
}

// Stats returns the sum of the Stats of every session tracked, ended or
// not, and how many of them are still open.
func (t *Totals) Stats() (sum Stats, open int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	live := t.live[:0]
	for _, s := range t.live {
		select {
		case <-s.Done():
			t.retired = t.retired.Add(s.Stats()) // its last word: nothing counts after Done
		default:
			live = append(live, s)
			sum = sum.Add(s.Stats())
		}
	}
	clear(t.live[len(live):])
	t.live = live
	return sum.Add(t.retired), len(live)
}
