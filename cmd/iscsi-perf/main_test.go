package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const testURL = "iscsi://127.0.0.1:3260/iqn.x:t/1"

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    func(o options) string // "" when o is as expected
		wantErr bool
	}{
		{name: "defaults", args: []string{testURL}, want: func(o options) string {
			if o.maxInFlight != 32 || o.blocks != 8 || o.runtime != 0 || o.random || o.randomBlocks ||
				o.logging || o.ignoreErrors || o.write || o.mix != 0 || o.json || o.initiator != defaultInitiator || o.url != testURL ||
				o.netpoller || o.ownBuffers {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "libiscsi short flags", args: []string{"-i", "iqn.a:b", "-m", "4", "-b", "256", "-t", "7", "-r", "-R", "-l", "-n", testURL}, want: func(o options) string {
			if o.initiator != "iqn.a:b" || o.maxInFlight != 4 || o.blocks != 256 || o.runtime != 7 ||
				!o.random || !o.randomBlocks || !o.logging || !o.ignoreErrors {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "libiscsi long flags", args: []string{"--initiator-name=iqn.a:b", "--max=2", "--blocks=1", "--runtime=3", "--random", "--random-blocks", "--logging", "--ignore-errors", testURL}, want: func(o options) string {
			if o.initiator != "iqn.a:b" || o.maxInFlight != 2 || o.blocks != 1 || o.runtime != 3 || !o.random || !o.randomBlocks || !o.logging || !o.ignoreErrors {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "paths", args: []string{"--path", "iscsi://127.0.0.2/iqn.x:t/1", testURL, "--path=iscsi://127.0.0.3/iqn.x:t/1"}, want: func(o options) string {
			if o.url != testURL || len(o.paths) != 2 || o.paths[0] != "iscsi://127.0.0.2/iqn.x:t/1" || o.paths[1] != "iscsi://127.0.0.3/iqn.x:t/1" {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "bad path", args: []string{"--path", "http://127.0.0.2/iqn.x:t/1", testURL}, wantErr: true},
		{name: "netpoller and own buffers", args: []string{"--netpoller", "--own-buffers", testURL}, want: func(o options) string {
			if !o.netpoller || !o.ownBuffers {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "the old blocking-socket flag", args: []string{"--blocking-socket", testURL}, wantErr: true},
		{name: "write", args: []string{"--write", testURL}, want: func(o options) string {
			if !o.write || o.mix != 0 {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "mix", args: []string{"--mix=30", "--json", testURL}, want: func(o options) string {
			if o.write || o.mix != 30 || !o.json {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "mix 100 is write", args: []string{"--mix=100", testURL}, want: func(o options) string {
			if !o.write || o.mix != 0 {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "hidden profiles", args: []string{"--cpuprofile=c", "--memprofile=m", testURL}, want: func(o options) string {
			if o.cpuProfile != "c" || o.memProfile != "m" {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "no URL", args: []string{"-m", "3"}, wantErr: true},
		{name: "two URLs", args: []string{testURL, testURL}, wantErr: true},
		{name: "zero in flight", args: []string{"-m", "0", testURL}, wantErr: true},
		{name: "zero blocks", args: []string{"-b", "0", testURL}, wantErr: true},
		{name: "negative runtime", args: []string{"-t", "-1", testURL}, wantErr: true},
		{name: "mix above 100", args: []string{"--mix=101", testURL}, wantErr: true},
		{name: "mix negative", args: []string{"--mix=-1", testURL}, wantErr: true},
		{name: "write and mix", args: []string{"--write", "--mix=50", testURL}, wantErr: true},
		{name: "unknown flag", args: []string{"-z", testURL}, wantErr: true},
		{name: "help", args: []string{"-h"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseArgs(tt.args, &stderr)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseArgs(%q) succeeded: %+v", tt.args, o)
				}
				if !strings.Contains(stderr.String(), "Usage: iscsi-perf") {
					t.Errorf("no usage line on stderr: %q", stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v (%s)", tt.args, err, stderr.String())
			}
			if diff := tt.want(o); diff != "" {
				t.Errorf("parseArgs(%q) = %s", tt.args, diff)
			}
		})
	}
}

func TestProgressClock(t *testing.T) {
	tests := []struct {
		secs uint64
		want string
	}{
		{0, "00:00:00"}, {5, "00:00:05"}, {65, "00:01:05"}, {3600, "01:00:00"}, {3723, "01:02:03"}, {360000, "100:00:00"},
	}
	for _, tt := range tests {
		if got := progressClock(tt.secs); got != tt.want {
			t.Errorf("progressClock(%d) = %q, want %q", tt.secs, got, tt.want)
		}
	}
}

// TestProgressLine pins the progress and final lines to libiscsi's format.
func TestProgressLine(t *testing.T) {
	var out bytes.Buffer
	o := options{maxInFlight: 2, blocks: 8, runtime: 10}
	r := newRunner(nil, session.Geometry{BlockSize: 512, Blocks: 1000}, o, &out, io.Discard)
	r.start = time.Unix(100, 0)
	r.next.Store(1016)
	now := r.start.Add(3 * time.Second)
	// 6000 I/Os in 3 s, 3000 of them (12000 KiB) in the last second.
	r.printProgress(now, 6000, 6000*4096, 2, 1, now.Add(-time.Second), 3000, 3000*4096)
	want := "\r00:00:07 - lba 16, iops current 3000 (11 MB/s), iops average 2000 (7 MB/s), in_flight 2, busy 1        "
	if out.String() != want {
		t.Errorf("progress line\n got %q\nwant %q", out.String(), want)
	}
	out.Reset()
	r.o.logging = true
	r.workers[0].ops.Store(4000)
	r.printFinal(r.start.Add(2 * time.Second))
	want = "\riops average 2000 (7 MB/s)                                                        \n"
	if out.String() != want {
		t.Errorf("final line\n got %q\nwant %q", out.String(), want)
	}
}

func TestVectorSetAllocatesNothing(t *testing.T) {
	buf := make([]byte, 8192)
	var v iovector.Vector
	v.Set(buf)
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		n = (n + 1) % 16
		v.Set(buf[:(n+1)*512])
	})
	if allocs != 0 {
		t.Fatalf("Vector.Set on the worker's buffer allocates %v times", allocs)
	}
}

// opcodeCounter counts the SCSI opcodes a target receives.
type opcodeCounter struct {
	mu sync.Mutex
	n  map[scsi.OpCode]int
}

func (c *opcodeCounter) hook(cmd *faketarget.Command) faketarget.Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[scsi.OpCode]int{}
	}
	c.n[scsi.OpCode(cmd.CDB[0])]++
	return faketarget.Proceed
}

func (c *opcodeCounter) count(ops ...scsi.OpCode) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, op := range ops {
		total += c.n[op]
	}
	return total
}

var (
	readOps  = []scsi.OpCode{scsi.OpRead10, scsi.OpRead16}
	writeOps = []scsi.OpCode{scsi.OpWrite10, scsi.OpWrite16}
)

// isRead reports whether the target got a READ (10 or 16), the command a
// read run issues.
func isRead(c *faketarget.Command) bool {
	op := scsi.OpCode(c.CDB[0])
	return op == scsi.OpRead10 || op == scsi.OpRead16
}

// runPerf runs o, bounded by a minute, and returns its exit status and
// what it printed.
func runPerf(o options, sigs <-chan os.Signal) (rc int, stdout, stderr string) {
	var out, errs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc = perf(ctx, o, &out, &errs, sigs)
	return rc, out.String(), errs.String()
}

// jsonSummary decodes the summary --json prints, which must be all of
// stdout.
func jsonSummary(t *testing.T, stdout string) summary {
	t.Helper()
	var sum summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("stdout is not one JSON summary: %v\n%s", err, stdout)
	}
	return sum
}

// TestRunAgainstTarget runs whole invocations against an in-process target
// with a RAM LUN, a fixed number of I/Os each, and checks the commands the
// target saw, the summary, and that nothing is written unless asked.
func TestRunAgainstTarget(t *testing.T) {
	const blocks = 4096
	tests := []struct {
		name       string
		args       []string
		ios        uint64
		wantWrites bool
		wantReads  bool
	}{
		{name: "sequential read", args: []string{"-m", "4", "-b", "8"}, ios: 200, wantReads: true},
		{name: "random read random blocks", args: []string{"-m", "8", "-b", "16", "-r", "-R"}, ios: 300, wantReads: true},
		{name: "QD1", args: []string{"-m", "1", "-b", "1"}, ios: 50, wantReads: true},
		{name: "write", args: []string{"-m", "4", "--write"}, ios: 100, wantWrites: true},
		{name: "mix", args: []string{"-m", "4", "-r", "--mix=50"}, ios: 400, wantWrites: true, wantReads: true},
	}
	// Every case with each way of issuing: callbacks (the default) and a
	// goroutine per command in flight.
	for _, tt := range tests {
		tt.name += ", goroutines"
		tt.args = append(append([]string{}, tt.args...), "--goroutines")
		tests = append(tests, tt)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ops opcodeCounter
			tgt := faketarget.Start(t, faketarget.Config{
				LUNs:  []faketarget.LUN{{Number: 1, BlockSize: 512, Blocks: blocks}},
				Hooks: faketarget.Hooks{Command: ops.hook},
			})
			o, err := parseArgs(append(append([]string{}, tt.args...), "--json", tgt.LUNURL(1)), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o.maxIOs = tt.ios
			rc, stdout, stderr := runPerf(o, nil)
			if rc != 0 {
				t.Fatalf("exit status %d; stderr:\n%s", rc, stderr)
			}
			sum := jsonSummary(t, stdout)
			if sum.IOs != tt.ios || sum.Reads+sum.Writes != tt.ios {
				t.Errorf("summary counts %d I/Os (%d reads, %d writes), want %d", sum.IOs, sum.Reads, sum.Writes, tt.ios)
			}
			if sum.Errors != 0 || sum.IOPS <= 0 || sum.LatP50us <= 0 || sum.LatP50us > sum.LatP99us || sum.LatP99us > sum.LatP999us || sum.LatP999us > sum.LatMaxus {
				t.Errorf("implausible summary %+v", sum)
			}
			reads, writes := ops.count(readOps...), ops.count(writeOps...)
			if tt.wantWrites != (writes > 0) || uint64(writes) != sum.Writes {
				t.Errorf("target saw %d writes, summary %d (want writes: %v)", writes, sum.Writes, tt.wantWrites)
			}
			// Reads also include what Geometry may read; count only ours.
			if tt.wantReads != (sum.Reads > 0) || uint64(reads) < sum.Reads {
				t.Errorf("target saw %d reads, summary %d (want reads: %v)", reads, sum.Reads, tt.wantReads)
			}
			if !tt.wantWrites {
				data := tgt.LUNData(1)
				if !bytes.Equal(data, make([]byte, len(data))) {
					t.Errorf("a read-only run changed the LUN")
				}
			}
			if !strings.Contains(stderr, "finished.") {
				t.Errorf("no 'finished.' on stderr:\n%s", stderr)
			}
		})
	}
}

// TestRunFailsOnError checks that a failing command ends the run with exit
// status 1, and that -n counts errors and goes on.
func TestRunFailsOnError(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore=%v", ignore), func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			tgt := faketarget.Start(t, faketarget.Config{
				LUNs: []faketarget.LUN{{Number: 1, BlockSize: 512, Blocks: 1024, Null: true}},
				Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
					if !isRead(c) {
						return faketarget.Proceed
					}
					mu.Lock()
					n++
					fail := n%10 == 5
					mu.Unlock()
					if !fail {
						return faketarget.Proceed
					}
					if err := c.Respond(scsi.StatusCheckCondition, faketarget.FixedSense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError)); err != nil {
						return faketarget.Close
					}
					return faketarget.Handled
				}},
			})
			args := []string{"-m", "2", "--json"}
			if ignore {
				args = append(args, "-n")
			}
			o, err := parseArgs(append(args, tgt.LUNURL(1)), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o.maxIOs = 100
			rc, stdout, stderr := runPerf(o, nil)
			if rc != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", rc, stderr)
			}
			if !strings.Contains(stderr, "READ of 8 blocks at lba") {
				t.Errorf("stderr does not name the failed READ:\n%s", stderr)
			}
			if ignore {
				sum := jsonSummary(t, stdout)
				if sum.Errors == 0 || sum.IOs == 0 {
					t.Errorf("with -n: %d errors, %d I/Os; want both > 0", sum.Errors, sum.IOs)
				}
			} else if !strings.Contains(stderr, "ABORTED!") {
				t.Errorf("no ABORTED! after a failed command:\n%s", stderr)
			}
		})
	}
}

// TestEndings checks the two clean endings of a run without an I/O limit:
// -t seconds, and a first signal (which stops issuing, drains and logs out).
// A second signal aborts.
func TestEndings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		signals int
		wantRC  int
		want    string
	}{
		{name: "runtime", args: []string{"-t", "1", "-m", "4"}, wantRC: 0, want: "finished."},
		{name: "one signal", args: []string{"-m", "4"}, signals: 1, wantRC: 0, want: "finished."},
		{name: "two signals", args: []string{"-m", "4"}, signals: 2, wantRC: 1, want: "ABORTED!"},
	}
	for _, tt := range tests {
		tt.name += ", goroutines"
		tt.args = append(append([]string{}, tt.args...), "--goroutines")
		tests = append(tests, tt)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ops opcodeCounter
			// With two signals, the target stops answering (its serving
			// goroutine blocks in the hook) before they are sent, so the
			// drain after the first cannot finish and only the second ends
			// the run.
			var stall atomic.Bool
			stalled := make(chan struct{})
			var stalledOnce sync.Once
			release := make(chan struct{})
			hook := func(c *faketarget.Command) faketarget.Verdict {
				if stall.Load() {
					stalledOnce.Do(func() { close(stalled) })
					<-release
					return faketarget.Close
				}
				return ops.hook(c)
			}
			tgt := faketarget.Start(t, faketarget.Config{
				LUNs:  []faketarget.LUN{{Number: 1, BlockSize: 512, Blocks: 1 << 20, Null: true}},
				Hooks: faketarget.Hooks{Command: hook},
			})
			t.Cleanup(func() { close(release) }) // runs before the target's cleanup
			o, err := parseArgs(append(tt.args, "-l", tgt.LUNURL(1)), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			sigs := make(chan os.Signal, 2)
			go func() {
				// Signal once the run is under way.
				for ops.count(readOps...) < 100 {
					time.Sleep(time.Millisecond)
				}
				if tt.signals == 2 {
					stall.Store(true)
					<-stalled
				}
				for i := 0; i < tt.signals; i++ {
					sigs <- os.Interrupt
				}
			}()
			rc, stdout, stderr := runPerf(o, sigs)
			if rc != tt.wantRC {
				t.Fatalf("exit status %d, want %d; stdout:\n%s\nstderr:\n%s", rc, tt.wantRC, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.want) {
				t.Errorf("stdout lacks %q:\n%s", tt.want, stdout)
			}
			if tt.wantRC == 0 && !strings.Contains(stdout, "\riops average ") {
				t.Errorf("stdout lacks the final iops average line:\n%s", stdout)
			}
		})
	}
}

