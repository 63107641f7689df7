package tools_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// deadAddr refuses connections: a proxy pointed at it is a path whose
// logins fail.
const deadAddr = "127.0.0.1:1"

// twoPortals starts tgtd with one LUN of size bytes served on two portals,
// each behind its own faultproxy, and returns the proxies, the portals,
// the URLs through the proxies and the LUN's backing file.
func twoPortals(t *testing.T, iqn string, size int64) ([]*faultproxy.Proxy, []string, []string, string) {
	t.Helper()
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: size}}})
	portals := []string{inst.Addr(), inst.AddPortal()}
	var proxies []*faultproxy.Proxy
	var urls []string
	for _, a := range portals {
		p := faultproxy.Start(t, a)
		proxies = append(proxies, p)
		urls = append(urls, p.TargetURL(iqn, 1))
	}
	return proxies, portals, urls, targets[0].LUNs[0].Path
}

// perfSummary is the part of iscsi-perf's --json summary these tests read.
type perfSummary struct {
	IOs        uint64  `json:"ios"`
	Writes     uint64  `json:"writes"`
	Errors     uint64  `json:"errors"`
	Reconnects uint64  `json:"reconnects"`
	Failovers  uint64  `json:"failovers"`
	LatP99us   float64 `json:"lat_p99_us"`
	LatMaxus   float64 `json:"lat_max_us"`
	Paths      []struct {
		Portal     string `json:"portal"`
		State      string `json:"state"`
		Commands   uint64 `json:"commands"`
		Failovers  uint64 `json:"failovers"`
		Fenced     uint64 `json:"fenced"`
		Reconnects uint64 `json:"reconnects"`
	} `json:"paths"`
}

// TestPerfMultipathTgtd: iscsi-perf over two portals of tgtd (--path),
// reads and writes; path A goes down for a second mid-run (its connection
// cut, its logins refused). The run goes on over path B without an error,
// and the summary counts the commands moved off A and A's reconnect.
func TestPerfMultipathTgtd(t *testing.T) {
	proxies, portals, urls, _ := twoPortals(t, "iqn.2026-12.test:perf-multipath", 8<<20)
	ctx, cancel := context.WithTimeout(context.Background(), tgtd.ToolTimeout)
	defer cancel()
	type result struct {
		r   tgtd.ToolResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := tgtd.RunToolContext(ctx, nil, ours("iscsi-perf"), "-t", "4", "-m", "16", "-r", "--mix=30", "--json", "--path", urls[1], urls[0])
		done <- result{r, err}
	}()
	// Cut path A once it carries I/O.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for proxies[0].Bytes(faultproxy.Down) < 1<<20 {
		select {
		case res := <-done:
			t.Fatalf("iscsi-perf ended before path A carried 1 MiB: %v\n%s\n%s", res.err, res.r.Stdout, res.r.Stderr)
		case <-tick.C:
		}
	}
	proxies[0].SetTarget(deadAddr)
	proxies[0].CutAll()
	time.Sleep(time.Second)
	proxies[0].SetTarget(portals[0])
	res := <-done
	if res.err != nil || res.r.ExitCode != 0 {
		t.Fatalf("iscsi-perf: exit %d, %v\nstdout:\n%s\nstderr:\n%s", res.r.ExitCode, res.err, res.r.Stdout, res.r.Stderr)
	}
	var sum perfSummary
	if err := json.Unmarshal([]byte(res.r.Stdout), &sum); err != nil {
		t.Fatalf("no JSON summary: %v\n%s", err, res.r.Stdout)
	}
	t.Logf("%d I/Os (%d writes), %d failovers, latency p99 %.1f ms, max %.1f ms; paths %+v",
		sum.IOs, sum.Writes, sum.Failovers, sum.LatP99us/1000, sum.LatMaxus/1000, sum.Paths)
	if sum.IOs == 0 || sum.Writes == 0 || sum.Errors != 0 || len(sum.Paths) != 2 {
		t.Fatalf("summary %+v: want reads and writes over 2 paths, no error", sum)
	}
	if sum.Failovers == 0 || sum.Paths[0].Failovers != sum.Failovers || sum.Paths[0].Reconnects == 0 {
		t.Errorf("want the commands in flight on path A moved off it and A reconnected: %+v", sum)
	}
	for i, p := range sum.Paths {
		if p.Commands == 0 || p.State != "ready" {
			t.Errorf("path %d: %+v, want ready and having carried commands", i, p)
		}
	}
	if !strings.Contains(res.r.Stderr, "path 0 ("+proxies[0].Addr()+"): recovering") {
		t.Errorf("the loss of path A is not on stderr:\n%s", res.r.Stderr)
	}
}

// TestDDMultipathTgtd: iscsi-dd copies a file to tgtd's LUN over two
// portals (--path); path A's connection is cut after 3 MiB went up it. The
// copy ends without an error (before A is back: its Time2Wait is 2 s), the
// writes in flight on A were sent again on B, and the backing file holds
// the file.
func TestDDMultipathTgtd(t *testing.T) {
	const size = 8 << 20
	proxies, _, urls, backing := twoPortals(t, "iqn.2026-12.test:dd-multipath", size)
	proxies[0].OnAccept(func(c *faultproxy.Conn) {
		if c.Index() == 0 {
			c.Up().CutAt(3 << 20)
		}
	})
	data := make([]byte, size)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "src.img")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runOurs(t, "iscsi-dd", "-m", "16", "-b", "128", "--path", urls[1], "-s", src, "-d", urls[0])
	if r.ExitCode != 0 {
		t.Fatalf("iscsi-dd: exit %d\nstdout:\n%s\nstderr:\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	t.Logf("%s", r.Stdout)
	if copied, _, _ := parseSummary(t, r.Stdout); copied != size {
		t.Errorf("copied %d bytes, want %d", copied, size)
	}
	m := regexp.MustCompile(`(?m)^destination: 2 paths, (\d+) commands failed over$`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no per-path lines:\n%s", r.Stdout)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Errorf("no command failed over: want the cut to move the writes in flight on path A")
	}
	got, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the backing file differs from the file copied")
	}
}
