package conformance

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/session"
)

// libiscsi's default initiator names, so that a target's ACL written for
// libiscsi's iscsi-test-cu admits this suite too.
const (
	DefaultInitiatorName  = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test"
	DefaultInitiatorName2 = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2"
)

// DefaultCommandTimeout is Options.CommandTimeout's default.
const DefaultCommandTimeout = 10 * time.Second

// Options tune a run. The zero value runs every test that neither writes
// nor sanitizes, under libiscsi's initiator names.
type Options struct {
	// Tests selects the tests to run (see Select); "" means ALL.
	Tests string
	// InitiatorName and InitiatorName2 name the two initiators; "" means
	// DefaultInitiatorName and DefaultInitiatorName2.
	InitiatorName, InitiatorName2 string
	// DataLoss allows the tests that write to the unit (libiscsi's
	// --dataloss); AllowSanitize the SANITIZE tests (--allow-sanitize).
	DataLoss      bool
	AllowSanitize bool
	// MultipathURL is a second path to the same unit, for MultipathIO.
	MultipathURL string
	// Skip names tests (as "ALL.Suite.Test") to report as skipped, with
	// the reason given, without running them: a target's known
	// differences, stated where its test calls TestTarget.
	Skip map[string]string
	// Config is the base of every session's configuration (credentials,
	// digests, a dialer; the bare connections of the iSCSI-level tests use
	// its credentials and dialer too). The initiator name is set by the
	// suite, an ISID given is replaced by a fresh one for each session, a
	// zero ReplacementTimeout is 10 s and a zero AbortTimeout 5 s. Nil
	// means defaults.
	Config *session.Config
	// CommandTimeout bounds the wait for each command a test sends (zero
	// means DefaultCommandTimeout). A command the target never answers
	// (istgt drops some it refuses) fails its test, saying so; the session
	// aborts the task and, if the target does not answer that either,
	// reconnects, and the next test starts on a live session.
	CommandTimeout time.Duration
	// StopOnSetupError ends Run at a suite whose sessions cannot log in
	// (libiscsi's -f and -A); by default that suite's tests fail and the
	// run goes on (-g).
	StopOnSetupError bool
	// Progress, when set, is told of the run as it goes (the CLI prints
	// libiscsi's lines from it). It is called from the running goroutine.
	Progress func(Event)
}

// EventKind says what an Event reports.
type EventKind uint8

// Kinds of Event.
const (
	SuiteStart EventKind = iota + 1 // Suite begins
	TestStart                       // Test begins
	TestLog                         // Line is a [SKIPPED] or [FAILED] line of Test, as it happens
	TestEnd                         // Result is Test's
)

// Event is one step of a run, for Options.Progress.
type Event struct {
	Kind   EventKind
	Suite  string
	Test   Test
	Line   string
	Result Result
}

// Verdict is the outcome of one test.
type Verdict uint8

// Verdicts. libiscsi counts a skipped test as passed and says [SKIPPED].
const (
	Passed Verdict = iota
	Failed
	Skipped
)

