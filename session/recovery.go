package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// Recovery (error recovery level 0, RFC 7143 §7.1.5 and §6.3.5).
//
// A connection that fails — closed or reset, a write or a keepalive that
// gets no answer, a digest error, a protocol error of the target — is
// reported with lost, once per connection. The supervisor goroutine then
// pauses the writer, fails what cannot be sent again, logs in again with
// the same ISID (first with the old TSIH, then as a reinstated session),
// checks that every LUN in use is still the same device, and sends every
// unfinished command again with a new ITT and CmdSN. Commands issued
// meanwhile wait at the window, bounded by their context and by
// Config.ReplacementTimeout.

// ConnState is a step in the life of a session's connection.
type ConnState uint8

// Connection states reported to Config.OnStateChange.
const (
	StateLost         ConnState = iota + 1 // the connection failed; Err says why
	StateReconnecting                      // a login attempt starts (Attempt counts them)
	StateReinstated                        // logged in again; Replayed commands sent again
	StateGaveUp                            // recovery failed; the session ends with Err
)

func (c ConnState) String() string {
	switch c {
	case StateLost:
		return "lost"
	case StateReconnecting:
		return "reconnecting"
	case StateReinstated:
		return "reinstated"
	case StateGaveUp:
		return "gave up"
	}
	return fmt.Sprintf("ConnState(%d)", uint8(c))
}

// StateChange is what Config.OnStateChange receives.
type StateChange struct {
	State    ConnState
	Portal   string
	Err      error // the cause of a loss or of giving up; for reconnecting, why: the loss, then the previous attempt's failure
	Attempt  int   // the login attempt, from 1, since the loss; for reinstated, the one that succeeded
	Replayed int   // commands sent again after a reinstatement
	Failed   int   // commands failed because they were not safe to repeat
}

// Stats are counters of a session's life, readable at any time. They
// need no hook and cost a few atomic additions per command.
type Stats struct {
	Reconnects   uint64 // connections replaced
	Replayed     uint64 // commands sent again on a new connection
	NotReplayed  uint64 // commands failed with ErrMayHaveExecuted
	DigestErrors uint64 // header or data digest mismatches seen
	Keepalives   uint64 // NOP-Out pings sent because the target was silent

	// Commands counts the SCSI commands that ended (as CommandHook sees
	// them); CommandErrors those of them that ended with an error or a
	// status other than GOOD.
	Commands      uint64
	CommandErrors uint64
	// BytesRead and BytesWritten count the data of the commands that
	// ended with GOOD, less their underflow residuals.
	BytesRead    uint64
	BytesWritten uint64
	// WindowStalls counts the commands that had to wait because the
	// target's command window (MaxCmdSN) was closed: a target throttling
	// us, or a queue depth above what it grants.
	WindowStalls uint64
	// Barriers counts the waits, after a lost connection, for its writes
	// still executing on the target (an ORDERED TEST UNIT READY per LUN,
	// sent before anything else goes to that LUN).
	Barriers uint64
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	return Stats{
		Reconnects:    s.stats.reconnects.Load(),
		Replayed:      s.stats.replayed.Load(),
		NotReplayed:   s.stats.notReplayed.Load(),
		DigestErrors:  s.stats.digestErrors.Load(),
		Keepalives:    s.stats.keepalives.Load(),
		Commands:      s.stats.commands.Load(),
		CommandErrors: s.stats.commandErrors.Load(),
		BytesRead:     s.stats.bytesRead.Load(),
		BytesWritten:  s.stats.bytesWritten.Load(),
		WindowStalls:  s.stats.windowStalls.Load(),
		Barriers:      s.stats.barriers.Load(),
	}
}

// lost reports that the connection of epoch failed with err. The first
// report of an epoch wins; reports of older epochs are ignored. Without
// recovery the session ends.
func (s *Session) lost(epoch uint32, err error) {
	if s.cfg.DisableRecovery || s.loggedOut.Load() {
		// Without recovery, or after a logout of the session (the target
		// closes the connection then): the end.
		s.fail(err)
		return
	}
	s.lostMu.Lock()
	if epoch != s.epoch.Load() || s.lostEpoch == epoch {
		s.lostMu.Unlock()
		return
	}
	s.lostEpoch, s.lostErr = epoch, err
	dead := s.dead
	s.lostMu.Unlock()
	close(dead)
	if c := s.cur.Load(); c != nil {
		c.Close()
	}
}

