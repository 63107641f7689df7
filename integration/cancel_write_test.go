package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/session"
)

// TestCancelledWriteNeverLandsLate is issue 23's first repro against a real
// tgtd, no proxy, no fault: write D0 (acknowledged), issue a 16-block write
// of D1 with a deadline of 50 µs to 3 ms, and as soon as its call returns the
// context's error, write D2 to the same blocks (acknowledged). Read back
// later (when the goroutine comes round to the slot again, and at the end),
// the blocks must hold D2: D1 there means a write whose call had returned
// executed after it, over an acknowledged write. One cycle in four writes no
// D2; then D1 may be there only if its call said it may have executed (nil
// or ErrMayHaveExecuted). 8 goroutines do this on disjoint blocks while 8
// more keep tgtd busy with reads. D1 goes through Write (Future),
// WriteFunc or WriteAtContext in turn.
//
// A write counts as cancelled when its deadline passed while its call was
// in progress, whatever the call returned: after ABORT TASK, a write that
// tgtd completed first returns nil (its status won).
//
// ISCSI_CANCEL_WRITES sets how many cancelled writes to reach (default
// 6000); ISCSI_CANCEL_BUDGET bounds the run's time (default 40 s; the test
// stops at whichever comes first and asserts no count).
func TestCancelledWriteNeverLandsLate(t *testing.T) {
	t.Parallel()
	want := envInt("ISCSI_CANCEL_WRITES", 6000)
	budget := envDuration("ISCSI_CANCEL_BUDGET", 40*time.Second)
	inst := tgtd.Start(t)
	iqn := "iqn.2026-12.test:cancel-write"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: cancelLUNSize}}})
	ctx, cancel := context.WithTimeout(context.Background(), budget+60*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, inst.TargetURL(iqn, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runCancelCycles(t, ctx, s, want, budget, nil)
}

// TestCancelledWriteAcrossReconnects is the same through a fault proxy
// that cuts or resets the connection every 100 to 400 ms, so that
// cancellations race the reconnects: a write whose call returned is never
// sent again on the new connection (issue 23, item 3), and D0 and D2 ride
// through (sent again). ISCSI_CANCEL_RECONNECT_WRITES (default 1000) and
// ISCSI_CANCEL_BUDGET (default 30 s) bound it.
func TestCancelledWriteAcrossReconnects(t *testing.T) {
	t.Parallel()
	want := envInt("ISCSI_CANCEL_RECONNECT_WRITES", 1000)
	budget := envDuration("ISCSI_CANCEL_BUDGET", 30*time.Second)
	inst := tgtd.Start(t)
	iqn := "iqn.2026-12.test:cancel-reconnect"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: cancelLUNSize}}})
	inst.SetParam(1, "DefaultTime2Wait", "0")
	p := faultproxy.Start(t, inst.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), budget+60*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, p.TargetURL(iqn, 1), &session.Config{
		ReplacementTimeout: 60 * time.Second, LoginTimeout: 10 * time.Second,
		Operational: keys.Offer{DefaultTime2Wait: keys.Some[uint32](0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cuts := 0
	runCancelCycles(t, ctx, s, want, budget, func(done <-chan struct{}) {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(100+rng.IntN(300)) * time.Millisecond):
			}
			c := p.Conn(p.Accepted() - 1)
			if c == nil || c.Ended() {
				continue
			}
			pipe := c.Up()
			if rng.IntN(2) == 0 {
				pipe = c.Down()
			}
			if rng.IntN(3) == 0 {
				pipe.ResetAt(pipe.Next() + rng.Int64N(16<<10))
			} else {
				pipe.CutAt(pipe.Next() + rng.Int64N(16<<10))
			}
			cuts++
		}
	})
	st := s.Stats()
	t.Logf("%d cuts or resets armed, %d reconnects, %d commands replayed, %d not replayed", cuts, st.Reconnects, st.Replayed, st.NotReplayed)
	if st.Reconnects == 0 {
		t.Errorf("no reconnect happened: the cancellations raced nothing")
	}
}