// TestRunRidesThroughReconnects: the target drops the connection twice
// mid-run; with the default -x the run goes on to the end without an error
// and its summary counts the reconnects; with -x 0 it aborts.
func TestRunRidesThroughReconnects(t *testing.T) {
	for _, mode := range []string{"--goroutines=false", "--goroutines"} {
		for _, x := range []string{"-1", "0"} {
			t.Run(mode+" x="+x, func(t *testing.T) { ridesThrough(t, mode, x) })
		}
	}
}

// cuttingTarget starts a target with a null LUN 1 of 4096 blocks that
// closes the connection at each READ (numbered from 1) that cut picks.
func cuttingTarget(t *testing.T, cut func(read int32) bool) *faketarget.Target {
	var n atomic.Int32
	return faketarget.Start(t, faketarget.Config{
		LUNs: []faketarget.LUN{{Number: 1, BlockSize: 512, Blocks: 4096, Null: true}},
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			if isRead(c) && cut(n.Add(1)) {
				return faketarget.Close
			}
			return faketarget.Proceed
		}},
	})
}

func ridesThrough(t *testing.T, mode, x string) {
	var cuts atomic.Int32
	tgt := cuttingTarget(t, func(read int32) bool {
		if read%100 == 0 && cuts.Load() < 2 {
			cuts.Add(1)
			return true
		}
		return false
	})
	o, err := parseArgs([]string{mode, "-m", "8", "-r", "-x", x, "--json", tgt.LUNURL(1)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.maxIOs = 400
	rc, stdout, stderr := runPerf(o, nil)
	if x == "0" {
		if rc == 0 {
			t.Fatalf("-x 0: the run survived a lost connection:\n%s", stderr)
		}
		return
	}
	if rc != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", rc, stderr)
	}
	if sum := jsonSummary(t, stdout); sum.IOs != 400 || sum.Errors != 0 || sum.Reconnects != 2 {
		t.Fatalf("summary %+v, want 400 I/Os, no error, 2 reconnects", sum)
	}
}

// TestRunMultipath: with --path the run goes over both paths (the same
// in-process target twice: two sessions, one device), each path carries
// I/O, and a connection the target drops mid-run moves its command to the
// other path: the run ends without an error and counts the failover.
func TestRunMultipath(t *testing.T) {
	for _, mode := range []string{"--goroutines=false", "--goroutines"} {
		t.Run(mode, func(t *testing.T) {
			var cuts atomic.Int32
			tgt := cuttingTarget(t, func(read int32) bool { return read == 150 && cuts.Add(1) == 1 })
			url := tgt.LUNURL(1)
			o, err := parseArgs([]string{mode, "-m", "8", "-r", "--json", "--path", url, url}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o.maxIOs = 400
			rc, stdout, stderr := runPerf(o, nil)
			if rc != 0 {
				t.Fatalf("exit status %d; stderr:\n%s", rc, stderr)
			}
			sum := jsonSummary(t, stdout)
			if sum.IOs != 400 || sum.Errors != 0 || len(sum.Paths) != 2 {
				t.Fatalf("summary %+v, want 400 I/Os, no error, 2 paths", sum)
			}
			var commands, failovers uint64
			for _, p := range sum.Paths {
				if p.Commands == 0 {
					t.Errorf("path %d carried no command: %+v", p.Path, sum.Paths)
				}
				commands += p.Commands
				failovers += p.Failovers
			}
			if commands < sum.IOs {
				t.Errorf("the paths count %d commands, the run %d I/Os", commands, sum.IOs)
			}
			if sum.Failovers == 0 || failovers != sum.Failovers {
				t.Errorf("failovers: %d in the summary, %d over the paths; want the same, > 0", sum.Failovers, failovers)
			}
			if !strings.Contains(stderr, "recovering") {
				t.Errorf("the lost path was not reported on stderr:\n%s", stderr)
			}
		})
	}
}

// TestReadBuffers: READs on one session share one buffer (as libiscsi's
// iscsi-perf reads into one); WRITEs, a mix, several paths and
// --own-buffers give each command in flight its own.
func TestReadBuffers(t *testing.T) {
	g := session.Geometry{BlockSize: 512, Blocks: 1 << 20}
	for _, tt := range []struct {
		args   []string
		shared bool
	}{
		{[]string{"-m", "4", "iscsi://127.0.0.1/iqn.x:y/1"}, true},
		{[]string{"-m", "4", "--own-buffers", "iscsi://127.0.0.1/iqn.x:y/1"}, false},
		{[]string{"-m", "4", "--write", "iscsi://127.0.0.1/iqn.x:y/1"}, false},
		{[]string{"-m", "4", "--mix", "30", "iscsi://127.0.0.1/iqn.x:y/1"}, false},
		{[]string{"-m", "4", "--path", "iscsi://127.0.0.2/iqn.x:y/1", "iscsi://127.0.0.1/iqn.x:y/1"}, false},
	} {
		var stderr bytes.Buffer
		o, err := parseArgs(tt.args, &stderr)
		if err != nil {
			t.Fatalf("parseArgs(%q): %v (%s)", tt.args, err, stderr.String())
		}
		r := newRunner(nil, g, o, io.Discard, io.Discard)
		shared := 0
		for _, w := range r.workers[1:] {
			if len(w.buf) != o.blocks*512 {
				t.Fatalf("%q: a buffer of %d bytes, want %d", tt.args, len(w.buf), o.blocks*512)
			}
			if &w.buf[0] == &r.workers[0].buf[0] {
				shared++
			}
		}
		if want := map[bool]int{true: 3, false: 0}[tt.shared]; shared != want {
			t.Errorf("%q: %d of 3 workers share the first one's buffer, want %d", tt.args, shared, want)
		}
	}
}
