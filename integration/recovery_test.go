package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/session"
)

// The recovery matrix: faults between the session and a real tgtd (through
// a loopback proxy), and tgtd itself killed and restarted, under three
// workloads of 32 goroutines doing unaligned ReadAt/WriteAt on disjoint
// ranges. Every call must succeed, every byte read must be the byte
// written, and every acknowledged write must be in the backing file.
// Bounds are the configured timeouts, never a measured time.

const recoveryIQN = "iqn.2026-11.test:recovery"

type fault struct {
	name string
	// arm injects the fault on the proxied connection c once traffic flows
	// (or, with c nil, acts on tgtd itself).
	arm     func(t *testing.T, inst *tgtd.Instance, c *faultproxy.Conn)
	digests bool
}

var recoveryFaults = []fault{
	{name: "cut target to initiator", arm: func(t *testing.T, _ *tgtd.Instance, c *faultproxy.Conn) {
		c.Down().CutAt(c.Down().Next() + 3000)
	}},
	{name: "cut initiator to target", arm: func(t *testing.T, _ *tgtd.Instance, c *faultproxy.Conn) {
		c.Up().CutAt(c.Up().Next() + 3000)
	}},
	{name: "TCP reset", arm: func(t *testing.T, _ *tgtd.Instance, c *faultproxy.Conn) {
		c.Down().ResetAt(c.Down().Next() + 1000)
	}},
	{name: "stall both ways for 4 s", arm: func(t *testing.T, _ *tgtd.Instance, c *faultproxy.Conn) {
		// Nothing moves, the sockets stay open: only the keepalive notices.
		// tgtd lets the session be reinstated once the old connection's
		// stall ends and it sees that connection closed.
		c.Stall(4 * time.Second)
	}},
	{name: "flipped bit, target to initiator, digests on", digests: true, arm: func(t *testing.T, _ *tgtd.Instance, c *faultproxy.Conn) {
		c.Down().FlipBit(c.Down().Next()+1000, 2)
	}},
	{name: "flipped bit, initiator to target, digests on", digests: true, arm: func(t *testing.T, _ *tgtd.Instance, c *faultproxy.Conn) {
		c.Up().FlipBit(c.Up().Next()+1000, 5)
	}},
	{name: "tgtd killed and restarted", arm: func(t *testing.T, inst *tgtd.Instance, _ *faultproxy.Conn) {
		inst.Restart()
	}},
}

type workload struct {
	name          string
	write, verify bool // write each range, then read it back
}

var recoveryWorkloads = []workload{{"reads", false, true}, {"writes", true, false}, {"mixed", true, true}}

func TestRecoveryMatrix(t *testing.T) {
	type result struct {
		fault, workload string
		reconnects      uint64
		replayed        uint64
		took            time.Duration
	}
	var results []result
	for _, f := range recoveryFaults {
		for _, w := range recoveryWorkloads {
			t.Run(f.name+"/"+w.name, func(t *testing.T) {
				start := time.Now()
				st := runRecoveryCase(t, f, w)
				results = append(results, result{f.name, w.name, st.Reconnects, st.Replayed, time.Since(start)})
			})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-46s %-7s %10s %8s %7s\n", "fault", "load", "reconnects", "replayed", "seconds")
	for _, r := range results {
		fmt.Fprintf(&b, "%-46s %-7s %10d %8d %7.1f\n", r.fault, r.workload, r.reconnects, r.replayed, r.took.Seconds())
	}
	t.Logf("recovery matrix:\n%s", b.String())
}

func runRecoveryCase(t *testing.T, f fault, w workload) session.Stats {
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: recoveryIQN, LUNs: []tgtd.LUNSpec{{Size: 4 << 20, Random: true}}})
	inst.SetParam(1, "DefaultTime2Wait", "0")
	if f.digests {
		inst.SetParam(1, "HeaderDigest", "CRC32C")
		inst.SetParam(1, "DataDigest", "CRC32C")
	}
	path := targets[0].LUNs[0].Path
	p := faultproxy.Start(t, inst.Addr())
	url := p.TargetURL(recoveryIQN, 1)
	if f.digests {
		url += "?header_digest=crc32c&data_digest=crc32c"
	}
	cfg := &session.Config{
		NOPInterval: 500 * time.Millisecond, NOPTimeout: time.Second,
		CommandTimeout: 20 * time.Second, ReplacementTimeout: 30 * time.Second,
		// A login tgtd holds (it reinstates a session only once it has
		// closed the old connection) is given up and tried again after
		// 5 s rather than the default 15 s.
		LoginTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const workers, span, rounds = 32, 7000, 12
	initial, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var done atomic.Int64
	var armed sync.Once
	arm := func() {
		armed.Do(func() {
			c := p.Conn(p.Accepted() - 1)
			f.arm(t, inst, c)
		})
	}
	var wg sync.WaitGroup
	final := make([][]byte, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(i*(span+13) + 7) // unaligned, disjoint
			final[i] = initial[off : off+span]
			// At least rounds rounds, and on until the fault has struck.
			for r := 0; r < rounds || (s.Stats().Reconnects == 0 && r < 50*rounds); r++ {
				if done.Add(1) == workers {
					go arm() // traffic flows: the fault strikes mid-I/O
				}
				if w.write {
					data := pattern(span, uint32(i*rounds+r+1))
					if _, err := s.WriteAtContext(ctx, data, off); err != nil {
						t.Errorf("worker %d round %d: write: %v", i, r, err)
						return
					}
					final[i] = data
				}
				if w.verify || !w.write {
					got := make([]byte, span)
					if _, err := s.ReadAtContext(ctx, got, off); err != nil {
						t.Errorf("worker %d round %d: read: %v", i, r, err)
						return
					}
					if !bytes.Equal(got, final[i]) {
						t.Errorf("worker %d round %d: read other bytes than written", i, r)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return s.Stats()
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < workers; i++ {
		off := int64(i*(span+13) + 7)
		if got := tgtd.ReadBacking(t, path, off, span); !bytes.Equal(got, final[i]) {
			t.Errorf("worker %d: the backing file does not hold the last acknowledged write", i)
		}
	}
	st := s.Stats()
	if st.Reconnects == 0 {
		t.Errorf("the fault caused no reconnect: %+v", st)
	}
	if err := s.Err(); err != nil {
		t.Errorf("session ended: %v", err)
	}
	return st
}
