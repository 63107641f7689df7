package multipath

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/session"
)

// PathState is the state of one path.
type PathState uint8

// Path states.
const (
	// PathReady: the path carries I/O.
	PathReady PathState = iota + 1
	// PathRecovering: the path's session lost its connection and is
	// logging in again (docs/RELIABILITY.md); its commands were moved.
	PathRecovering
	// PathFailed: the path checker's TEST UNIT READY failed; the checker
	// tries again and puts the path back when it succeeds.
	PathFailed
	// PathDown: the path's session ended (recovery gave up); the checker
	// dials it again, with the same ISID so that the target ends what the
	// old session left, and checks that it reaches the same device.
	PathDown
)

func (s PathState) String() string {
	switch s {
	case PathReady:
		return "ready"
	case PathRecovering:
		return "recovering"
	case PathFailed:
		return "failed"
	case PathDown:
		return "down"
	}
	return fmt.Sprintf("PathState(%d)", uint8(s))
}

// PathChange is what Config.OnPathChange receives.
type PathChange struct {
	Path   int    // index in the URLs given to Dial
	URL    string // as given (it may hold CHAP credentials: do not log it)
	Portal string
	State  PathState
	Err    error // why the path left PathReady, when known
	// ALUA is the asymmetric access of the path's port. A change of it
	// alone (State unchanged) is reported too.
	ALUA PathALUA
}

// errPathFailed is the cause with which a path's attempts are cancelled
// when its connection is lost: the multipath layer takes them back.
var errPathFailed = errors.New("multipath: path failed")

type path struct {
	d       *Device
	index   int
	url     string // as given, credentials included: only for dialing
	display string // url with passwords redacted
	portal  string
	weight  int64 // relative throughput, for ServiceTime (at least 1)

	inflight  atomic.Int64
	bytes     atomic.Int64 // moved by the commands in flight
	lastUse   atomic.Int64 // UnixNano of the last command started
	commands  atomic.Uint64
	errs      atomic.Uint64
	failovers atomic.Uint64 // commands taken off this path and sent again
	refused   atomic.Uint64 // commands its port refused for its ALUA state, sent again

	mu       sync.Mutex
	state    PathState
	sess     *session.Session
	unit     *session.LogicalUnit
	isid     pdu.ISID
	gen      uint64
	attempts map[*attempt]struct{}
	fence    *fence // of the commands sent since the path last became ready
	tpgt     int    // the target portal group of the session's portal, -1 if unknown
	fenced   uint64 // times the lost session was fenced through another path
	lastErr  error
	old      session.Stats // counters of the sessions this path had before
	port     portInfo      // from VPD 0x83
	alua     PathALUA
	// refusedAt: when its port last refused a command for its ALUA state.
	refusedAt time.Time
	// prPending: the Device's reservation key is to be registered on the
	// path before it carries I/O (its port refused the registration).
	prPending bool
}

type attempt struct {
	size   int64
	stop   context.CancelFunc // ends the attempt's context
	why    atomic.Int32       // why we cancelled it first: whyNone, whyFailed, whyTimeout
	fence  *fence
	portal string
}

// The reasons for which an attempt is cancelled (attempt.why).
const (
	whyNone int32 = iota
	whyFailed
	whyTimeout
)

// cancel ends the attempt's context; why (errPathFailed, errPathTimeout or
// nil) is its cause when it is the first.
func (a *attempt) cancel(why error) {
	switch why {
	case errPathFailed:
		a.why.CompareAndSwap(whyNone, whyFailed)
	case errPathTimeout:
		a.why.CompareAndSwap(whyNone, whyTimeout)
	}
	a.stop()
}

// cause is why the attempt was cancelled by its path (errPathFailed,
// errPathTimeout), or nil. What else ended its context (the caller's
// context, the deadline) is the command's bound's business.
func (a *attempt) cause() error {
	switch a.why.Load() {
	case whyFailed:
		return errPathFailed
	case whyTimeout:
		return errPathTimeout
	}
	return nil
}

// fence is closed when the target has ended every command that a lost
// session of the path had sent: another path logged in with its ISID
// (see Device.fenceThrough). The attempts that may write watch it
// (watch): close calls their fenced, without a goroutine per attempt.
type fence struct {
	mu      sync.Mutex
	closed  bool
	waiters map[*try]struct{}
}

func newFence() *fence { return &fence{waiters: map[*try]struct{}{}} }

// watch registers t, to be told when the fence closes; false when it is
// closed already.
func (f *fence) watch(t *try) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.waiters[t] = struct{}{}
	t.c.refs.Add(1) // the fence's, dropped by unwatch or close
	return true
}

// unwatch takes t off the fence; true when it was on it (the caller then
// drops the fence's reference to t's command).
func (f *fence) unwatch(t *try) bool {
	f.mu.Lock()
	_, ok := f.waiters[t]
	delete(f.waiters, t)
	f.mu.Unlock()
	return ok
}

// close closes the fence and tells the attempts that watch it, on this
// goroutine.
func (f *fence) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	ws := f.waiters
	f.waiters = nil
	f.mu.Unlock()
	for t := range ws {
		c := t.c
		t.fenced()
		c.release()
	}
}

// begin registers a command on the path, within b: its context is b's
// with b's deadline, one context for both; ok is false when the path is
// no longer ready.
func (p *path) begin(b bound, size int64) (actx context.Context, a *attempt, u *session.LogicalUnit, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != PathReady {
		return nil, nil, nil, false
	}
	var stop context.CancelFunc
	if b.deadline.IsZero() {
		actx, stop = context.WithCancel(b.ctx)
	} else {
		actx, stop = context.WithDeadline(b.ctx, b.deadline)
	}
	a = &attempt{size: size, stop: stop, fence: p.fence, portal: p.portal}
	p.attempts[a] = struct{}{}
	p.inflight.Add(1)
	p.bytes.Add(size)
	p.lastUse.Store(time.Now().UnixNano())
	return actx, a, p.unit, true
}

