package integration

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// TestCancelledWriteCostTgtd measures what the fence costs a cancelled
// write against tgtd (docs/RELIABILITY.md): a 1 MiB WRITE is issued and
// its context cancelled at once; Wait returns when tgtd has ended the task
// (its status first, or the ABORT TASK's answer). It checks every outcome
// is one of those the guarantee allows and logs the times (no threshold:
// the machine is shared); an uncancelled write is the reference.
func TestCancelledWriteCostTgtd(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: opsIQN, LUNs: []tgtd.LUNSpec{{Size: 8 << 20}}})
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL(opsIQN, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	// 1 MiB writes: beyond FirstBurstLength, so tgtd asks for the rest
	// of the data (R2T) and the abort often finds the task waiting for it.
	const blocks = 2048
	buf := make([]byte, blocks*512)
	const n = 300
	var plain, cancelled, aborted []time.Duration
	var unsent, statusFirst int
	for i := range n {
		start := time.Now()
		if _, err := s.Write(ctx, uint64(i%4)*blocks, blocks, iovector.New(buf)).Wait(); err != nil {
			t.Fatal(err)
		}
		plain = append(plain, time.Since(start))

		cctx, cancel := context.WithCancel(ctx)
		start = time.Now()
		f := s.Write(cctx, uint64(i%4)*blocks, blocks, iovector.New(buf))
		cancel()
		_, err := f.Wait()
		d := time.Since(start)
		switch {
		case err == nil:
			statusFirst++
			cancelled = append(cancelled, d)
		case errors.Is(err, session.ErrMayHaveExecuted) && errors.Is(err, session.ErrAborted):
			aborted = append(aborted, d)
			cancelled = append(cancelled, d)
		case errors.Is(err, context.Canceled) && !errors.Is(err, session.ErrMayHaveExecuted):
			unsent++
		default:
			t.Fatalf("a cancelled write: %v", err)
		}
	}
	med := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	t.Logf("uncancelled write: median %v; cancelled after it was sent: %d (median %v), of which ended by ABORT TASK %d (median %v), status first %d; taken back unsent %d",
		med(plain), len(cancelled), med(cancelled), len(aborted), med(aborted), statusFirst, unsent)
	if _, err := s.ReadAt(buf, 0); err != nil {
		t.Fatalf("the session after %d cancellations: %v", n, err)
	}
}
