package multipath

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Asymmetric logical unit access (ALUA, SPC-4 5.16). A target that reports
// TPGS in its standard INQUIRY data and answers REPORT TARGET PORT GROUPS
// puts each path's port in a target port group with an access state; the
// Device sends commands only to paths whose group is active/optimized,
// uses active/non-optimized ones only while no optimized path is ready,
// and never uses standby, unavailable, offline or transitioning ones. A
// target that does not (tgtd) leaves every path equal.
//
// The states are read at Dial, on every check of the path checker, when a
// session reports ASYMMETRIC ACCESS STATE CHANGED or a NOT READY sense of
// an ALUA state (SenseHook), and every aluaPoll while no path is usable.

// aluaPoll is how often the states are read again while every ready path
// is in a state that carries no I/O.
const aluaPoll = 250 * time.Millisecond

// PathALUA is what is known of the asymmetric access of a path's port.
type PathALUA struct {
	// Known: the target reports ALUA and the path's port is in one of
	// the groups REPORT TARGET PORT GROUPS returned.
	Known bool
	// RelativePort is the RELATIVE TARGET PORT IDENTIFIER of the path's
	// port (VPD page 0x83; 0 when not reported).
	RelativePort uint16
	// Group is the target port group of the port and State its access
	// state.
	Group uint16
	State scsi.ALUAState
	// Preferred is the PREF bit of the group: the target prefers it to
	// the groups in the same state (see rank).
	Preferred bool
}

func (a PathALUA) String() string {
	if !a.Known {
		return "ALUA unknown"
	}
	if a.Preferred {
		return fmt.Sprintf("port %d group %d %v preferred", a.RelativePort, a.Group, a.State)
	}
	return fmt.Sprintf("port %d group %d %v", a.RelativePort, a.Group, a.State)
}

// tier ranks a path for the picker: 0 preferred (active/optimized, or
// every path when the target has no ALUA), 1 used only without a path of
// tier 0 (active/non-optimized, logical block dependent, a port the report
// does not name), 2 never (standby, unavailable, offline, transitioning).
func (a PathALUA) tier(on bool) int {
	switch {
	case !on:
		return 0
	case !a.Known:
		return 1
	}
	switch a.State {
	case scsi.ALUAActiveOptimized:
		return 0
	case scsi.ALUAActiveNonOptimized, scsi.ALUALBADependent:
		return 1
	}
	return 2
}

// rank orders the paths for the picker within their tier: the paths of a
// group with the PREF bit before the others of the same tier (0 and 1
// tier 0, 2 and 3 tier 1), never before a better tier; 4 is never used.
// dm-multipath's alua prioritizer gives PREF a bonus as well; here it
// orders groups only within a state, so that a preferred non-optimized
// group never takes the I/O from an optimized one.
func (a PathALUA) rank(on bool) int {
	t := a.tier(on)
	switch {
	case t == 2:
		return 4
	case a.Preferred && on:
		return 2 * t
	}
	return 2*t + 1
}

// NoActivePathError is what a command gets when paths were ready (their
// sessions logged in) but the port group of each was in a state that
// carries no I/O (standby, unavailable, offline, transitioning) for
// Config.ALUATimeout. It matches ErrNoPath.
type NoActivePathError struct {
	Waited time.Duration
	Paths  []PathALUA // what was known of each path when the command gave up
}

func (e *NoActivePathError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "multipath: no path in an active ALUA state for %v:", e.Waited.Round(time.Millisecond))
	for i, a := range e.Paths {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " path %d %v", i, a)
	}
	return b.String()
}

// Is matches ErrNoPath.
func (e *NoActivePathError) Is(target error) bool { return target == ErrNoPath }

// aluaDevice is the Device's ALUA state.
type aluaDevice struct {
	on       atomic.Bool   // the target reports ALUA (TPGS) and has not refused RTPG
	explicit bool          // TPGS says it takes SET TARGET PORT GROUPS (set at Dial)
	kick     chan struct{} // asks the watcher for a read of the states (buffered, 1)

	mu        sync.Mutex // serializes reads of the states
	lastStart time.Time  // start of the last read that completed
	reads     atomic.Uint64
}

// aluaRefusal reports whether err is a NOT READY with an ALUA state: the
// command was not executed because of the port's state, which the sense
// tells.
func aluaRefusal(err error) (scsi.ALUAState, bool) {
	var se *scsi.StatusError
	if !errors.As(err, &se) || se.Sense == nil {
		return 0, false
	}
	return senseState(*se.Sense)
}

func senseState(sd scsi.Sense) (scsi.ALUAState, bool) {
	if sd.Key != scsi.SenseNotReady {
		return 0, false
	}
	switch sd.ASC {
	case scsi.ASCNotReadyTargetPortStandby:
		return scsi.ALUAStandby, true
	case scsi.ASCNotReadyTargetPortUnavail:
		return scsi.ALUAUnavailable, true
	case scsi.ASCNotReadyTargetPortTransit:
		return scsi.ALUATransitioning, true
	}
	return 0, false
}