// notify reports a state change to the log and to Config.OnStateChange.
func (s *Session) notify(ev StateChange) {
	ev.Portal = s.portal
	switch ev.State {
	case StateLost:
		s.log.Warn("iscsi: connection lost", "portal", s.portal, "err", ev.Err)
	case StateReconnecting:
		s.log.Info("iscsi: reconnecting", "portal", s.portal, "attempt", ev.Attempt)
	case StateReinstated:
		s.log.Info("iscsi: session reinstated", "portal", s.portal, "tsih", s.tsih, "attempt", ev.Attempt, "replayed", ev.Replayed, "failed", ev.Failed)
	case StateGaveUp:
		s.log.Error("iscsi: recovery gave up", "portal", s.portal, "err", ev.Err)
	}
	if s.cfg.OnStateChange != nil {
		s.cfg.OnStateChange(ev)
	}
	for _, h := range s.hooks.state {
		h.OnConnState(ev)
	}
}

// supervise owns the session's connections: it waits for the end or for a
// lost connection, which it replaces. Once the session ends it fails every
// task left, exactly once.
func (s *Session) supervise() {
	for {
		select {
		case <-s.closing:
			s.shutdown()
			return
		case <-s.deadCh():
		}
		if !s.recover() {
			s.shutdown()
			return
		}
	}
}

func (s *Session) deadCh() chan struct{} {
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	return s.dead
}

// shutdown is the end: no more encoding, every registered task fails with
// the session's cause.
func (s *Session) shutdown() {
	<-s.closing
	s.loops.Wait()
	// A caller may be flushing (the combining writer): stop new encoding
	// and wait for it to leave, so that no goroutine touches a task after
	// it has been failed and handed back.
	s.wmu.Lock()
	s.wclosed = true
	s.dropHandoff() // the writer goroutine that would have finished it is gone
	for s.flushing {
		s.flushDone.Wait()
	}
	s.dropBatch()
	s.wmu.Unlock()
	s.failRegistered()
	close(s.done)
}

// endErr is the error of a task the session's end leaves unanswered, in
// state st: the session's cause, and for a command that may change the
// medium and was sent (on this connection or a lost one), that it may have
// executed. An abandoned task gets that from finish.
func (s *Session) endErr(t *task, st uint32) error {
	if t.kind == kindSCSI && t.fence && (st == stateSent || (st == stateQueued && t.replays > 0)) {
		return &InFlightError{Why: s.cause}
	}
	return s.cause
}

