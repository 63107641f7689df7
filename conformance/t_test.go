package conformance

import (
	"context"
	"strings"
	"testing"
)

// part is a C helper's return: a Skip in it ends the part and the test
// goes on, marked skipped (a later failure still fails it); a Fatal or a
// panic in it ends the test.
func TestPart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		part     func(*T)
		after    func(*T) // runs after the part, if the test goes on
		want     Verdict
		goesOn   bool
		inReason string
	}{
		{"skip", func(t *T) { t.Skipf("X is not implemented.") }, nil, Skipped, true, "X is not implemented."},
		{"skip then fail", func(t *T) { t.Skipf("X is not implemented.") }, func(t *T) { t.Errorf("Y failed") }, Failed, true, "Y failed"},
		{"fatal", func(t *T) { t.Fatalf("X broke") }, nil, Failed, false, "X broke"},
		{"panic", func(t *T) { panic("boom") }, nil, Failed, false, "panic: boom"},
		{"returns", func(t *T) {}, nil, Passed, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goesOn := false
			ct := &T{ctx: context.Background(), test: Test{Suite: "S", Name: tc.name, fn: func(ct *T) {
				ct.part(func() { tc.part(ct) })
				goesOn = true
				if tc.after != nil {
					tc.after(ct)
				}
			}}}
			ct.runBody()
			v, why := ct.verdict()
			if v != tc.want || goesOn != tc.goesOn || !strings.Contains(why, tc.inReason) {
				t.Errorf("verdict %v (%q), went on %v; want %v (with %q), went on %v", v, why, goesOn, tc.want, tc.inReason, tc.goesOn)
			}
		})
	}
}