const (
	cancelWriters, cancelSlots, cancelBlocks = 8, 32, 16
	cancelSpan                               = cancelBlocks * 512
	cancelWriteArea                          = cancelWriters * cancelSlots * cancelSpan // 2 MiB
	cancelReadArea                           = 8 << 20
	cancelLUNSize                            = cancelWriteArea + cancelReadArea
)

// runCancelCycles runs the D0, D1 cancelled, D2 cycles on s until want
// writes were cancelled or budget has passed; chaos, when not nil, runs on
// the test's goroutine meanwhile and must return once done is closed.
func runCancelCycles(t *testing.T, ctx context.Context, s *session.Session, want int, budget time.Duration, chaos func(done <-chan struct{})) {
	const (
		writers, readers = cancelWriters, 8
		slots            = cancelSlots
		blocks           = cancelBlocks
		span             = cancelSpan
		readSpan         = 64 << 10
		writeArea        = cancelWriteArea
		readArea         = cancelReadArea
	)
	var (
		nextID                atomic.Uint64
		cancelled, cycles     atomic.Int64
		byWay                 [3]atomic.Int64 // cancellations through Write, WriteFunc, WriteAtContext
		statusWon, mayCount   atomic.Int64
		ctxErrs               atomic.Int64 // D1 calls that returned the context's error
		lostBytes, lostCycles atomic.Int64
		deniedRan             atomic.Int64 // D1 found although its error said it did not execute
		stop                  atomic.Bool
	)
	deadline := time.Now().Add(budget)
	fails := &failures{t: t, limit: 20}
	type cycle struct {
		d0, d1, d2 uint64 // d2 0: no D2 this cycle
		d1Out      outcome
		how        string
	}
	// check reads slot (offset off) back and judges it against c.
	check := func(w int, off int64, c cycle, when string) {
		got := make([]byte, span)
		if _, err := s.ReadAtContext(ctx, got, off); err != nil {
			fails.Errorf("writer %d: read back at %d: %v", w, off, err)
			return
		}
		lost, ran := 0, 0
		for b := 0; b < blocks; b++ {
			blk, boff := got[b*512:(b+1)*512], off+int64(b*512)
			switch {
			case c.d2 != 0 && tagIs(blk, c.d2, boff):
			case c.d2 == 0 && tagIs(blk, c.d0, boff):
			case tagIs(blk, c.d1, boff):
				switch {
				case c.d2 != 0:
					lost += 512 // D1 landed over D2, acknowledged after D1's call returned
				case c.d1Out == denied:
					ran++
				}
			case c.d2 != 0 && tagIs(blk, c.d0, boff):
				lost += 512
			default:
				fails.Errorf("writer %d, %s: block %d holds bytes of no write of its cycle (D0 %d, D1 %d, D2 %d)", w, when, boff/512, c.d0, c.d1, c.d2)
			}
		}
		if ran > 0 {
			deniedRan.Add(int64(ran))
			fails.Errorf("writer %d, %s: %d blocks at %d hold D1 (%s) although its call failed without ErrMayHaveExecuted", w, when, ran, off, c.how)
		}
		if lost > 0 {
			lostBytes.Add(int64(lost))
			lostCycles.Add(1)
			fails.Errorf("writer %d, %s: %d bytes at %d do not hold D2, acknowledged after D1's call (%s) returned %s", w, when, lost, off, c.how, c.d1Out)
		}
	}
	var wg sync.WaitGroup
	last := make([][]cycle, writers)
	for w := 0; w < writers; w++ {
		last[w] = make([]cycle, slots)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 23))
			for i := 0; !stop.Load() && time.Now().Before(deadline); i++ {
				k := i % slots
				off := int64((w*slots + k) * span)
				lba := uint64(off / 512)
				if c := last[w][k]; c.d0 != 0 {
					check(w, off, c, "read back a round later")
				}
				c := cycle{d0: nextID.Add(1), d1: nextID.Add(1)}
				if _, err := s.WriteAtContext(ctx, tagged(span, c.d0, off), off); err != nil {
					fails.Errorf("writer %d: D0: %v", w, err)
					return
				}
				d1 := tagged(span, c.d1, off)
				dctx, dcancel := context.WithTimeout(ctx, time.Duration(50+rng.IntN(2950))*time.Microsecond)
				way := i % 3
				var err error
				switch way {
				case 0:
					c.how = "Write"
					_, err = s.Write(dctx, lba, blocks, iovector.New(d1)).Wait()
				case 1:
					c.how = "WriteFunc"
					done := make(chan error, 1)
					s.WriteFunc(dctx, lba, blocks, iovector.New(d1), func(_ session.Result, err error) { done <- err })
					select {
					case err = <-done:
					case <-ctx.Done():
						err = fmt.Errorf("WriteFunc's callback never came: %w", ctx.Err())
					}
				case 2:
					c.how = "WriteAtContext"
					_, err = s.WriteAtContext(dctx, d1, off)
				}
				expired := dctx.Err() != nil
				dcancel()
				c.d1Out = outcomeOf(err)
				if expired {
					// The deadline passed with the call in progress: a
					// cancellation, whatever the call then said.
					cancelled.Add(1)
					byWay[way].Add(1)
				}
				switch {
				case err == nil:
					if expired {
						statusWon.Add(1)
					}
				case isCancel(err) && ctx.Err() == nil:
					ctxErrs.Add(1)
					if c.d1Out == mayRun {
						mayCount.Add(1)
					}
				default:
					fails.Errorf("writer %d: D1 through %s: %v", w, c.how, err)
					return
				}
				if rng.IntN(4) != 0 {
					c.d2 = nextID.Add(1)
					if _, err := s.WriteAtContext(ctx, tagged(span, c.d2, off), off); err != nil {
						fails.Errorf("writer %d: D2: %v", w, err)
						return
					}
				}
				last[w][k] = c
				if cycles.Add(1); cancelled.Load() >= int64(want) {
					stop.Store(true)
				}
			}
		}()
	}
	var reads atomic.Int64
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, readSpan)
			for i := 0; !stop.Load() && time.Now().Before(deadline); i++ {
				off := int64(writeArea + ((r*31+i)*readSpan)%readArea)
				if _, err := s.ReadAtContext(ctx, buf, off); err != nil {
					fails.Errorf("reader %d: %v", r, err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	if chaos != nil {
		// Until the workers are done, or at the deadline if they are
		// stuck (waitWorkers then says so).
		done := make(chan struct{})
		go func() {
			defer close(done)
			workers := make(chan struct{})
			go func() { wg.Wait(); close(workers) }()
			timer := time.NewTimer(time.Until(deadline) + time.Second)
			defer timer.Stop()
			select {
			case <-workers:
			case <-timer.C:
			}
		}()
		chaos(done)
	}
	waitWorkers(t, &wg, time.Until(deadline)+2*time.Minute)
	stop.Store(true)
	for w := 0; w < writers; w++ {
		for k, c := range last[w] {
			if c.d0 != 0 {
				check(w, int64((w*slots+k)*span), c, "final read back")
			}
		}
	}
	t.Logf("%d cycles, %d writes cancelled (deadline passed during the call: Write %d, WriteFunc %d, WriteAtContext %d): %d returned the context's error (%d of them with ErrMayHaveExecuted), %d returned nil (their status won); %d reads alongside; lost: %d bytes in %d cycles; D1 executed though its error denied it: %d blocks",
		cycles.Load(), cancelled.Load(), byWay[0].Load(), byWay[1].Load(), byWay[2].Load(), ctxErrs.Load(), mayCount.Load(), statusWon.Load(), reads.Load(), lostBytes.Load(), lostCycles.Load(), deniedRan.Load())
	if n := fails.count(); n > 0 {
		t.Errorf("%d failures in all", n)
	}
	if cancelled.Load() == 0 {
		t.Errorf("no write was cancelled: the test exercised nothing")
	}
}
