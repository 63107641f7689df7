package conformance_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/conformance"
	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// twoPortalDisk starts a tgtd serving one LUN on two portals and returns
// the LUN's URL through each.
func twoPortalDisk(t *testing.T) (first, second string) {
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 64 << 20}}})
	return inst.TargetURL(iqn, 1), fmt.Sprintf("iscsi://%s/%s/1", inst.AddPortal(), iqn)
}

// libiscsi's MultipathIO suite (which logs in to a second URL of the same
// unit) over two portals of one tgtd, through TestTarget.
func TestMultipathIOTgtd(t *testing.T) {
	a, b := twoPortalDisk(t)
	conformance.TestTarget(t, a, &conformance.Options{
		Tests:        "ALL.MultipathIO",
		DataLoss:     true,
		Skip:         tgtdGaps,
		MultipathURL: b,
	})
}

// MultipathIO with two portal URLs: libiscsi's iscsi-test-cu and ours, each
// against its own tgtd, give the same verdicts.
func TestMultipathIOParityTgtd(t *testing.T) {
	ta, tb := twoPortalDisk(t)
	oa, ob := twoPortalDisk(t)
	theirs, ours := bothSuites(t, time.Minute, nil, []string{"-d", "-t", "ALL.MultipathIO"}, []string{ta, tb}, []string{oa, ob}, 4)
	vt, vo := theirs.verdicts, ours.verdicts
	for n, v := range vt {
		if vo[n] != v {
			t.Errorf("%s: libiscsi says %s, ours %s", n, v, vo[n])
		}
		t.Logf("%s: %s", n, v)
	}
	if theirs.ExitCode != ours.ExitCode {
		t.Errorf("exit status: libiscsi %d, ours %d", theirs.ExitCode, ours.ExitCode)
	}
}
