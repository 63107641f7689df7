package tools_test

import (
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// TestRTPG: tgtd has no ALUA and answers REPORT TARGET PORT GROUPS with
// ILLEGAL REQUEST; iscsi-rtpg says so on one line and exits 10, where
// libiscsi's prints "Failed to unmarshal RTPG data blob" (the in-process
// target of cmd/iscsi-rtpg's tests covers the report itself).
func TestRTPG(t *testing.T) {
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqnDisks, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	for _, lun := range []int{0, 1} {
		r := runOurs(t, "iscsi-rtpg", inst.TargetURL(iqnDisks, lun))
		if r.ExitCode != 10 || r.Stdout != "" || strings.Count(r.Stderr, "\n") != 1 ||
			!strings.Contains(r.Stderr, "REPORT TARGET PORT GROUPS on LUN "+itoa(lun)+": the target does not report target port groups") {
			t.Errorf("LUN %d: exit %d, stdout %q, stderr %q", lun, r.ExitCode, r.Stdout, r.Stderr)
		}
	}
	if r := runOurs(t, "iscsi-rtpg", inst.TargetURL(iqnDisks, 4)); r.ExitCode != 10 || !strings.Contains(r.Stderr, "LUN 4") {
		t.Errorf("missing LUN: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
}
