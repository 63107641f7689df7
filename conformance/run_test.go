package conformance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/conformance"
	"github.com/iscsi-go/iscsi/iscsitest"
)

// Run's report, its progress events, and what happens when a suite cannot
// log in: its tests fail and the run goes on (libiscsi's -g), or the run
// stops there (-f, -A).
func TestRunReportAndSetupFailure(t *testing.T) {
	for _, stop := range []bool{false, true} {
		srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
		var events []conformance.EventKind
		suites := 0
		opts := &conformance.Options{
			Tests:            "ALL.TestUnitReady,ALL.ReadCapacity10,ALL.ReadCapacity16",
			StopOnSetupError: stop,
			Progress: func(e conformance.Event) {
				events = append(events, e.Kind)
				if e.Kind == conformance.SuiteStart {
					suites++
					if suites == 2 {
						srv.Close() // the second suite cannot log in
					}
				}
			},
		}
		rep, err := conformance.Run(context.Background(), srv.URL(), opts)
		srv.Close()
		if rep == nil || len(rep.Results) == 0 {
			t.Fatalf("stop=%v: no report (%v)", stop, err)
		}
		if r := rep.Results[0]; r.Test.FullName() != "ALL.ReadCapacity10.Simple" || r.Verdict != conformance.Passed {
			t.Errorf("stop=%v: first result %s %v %q", stop, r.Test.FullName(), r.Verdict, r.Reason)
		}
		if events[0] != conformance.SuiteStart || events[1] != conformance.TestStart || events[2] != conformance.TestEnd {
			t.Errorf("stop=%v: events %v", stop, events)
		}
		if stop {
			if err == nil || len(rep.Results) != 1 {
				t.Errorf("StopOnSetupError: err %v, %d results; want an error and 1 result", err, len(rep.Results))
			}
			continue
		}
		if err != nil || len(rep.Results) != 6 || rep.Count(conformance.Failed) != 5 {
			t.Errorf("go on: err %v, %d results, %d failed; want nil, 6, 5", err, len(rep.Results), rep.Count(conformance.Failed))
		}
		if !strings.Contains(rep.Results[1].Reason, "set-up") {
			t.Errorf("reason of a test of a suite that could not log in: %q", rep.Results[1].Reason)
		}
		if !strings.Contains(rep.String(), "6 tests: 1 passed, 5 failed, 0 skipped") {
			t.Errorf("String: %q", rep.String())
		}
	}
}
