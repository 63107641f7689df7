package multipath

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/session"
)

// ErrNoPath: no path was ready (all of them recovering, failed or down)
// until the command's context ended or the Device was closed, or the
// session of every path had ended (recovery gave up) when the command
// needed one.
var ErrNoPath = errors.New("multipath: no path ready")

// ErrClosed is what commands on a closed Device get.
var ErrClosed = errors.New("multipath: device closed")

// maxFailovers bounds how often one command is taken off a failing path
// and sent again, so that flapping paths cannot hold it forever.
const maxFailovers = 16

// Config tunes a Device. The zero value (or nil) means sane defaults.
type Config struct {
	// Session is the configuration of every path's session (nil: the
	// defaults). Its ISID is ignored (each path gets its own: its own
	// I_T nexus); its OnStateChange is still called, after the Device's.
	Session *session.Config
	// Selector chooses the path of each command (default LeastQueueDepth).
	Selector Selector
	// RelativeThroughput weighs the paths for the ServiceTime selector
	// (dm-multipath's relative_throughput): element i is that of the path
	// of URL i, from 1 to 100; a path with 0 or no element has 1. A path
	// of weight 2 is given twice the bytes in flight of one of weight 1.
	// Other selectors ignore it. Dial fails on a value out of range.
	RelativeThroughput []int
	// CheckInterval is the period of the path checker (default 5 s;
	// negative disables it): it sends TEST UNIT READY to every ready path
	// that carried no command for that long and to the failed ones, and
	// dials the paths whose session ended.
	CheckInterval time.Duration
	// CheckTimeout bounds each TEST UNIT READY of the checker and each
	// redial (default 5 s).
	CheckTimeout time.Duration
	// CommandTimeout bounds each ReadAt and WriteAt, which take no
	// context, and each command of a Reader or Writer (default 30 s).
	CommandTimeout time.Duration
	// PathTimeout, when positive, bounds each attempt of a command on one
	// path: a command that takes longer is cancelled there (a READ at once,
	// a sent WRITE by ABORT TASK, as a session cancels) and moved to
	// another path under the replay rules, and the path leaves the picker
	// until the checker's TEST UNIT READY succeeds on it. Zero leaves slow
	// paths to the session's keepalive and the checker. Set it well above
	// the slowest command the LUN answers (WRITE SAME of a large range,
	// SYNCHRONIZE CACHE of a large cache).
	PathTimeout time.Duration
	// ALUATimeout bounds how long a command waits while paths are ready
	// but the port group of each is in an ALUA state that carries no I/O
	// (standby, unavailable, offline, transitioning): then it fails with a
	// *NoActivePathError (default 30 s; the command's context may end the
	// wait first).
	ALUATimeout time.Duration
	// OnPathChange, when set, is told of every change of a path's state
	// and of its ALUA state (PathChange.ALUA).
	// It runs on the goroutine that saw the change (a session's supervisor,
	// the checker): it must return quickly.
	OnPathChange func(PathChange)
}

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.CheckInterval == 0 {
		out.CheckInterval = 5 * time.Second
	}
	if out.CheckTimeout <= 0 {
		out.CheckTimeout = 5 * time.Second
	}
	if out.CommandTimeout <= 0 {
		out.CommandTimeout = 30 * time.Second
	}
	if out.ALUATimeout <= 0 {
		out.ALUATimeout = 30 * time.Second
	}
	return out
}

// Device is one LUN over several paths. It is safe for concurrent use.
type Device struct {
	cfg   Config
	paths []*path
	id    identity
	first string // the portal of the path whose identity is id
	locks blockLocks

	picker    atomic.Pointer[pickerBox]
	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every rebuild
	closed    chan struct{}
	ctx       context.Context // ends with Close: bounds the checker's work
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup // the checker, the watchers of sessions, the fencers
	bgMu      sync.Mutex
	closing   bool
	gens      atomic.Uint64
	failovers atomic.Uint64
	geometry  atomic.Pointer[session.Geometry]
	prMu      sync.Mutex
	prKey     uint64 // the key registered on every path, 0 if none
	prSet     bool   // prKey was registered (or 0 unregistered) through the Device
	alua      aluaDevice
}

type pickerBox struct {
	picker
	allDown bool // every path's session ended: no path comes back by itself
	// inaccessible: paths are ready, but every one is in an ALUA state
	// that carries no I/O.
	inaccessible bool
}

