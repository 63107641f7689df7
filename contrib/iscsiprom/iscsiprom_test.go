package iscsiprom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/contrib/iscsiprom"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gather returns the families of reg by name.
func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily)
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value returns the value of the metric of fam whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	var sum float64
	found := false
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if !found {
		t.Fatalf("no metric %s%v", name, want)
	}
	return sum
}

// TestMetricsFromIO runs I/O against the in-process target with a fault,
// a window of one command and a dropped connection, and checks every
// metric against what was done.
func TestMetricsFromIO(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithQueueDepth(1))
	defer srv.Close()
	m := iscsiprom.New(iscsiprom.Options{ConstLabels: prometheus.Labels{"volume": "test"}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, srv.URL(), &session.Config{Hooks: []session.Hook{m}})
	if err != nil {
		t.Fatal(err)
	}
	m.Track(s)

	buf := make([]byte, 4096)
	const n = 16
	for i := range n {
		if _, err := s.WriteAtContext(ctx, buf, int64(i)*4096); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadAtContext(ctx, buf, int64(i)*4096); err != nil {
			t.Fatal(err)
		}
	}
	// Eight reads at once through a window of one, the first held up by
	// the target: the others wait at the window.
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), Count: 1, Delay: 100 * time.Millisecond})
	futures := make([]session.Future, 8)
	for i := range futures {
		futures[i] = s.Read(ctx, uint64(i)*8, 8, iovector.New(make([]byte, 4096)))
	}
	for _, f := range futures {
		if _, err := f.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// A medium error.
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), Count: 1, Action: iscsitest.Respond,
		Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError)})
	var se *scsi.StatusError
	if _, err := s.ReadAtContext(ctx, buf, 0); !errors.As(err, &se) {
		t.Fatalf("read with a medium error: %v", err)
	}
	// A lost connection, replaced.
	srv.CloseClientConnections()
	if _, err := s.ReadAtContext(ctx, buf, 0); err != nil {
		t.Fatal(err)
	}

	fams := gather(t, reg)
	if got := value(t, fams, "iscsi_command_bytes_total", "direction", "write", "volume", "test"); got != n*4096 {
		t.Fatalf("bytes written %v, want %d", got, n*4096)
	}
	if got := value(t, fams, "iscsi_command_bytes_total", "direction", "read"); got < (n+1)*4096 {
		t.Fatalf("bytes read %v, want at least %d", got, (n+1)*4096)
	}
	st := s.Stats()
	if got := value(t, fams, "iscsi_command_duration_seconds"); got != float64(st.Commands) {
		t.Fatalf("%v latencies observed, %d commands", got, st.Commands)
	}
	if got := value(t, fams, "iscsi_command_duration_seconds", "op", "WRITE(10)"); got != n {
		t.Fatalf("%v WRITE(10) latencies, want %d", got, n)
	}
	if got := value(t, fams, "iscsi_command_errors_total", "kind", "check_condition", "op", "READ(10)"); got != 1 {
		t.Fatalf("check conditions %v", got)
	}
	if got := value(t, fams, "iscsi_command_errors_total"); got != float64(st.CommandErrors) {
		t.Fatalf("errors %v, Stats says %d", got, st.CommandErrors)
	}
	if got := value(t, fams, "iscsi_window_stalls_total"); got == 0 || got != float64(st.WindowStalls) {
		t.Fatalf("window stalls %v, Stats says %d", got, st.WindowStalls)
	}
	if got := value(t, fams, "iscsi_reconnects_total"); got != 1 {
		t.Fatalf("reconnects %v", got)
	}
	if got := value(t, fams, "iscsi_logins_total", "outcome", "ok", "reconnect", "true"); got != 1 {
		t.Fatalf("reconnect logins %v", got)
	}
	if got := value(t, fams, "iscsi_logins_total", "outcome", "ok", "reconnect", "false"); got != 1 {
		t.Fatalf("first logins %v", got)
	}
	if got := value(t, fams, "iscsi_connection_states_total", "state", "lost"); got != 1 {
		t.Fatalf("lost %v", got)
	}
	if got := value(t, fams, "iscsi_sessions"); got != 1 {
		t.Fatalf("sessions %v", got)
	}

	// A closed session keeps counting in the totals, and no longer in sessions.
	s.Close()
	fams = gather(t, reg)
	if got := value(t, fams, "iscsi_sessions"); got != 0 {
		t.Fatalf("sessions after Close %v", got)
	}
	if got := value(t, fams, "iscsi_reconnects_total"); got != 1 {
		t.Fatalf("reconnects after Close %v", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}
