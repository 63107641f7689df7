package iscsiotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/contrib/iscsiotel"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collected is one collection, searchable by instrument and attributes.
type collected map[string]metricdata.Aggregation

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// has reports whether set has every key=value of want.
func has(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// value sums the points of name whose attributes include want: the sum of
// a counter, the count of a histogram.
func (c collected) value(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var sum int64
	found := false
	switch d := c[name].(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes, want) {
				sum += p.Value
				found = true
			}
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes, want) {
				sum += int64(p.Count)
				found = true
			}
		}
	default:
		t.Fatalf("instrument %s: %T", name, c[name])
	}
	if !found {
		t.Fatalf("no point of %s with %v", name, want)
	}
	return sum
}

// TestInstrumentsFromIO runs I/O against the in-process target with a
// fault, a window of one command and a dropped connection, and checks the
// instruments against what was done.
func TestInstrumentsFromIO(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithQueueDepth(1))
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := iscsiotel.New(mp.Meter("iscsiotel-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

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
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), Count: 1, Action: iscsitest.Respond,
		Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError)})
	var se *scsi.StatusError
	if _, err := s.ReadAtContext(ctx, buf, 0); !errors.As(err, &se) {
		t.Fatalf("read with a medium error: %v", err)
	}
	srv.CloseClientConnections()
	if _, err := s.ReadAtContext(ctx, buf, 0); err != nil {
		t.Fatal(err)
	}

	c := collect(t, reader)
	st := s.Stats()
	if got := c.value(t, "iscsi.command.io", iscsiotel.KeyDirection.String("write")); got != n*4096 {
		t.Fatalf("bytes written %d, want %d", got, n*4096)
	}
	if got := c.value(t, "iscsi.command.io", iscsiotel.KeyDirection.String("read")); got != int64(st.BytesRead) {
		t.Fatalf("bytes read %d, Stats says %d", got, st.BytesRead)
	}
	if got := c.value(t, "iscsi.command.duration"); got != int64(st.Commands) {
		t.Fatalf("%d latencies, %d commands", got, st.Commands)
	}
	if got := c.value(t, "iscsi.command.duration", iscsiotel.KeyOperation.String("WRITE(10)")); got != n {
		t.Fatalf("%d WRITE(10) latencies, want %d", got, n)
	}
	if got := c.value(t, "iscsi.command.errors", iscsiotel.KeyErrorType.String("check_condition"), iscsiotel.KeyOperation.String("READ(10)")); got != 1 {
		t.Fatalf("check conditions %d", got)
	}
	if got := c.value(t, "iscsi.command.errors"); got != int64(st.CommandErrors) {
		t.Fatalf("errors %d, Stats says %d", got, st.CommandErrors)
	}
	if got := c.value(t, "iscsi.window_stalls"); got == 0 || got != int64(st.WindowStalls) {
		t.Fatalf("window stalls %d, Stats says %d", got, st.WindowStalls)
	}
	if got := c.value(t, "iscsi.reconnects"); got != 1 {
		t.Fatalf("reconnects %d", got)
	}
	if got := c.value(t, "iscsi.logins", iscsiotel.KeyReconnect.Bool(true), iscsiotel.KeyOutcome.String("ok")); got != 1 {
		t.Fatalf("reconnect logins %d", got)
	}
	if got := c.value(t, "iscsi.connection.states", iscsiotel.KeyConnState.String("lost")); got != 1 {
		t.Fatalf("lost %d", got)
	}
	if got := c.value(t, "iscsi.sessions"); got != 1 {
		t.Fatalf("sessions %d", got)
	}

	s.Close()
	c = collect(t, reader)
	if got := c.value(t, "iscsi.sessions"); got != 0 {
		t.Fatalf("sessions after Close %d", got)
	}
	if got := c.value(t, "iscsi.reconnects"); got != 1 {
		t.Fatalf("reconnects after Close %d", got)
	}
}