func (p *path) end(a *attempt, err error) {
	p.mu.Lock()
	delete(p.attempts, a)
	p.mu.Unlock()
	p.inflight.Add(-1)
	p.bytes.Add(-a.size)
	p.commands.Add(1)
	if err != nil {
		p.errs.Add(1)
	}
	a.cancel(nil)
}

// transition moves the path from one of the states in from (any state if
// from is empty) to to, for the session of generation gen (0: any). When
// the path leaves PathReady because its connection was lost or its session
// ended, its commands are cancelled with errPathFailed: run sends them
// again elsewhere under the replay rules.
func (p *path) transition(gen uint64, to PathState, why error, from ...PathState) bool {
	p.mu.Lock()
	if gen != 0 && gen != p.gen || p.state == to || !in(p.state, from) {
		p.mu.Unlock()
		return false
	}
	p.state = to
	if why != nil {
		p.lastErr = why
	}
	var cancel []*attempt
	if to == PathRecovering || to == PathDown {
		for a := range p.attempts {
			cancel = append(cancel, a)
		}
	}
	lostFence, gen0 := p.fence, p.gen
	if to == PathReady {
		p.fence = newFence()
	}
	portal := p.portal
	p.mu.Unlock()
	for _, a := range cancel {
		a.cancel(errPathFailed)
	}
	// Fence even with nothing of ours in flight: bytes the network still
	// holds toward the lost connection (the ABORT TASK of a command that
	// timed out, a LOGICAL UNIT RESET) would otherwise reach the target
	// if it still has that connection open, and a reset there ends the
	// commands of every path.
	if to == PathRecovering && lostFence != nil {
		p.d.background(func() { p.d.fenceThrough(p, gen0, lostFence) })
	}
	p.d.rebuild()
	if fn := p.d.cfg.OnPathChange; fn != nil {
		p.mu.Lock()
		a := p.alua
		p.mu.Unlock()
		fn(PathChange{Path: p.index, URL: p.display, Portal: portal, State: to, Err: why, ALUA: a})
	}
	return true
}

func in(s PathState, set []PathState) bool {
	if len(set) == 0 {
		return true
	}
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// onState is the path's session's Config.OnStateChange.
func (p *path) onState(gen uint64, ev session.StateChange) {
	switch ev.State {
	case session.StateLost:
		p.transition(gen, PathRecovering, ev.Err)
	case session.StateReinstated:
		p.transition(gen, PathReady, nil, PathRecovering)
	}
}

// install makes s the path's session (a new generation) and watches its end.
func (p *path) install(s *session.Session, gen uint64, port portInfo) {
	p.mu.Lock()
	if port != p.port {
		p.port = port
		p.alua = PathALUA{RelativePort: port.rel}
		p.d.kickALUA()
	}
	if p.sess != nil {
		p.old = p.old.Add(p.sess.Stats())
	}
	p.sess, p.unit, p.isid, p.gen = s, s.DefaultUnit(), s.ISID(), gen
	p.portal = s.Portal()
	p.tpgt = -1
	if prm := s.Params(); prm.HasTargetPortalGroupTag {
		p.tpgt = int(prm.TargetPortalGroupTag)
	}
	p.mu.Unlock()
	p.d.background(func() {
		select {
		case <-s.Done():
			p.transition(gen, PathDown, s.Err())
		case <-p.d.closed:
		}
	})
}

func (p *path) session() (*session.Session, *session.LogicalUnit, PathState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sess, p.unit, p.state
}

// PathStats are the counters of one path.
type PathStats struct {
	URL, Portal string // the URL with any password redacted
	State       PathState
	LastErr     error // why the path last left PathReady
	InFlight    int64
	// InFlightBytes are the bytes the commands in flight move (what the
	// ServiceTime selector weighs).
	InFlightBytes int64
	Commands      uint64 // commands that ended on this path
	Errors        uint64 // of them, those that ended with an error
	Failovers     uint64 // commands taken off this path (its connection lost) and sent again
	// Refused counts the commands the path's port refused for its ALUA
	// state (NOT READY: not executed), sent again on another path.
	Refused uint64
	// ALUA is the asymmetric access of the path's port.
	ALUA PathALUA
	// PRPending: the Device's persistent reservation key could not be
	// registered on the path (its port was unavailable or in transition);
	// the path carries no I/O until it is.
	PRPending bool
	// Fenced counts the losses of this path's connection after which
	// another path ended its commands on the target at once (by logging in
	// with its ISID) instead of waiting for its own reconnect.
	Fenced uint64
	// Session sums the counters of the path's sessions (reconnects,
	// replays, bytes, ...), the ones it had before a redial included.
	Session session.Stats
}

func (p *path) stats() PathStats {
	p.mu.Lock()
	st := PathStats{URL: p.display, Portal: p.portal, State: p.state, LastErr: p.lastErr, Session: p.old, Fenced: p.fenced, ALUA: p.alua, PRPending: p.prPending}
	if p.sess != nil {
		st.Session = st.Session.Add(p.sess.Stats())
	}
	p.mu.Unlock()
	st.InFlight = p.inflight.Load()
	st.InFlightBytes = p.bytes.Load()
	st.Commands = p.commands.Load()
	st.Errors = p.errs.Load()
	st.Failovers = p.failovers.Load()
	st.Refused = p.refused.Load()
	return st
}