// aluaChanged reports whether err is the unit attention ASYMMETRIC ACCESS
// STATE CHANGED (the command was not executed).
func aluaChanged(err error) bool {
	var se *scsi.StatusError
	return errors.As(err, &se) && se.Sense != nil && changedSense(*se.Sense)
}

func changedSense(sd scsi.Sense) bool {
	return sd.Key == scsi.SenseUnitAttention && (sd.ASC == scsi.ASCAsymmetricAccessChanged || sd.ASC == 0x2a07) // 2A/07: implicit transition failed
}

// senseWatch is the SenseHook of a path's sessions.
type senseWatch struct{ p *path }

func (w senseWatch) OnSense(ev session.SenseEvent) {
	d := w.p.d
	if !d.alua.on.Load() {
		return
	}
	if st, ok := senseState(ev.Parsed); ok {
		w.p.refusedBy(st)
		d.kickALUA()
	} else if changedSense(ev.Parsed) {
		d.kickALUA()
	}
}

// refusedBy records that the path's port refused a command for its state
// (until the next read of the states says otherwise).
func (p *path) refusedBy(st scsi.ALUAState) {
	p.mu.Lock()
	a := p.alua
	a.Known, a.State = true, st
	changed := a != p.alua
	p.alua = a
	p.refusedAt = time.Now()
	p.mu.Unlock()
	if changed {
		p.d.rebuild()
		p.d.aluaChange(p, a)
	}
}

func (d *Device) aluaChange(p *path, a PathALUA) {
	if fn := d.cfg.OnPathChange; fn != nil {
		p.mu.Lock()
		c := PathChange{Path: p.index, URL: p.display, Portal: p.portal, State: p.state, ALUA: a}
		p.mu.Unlock()
		fn(c)
	}
}

func (d *Device) kickALUA() {
	select {
	case d.alua.kick <- struct{}{}:
	default:
	}
}

// startALUA reads the standard INQUIRY data of the first path and, when
// it reports TPGS, the port groups; a target that refuses REPORT TARGET
// PORT GROUPS is taken for one without ALUA.
func (d *Device) startALUA(ctx context.Context) error {
	// The first path that logged in (a path whose login failed at Dial
	// has no session yet), ready if one is.
	var u *session.LogicalUnit
	index := 0
	for i, p := range d.paths {
		_, pu, st := p.session()
		if pu != nil && (u == nil || st == PathReady) {
			u, index = pu, i
			if st == PathReady {
				break
			}
		}
	}
	inq, err := u.Inquiry(ctx)
	if err != nil {
		var se *scsi.StatusError
		if errors.As(err, &se) {
			return nil // no INQUIRY data, no ALUA
		}
		return fmt.Errorf("multipath: path %d: standard INQUIRY: %w", index, err)
	}
	if inq.TPGS == 0 {
		return nil
	}
	d.alua.explicit = inq.TPGS&2 != 0
	d.alua.on.Store(true)
	d.refreshALUA(ctx, time.Now())
	if d.alua.on.Load() {
		d.background(d.aluaWatcher)
	}
	return nil
}

