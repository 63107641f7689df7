package conformance

import (
	"fmt"
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
	// Needs says what the test needs before it does anything: "dataloss",
	// "sanitize", "multipath" (a second URL), or "".
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

// Select returns the tests pattern names, in libiscsi's order. A pattern of
// the form FAMILY[.SUITE[.TEST]] ("ALL", "SCSI.Read10", "iSCSI.iSCSITMF.
// LUNResetSimpleAsync") selects as libiscsi's --test does; "" means ALL. Any
// other pattern is a regular expression, unanchored as go test's -run,
// matched against every name of each test ("ALL.Read1[026]" selects three
// suites, "Residuals$" the tests so named). Several patterns separated by
// commas select the union.
func Select(pattern string) ([]Test, error) {
	all := Tests()
	if pattern == "" {
		return all, nil
	}
	keep := make([]bool, len(all))
	for _, p := range strings.Split(pattern, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		match, err := matcher(p)
		if err != nil {
			return nil, err
		}
		for i, t := range all {
			for _, n := range t.Names() {
				if match(n) {
					keep[i] = true
				}
			}
		}
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

var plainName = regexp.MustCompile(`^[A-Za-z]+(\.[A-Za-z0-9_-]+){0,2}$`)

// matcher returns the predicate of one pattern: a FAMILY[.SUITE[.TEST]]
// prefix by components, else an unanchored regular expression.
func matcher(p string) (func(string) bool, error) {
	if plainName.MatchString(p) {
		parts := strings.Split(p, ".")
		return func(name string) bool {
			np := strings.Split(name, ".")
			for i, c := range parts {
				if i >= len(np) || !strings.EqualFold(np[i], c) {
					return false
				}
			}
			return true
		}, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("conformance: test pattern %q: %w", p, err)
	}
	return re.MatchString, nil
}
