package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/conformance"
)

type mode uint8

const (
	modeSilent mode = iota
	modeNormal
	modeVerbose
)

// printer writes CUnit's basic-mode lines as libiscsi's iscsi-test-cu
// shows them: "Suite: X", "  Test: Y ...passed", the [SKIPPED] and
// [FAILED] lines as they happen, then the run summary.
type printer struct {
	w           io.Writer
	mode        mode
	verboseSCSI bool
	logged      bool // a line was printed since "  Test: Y ..."
	failedN     int
}

func (p *printer) header() {
	if p.mode == modeSilent {
		return
	}
	fmt.Fprint(p.w, "\n\n\n     CUnit - A unit testing framework for C - Version 2.1-3\n     http://cunit.sourceforge.net/\n\n\n")
}

func (p *printer) event(e conformance.Event) {
	switch e.Kind {
	case conformance.SuiteStart:
		if p.mode == modeVerbose {
			fmt.Fprintf(p.w, "Suite: %s\n", e.Suite)
		}
	case conformance.TestStart:
		p.logged = false
		if p.mode == modeVerbose {
			fmt.Fprintf(p.w, "  Test: %s ...", e.Test.Name)
		}
	case conformance.TestLog:
		if p.mode == modeSilent {
			return
		}
		for i, l := range strings.Split(e.Line, "\n") {
			if i > 0 && !p.verboseSCSI {
				// the CDB and clause lines of a failure: always shown
			}
			fmt.Fprintf(p.w, "    %s\n", strings.TrimLeft(l, " "))
		}
		p.logged = true
	case conformance.TestEnd:
		r := e.Result
		if p.verboseSCSI && p.mode != modeSilent {
			for _, l := range r.Log {
				fmt.Fprintf(p.w, "    %s\n", l)
			}
		}
		if r.Verdict == conformance.Failed {
			p.failedN++
			if p.mode == modeVerbose {
				fmt.Fprintln(p.w, "FAILED")
				k := 0 // the failures, without their CDB and clause lines
				for _, l := range strings.Split(r.Reason, "\n") {
					if !strings.HasPrefix(l, " ") {
						k++
						fmt.Fprintf(p.w, "    %d. %s\n", k, l)
					}
				}
			}
			return
		}
		if p.mode == modeVerbose {
			fmt.Fprintln(p.w, "passed")
		}
	}
}

func (p *printer) summary(rep *conformance.Report, elapsed time.Duration) {
	if rep == nil {
		return
	}
	suites := 0
	last := ""
	for _, r := range rep.Results {
		if r.Test.Suite != last {
			suites++
			last = r.Test.Suite
		}
	}
	n := len(rep.Results)
	failed := rep.Count(conformance.Failed)
	if p.mode == modeSilent {
		return
	}
	fmt.Fprintf(p.w, "\nRun Summary:    Type  Total    Ran Passed Failed Inactive\n")
	fmt.Fprintf(p.w, "              suites %6d %6d    n/a %6d %8d\n", suites, suites, 0, 0)
	fmt.Fprintf(p.w, "               tests %6d %6d %6d %6d %8d\n", n, n, n-failed, failed, 0)
	fmt.Fprintf(p.w, "             skipped %6d %6d %6d    n/a      n/a\n", rep.Count(conformance.Skipped), rep.Count(conformance.Skipped), rep.Count(conformance.Skipped))
	fmt.Fprintf(p.w, "\nElapsed time = %8.3f seconds\n", elapsed.Seconds())
	fmt.Fprintf(p.w, "Tests completed with return value: %d\n", 0)
}
