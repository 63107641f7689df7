package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/session"
)

// Tagged data for the write-ordering tests: every byte a test writes is a
// function of the write's id and of the byte's offset on the LUN, so that a
// byte read back names the write that put it there (up to the 1 in 256
// chance that another write has the same byte at that offset, which a test
// that looks at whole ranges makes irrelevant). Id 0 is the fill a test
// writes before it starts.

// tagWord is the 8 bytes of write id at the 8-byte word of the LUN holding
// offset off.
func tagWord(id uint64, off int64) uint64 {
	x := id*0x9e3779b97f4a7c15 ^ uint64(off>>3)*0xbf58476d1ce4e5b9
	x ^= x >> 31
	x *= 0x94d049bb133111eb
	x ^= x >> 29
	return x
}

// tagByte is the byte write id puts at offset off of the LUN.
func tagByte(id uint64, off int64) byte {
	return byte(tagWord(id, off) >> (8 * uint(off&7)))
}

// tagFill fills b with the bytes write id puts at offsets off, off+1, ….
func tagFill(b []byte, id uint64, off int64) {
	for i := range b {
		b[i] = tagByte(id, off+int64(i))
	}
}

// tagged returns a buffer of n bytes tagged by write id at offset off.
func tagged(n int, id uint64, off int64) []byte {
	b := make([]byte, n)
	tagFill(b, id, off)
	return b
}

// tagIs reports whether b, read at offset off, is entirely write id's.
func tagIs(b []byte, id uint64, off int64) bool {
	for i := range b {
		if b[i] != tagByte(id, off+int64(i)) {
			return false
		}
	}
	return true
}

// outcome is what a write's call told its caller.
type outcome uint8

const (
	acked  outcome = iota + 1 // nil error: the write is on the target
	mayRun                    // an error matching ErrMayHaveExecuted: it may have executed, but not after the call returned (Close aside)
	denied                    // another error: the write did not and will not execute
)

func (o outcome) String() string {
	switch o {
	case acked:
		return "acknowledged"
	case mayRun:
		return "failed, may have executed"
	case denied:
		return "failed, did not execute"
	}
	return "?"
}

// outcomeOf classifies the error of a call that wrote.
func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return acked
	case errors.Is(err, session.ErrMayHaveExecuted):
		return mayRun
	default:
		return denied
	}
}

// envInt returns the integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// envDuration returns the duration in the environment variable name (Go
// syntax, "90s", "15m"), or def.
func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// isCancel reports whether err says the call's context (or command
// timeout) ended it.
func isCancel(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// failures reports the first few of many failures of one test in full and
// counts the rest, so that a broken run stays readable.
type failures struct {
	t     testing.TB
	mu    sync.Mutex
	n     int
	limit int
}

func (f *failures) Errorf(format string, args ...any) {
	f.t.Helper()
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	switch {
	case n <= f.limit:
		f.t.Errorf(format, args...)
	case n == f.limit+1:
		f.t.Errorf("(more failures follow; only their count is reported)")
	}
}

func (f *failures) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// waitWorkers waits for wg. Past d the workers are stuck in calls that no
// context ends (a deadlock in the session): then it logs every goroutine's
// stack and panics, which ends the test binary now rather than at go
// test's -timeout (a test cannot close a deadlocked session: Close waits
// for its goroutines).
func waitWorkers(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		stuck(t, fmt.Sprintf("workers still in their calls %v after the end", d))
	}
}

// bounded runs fn (a Close, a Logout: calls no context bounds) and gives up
// like waitWorkers when it has not returned within d.
func bounded(t *testing.T, what string, d time.Duration, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		stuck(t, fmt.Sprintf("%s has not returned after %v", what, d))
	}
}

// stuck logs every goroutine's stack and panics.
func stuck(t *testing.T, why string) {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Errorf("%s (a deadlock in the session?); goroutines:\n%s", why, buf)
	panic(fmt.Sprintf("%s: %s: see the goroutines logged above", t.Name(), why))
}
