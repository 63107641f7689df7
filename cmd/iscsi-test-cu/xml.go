package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/iscsi-go/iscsi/conformance"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes the report as JUnit XML: one testsuite per suite,
// classname ALL.Suite, a failure or skipped element with the reason.
func writeJUnit(path string, rep *conformance.Report) error {
	js := junitSuites{Name: "iscsi-test-cu", Time: secs(rep.Duration.Seconds())}
	for _, r := range rep.Results {
		if len(js.Suites) == 0 || js.Suites[len(js.Suites)-1].Name != "ALL."+r.Test.Suite {
			js.Suites = append(js.Suites, junitSuite{Name: "ALL." + r.Test.Suite})
		}
		s := &js.Suites[len(js.Suites)-1]
		c := junitCase{Name: r.Test.Name, Classname: "ALL." + r.Test.Suite, Time: secs(r.Duration.Seconds())}
		first, _, _ := strings.Cut(r.Reason, "\n")
		switch r.Verdict {
		case conformance.Failed:
			c.Failure = &junitMessage{Message: first, Text: r.Reason}
			s.Failures++
			js.Failures++
		case conformance.Skipped:
			c.Skipped = &junitMessage{Message: first}
			s.Skipped++
			js.Skipped++
		}
		s.Tests++
		js.Tests++
		s.Cases = append(s.Cases, c)
	}
	return writeXML(path, js)
}

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }

func writeXML(path string, v any) error {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append([]byte(xml.Header), b...)
	b = append(b, '\n')
	return os.WriteFile(path, b, 0o644)
}

// CUnit's automated mode: CUnitAutomated-Results.xml and
// CUnitAutomated-Listing.xml, with the elements CUnit 2.1 writes.
type cuResults struct {
	XMLName xml.Name       `xml:"CUNIT_TEST_RUN_REPORT"`
	Header  string         `xml:"CUNIT_HEADER"`
	Suites  []cuSuiteRun   `xml:"CUNIT_RESULT_LISTING>CUNIT_RUN_SUITE>CUNIT_RUN_SUITE_SUCCESS"`
	Summary []cuSummaryRec `xml:"CUNIT_RUN_SUMMARY>CUNIT_RUN_SUMMARY_RECORD"`
	Footer  string         `xml:"CUNIT_FOOTER"`
}

type cuSuiteRun struct {
	Name  string      `xml:"SUITE_NAME"`
	Tests []cuTestRun `xml:"CUNIT_RUN_TEST_RECORD"`
}

type cuTestRun struct {
	Success *cuTestName `xml:"CUNIT_RUN_TEST_SUCCESS,omitempty"`
	Failure *cuFailure  `xml:"CUNIT_RUN_TEST_FAILURE,omitempty"`
}

type cuTestName struct {
	Name string `xml:"TEST_NAME"`
}

type cuFailure struct {
	Name      string `xml:"TEST_NAME"`
	File      string `xml:"FILE_NAME"`
	Line      int    `xml:"LINE_NUMBER"`
	Condition string `xml:"CONDITION"`
}

type cuSummaryRec struct {
	Type      string `xml:"TYPE"`
	Run       int    `xml:"RUN"`
	Succeeded string `xml:"SUCCEEDED"`
	Failed    int    `xml:"FAILED"`
	Inactive  int    `xml:"INACTIVE"`
}

type cuListing struct {
	XMLName xml.Name     `xml:"CUNIT_TEST_LIST_REPORT"`
	Header  string       `xml:"CUNIT_HEADER"`
	Suites  []cuSuiteDef `xml:"CUNIT_ALL_TEST_LISTING>CUNIT_ALL_TEST_LISTING_SUITE"`
	Footer  string       `xml:"CUNIT_FOOTER"`
}

type cuSuiteDef struct {
	Name  string   `xml:"CUNIT_ALL_TEST_LISTING_SUITE_DEFINITION>SUITE_NAME"`
	Tests []string `xml:"CUNIT_ALL_TEST_LISTING_SUITE_TESTS>TEST_CASE_DEFINITION>TEST_CASE_NAME"`
}

func writeCUnitXML(dir string, rep *conformance.Report) error {
	var res cuResults
	var lst cuListing
	suites := 0
	for _, r := range rep.Results {
		if len(res.Suites) == 0 || res.Suites[len(res.Suites)-1].Name != r.Test.Suite {
			res.Suites = append(res.Suites, cuSuiteRun{Name: r.Test.Suite})
			lst.Suites = append(lst.Suites, cuSuiteDef{Name: r.Test.Suite})
			suites++
		}
		s := &res.Suites[len(res.Suites)-1]
		l := &lst.Suites[len(lst.Suites)-1]
		l.Tests = append(l.Tests, r.Test.Name)
		if r.Verdict == conformance.Failed {
			first, _, _ := strings.Cut(r.Reason, "\n")
			s.Tests = append(s.Tests, cuTestRun{Failure: &cuFailure{Name: r.Test.Name, File: "conformance", Condition: first}})
		} else {
			s.Tests = append(s.Tests, cuTestRun{Success: &cuTestName{r.Test.Name}})
		}
	}
	n, f := len(rep.Results), rep.Count(conformance.Failed)
	res.Summary = []cuSummaryRec{
		{Type: "Suites", Run: suites, Succeeded: "- NA -"},
		{Type: "Test Cases", Run: n, Succeeded: fmt.Sprint(n - f), Failed: f},
	}
	if err := writeXML(filepath.Join(dir, "CUnitAutomated-Results.xml"), res); err != nil {
		return err
	}
	return writeXML(filepath.Join(dir, "CUnitAutomated-Listing.xml"), lst)
}