func (v Verdict) String() string {
	switch v {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	case Skipped:
		return "skipped"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Result is one test's outcome.
type Result struct {
	Test    Test
	Verdict Verdict
	// Reason is why it was skipped, or every failure, one per line (with
	// the CDB, status, sense and clause).
	Reason   string
	Log      []string
	Duration time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Results  []Result
	Duration time.Duration
}

// Count returns how many results have verdict v.
func (r *Report) Count(v Verdict) int {
	n := 0
	for _, x := range r.Results {
		if x.Verdict == v {
			n++
		}
	}
	return n
}

// String sums the report up in one line.
func (r *Report) String() string {
	return fmt.Sprintf("%d tests: %d passed, %d failed, %d skipped in %v",
		len(r.Results), r.Count(Passed), r.Count(Failed), r.Count(Skipped), r.Duration.Round(time.Millisecond))
}

func (o *Options) withDefaults() *Options {
	c := Options{}
	if o != nil {
		c = *o
	}
	if c.InitiatorName == "" {
		c.InitiatorName = DefaultInitiatorName
	}
	if c.InitiatorName2 == "" {
		c.InitiatorName2 = DefaultInitiatorName2
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	return &c
}

// Run runs the tests opts selects against the unit at url
// (iscsi://host[:port]/target/lun) and returns the report. It fails only
// when the suite cannot start: a bad selection, a unit it cannot log in to
// or learn (READ CAPACITY, INQUIRY), registered reservation keys.
func Run(ctx context.Context, url string, opts *Options) (*Report, error) {
	o := opts.withDefaults()
	sel, err := Select(o.Tests)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	d, err := open(ctx, url, o)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	progress := o.Progress
	if progress == nil {
		progress = func(Event) {}
	}
	for _, group := range bySuite(sel) {
		progress(Event{Kind: SuiteStart, Suite: group[0].Suite})
		if err := d.startSuite(ctx); err != nil {
			if o.StopOnSetupError || ctx.Err() != nil {
				rep.Duration = time.Since(start)
				return rep, err
			}
			// As CUnit does with a suite whose set-up failed: its tests
			// fail, the run goes on.
			for _, tc := range group {
				progress(Event{Kind: TestStart, Suite: tc.Suite, Test: tc})
				res := Result{Test: tc, Verdict: Failed, Reason: err.Error()}
				rep.Results = append(rep.Results, res)
				progress(Event{Kind: TestEnd, Suite: tc.Suite, Test: tc, Result: res})
			}
			continue
		}
		for _, tc := range group {
			progress(Event{Kind: TestStart, Suite: tc.Suite, Test: tc})
			res := d.runOne(ctx, tc, func(line string) {
				progress(Event{Kind: TestLog, Suite: tc.Suite, Test: tc, Line: line})
			})
			rep.Results = append(rep.Results, res)
			progress(Event{Kind: TestEnd, Suite: tc.Suite, Test: tc, Result: res})
		}
		d.endSuite()
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// TestTarget runs the selected tests against the unit at url as subtests of t,
// one per suite and one per test in it ("Read10/Simple"): a test skipped
// here is skipped there with the reason, a failure is t.Error with the
// CDB, the sense and the clause. A target author calls it from a test:
//
//	func TestConformance(t *testing.T) {
//		conformance.TestTarget(t, url, &conformance.Options{DataLoss: true})
//	}
func TestTarget(t *testing.T, url string, opts *Options) {
	t.Helper()
	o := opts.withDefaults()
	sel, err := Select(o.Tests)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	d, err := open(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, group := range bySuite(sel) {
		t.Run(group[0].Suite, func(t *testing.T) {
			if err := d.startSuite(ctx); err != nil {
				t.Fatal(err)
			}
			defer d.endSuite()
			for _, tc := range group {
				t.Run(tc.Name, func(t *testing.T) {
					res := d.runOne(ctx, tc, nil)
					for _, l := range res.Log {
						t.Log(l)
					}
					switch res.Verdict {
					case Failed:
						t.Error(res.Reason)
					case Skipped:
						t.Skip(res.Reason)
					}
				})
			}
		})
	}
}

// open logs in once to learn the unit (libiscsi's main), then logs out.
func open(ctx context.Context, url string, o *Options) (*Device, error) {
	d := &Device{url: url, opts: o}
	s, err := d.dial(ctx, url, o.InitiatorName)
	if err != nil {
		return nil, fmt.Errorf("conformance: failed to connect to %s: %w", url, err)
	}
	d.sess = s
	err = d.probe(ctx)
	d.sess = nil
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = s.Logout(lctx)
	cancel()
	_ = s.Close()
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	return d, nil
}

// startSuite logs in afresh for the suite, as libiscsi's suite_init does.
func (d *Device) startSuite(ctx context.Context) error {
	s, err := d.dial(ctx, d.url, d.opts.InitiatorName)
	if err != nil {
		return fmt.Errorf("conformance: failed to login to target for test set-up: %w", err)
	}
	d.sess = s
	if d.opts.MultipathURL != "" {
		m, err := d.dial(ctx, d.opts.MultipathURL, d.opts.InitiatorName2)
		if err != nil {
			_ = s.Close()
			return fmt.Errorf("conformance: failed to login to the second path for test set-up: %w", err)
		}
		d.mpath = m
	}
	return nil
}

// revive logs in afresh when the suite's session (or the second path's)
// has ended, so that a test after one that killed the session (a target
// that never answered, then refused the reconnect) is not failed by it.
func (d *Device) revive(ctx context.Context) error {
	dead := func(s *session.Session) bool {
		if s == nil {
			return false
		}
		select {
		case <-s.Done():
			return true
		default:
			return false
		}
	}
	if !dead(d.sess) && !dead(d.mpath) {
		return nil
	}
	d.endSuite()
	return d.startSuite(ctx)
}

func (d *Device) endSuite() {
	for _, s := range []*session.Session{d.sess, d.mpath} {
		if s == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Logout(ctx)
		cancel()
		_ = s.Close()
	}
	d.sess, d.mpath = nil, nil
}

func (d *Device) runOne(ctx context.Context, tc Test, live func(string)) Result {
	if why, ok := d.opts.Skip[tc.FullName()]; ok {
		if live != nil {
			live("[SKIPPED] " + why)
		}
		return Result{Test: tc, Verdict: Skipped, Reason: why}
	}
	start := time.Now()
	if err := d.revive(ctx); err != nil {
		return Result{Test: tc, Verdict: Failed, Reason: err.Error(), Duration: time.Since(start)}
	}
	ctx = context.WithValue(ctx, stallKey{}, new(atomic.Bool))
	t := &T{ctx: ctx, dev: d, test: tc, logf: live}
	t.runBody()
	v, reason := t.verdict()
	return Result{Test: tc, Verdict: v, Reason: reason, Log: t.logs, Duration: time.Since(start)}
}

// bySuite splits tests into runs of one suite, in order.
func bySuite(ts []Test) [][]Test {
	var out [][]Test
	for i, tc := range ts {
		if i == 0 || ts[i-1].Suite != tc.Suite {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], tc)
	}
	return out
}