// recover replaces a lost connection. It returns false when the session
// ends instead (closed meanwhile, or recovery gave up: then fail was called).
func (s *Session) recover() bool {
	s.lostMu.Lock()
	cause := s.lostErr
	s.lostMu.Unlock()
	s.loops.Wait() // the reader and the writer of the dead connection are gone
	s.wmu.Lock()
	s.paused = true
	s.dropHandoff() // the writer goroutine that would have finished it is gone
	for s.flushing {
		s.flushDone.Wait()
	}
	s.dropBatch()
	s.wmu.Unlock()
	s.notify(StateChange{State: StateLost, Err: cause})

	// A connection lost again before its commands were sent again (during
	// the checks), or within stableAfter of its login (a target that drops
	// every new connection at once), continues the same recovery: same
	// deadline, same count of attempts, the backoff where it was.
	if !s.recovery.up.IsZero() && time.Since(s.recovery.up) >= stableAfter {
		s.recovery.deadline = time.Time{} // it lived: a new loss
	}
	storm := !s.recovery.up.IsZero() && !s.recovery.deadline.IsZero()
	s.recovery.up = time.Time{}
	if s.recovery.deadline.IsZero() {
		s.recovery.deadline = time.Now().Add(s.cfg.ReplacementTimeout)
		s.recovery.attempts = 0
		s.recovery.backoff = minBackoff
	}
	deadline := s.recovery.deadline
	wait := time.Duration(s.params.DefaultTime2Wait) * time.Second
	if tw := s.targetTime2Wait.Swap(0); tw > 0 {
		wait = time.Duration(tw-1) * time.Second
	}
	wait = min(wait, maxTime2Wait)
	if storm {
		wait = max(wait, s.nextBackoff())
	}
	var c *conn.Conn
	var res *loginResult
	for {
		s.recovery.attempts++
		attempt := s.recovery.attempts
		if !s.sleep(min(wait, time.Until(deadline))) {
			return false
		}
		if time.Now().After(deadline) {
			err := &RecoveryError{Cause: cause, Attempts: attempt - 1, Timeout: true}
			s.notify(StateChange{State: StateGaveUp, Err: err, Attempt: attempt - 1})
			s.fail(err)
			return false
		}
		if s.cfg.MaxReconnects > 0 && attempt > s.cfg.MaxReconnects {
			err := &RecoveryError{Cause: cause, Attempts: attempt - 1}
			s.notify(StateChange{State: StateGaveUp, Err: err, Attempt: attempt - 1})
			s.fail(err)
			return false
		}
		s.notify(StateChange{State: StateReconnecting, Attempt: attempt, Err: cause})
		var err error
		c, res, err = s.relogin(deadline, attempt)
		if err == nil {
			break
		}
		cause = err
		s.log.Info("iscsi: login attempt failed", "portal", s.portal, "attempt", attempt, "err", err)
		wait = s.nextBackoff()
	}
	s.stats.reconnects.Add(1)

	// The new connection runs; the application's commands are held back
	// until the LUNs prove to be the same devices.
	s.wmu.Lock()
	s.holding = true
	s.paused = false
	s.install(c, res)
	s.wmu.Unlock()
	select {
	case <-s.closing:
		return false
	default:
	}
	if err := s.checkUnits(deadline); err != nil {
		var dc *DeviceChangedError
		if errors.As(err, &dc) {
			s.notify(StateChange{State: StateGaveUp, Err: err})
			s.fail(err)
			return false
		}
		// The new connection failed during the check: start over.
		s.lost(s.epoch.Load(), err)
		return true
	}
	s.recovery.up = time.Now() // the recovery ends once this connection lives stableAfter
	replayed, failed := s.requeue(cause)
	s.notify(StateChange{State: StateReinstated, Replayed: replayed, Failed: failed, Attempt: s.recovery.attempts})
	return true
}

// maxReplays bounds how many times one command is sent again after lost
// connections: past it, it fails with a *ReplayLimitError.
const maxReplays = 4

// Bounds of the waits between login attempts.
const (
	maxTime2Wait = 5 * time.Second
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	// stableAfter is how long a new connection must live for its recovery
	// to be over: one lost sooner counts as a failed attempt (backoff,
	// MaxReconnects, ReplacementTimeout go on), so a target that accepts
	// logins and drops them at once gets at most one a maxBackoff.
	stableAfter = 5 * time.Second
)

// nextBackoff returns the wait before the next login attempt of the
// recovery under way: exponential with jitter, capped at maxBackoff.
func (s *Session) nextBackoff() time.Duration {
	b := s.recovery.backoff
	s.recovery.backoff = min(2*b, maxBackoff)
	return b/2 + rand.N(b/2+1)
}

// sleep waits d, or less if the session ends (then it returns false).
func (s *Session) sleep(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-s.closing:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.closing:
		return false
	}
}