// Dial opens one session per URL (each an iSCSI URL of the same LUN
// through another portal, as session.Dial takes), checks that every LUN
// is the device the first one reached is, and returns the Device. The
// logins run in parallel, bounded by ctx.
//
// Dial succeeds when at least one path logs in. A path whose login fails
// starts PathDown (OnPathChange and Stats say why) and joins later: the
// path checker dials it again every CheckInterval (never, with the checker
// disabled), checks the device identity and registers the Device's
// persistent-reservation key before the path carries I/O. A path that
// logs in to another device fails Dial (*DifferentDeviceError): that is a
// wrong list, not a path that is down. With no path logged in, Dial
// returns the error of each.
func Dial(ctx context.Context, urls []string, cfg *Config) (*Device, error) {
	if len(urls) == 0 {
		return nil, errors.New("multipath: no URL")
	}
	if cfg != nil {
		if len(cfg.RelativeThroughput) > len(urls) {
			return nil, fmt.Errorf("multipath: %d relative throughputs for %d URLs", len(cfg.RelativeThroughput), len(urls))
		}
		for i, w := range cfg.RelativeThroughput {
			if w < 0 || w > 100 {
				return nil, fmt.Errorf("multipath: relative throughput %d of path %d: want 0 to 100", w, i)
			}
		}
	}
	d := &Device{cfg: cfg.withDefaults(), changed: make(chan struct{}), closed: make(chan struct{})}
	d.alua.kick = make(chan struct{}, 1)
	d.locks.held = map[uint64]chan struct{}{}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.picker.Store(&pickerBox{picker: noPath{}})
	for i, u := range urls {
		display, portal := fmt.Sprintf("path %d", i), ""
		if pu, err := iscsiurl.Parse(u); err == nil {
			display, portal = pu.String(), pu.Portal() // passwords redacted
		}
		weight := int64(1)
		if i < len(d.cfg.RelativeThroughput) && d.cfg.RelativeThroughput[i] > 0 {
			weight = int64(d.cfg.RelativeThroughput[i])
		}
		d.paths = append(d.paths, &path{d: d, index: i, url: u, display: display, portal: portal, attempts: map[*attempt]struct{}{}, tpgt: -1, weight: weight})
	}
	type login struct {
		s   *session.Session
		gen uint64
		id  identity
		err error
	}
	logins := make([]login, len(d.paths))
	var wg sync.WaitGroup
	for i, p := range d.paths {
		logins[i].gen = d.gens.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &logins[i]
			l.s, l.err = d.dial(ctx, p, l.gen, nil)
			if l.err != nil {
				return
			}
			id, err := readIdentity(ctx, l.s.DefaultUnit())
			if err != nil {
				l.err = fmt.Errorf("multipath: path %d (%s): reading the device identity: %w", i, l.s.Portal(), err)
				l.s.Close()
				l.s = nil
			}
			l.id = id
		}()
	}
	wg.Wait()
	fail := func(err error) (*Device, error) {
		for _, l := range logins {
			if l.s != nil {
				l.s.Close()
			}
		}
		d.Close()
		return nil, err
	}
	var errs []error
	for i, l := range logins {
		p := d.paths[i]
		switch {
		case l.err != nil:
			errs = append(errs, l.err)
		case d.first == "":
			if l.id.empty() {
				return fail(fmt.Errorf("%w (path %s)", ErrUnidentified, l.s.Portal()))
			}
			d.id, d.first = l.id, l.s.Portal()
		case !l.id.equal(d.id):
			return fail(d.differs(l.s, l.id))
		}
		if l.err != nil {
			p.transition(0, PathDown, l.err)
			continue
		}
		p.install(l.s, l.gen, l.id.port)
		p.transition(0, PathReady, nil)
		logins[i].s = nil // the path's now: Close closes it
	}
	if d.first == "" {
		return fail(errors.Join(errs...))
	}
	if err := d.startALUA(ctx); err != nil {
		d.Close()
		return nil, err
	}
	if d.cfg.CheckInterval > 0 {
		d.background(d.checker)
	}
	return d, nil
}

func (d *Device) differs(s *session.Session, id identity) error {
	return &DifferentDeviceError{
		Path: s.Portal(), First: d.first,
		Serial: id.serial, FirstSerial: d.id.serial,
		Designator: id.designators(), FirstDesign: d.id.designators(),
	}
}

// dial opens a session for p, generation gen; isid, when not nil, is the
// ISID of the path's ended session (the login then reinstates it).
func (d *Device) dial(ctx context.Context, p *path, gen uint64, isid *[6]byte) (*session.Session, error) {
	var sc session.Config
	if d.cfg.Session != nil {
		sc = *d.cfg.Session
	}
	sc.ISID = [6]byte{}
	if isid != nil {
		sc.ISID = *isid
	}
	sc.Hooks = append(append([]session.Hook(nil), sc.Hooks...), senseWatch{p})
	user := sc.OnStateChange
	sc.OnStateChange = func(ev session.StateChange) {
		p.onState(gen, ev)
		if user != nil {
			user(ev)
		}
	}
	s, err := session.Dial(ctx, p.url, &sc)
	if err != nil {
		return nil, fmt.Errorf("multipath: path %d: %w", p.index, err)
	}
	return s, nil
}

