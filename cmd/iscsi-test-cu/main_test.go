package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/conformance"
	"github.com/iscsi-go/iscsi/iscsitest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestUsage(t *testing.T) {
	if _, stderr, code := runCLI(t); code != exitUsage || !strings.Contains(stderr, "You must specify an iSCSI URL") {
		t.Errorf("no URL: exit %d, stderr %q; want %d", code, stderr, exitUsage)
	}
	if _, _, code := runCLI(t, "--no-such-flag", "iscsi://h/iqn.x/1"); code != exitUsage {
		t.Errorf("bad flag: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := runCLI(t, "-t", "ALL.NoSuchSuite", "iscsi://h/iqn.x/1"); code != exitUsage {
		t.Errorf("bad test name: exit %d, want %d", code, exitUsage)
	}
	if out, _, code := runCLI(t, "-?"); code != exitOK || !strings.Contains(out, "--dataloss") {
		t.Errorf("help: exit %d", code)
	}
	// A target that is not there: the suite cannot start (libiscsi's -1).
	if _, stderr, code := runCLI(t, "iscsi://127.0.0.1:1/iqn.x/1"); code != exitNoStart || stderr == "" {
		t.Errorf("no target: exit %d, stderr %q; want %d", code, stderr, exitNoStart)
	}
}

// --list prints libiscsi's names: each family, its suites, their tests.
func TestList(t *testing.T) {
	out, _, code := runCLI(t, "-l")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	has := map[string]bool{}
	for _, l := range lines {
		has[l] = true
	}
	for _, want := range []string{"ALL", "ALL.Read10", "ALL.Read10.Simple", "SCSI", "SCSI.Read10.Simple", "iSCSI", "iSCSI.iSCSIResiduals.Read10Residuals"} {
		if !has[want] {
			t.Errorf("--list lacks %q", want)
		}
	}
	// libiscsi 1.19 lists 230+51+1 lines for ALL, 215+47+1 for SCSI, 15+4+1
	// for iSCSI (and LINUX, out of scope).
	if len(lines) != 282+263+20 {
		t.Errorf("--list printed %d lines, want %d", len(lines), 282+263+20)
	}
}

// The run's lines are CUnit's as libiscsi prints them, and the exit status
// is 0 when nothing failed.
func TestRunAgainstIscsitest(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(4<<20, 512))
	defer srv.Close()
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit.xml")
	t.Chdir(dir)
	out, stderr, code := runCLI(t, "-d", "-x", "--junit", junit, "-t", "ALL.Read1[06],ALL.TestUnitReady", srv.URL())
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"     CUnit - A unit testing framework for C - Version 2.1-3\n",
		"Suite: Read10\n",
		"  Test: Simple ...passed\n",
		"Suite: Read16\n",
		"Suite: TestUnitReady\n",
		"Run Summary:    Type  Total    Ran Passed Failed Inactive\n",
		"               tests     12     12     12      0        0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Suite: Read12") {
		t.Errorf("Read12 ran although not selected")
	}
	var js junitSuites
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &js); err != nil {
		t.Fatalf("JUnit XML: %v", err)
	}
	if js.Tests != 12 || len(js.Suites) != 3 || js.Failures != 0 {
		t.Errorf("JUnit: %d tests in %d suites, %d failures; want 12 in 3, 0", js.Tests, len(js.Suites), js.Failures)
	}
	for _, f := range []string{"CUnitAutomated-Results.xml", "CUnitAutomated-Listing.xml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ XMLName xml.Name }
		if err := xml.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// A failure prints FAILED with the reason, the CDB and the clause, and
// makes the exit status 1.
func TestFailure(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(4<<20, 512))
	defer srv.Close()
	// iscsitest answers commands outside the CmdSN window.
	out, _, code := runCLI(t, "-t", "iSCSI.iSCSIcmdsn.iSCSICmdSnTooHigh,ALL.Inquiry.BlockLimits", srv.URL())
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailed, out)
	}
	for _, want := range []string{"  Test: iSCSICmdSnTooHigh ...    [FAILED] ", "RFC 7143 4.2.2.1", "\nFAILED\n", "    1. "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The numbered list after FAILED counts the failures, not the CDB and
// clause lines under each.
func TestFailuresNumbered(t *testing.T) {
	var out bytes.Buffer
	p := &printer{w: &out, mode: modeVerbose}
	p.event(conformance.Event{Kind: conformance.TestEnd, Result: conformance.Result{
		Verdict: conformance.Failed,
		Reason:  "WRITESAME10 failed\n        CDB: 41 08\n        checks: SBC-4 WRITE SAME (10)\nWRITESAME16 failed\n        CDB: 93 08",
	}})
	want := "FAILED\n    1. WRITESAME10 failed\n    2. WRITESAME16 failed\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}