// relogin connects and logs in again with the session's ISID: first with
// the old TSIH, then, if the target no longer has the session, with TSIH 0
// (session reinstatement, RFC 7143 §6.3.5).
func (s *Session) relogin(deadline time.Time, attempt int) (*conn.Conn, *loginResult, error) {
	ctx, cancel := context.WithDeadline(context.Background(), earlier(deadline, time.Now().Add(s.cfg.LoginTimeout)))
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	spec := s.spec
	spec.cmdSN = s.cmdSN
	spec.tsih = s.tsih
	// Redirections are followed as Dial follows them, at most MaxRedirects
	// per attempt; each attempt starts at the session's portal again.
	portal, redirects := s.portal, 0
	for try := 0; try < 2; {
		spec.portal = portal
		start := time.Now()
		c, err := conn.Dial(ctx, s.cfg.Dialer, portal)
		if err != nil {
			err = fmt.Errorf("iscsi: connect to %s: %w", portal, err)
			s.loginDone(portal, start, attempt, "", err)
			return nil, nil, err
		}
		if s.wantTrace() {
			c.Trace = s.trace
		}
		res, err := login(ctx, c, &spec)
		var red *redirectError
		if errors.As(err, &red) {
			s.loginDone(portal, start, attempt, red.address, nil)
			c.Close()
			if redirects >= s.cfg.MaxRedirects {
				return nil, nil, fmt.Errorf("iscsi: login to %s: %w (%d, the last to %s)", portal, ErrTooManyRedirects, redirects+1, red.address)
			}
			next, err := redirectPortal(red.address)
			if err != nil {
				return nil, nil, err
			}
			s.log.Info("iscsi: login redirected", "from", portal, "to", next, "permanent", red.permanent)
			portal = next
			redirects++
			continue
		}
		s.loginDone(portal, start, attempt, "", err)
		if err == nil {
			return c, res, nil
		}
		c.Close()
		var le *LoginError
		if spec.tsih != 0 && errors.As(err, &le) && le.Class == 2 {
			spec.tsih = 0 // the session is gone there: reinstate it
			try++
			continue
		}
		return nil, nil, err
	}
	return nil, nil, errors.New("iscsi: the target refused to reinstate the session")
}

// install makes c the session's connection and starts its reader and
// writer. Called with wmu held, with no reader or writer running.
func (s *Session) install(c *conn.Conn, res *loginResult) {
	s.c = c
	s.cur.Store(c)
	s.params = res.params
	s.tsih = res.tsih
	s.cmdSN = res.cmdSN
	s.expStatSN.Store(res.expStatSN)
	s.expCmdSN.Store(res.expCmdSN)
	s.maxCmdSN.Store(res.maxCmdSN)
	c.SetDigests(pdu.Digests{Header: res.params.HeaderDigest, Data: res.params.DataDigest})
	c.SetLimits(pdu.Limits{MaxDataSegmentLength: int(res.params.MaxRecvDataSegmentLength)})
	s.log.Debug("iscsi: logged in", "target", s.target, "portal", s.portal, "isid", s.isid, "tsih", s.tsih,
		"header_digest", res.params.HeaderDigest, "data_digest", res.params.DataDigest)
	dead := make(chan struct{})
	s.lostMu.Lock()
	epoch := s.epoch.Add(1)
	s.dead = dead
	s.lostMu.Unlock()
	s.wdeadline = time.Time{}
	s.rd.state.Store(rdLoop)
	select {
	case <-s.rd.wake:
	default:
	}
	s.loops.Add(2)
	go s.readLoop(epoch, c, dead)
	go s.writeLoop(epoch, c, dead)
	// A Close that came before the epoch was published must still stop it.
	select {
	case <-s.closing:
		c.Close()
	default:
	}
}