// rebuild builds a new picker from the ready paths and wakes the commands
// that wait for one.
func (d *Device) rebuild() {
	d.mu.Lock()
	defer d.mu.Unlock()
	// By ALUA rank: optimized (preferred group first), non-optimized
	// (preferred group first), none.
	var ranks [5][]*path
	down := 0
	on := d.alua.on.Load()
	for _, p := range d.paths {
		p.mu.Lock()
		switch p.state {
		case PathReady:
			r := p.alua.rank(on)
			if p.prPending {
				r = 4
			}
			ranks[r] = append(ranks[r], p)
		case PathDown:
			down++
		}
		p.mu.Unlock()
	}
	var ready []*path
	for _, r := range ranks[:4] {
		if len(r) > 0 {
			ready = r
			break
		}
	}
	d.picker.Store(&pickerBox{buildPicker(d.cfg.Selector, ready), down == len(d.paths), len(ready) == 0 && len(ranks[4]) > 0})
	close(d.changed)
	d.changed = make(chan struct{})
}

// pathFor picks a ready path, waiting for one while none is, and at most
// ALUATimeout while the ready ones are all in ALUA states that carry no
// I/O.
func (d *Device) pathFor(ctx context.Context, size int64) (*path, error) {
	var since time.Time
	var timer *time.Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		d.mu.Lock()
		changed := d.changed
		d.mu.Unlock()
		pk := d.picker.Load()
		if p := pk.pick(size); p != nil {
			return p, nil
		}
		if pk.allDown {
			// As a session fails its commands when its recovery gives
			// up: the checker may still bring a path back, for the
			// commands that come later.
			return nil, fmt.Errorf("%w: the session of every path ended", ErrNoPath)
		}
		if pk.inaccessible && timer == nil {
			since = time.Now()
			timer = time.NewTimer(d.cfg.ALUATimeout)
			expired = timer.C
			d.kickALUA()
		}
		select {
		case <-expired:
			if d.picker.Load().inaccessible {
				return nil, d.noActivePath(time.Since(since))
			}
			timer, expired = nil, nil // the paths are not ready: their sessions' own bounds apply
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNoPath, context.Cause(ctx))
		case <-d.closed:
			return nil, fmt.Errorf("%w: %w", ErrNoPath, ErrClosed)
		}
	}
}

// run sends one command and waits for its outcome: see start.
func (d *Device) run(ctx context.Context, cdb []byte, size int64, op func(context.Context, *session.LogicalUnit, session.Done)) (session.Result, error) {
	return d.newCommand(ctx, cdb, size, op).run()
}

// fenced reports whether the target ended the command (nothing of it
// executes any more).
func fenced(err error) bool {
	return errors.Is(err, session.ErrAborted) || errors.Is(err, session.ErrLUNReset)
}

// Stats are the Device's counters.
type Stats struct {
	Selector  Selector
	Failovers uint64 // commands sent again on another path
	// ALUA says the target reports asymmetric access (TPGS and REPORT
	// TARGET PORT GROUPS); ALUAReads counts the reads of the port groups.
	ALUA      bool
	ALUAReads uint64
	Paths     []PathStats
}

// Stats returns the Device's counters, per path.
func (d *Device) Stats() Stats {
	st := Stats{Selector: d.cfg.Selector, Failovers: d.failovers.Load(), ALUA: d.alua.on.Load(), ALUAReads: d.alua.reads.Load()}
	for _, p := range d.paths {
		st.Paths = append(st.Paths, p.stats())
	}
	return st
}

// Close closes every path's session at once (see session.Session.Close:
// writes in flight may still land). Commands waiting for a path fail.
func (d *Device) Close() error {
	d.shut()
	for _, p := range d.paths {
		if s, _, _ := p.session(); s != nil {
			s.Close()
		}
	}
	return nil
}

// Logout logs every path's session out (waiting for their commands,
// bounded by ctx), then closes the Device. It returns the first error.
func (d *Device) Logout(ctx context.Context) error {
	d.shut()
	var first error
	for _, p := range d.paths {
		if s, _, st := p.session(); s != nil && st != PathDown {
			if err := s.Logout(ctx); err != nil && first == nil {
				first = err
			}
		}
	}
	d.Close()
	return first
}

// shut stops the background work: after it, no session is installed.
func (d *Device) shut() {
	d.closeOnce.Do(func() {
		d.bgMu.Lock()
		d.closing = true
		d.bgMu.Unlock()
		close(d.closed)
		d.cancel()
	})
	d.wg.Wait()
}
