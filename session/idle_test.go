package session_test

import (
	"context"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/session"
)

// idleTargetEnv makes the test binary an in-process target for
// BenchmarkIdleSessions, in a process of its own so that its memory is not
// counted as the initiator's.
const idleTargetEnv = "ISCSI_IDLE_TARGET"

func init() {
	if os.Getenv(idleTargetEnv) != "" {
		serveChild(faketarget.Config{Name: tgtName, LUNs: []faketarget.LUN{{Number: 1, Blocks: 1 << 20, Null: true}}})
	}
}

// BenchmarkIdleSessions logs in ISCSI_IDLE_SESSIONS sessions (default 1000)
// to a target in another process and reports what an idle session costs
// the initiator: heap bytes and goroutines per session, and the time of a
// 4 KiB ReadAt on a session that was idle (per op), the process's CPU
// while they idle and its OS threads. ISCSI_IDLE_DIALER=netpoller or
// blocking picks the Config.Dialer (default: the session's default).
func BenchmarkIdleSessions(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("ISCSI_IDLE_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	addr := childTarget(b, idleTargetEnv)
	url := "iscsi://" + addr + "/" + tgtName + "/1"

	ctx := context.Background()
	heap0, gor0 := idleMemory()
	sessions := make([]*session.Session, 0, n)
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	for i := 0; i < n; i++ {
		// A short keepalive interval: a session gives its buffers back
		// after one interval of silence (5 s by default).
		cfg := &session.Config{NOPInterval: time.Second}
		switch os.Getenv("ISCSI_IDLE_DIALER") {
		case "netpoller":
			cfg.Dialer = &net.Dialer{} // Go's netpoller
		case "blocking":
			cfg.Dialer = &session.BlockingDialer{}
		}
		s, err := session.Dial(ctx, url, cfg)
		if err != nil {
			b.Fatalf("session %d: %v", i, err)
		}
		if _, err := s.ReadAt(make([]byte, 4096), 0); err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	time.Sleep(3 * time.Second) // quiet intervals: the buffers go back
	cpu0, wall0 := time.Duration(processCPU()), time.Now()
	time.Sleep(2 * time.Second)
	idle := float64(time.Duration(processCPU())-cpu0) / float64(time.Since(wall0))
	heap1, gor1 := idleMemory()
	threads := osThreads()
	buf := make([]byte, 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sessions[i%n].ReadAt(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/session")
	b.ReportMetric(float64(gor1-gor0)/float64(n), "goroutines/session")
	b.ReportMetric(idle*100, "idle-CPU-%")
	if threads > 0 {
		b.ReportMetric(float64(threads), "OS-threads")
	}
}

// osThreads returns the process's OS threads (Linux), 0 where unknown.
func osThreads() int {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func idleMemory() (heap uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, runtime.NumGoroutine()
}
