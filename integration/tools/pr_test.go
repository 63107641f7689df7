package tools_test

import (
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

const iqnPR = "iqn.2026-11.com.github.iscsi-go:pr"

// TestPR drives persistent reservations of one LUN from two initiators
// (two names, a new session and ISID each run) and checks what each sees,
// that a reservation keeps the other initiator from writing, and that the
// holder's key can be preempted and everything cleared.
func TestPR(t *testing.T) {
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqnPR, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	url := inst.TargetURL(iqnPR, 1)
	const (
		a = "iqn.2026-11.com.example:initiator-a"
		b = "iqn.2026-11.com.example:initiator-b"
	)
	pr := func(t *testing.T, who string, wantExit int, args ...string) string {
		t.Helper()
		r := runOurs(t, "iscsi-pr", append(append([]string{"-i", who}, args...), url)...)
		if r.ExitCode != wantExit {
			t.Fatalf("iscsi-pr -i %s %v: exit %d, want %d\nstdout: %s\nstderr: %s", who, args, r.ExitCode, wantExit, r.Stdout, r.Stderr)
		}
		if wantExit != 0 && strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("iscsi-pr %v: want one line on stderr, got %q", args, r.Stderr)
		}
		return r.Stdout
	}
	want := func(t *testing.T, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("got:\n%s\nwant:\n%s", got, want)
		}
	}
	// The generation counts changes of the registrations (REGISTER, PREEMPT,
	// CLEAR), not RESERVE or RELEASE.
	want(t, pr(t, a, 0, "-k"), "  PR generation=0x0, 0 registered reservation keys follow:\n")
	want(t, pr(t, b, 0, "--read-reservation"), "  PR generation=0x0, Reservation follows:\n")
	caps := pr(t, a, 0, "-c")
	if !strings.HasPrefix(caps, "Report capabilities response:\n") || !strings.Contains(caps, "  Type Mask Valid(TMV): 0x1\n") || !strings.Contains(caps, "      Write Exclusive\n") {
		t.Errorf("-c:\n%s", caps)
	}

	// A registers 0xabc; B sees it.
	want(t, pr(t, a, 0, "-G", "-S", "abc"), "")
	want(t, pr(t, b, 0, "-k"), "  PR generation=0x1, 1 registered reservation keys follow:\n    0xabc\n")

	// A reserves WRITE EXCLUSIVE with 0x123 (registered on the way).
	want(t, pr(t, a, 0, "-R", "-S", "0x123", "-T", "1"), "")
	want(t, pr(t, b, 0, "-r"), "  PR generation=0x2, Reservation follows:\n    Key=0x123\n    scope: LU_SCOPE,  type: Write Exclusive\n")
	want(t, pr(t, b, 0, "-k"), "  PR generation=0x2, 2 registered reservation keys follow:\n    0xabc\n    0x123\n")

	// B cannot write while it is reserved; a second reservation by B
	// conflicts, and B's key is unregistered again.
	short := t.TempDir() + "/block"
	writeFile(t, short, make([]byte, 512))
	r := tgtd.RunTool(t, nil, ours("iscsi-dd"), "-i", b, "-s", short, "-d", url)
	if r.ExitCode != 10 || !strings.Contains(r.Stderr, "RESERVATION CONFLICT") {
		t.Errorf("a write by B under A's reservation: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
	out := pr(t, b, 10, "-R", "-S", "0x777", "-T", "3")
	want(t, out, "")
	want(t, pr(t, b, 0, "-k"), "  PR generation=0x4, 2 registered reservation keys follow:\n    0xabc\n    0x123\n")

	// B preempts 0x123 with 0x456, EXCLUSIVE ACCESS.
	want(t, pr(t, b, 0, "-P", "-K", "123", "-S", "456", "-T", "3"), "")
	want(t, pr(t, a, 0, "-r"), "  PR generation=0x6, Reservation follows:\n    Key=0x456\n    scope: LU_SCOPE,  type: Exclusive Access\n")
	want(t, pr(t, a, 0, "-k"), "  PR generation=0x6, 2 registered reservation keys follow:\n    0xabc\n    0x456\n")

	// A clears everything.
	want(t, pr(t, a, 0, "-C", "-S", "789"), "")
	want(t, pr(t, b, 0, "-k"), "  PR generation=0x8, 0 registered reservation keys follow:\n")
	want(t, pr(t, b, 0, "-r"), "  PR generation=0x8, Reservation follows:\n")

	// An all-registrants reservation can be released by any registrant
	// (-L registers, releases and unregisters).
	want(t, pr(t, a, 0, "-R", "-S", "0x10", "-T", "7"), "")
	if got := pr(t, b, 0, "-r"); !strings.Contains(got, "type: Write Exclusive, All Registrants\n") {
		t.Errorf("-r after -R -T 7:\n%s", got)
	}
	want(t, pr(t, b, 0, "-L", "-S", "0x20", "-T", "7"), "")
	want(t, pr(t, a, 0, "-r"), "  PR generation=0xb, Reservation follows:\n")

	// Usage errors, before any connection.
	for _, args := range [][]string{{"-k", "-r"}, {}, {"-G", "-S", "xyz"}, {"-R", "-T", "99"}} {
		pr(t, a, 10, args...)
	}
	if r := runOurs(t, "iscsi-pr", "-k", url); r.ExitCode != 10 || !strings.Contains(r.Stderr, "initiator") {
		t.Errorf("iscsi-pr without -i: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
}
