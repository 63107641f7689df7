package conformance

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// T is the handle a test gets: it records failures and a skip, as
// testing.T does, and gives the test its device.
type T struct {
	ctx  context.Context
	dev  *Device
	test Test

	mu       sync.Mutex
	failed   bool
	fatal    bool // Fatalf ended the test
	skipped  bool
	reason   string   // the skip reason
	failures []string // each Error, in order
	logs     []string
	cleanups []func()
	logf     func(string) // the runner's live log (verbose), or nil
}

// Name returns the test's full name, "ALL.Read10.Simple".
func (t *T) Name() string { return t.test.FullName() }

// Context is the test's context: it ends when the run is cancelled.
func (t *T) Context() context.Context { return t.ctx }

// Device returns the unit under test.
func (t *T) Device() *Device { return t.dev }

// Errorf records a failure and lets the test go on, as libiscsi's CU_ASSERT
// does.
func (t *T) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.failed = true
	t.failures = append(t.failures, msg)
	t.mu.Unlock()
	t.live("[FAILED] " + msg)
}

// Error is Errorf with the arguments printed as fmt.Sprint does.
func (t *T) Error(args ...any) { t.Errorf("%s", fmt.Sprint(args...)) }

// Fatalf records a failure and ends the test (from the test's goroutine).
func (t *T) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	t.mu.Lock()
	t.fatal = true
	t.mu.Unlock()
	runtime.Goexit()
}

// Fatal is Fatalf with the arguments printed as fmt.Sprint does.
func (t *T) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }

// Skipf ends the test as skipped, saying why (from the test's goroutine).
// A test that failed before it skipped stays failed.
func (t *T) Skipf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.skipped = true
	if t.reason == "" {
		t.reason = msg
	}
	t.mu.Unlock()
	t.live("[SKIPPED] " + msg)
	runtime.Goexit()
}

// markSkipped records a skip reason without ending the test.
func (t *T) markSkipped(msg string) {
	t.mu.Lock()
	t.skipped = true
	if t.reason == "" {
		t.reason = msg
	}
	t.mu.Unlock()
	t.live("[SKIPPED] " + msg)
}

// part runs f as libiscsi runs one of a test's static helper functions
// (NoMedia's and ReadOnly's one per command, SANITIZE's checks): a command
// the unit does not implement returns from the helper, not from the test,
// so a Skip in f ends f and the test goes on, marked skipped. A Fatal in f
// ends the test; a panic in f is the test's.
func (t *T) part(f func()) {
	var (
		finished bool
		panicked any
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		f()
		finished = true
	}()
	<-done
	if panicked != nil {
		panic(panicked)
	}
	t.mu.Lock()
	fatal := t.fatal
	t.mu.Unlock()
	if !finished && fatal {
		runtime.Goexit()
	}
}

// Skip is Skipf with the arguments printed as fmt.Sprint does.
func (t *T) Skip(args ...any) { t.Skipf("%s", fmt.Sprint(args...)) }

// Logf records a line of the test's log (shown in verbose mode and with a
// failure).
func (t *T) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.logs = append(t.logs, msg)
	t.mu.Unlock()
}

// Failed reports whether the test has failed.
func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// Cleanup registers f to run when the test ends, last registered first.
func (t *T) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

func (t *T) live(s string) {
	if t.logf != nil {
		t.logf(s)
	}
}

// runBody runs the test's function on a goroutine of its own (Fatal and Skip
// end it with runtime.Goexit) and then its cleanups; a panic is a failure.
func (t *T) runBody() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				t.mu.Lock()
				t.failed = true
				t.failures = append(t.failures, fmt.Sprintf("panic: %v", r))
				t.mu.Unlock()
			}
		}()
		if t.test.fn == nil {
			t.Skipf("not implemented in this suite yet (see docs/CONFORMANCE.md)")
		}
		t.test.fn(t)
	}()
	<-done
	if st, ok := t.ctx.Value(stallKey{}).(*atomic.Bool); ok {
		st.Store(false) // the cleanups undo what the test set up
	}
	t.mu.Lock()
	c := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// verdict sums the test up.
func (t *T) verdict() (Verdict, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.failed:
		return Failed, strings.Join(t.failures, "\n")
	case t.skipped:
		return Skipped, t.reason
	}
	return Passed, ""
}