// aluaWatcher reads the states when asked (kickALUA) and every aluaPoll
// while no ready path is usable.
func (d *Device) aluaWatcher() {
	t := time.NewTicker(aluaPoll)
	defer t.Stop()
	for d.alua.on.Load() {
		select {
		case <-d.closed:
			return
		case <-d.alua.kick:
		case <-t.C:
			if !d.picker.Load().inaccessible {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.CheckTimeout)
		d.refreshALUA(ctx, time.Now())
		cancel()
	}
}

// refreshALUA reads the port groups through a ready path (any state
// answers REPORT TARGET PORT GROUPS) and applies them to every path,
// unless a read that started after asked has completed meanwhile.
func (d *Device) refreshALUA(ctx context.Context, asked time.Time) {
	a := &d.alua
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.on.Load() || a.lastStart.After(asked) {
		return
	}
	start := time.Now()
	var groups scsi.TargetPortGroups
	var err error
	read := false
	for _, p := range d.paths {
		_, u, st := p.session()
		if u == nil || st != PathReady && st != PathFailed {
			continue
		}
		groups, err = u.ReportTargetPortGroups(ctx)
		var se *scsi.StatusError
		if err == nil {
			read = true
			break
		}
		if _, notReady := aluaRefusal(err); errors.As(err, &se) && !notReady && !scsi.IsUnitAttention(err) {
			// ILLEGAL REQUEST and the like: no ALUA after all.
			a.on.Store(false)
			d.forgetALUA()
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
	if !read {
		return
	}
	a.lastStart = start
	a.reads.Add(1)
	d.applyALUA(groups, start)
}

// applyALUA gives each path the group and state of its port, except to a
// path whose port refused a command for its state after the report was
// asked for: the report may be older than the refusal, and the refusal is
// followed by another read.
func (d *Device) applyALUA(g scsi.TargetPortGroups, asked time.Time) {
	type change struct {
		p *path
		a PathALUA
	}
	var changes []change
	for _, p := range d.paths {
		p.mu.Lock()
		if p.refusedAt.After(asked) {
			p.mu.Unlock()
			continue
		}
		a := PathALUA{RelativePort: p.port.rel}
		for _, tpg := range g.Groups {
			match := p.port.hasGroup && tpg.ID == p.port.group
			if !p.port.hasGroup && p.port.hasRel {
				for _, r := range tpg.Ports {
					match = match || r == p.port.rel
				}
			}
			if match {
				a.Known, a.Group, a.State, a.Preferred = true, tpg.ID, tpg.State, tpg.Pref
				break
			}
		}
		if a != p.alua {
			p.alua = a
			changes = append(changes, change{p, a})
		}
		p.mu.Unlock()
	}
	if len(changes) == 0 {
		return
	}
	d.rebuild()
	on := d.alua.on.Load()
	for _, c := range changes {
		d.aluaChange(c.p, c.a)
		if c.a.tier(on) < 2 && c.p.prPendingNow() {
			p := c.p
			d.background(func() {
				ctx, cancel := context.WithTimeout(d.ctx, d.cfg.CheckTimeout)
				defer cancel()
				d.registerPending(ctx, p)
			})
		}
	}
}

// ErrNoExplicitALUA is what SetTargetPortGroups returns when the target
// does not take explicit transitions: its standard INQUIRY data reports
// no explicit asymmetric access (TPGS 10b or 11b), or it refused REPORT
// TARGET PORT GROUPS.
var ErrNoExplicitALUA = errors.New("multipath: the target takes no explicit ALUA transitions (SET TARGET PORT GROUPS)")

// SetTargetPortGroups asks the target for an explicit transition (SET
// TARGET PORT GROUPS, SPC-4): each target port group of sets to its state
// (active/optimized, active/non-optimized, standby, unavailable), all or
// none. It is sent through one ready path, one of an active group if
// there is one (a port in transition refuses it: then the next), and the
// states are read again before it returns, so that the next command goes
// where they now say. A target refusing the transition answers CHECK
// CONDITION (a *scsi.StatusError). Without explicit ALUA it returns
// ErrNoExplicitALUA and sends nothing.
func (d *Device) SetTargetPortGroups(ctx context.Context, sets ...scsi.TargetPortGroupSet) error {
	if !d.alua.explicit || !d.alua.on.Load() {
		return ErrNoExplicitALUA
	}
	param := scsi.AppendSetTargetPortGroups(nil, sets)
	cdb := scsi.SetTargetPortGroups(uint32(len(param)))
	on := d.alua.on.Load()
	var tried []error
	for tier := range 3 {
		for _, p := range d.paths {
			_, u, st := p.session()
			p.mu.Lock()
			t := p.alua.tier(on)
			p.mu.Unlock()
			if u == nil || st != PathReady || t != tier {
				continue
			}
			_, err := u.Call(ctx, cdb, session.DirWrite, iovector.New(param))
			if scsi.IsUnitAttention(err) {
				// Not executed: a change, a reset. Once more.
				_, err = u.Call(ctx, cdb, session.DirWrite, iovector.New(param))
			}
			if err == nil {
				// A read that starts after the answer sees the new
				// states; one that started before may not.
				d.refreshALUA(ctx, time.Now())
				return nil
			}
			if ctx.Err() != nil {
				return err
			}
			var se *scsi.StatusError
			if _, refused := aluaRefusal(err); errors.As(err, &se) && !refused && !scsi.IsUnitAttention(err) {
				return fmt.Errorf("multipath: SET TARGET PORT GROUPS through path %d: %w", p.index, err)
			}
			// Its port in transition, a unit attention, or its
			// connection lost: the next path.
			tried = append(tried, fmt.Errorf("path %d: %w", p.index, err))
		}
	}
	if len(tried) == 0 {
		return fmt.Errorf("multipath: SET TARGET PORT GROUPS: %w", ErrNoPath)
	}
	return fmt.Errorf("multipath: SET TARGET PORT GROUPS: %w", errors.Join(tried...))
}

// forgetALUA makes every path equal again (the target refused RTPG).
func (d *Device) forgetALUA() {
	for _, p := range d.paths {
		p.mu.Lock()
		p.alua = PathALUA{RelativePort: p.port.rel}
		p.mu.Unlock()
	}
	d.rebuild()
}

// noActivePath is the error of a command that waited ALUATimeout for a
// usable path.
func (d *Device) noActivePath(waited time.Duration) error {
	e := &NoActivePathError{Waited: waited}
	for _, p := range d.paths {
		p.mu.Lock()
		e.Paths = append(e.Paths, p.alua)
		p.mu.Unlock()
	}
	return e
}
