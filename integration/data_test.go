package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// TestSeveralLUNsAndBlockSizes writes a different pattern to each LUN of a
// target (512 and 4096-byte blocks), checks each against its backing file
// and through a second session, and reads at and past the end.
func TestSeveralLUNsAndBlockSizes(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-11.test:multi"
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{
		{Size: 3 << 20, Random: true},
		{Size: 4 << 20, Random: true, BlockSize: 4096},
		{Size: 2 << 20, BlockSize: 4096},
	}})
	ctx := testCtx(t)
	for _, lun := range targets[0].LUNs {
		t.Run(fmt.Sprintf("lun%d", lun.Number), func(t *testing.T) {
			s, err := session.Dial(ctx, inst.TargetURL(iqn, lun.Number), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			g, err := s.Geometry(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if g.Size() != lun.Size {
				t.Fatalf("size %d, want %d", g.Size(), lun.Size)
			}
			// The initial content (random or zeros) reads back as in the file.
			all := make([]byte, lun.Size)
			if n, err := s.ReadAt(all, 0); n != len(all) || err != nil {
				t.Fatalf("ReadAt whole LUN = %d, %v", n, err)
			}
			mustEqual(t, "initial content", all, tgtd.ReadBacking(t, lun.Path, 0, len(all)))

			data := pattern(1<<20+333, uint32(lun.Number))
			off := int64(g.BlockSize)*3 + 5
			if n, err := s.WriteAt(data, off); n != len(data) || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
			if err := s.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "backing file after write", tgtd.ReadBacking(t, lun.Path, off, len(data)), data)

			// A second session sees the same bytes.
			s2, err := session.Dial(ctx, inst.TargetURL(iqn, lun.Number), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(data))
			if n, err := s2.ReadAt(got, off); n != len(got) || err != nil {
				t.Fatalf("second session ReadAt = %d, %v", n, err)
			}
			mustEqual(t, "second session", got, data)
			_ = s2.Logout(ctx)

			// At and past the end.
			tail := make([]byte, 1000)
			n, err := s.ReadAt(tail, lun.Size-300)
			if n != 300 || err != io.EOF {
				t.Fatalf("ReadAt across the end = %d, %v; want 300, EOF", n, err)
			}
			mustEqual(t, "tail", tail[:300], tgtd.ReadBacking(t, lun.Path, lun.Size-300, 300))
			if n, err := s.ReadAt(tail, lun.Size); n != 0 || err != io.EOF {
				t.Fatalf("ReadAt at the end = %d, %v", n, err)
			}
			if n, err := s.ReadAt(tail, lun.Size+12345); n != 0 || err != io.EOF {
				t.Fatalf("ReadAt past the end = %d, %v", n, err)
			}
			if n, err := s.WriteAt(tail, lun.Size-10); n != 0 || !errors.Is(err, session.ErrBeyondEnd) {
				t.Fatalf("WriteAt across the end = %d, %v", n, err)
			}
			mustEqual(t, "end untouched by a refused write", tgtd.ReadBacking(t, lun.Path, lun.Size-10, 10), all[lun.Size-10:])
			if _, err := s.ReadAt(tail, -1); !errors.Is(err, session.ErrNegativeOffset) {
				t.Fatalf("negative offset: %v", err)
			}
			// A vector of the wrong length is refused before anything is sent.
			f := s.Read(ctx, 0, 2, iovector.New(make([]byte, int(g.BlockSize))))
			if _, err := f.Wait(); !errors.Is(err, session.ErrVectorLength) {
				t.Fatalf("wrong vector length: %v", err)
			}
		})
	}
}

