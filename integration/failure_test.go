//go:build linux

package integration

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// TestTargetDies (without recovery): tgtd killed under load. Every call in flight returns an
// error that unwraps to ErrSessionClosed, promptly; nothing hangs.
func TestTargetDies(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: "iqn.2026-11.test:dies", LUNs: []tgtd.LUNSpec{{Null: true}}})
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL("iqn.2026-11.test:dies", 1), &session.Config{DisableRecovery: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := iovector.New(make([]byte, 64<<10))
			for {
				f := s.Read(ctx, uint64(i)*128, 128, v)
				if _, err := f.Wait(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	inst.Kill()
	wg.Wait()
	close(errs)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("in-flight reads took %v to fail", d)
	}
	for err := range errs {
		if !errors.Is(err, session.ErrSessionClosed) {
			t.Fatalf("read ended with %v, want ErrSessionClosed", err)
		}
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session not closed after the target died")
	}
}

// TestTargetStalls (without recovery): tgtd stopped (SIGSTOP) mid-session. ReadAt is bounded by
// the command timeout; the abort that cannot be answered drops the
// connection after AbortTimeout.
func TestTargetStalls(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: "iqn.2026-11.test:stalls", LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL("iqn.2026-11.test:stalls", 1),
		&session.Config{CommandTimeout: 300 * time.Millisecond, AbortTimeout: 300 * time.Millisecond, DisableRecovery: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(inst.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(inst.Pid(), syscall.SIGCONT)
	start := time.Now()
	_, err = s.ReadAt(make([]byte, 4096), 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadAt on a stalled target = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("ReadAt took %v", d)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the session outlived an abort the stalled target could not answer")
	}
	if !errors.Is(s.Err(), session.ErrSessionClosed) {
		t.Fatalf("session error %v", s.Err())
	}
}