// requeue decides the fate of every task of the lost connection and lets
// the held commands go: SCSI commands safe to repeat go first, in their
// old order, with new ITTs; the rest fail. It returns how many of each.
func (s *Session) requeue(cause error) (replayed, failed int) {
	var all []*task
	s.tasks.each(func(t *task) { all = append(all, t) })
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var again []wreq
	var fail, worn, unverified []*task
	for _, t := range all {
		if t.epoch == s.epoch.Load() {
			continue // sent on the new connection (the checks)
		}
		switch st := t.state.Load(); {
		case st == stateQueued:
			// Never sent: it waits in pending already.
		case st == stateAbandoned:
			fail = append(fail, t)
		case st == stateSent && t.kind == kindSCSI && s.replayable(t) && t.replays >= maxReplays:
			// Lost with its connection every time it was sent: a target
			// that breaks on this command would otherwise keep it forever.
			worn = append(worn, t)
		case st == stateSent && t.kind == kindSCSI && s.replayable(t) && changesData(t) && !s.verified(t.lun):
			// Nothing proved the device the same (lunrecord.go).
			unverified = append(unverified, t)
		case st == stateSent && t.kind == kindSCSI && s.replayable(t):
			if !t.state.CompareAndSwap(stateSent, stateQueued) {
				fail = append(fail, t) // abandoned just now
				continue
			}
			t.expDataSN, t.received, t.r2tSN, t.failErr = 0, 0, 0, nil
			t.status, t.response, t.residual, t.underflow, t.overflow, t.senseLen = 0, 0, 0, false, false, 0
			t.replays++
			s.tasks.reassign(t)
			again = append(again, wreq{kind: wCommand, t: t, stall: s.stallSeq})
		case st == stateSent:
			fail = append(fail, t)
		}
	}
	// The old CmdSN order: commands that were sent keep their order.
	sortByCmdSN(again)
	s.pending = append(again, s.pending[s.head:]...)
	s.head = 0
	s.holding = false
	s.parked.Store(len(s.pending) > 0)
	for _, t := range worn {
		failed++
		s.complete(t, &ReplayLimitError{Sent: int(t.replays) + 1, Cause: cause})
	}
	for _, t := range unverified {
		failed++
		s.complete(t, &UnverifiedReplayError{LUN: scsi.LUN(t.lun), Cause: cause})
	}
	for _, t := range fail {
		switch {
		case t.state.Load() == stateAbandoned:
			s.complete(t, errReinstated)
		case t.kind == kindSCSI:
			failed++
			s.complete(t, &NotReplayedError{Cause: cause})
		default:
			s.complete(t, &closedError{cause: fmt.Errorf("connection lost: %w", cause)})
		}
	}
	replayed = len(again)
	s.stats.replayed.Add(uint64(replayed))
	s.stats.notReplayed.Add(uint64(failed))
	s.wake()
	return replayed, failed
}

func sortByCmdSN(rs []wreq) {
	// Insertion sort: the list is short and nearly sorted.
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && pdu.SNLess(rs[j].t.cmdSN, rs[j-1].t.cmdSN); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// replayable reports whether t may be sent again after a lost connection:
// the commands whose repetition changes nothing (READ, WRITE of the same
// data, VERIFY, SYNCHRONIZE CACHE, UNMAP, WRITE SAME, TEST UNIT READY,
// INQUIRY, READ CAPACITY, …), and those Config.ReplaySafe allows.
func (s *Session) replayable(t *task) bool {
	if safeToRepeat(scsi.OpCode(t.cdb[0]), t.cdb[1]) {
		return true
	}
	return s.cfg.ReplaySafe != nil && s.cfg.ReplaySafe(t.cdb[:cdbLen(t.cdb[0])])
}

func safeToRepeat(op scsi.OpCode, b1 byte) bool {
	switch op {
	case 0x08, 0x28, 0xa8, 0x88, // READ 6/10/12/16
		0x0a, 0x2a, 0xaa, 0x8a, // WRITE 6/10/12/16
		0x2e, 0xae, 0x8e, // WRITE AND VERIFY 10/12/16
		0x2f, 0xaf, 0x8f, // VERIFY 10/12/16
		0x35, 0x91, // SYNCHRONIZE CACHE 10/16
		0x34, 0x90, // PRE-FETCH 10/16
		0x42,       // UNMAP
		0x41, 0x93, // WRITE SAME 10/16
		0x00, 0x12, 0x25, 0xa0, // TEST UNIT READY, INQUIRY, READ CAPACITY(10), REPORT LUNS
		0x1a, 0x5a, 0x03: // MODE SENSE 6/10, REQUEST SENSE
		return true
	case 0x9e: // SERVICE ACTION IN(16): READ CAPACITY(16), GET LBA STATUS
		return b1&0x1f == 0x10 || b1&0x1f == 0x12
	case 0xa3: // MAINTENANCE IN: REPORT TARGET PORT GROUPS, REPORT SUPPORTED OPERATION CODES
		return b1&0x1f == 0x0a || b1&0x1f == 0x0c
	}
	return false
}

// call runs one command and waits. priority sends it ahead of the held ones.
func (s *Session) call(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, buf []byte, priority bool) (Result, error) {
	var v *iovector.Vector
	if buf != nil {
		v = iovector.New(buf)
	}
	if !priority {
		return s.Call(ctx, lun, cdb, dir, v)
	}
	return s.submit(ctx, s.commandTask(lun, cdb, dir, v, true)).Wait()
}

// commandTask is the task of a command the session builds itself (call's
// with priority, barrier's): cdb to lun, addressing no LBA (its errors
// name none), moving v (nil: no data) in direction dir, neither fenced
// nor retried on a unit attention. priority sends it ahead of the
// commands held during a reconnect. The caller may set more (barrier's
// ORDERED attribute) before submitting it.
func (s *Session) commandTask(lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector, priority bool) *task {
	t := s.getTask()
	t.kind, t.lun, t.cdb, t.vec, t.lba, t.priority = kindSCSI, uint64(lun), cdb.Array(), v, -1, priority
	if v != nil {
		t.expLen = uint32(v.Len())
	}
	t.read, t.write = dir == DirRead, dir == DirWrite
	return t
}

// checkTimeout bounds the checks of a new connection (checkUnits), at most
// LoginTimeout: a target that accepted the login but holds the checks is
// given up sooner, and a fresh login tried (a stalled connection that
// tgtd has not noticed yet behaves so).
const checkTimeout = 5 * time.Second

// checkUnits waits for the end of the old connection's writes still
// executing on the target (barrier.go), clears the unit attentions a new
// connection brings and checks that every LUN whose identity is known is
// still the same device.
func (s *Session) checkUnits(deadline time.Time) error {
	limit := min(checkTimeout, s.cfg.LoginTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), earlier(deadline, time.Now().Add(limit)))
	defer cancel()
	dead := s.deadCh() // the new connection's: its loss ends the checks at once
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-dead:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Nothing goes to a LUN where the old connection's writes may still
	// execute until the target has finished them (barrier.go).
	for _, lun := range s.staleLUNs() {
		if err := s.barrier(ctx, lun, true); err != nil {
			return err
		}
		s.stats.barriers.Add(1)
	}
	for _, r := range s.records() {
		want := r.id.Load()
		if want == nil || r.state.Load() != idKnown {
			continue // nothing to compare: its writes are not sent again (verified)
		}
		for i := 0; i < 8; i++ {
			_, err := s.call(ctx, r.lun, scsi.TestUnitReady(), DirNone, nil, true)
			if err == nil || !scsi.IsUnitAttention(err) {
				break
			}
		}
		got, err := s.readIdentity(ctx, r.lun, true)
		if err != nil {
			return err
		}
		if !got.equal(want) {
			return &DeviceChangedError{LUN: r.lun, Was: want.name(), Now: got.name()}
		}
		r.checked.Store(s.epoch.Load())
		s.geometryChanged(uint64(r.lun)) // read the geometry again: the device may have been resized
	}
	return nil
}