// TestTargetSettings varies the target's keys so that immediate data,
// unsolicited Data-Out, multi-PDU Data-In and several R2T sequences happen,
// and checks random aligned and unaligned I/O byte for byte.
func TestTargetSettings(t *testing.T) {
	t.Parallel()
	settings := []struct {
		name   string
		params map[string]string
		cfg    *session.Config
	}{
		{"defaults", nil, nil},
		{"digests", map[string]string{"HeaderDigest": "CRC32C", "DataDigest": "CRC32C"}, nil},
		{"no immediate data", map[string]string{"ImmediateData": "No"}, nil},
		{"InitialR2T=No", map[string]string{"InitialR2T": "No"}, nil},
		{"InitialR2T=Yes ImmediateData=No", map[string]string{"InitialR2T": "Yes", "ImmediateData": "No"}, nil},
		{"small segments and bursts", map[string]string{"MaxRecvDataSegmentLength": "4096", "FirstBurstLength": "8192", "MaxBurstLength": "16384", "InitialR2T": "No"}, nil},
		{"tiny bursts with digests", map[string]string{"MaxRecvDataSegmentLength": "512", "FirstBurstLength": "1024", "MaxBurstLength": "2048", "HeaderDigest": "CRC32C", "DataDigest": "CRC32C"}, nil},
		// Data-Out segments and R2T bursts that cut the 4 KiB pieces whose
		// sums the data digests are combined from at odd places.
		{"odd segments with digests", map[string]string{"MaxRecvDataSegmentLength": "5120", "FirstBurstLength": "13312", "MaxBurstLength": "23552", "InitialR2T": "No", "HeaderDigest": "CRC32C", "DataDigest": "CRC32C"}, nil},
		// The same traffic through Go's netpoller (the default is a
		// blocking socket outside it, on Linux).
		{"netpoller with digests", map[string]string{"HeaderDigest": "CRC32C", "DataDigest": "CRC32C"}, &session.Config{Dialer: &net.Dialer{}}},
	}
	inst := tgtd.Start(t)
	const size = 8 << 20
	for i, set := range settings {
		tid := i + 1
		iqn := fmt.Sprintf("iqn.2026-11.test:settings%d", tid)
		inst.Apply(tgtd.TargetSpec{TID: tid, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: size}}})
		for k, v := range set.params {
			inst.SetParam(tid, k, v)
		}
	}
	for i, set := range settings {
		tid := i + 1
		t.Run(set.name, func(t *testing.T) {
			ctx := testCtx(t)
			iqn := fmt.Sprintf("iqn.2026-11.test:settings%d", tid)
			s, err := session.Dial(ctx, inst.TargetURL(iqn, 1), set.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			t.Logf("negotiated %+v", s.Params())
			shadow := make([]byte, size) // what the LUN must hold
			rng := rand.New(rand.NewPCG(uint64(tid), 99))
			for op := 0; op < 40; op++ {
				n := 1 + rng.IntN(300000)
				off := rng.Int64N(size - int64(n))
				if op%3 == 0 { // aligned
					off &^= 511
					n = (n + 511) &^ 511
					if off+int64(n) > size {
						n = int(size - off)
					}
				}
				data := pattern(n, uint32(op+100*tid))
				if w, err := s.WriteAt(data, off); w != n || err != nil {
					t.Fatalf("op %d WriteAt(%d bytes at %d) = %d, %v", op, n, off, w, err)
				}
				copy(shadow[off:], data)
				rn := 1 + rng.IntN(300000)
				roff := rng.Int64N(size - int64(rn))
				got := make([]byte, rn)
				if r, err := s.ReadAt(got, roff); r != rn || err != nil {
					t.Fatalf("op %d ReadAt(%d bytes at %d) = %d, %v", op, rn, roff, r, err)
				}
				mustEqual(t, fmt.Sprintf("op %d read", op), got, shadow[roff:roff+int64(rn)])
			}
			all := make([]byte, size)
			if _, err := s.ReadAt(all, 0); err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "whole LUN", all, shadow)
		})
	}
}

// TestConcurrentUnalignedWriters: 48 goroutines write disjoint unaligned
// ranges that share blocks; no writer may lose another's bytes.
func TestConcurrentUnalignedWriters(t *testing.T) {
	t.Parallel()
	inst, targets := tgtd.StartWithTargets(t, 1, 1, 4<<20)
	tg := targets[0]
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL(tg.IQN, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, piece = 48, 700 // 700-byte pieces: most straddle 512-byte blocks
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 10; round++ {
				// Writer w owns pieces w, w+writers, … of each 100 KiB region.
				off := int64(round*100<<10) + int64(w*piece)
				data := pattern(piece, uint32(w*1000+round))
				if n, err := s.WriteAt(data, off); n != piece || err != nil {
					errs <- fmt.Errorf("writer %d: %d, %v", w, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 10; round++ {
		for w := 0; w < writers; w++ {
			off := int64(round*100<<10) + int64(w*piece)
			mustEqual(t, fmt.Sprintf("writer %d round %d", w, round), tgtd.ReadBacking(t, tg.LUNs[0].Path, off, piece), pattern(piece, uint32(w*1000+round)))
		}
	}
}

// TestCloseWithWorkInFlight closes a session while reads run: every call
// returns (no hang) with an error wrapping ErrSessionClosed, or finished.
func TestCloseWithWorkInFlight(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: "iqn.2026-11.test:null", LUNs: []tgtd.LUNSpec{{Null: true}}})
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL("iqn.2026-11.test:null", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			v := iovector.New(buf)
			for {
				f := s.Read(ctx, uint64(i)*512, uint32(len(buf)/512), v)
				if _, err := f.Wait(); err != nil {
					results <- err
					return
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for err := range results {
		if !errors.Is(err, session.ErrSessionClosed) || !errors.Is(err, session.ErrClosedByUser) {
			t.Fatalf("in-flight read ended with %v, want ErrSessionClosed caused by Close", err)
		}
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := s.ReadAt(make([]byte, 512), 0); !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
}

// TestCancelReadsAgainstTarget cancels reads in flight on a real target;
// the session must stay usable and the data correct.
func TestCancelReadsAgainstTarget(t *testing.T) {
	t.Parallel()
	inst, targets := tgtd.StartWithTargets(t, 1, 1, 16<<20)
	tg := targets[0]
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL(tg.IQN, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := pattern(16<<20, 5)
	if _, err := s.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	cancelled := 0
	var mu sync.Mutex
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				cctx, cancel := context.WithTimeout(ctx, time.Duration(j*j)*time.Millisecond)
				buf := make([]byte, 1<<20)
				f := s.Read(cctx, uint64(j%8)*2048, 2048, iovector.New(buf))
				_, err := f.Wait()
				cancel()
				switch {
				case err == nil:
					off := (j % 8) * (1 << 20)
					if string(buf) != string(data[off:off+1<<20]) {
						t.Errorf("read %d/%d returned wrong data", i, j)
					}
				case errors.Is(err, context.DeadlineExceeded):
					mu.Lock()
					cancelled++
					mu.Unlock()
				default:
					t.Errorf("read: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d of 160 reads cancelled", cancelled)
	if cancelled == 0 || cancelled == 160 {
		t.Logf("timing gave no mix of cancelled and finished reads this run")
	}
	// Still usable.
	got := make([]byte, 1<<20)
	if _, err := s.ReadAt(got, 3<<20); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "after cancellations", got, data[3<<20:4<<20])
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
