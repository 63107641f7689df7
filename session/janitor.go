package session

// failRegistered fails every registered task with the session's cause,
// exactly once: the janitor's last act (shutdown), once no reader or
// flusher runs.
//
// A task it takes from the table may meanwhile be completed by another
// goroutine (a waiter whose context ended takes back a task not sent yet;
// Abort), handed back to the pool and issued again as another command. A
// compare-and-swap of the state alone would then complete the new command
// with this session's cause (the ABA problem): the generation is checked,
// under the task's mu, which putTask takes to move to the next generation.
func (s *Session) failRegistered() {
	ts, gens := s.tasks.closeWithGens(s.cause)
	for i, t := range ts {
		var st uint32
		won := false
		t.mu.Lock()
		if t.gen.Load()&^1 == gens[i]&^1 {
			for {
				st = t.state.Load()
				if st == stateDone {
					break
				}
				if t.state.CompareAndSwap(st, stateDone) {
					won = true
					break
				}
			}
		}
		t.mu.Unlock()
		if won {
			s.finish(t, s.endErr(t, st), st == stateAbandoned)
		}
	}
}

// closeWithGens refuses new tasks and returns every registered task,
// emptying the table, with the generation of each, read while the task
// was still registered (so not yet handed back).
func (tb *table) closeWithGens(err error) ([]*task, []uint64) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.closed == nil {
		tb.closed = err
	}
	var out []*task
	var gens []uint64
	for i, t := range tb.slots {
		if t != nil {
			out = append(out, t)
			gens = append(gens, t.gen.Load())
			tb.slots[i] = nil
			tb.free = append(tb.free, uint16(i))
			tb.removed(t)
		}
	}
	return out, gens
}