// quiet runs at each tick of the writer goroutine of epoch. When no PDU
// arrived for a whole interval: with nothing in flight, the connection's
// buffers go back (an idle session costs little memory); and the
// keepalive pings the target: a NOP-Out goes out, and no answer within
// NOPTimeout loses the connection.
func (s *Session) quiet(epoch uint32, c *conn.Conn, lastRx *uint64) {
	s.ensureReader()
	rx := s.rxPDUs.Load()
	if rx != *lastRx {
		*lastRx = rx
		return
	}
	if s.tasks.empty() {
		c.Slim()
		s.wmu.Lock()
		if !s.flushing && s.c == c {
			c.SlimBatches()
			if cap(s.pending) > 64 && s.head == len(s.pending) {
				s.pending, s.head = nil, 0
			}
		}
		s.wmu.Unlock()
	}
	if s.cfg.NOPInterval <= 0 {
		return
	}
	if p := s.ping.Load(); p != nil && p.state.Load() != stateDone {
		return // one ping at a time
	}
	t := s.getTask()
	t.kind, t.immediate, t.lun = kindNOP, true, s.lun
	// Set before add: the janitor may complete t from then on.
	t.stall = time.AfterFunc(s.cfg.NOPTimeout, func() {
		if t.state.Load() != stateDone {
			s.lost(epoch, fmt.Errorf("%w: no answer to a NOP-Out within %v", ErrTargetSilent, s.cfg.NOPTimeout))
		}
	})
	if err := s.tasks.add(t); err != nil {
		t.stall.Stop()
		return
	}
	s.ping.Store(t)
	s.stats.keepalives.Add(1)
	s.push(wreq{kind: wImmediate, t: t}, true)
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
