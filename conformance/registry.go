package conformance

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
)

// Families of tests. Every test is in ALL; SCSI and iSCSI regroup them as
// libiscsi does. libiscsi's LINUX family (sg devices) is out of scope.
const (
	FamilyAll   = "ALL"
	FamilySCSI  = "SCSI"
	FamilyISCSI = "iSCSI"
)

type family uint8

const (
	famSCSI family = 1 << iota
	famISCSI
)

type entry struct {
	suite, name string
	fams        family
	key         string
}

// Test is one test of the suite.
type Test struct {
	Suite string // "Read10"
	Name  string // "Simple"
	// Families are the families besides ALL that hold the test: "SCSI",
	// "iSCSI", or none.
	Families []string
	// Implemented is false for the tests this suite does not have yet:
	// they report SKIPPED with a reason that says so.
	Implemented bool
	// Needs is "dataloss" for the tests that write (they skip without
	// Options.DataLoss), "" for the others. MultipathIO also needs
	// Options.MultipathURL; see docs/CONFORMANCE.md for the details.
	Needs string

	fn func(*T)
}

// FullName is the test's name in family ALL: "ALL.Read10.Simple".
func (c Test) FullName() string { return FamilyAll + "." + c.Suite + "." + c.Name }

// Names returns every name the test answers to, one per family.
func (c Test) Names() []string {
	n := []string{c.FullName()}
	for _, f := range c.Families {
		n = append(n, f+"."+c.Suite+"."+c.Name)
	}
	return n
}

// impls maps an implementation key to its function; each tests_*.go file
// adds its own in an init function.
var impls = map[string]impl{}

type impl struct {
	fn    func(*T)
	needs string
}

func register(needs string, m map[string]func(*T)) {
	for k, f := range m {
		if _, dup := impls[k]; dup {
			panic("conformance: test " + k + " registered twice")
		}
		impls[k] = impl{f, needs}
	}
}

var (
	testsOnce sync.Once
	tests     []Test
)

// Tests returns every test of family ALL, in libiscsi's order (suites as
// libiscsi lists them, tests in each suite likewise).
func Tests() []Test {
	testsOnce.Do(func() {
		for _, e := range catalog {
			t := Test{Suite: e.suite, Name: e.name}
			if e.fams&famSCSI != 0 {
				t.Families = append(t.Families, FamilySCSI)
			}
			if e.fams&famISCSI != 0 {
				t.Families = append(t.Families, FamilyISCSI)
			}
			if im, ok := impls[e.key]; ok {
				t.fn, t.Implemented, t.Needs = im.fn, true, im.needs
			}
			tests = append(tests, t)
		}
	})
	return append([]Test(nil), tests...)
}

// Select returns the tests pattern names, in libiscsi's order. A pattern is
// what libiscsi's --test takes: FAMILY[.SUITE[.TEST]] ("ALL", "SCSI.Read10",
// "iSCSI.iSCSITMF.LUNResetSimpleAsync"), each part a shell glob as fnmatch
// reads it ("ALL.Read1*", "ALL.Read1[026]"), several patterns separated by
// commas, or the name of a file that lists patterns one per line; "" means
// ALL. A pattern holding a character a glob cannot (^ $ + | ( ) { } \) is a
// regular expression instead, unanchored as go test's -run, matched against
// every name of each test ("Residuals$" selects the tests so named; libiscsi
// has no such form).
func Select(pattern string) ([]Test, error) {
	all := Tests()
	if pattern == "" {
		return all, nil
	}
	keep := make([]bool, len(all))
	if err := selectInto(all, keep, pattern, 0); err != nil {
		return nil, err
	}
	var out []Test
	for i, t := range all {
		if keep[i] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("conformance: no test matches %q", pattern)
	}
	return out, nil
}

func selectInto(all []Test, keep []bool, pattern string, depth int) error {
	for _, p := range strings.Split(pattern, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if depth == 0 && !strings.ContainsAny(p, "*?[") {
			if b, err := os.ReadFile(p); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if err := selectInto(all, keep, strings.TrimSpace(line), depth+1); err != nil {
						return err
					}
				}
				continue
			}
		}
		match, err := matcher(p)
		if err != nil {
			return err
		}
		for i, t := range all {
			for _, n := range t.Names() {
				if match(n) {
					keep[i] = true
				}
			}
		}
	}
	return nil
}

// matcher returns the predicate of one pattern: FAMILY[.SUITE[.TEST]] with
// a glob per part, else an unanchored regular expression.
func matcher(p string) (func(string) bool, error) {
	if !strings.ContainsAny(p, `^$+|(){}\`) {
		parts := strings.Split(p, ".")
		if len(parts) <= 3 {
			for _, g := range parts {
				if _, err := path.Match(g, ""); err != nil {
					return nil, fmt.Errorf("conformance: test pattern %q: %w", p, err)
				}
			}
			return func(name string) bool {
				np := strings.Split(name, ".")
				for i, g := range parts {
					if i >= len(np) {
						return false
					}
					if ok, _ := path.Match(g, np[i]); !ok {
						return false
					}
				}
				return true
			}, nil
		}
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("conformance: test pattern %q: %w", p, err)
	}
	return re.MatchString, nil
}
