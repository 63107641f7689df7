package conformance_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/conformance"
)

// libiscsi 1.19's iscsi-test-cu --list: 230 tests in ALL, 215 of them in
// SCSI, 15 in iSCSI, in 51 suites.
func TestCatalog(t *testing.T) {
	all := conformance.Tests()
	if len(all) != 230 {
		t.Fatalf("%d tests, want libiscsi's 230", len(all))
	}
	seen := map[string]bool{}
	suites := map[string]bool{}
	fam := map[string]int{}
	for _, tc := range all {
		if seen[tc.FullName()] {
			t.Errorf("%s twice", tc.FullName())
		}
		seen[tc.FullName()] = true
		suites[tc.Suite] = true
		for _, f := range tc.Families {
			fam[f]++
		}
	}
	if len(suites) != 51 {
		t.Errorf("%d suites, want 51", len(suites))
	}
	if fam["SCSI"] != 215 || fam["iSCSI"] != 15 {
		t.Errorf("families SCSI %d, iSCSI %d; want 215 and 15", fam["SCSI"], fam["iSCSI"])
	}
	for _, name := range []string{"ALL.Read10.Simple", "ALL.iSCSIResiduals.Read10Residuals", "ALL.ModeSense6.Control-D_SENSE", "ALL.MultipathIO.CompareAndWriteAsync"} {
		if !seen[name] {
			t.Errorf("%s missing", name)
		}
	}
}

func names(t *testing.T, pattern string) []string {
	t.Helper()
	ts, err := conformance.Select(pattern)
	if err != nil {
		t.Fatalf("Select(%q): %v", pattern, err)
	}
	var n []string
	for _, tc := range ts {
		n = append(n, tc.FullName())
	}
	return n
}

func suitesOf(n []string) []string {
	var s []string
	for _, x := range n {
		p := strings.Split(x, ".")[1]
		if len(s) == 0 || s[len(s)-1] != p {
			s = append(s, p)
		}
	}
	return s
}

func TestSelect(t *testing.T) {
	for _, c := range []struct {
		pattern string
		n       int
		suites  string
	}{
		{"", 230, ""},
		{"ALL", 230, ""},
		{"SCSI", 215, ""},
		{"iSCSI", 15, "iSCSIcmdsn iSCSIdatasn iSCSIResiduals iSCSITMF"},
		{"ALL.Read10", 6, "Read10"},
		{"SCSI.Read10.Simple", 1, "Read10"},
		{"ALL.Read1[026]", 16, "Read10 Read12 Read16"},
		{"ALL.Read1*", 16, "Read10 Read12 Read16"},
		{"ALL.Read10,ALL.Read6", 8, "Read6 Read10"},
		{"Residuals$", 10, "ModeSense6 iSCSIResiduals"},
		{`^ALL\.Write1[02]\.Simple$`, 2, "Write10 Write12"},
		{"iSCSI.iSCSIResiduals.Read10Residuals", 1, "iSCSIResiduals"},
	} {
		n := names(t, c.pattern)
		if len(n) != c.n {
			t.Errorf("Select(%q): %d tests, want %d", c.pattern, len(n), c.n)
		}
		if c.suites != "" && strings.Join(suitesOf(n), " ") != c.suites {
			t.Errorf("Select(%q): suites %v, want %s", c.pattern, suitesOf(n), c.suites)
		}
	}
	for _, bad := range []string{"Read10", "ALL.NoSuchSuite", "ALL.[", "(unclosed"} {
		if _, err := conformance.Select(bad); err == nil {
			t.Errorf("Select(%q) succeeded, want an error", bad)
		}
	}
	// A file of patterns, one per line, as libiscsi's --test takes.
	f := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(f, []byte("ALL.Read6\nALL.TestUnitReady.Simple\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := names(t, f); len(n) != 3 {
		t.Errorf("Select(file): %v, want Read6's 2 and TestUnitReady's 1", n)
	}
}

// Every test not implemented says so when skipped, and is listed in
// docs/CONFORMANCE.md.
func TestNotImplementedDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFORMANCE.md")
	if err != nil {
		t.Fatal(err)
	}
	impl := 0
	for _, tc := range conformance.Tests() {
		if tc.Implemented {
			impl++
			continue
		}
		if !strings.Contains(string(doc), "`"+tc.FullName()+"`") {
			t.Errorf("%s is not implemented and docs/CONFORMANCE.md does not list it", tc.FullName())
		}
	}
	t.Logf("%d of 230 tests implemented", impl)
}
