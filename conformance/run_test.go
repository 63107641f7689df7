package conformance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/conformance"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
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

// A command the target never answers fails its test after
// Options.CommandTimeout; the test's later commands fail at once instead
// of waiting as long again; the next test runs on a working session.
func TestCommandTimeout(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer srv.Close()
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10), Action: iscsitest.Ignore, Count: 1})
	rep, err := conformance.Run(t.Context(), srv.URL(), &conformance.Options{
		Tests:          "ALL.Read10.Simple,ALL.TestUnitReady",
		CommandTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results", len(rep.Results))
	}
	r := rep.Results[0]
	if r.Verdict != conformance.Failed || !strings.Contains(r.Reason, "no answer within 200ms") {
		t.Errorf("%s: %v: %.300s", r.Test.FullName(), r.Verdict, r.Reason)
	}
	// Read10.Simple sends a READ (10) of 1 to 255 blocks: one waits, the
	// others are not sent.
	if n := strings.Count(r.Reason, "no answer within"); n != 1 {
		t.Errorf("%d commands waited for their timeout, want 1", n)
	}
	if n := strings.Count(r.Reason, "not sent: an earlier command of this test got no answer"); n < 100 {
		t.Errorf("%d commands failed at once, want the rest of the loop", n)
	}
	if r := rep.Results[1]; r.Verdict != conformance.Passed {
		t.Errorf("%s after the timeout: %v: %s", r.Test.FullName(), r.Verdict, r.Reason)
	}
}

// A test whose session ended (the target dropped the connection and the
// session does not recover) does not take the next tests with it: they
// run on a new session.
func TestDeadSessionReplaced(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer srv.Close()
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10), Action: iscsitest.Drop, Count: 1})
	rep, err := conformance.Run(t.Context(), srv.URL(), &conformance.Options{
		Tests:  "ALL.Read10.Simple,ALL.Read10.BeyondEol",
		Config: &session.Config{DisableRecovery: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results", len(rep.Results))
	}
	if r := rep.Results[0]; r.Verdict != conformance.Failed {
		t.Errorf("%s: %v, want failed", r.Test.FullName(), r.Verdict)
	}
	if r := rep.Results[1]; r.Verdict != conformance.Passed {
		t.Errorf("%s after the session ended: %v: %.300s", r.Test.FullName(), r.Verdict, r.Reason)
	}
}
