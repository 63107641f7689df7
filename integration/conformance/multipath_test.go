package conformance_test

import (
	"context"
	"fmt"
	"sync"
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
	return fmt.Sprintf("iscsi://%s/%s/1", inst.Addr(), iqn), fmt.Sprintf("iscsi://%s/%s/1", inst.AddPortal(), iqn)
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
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var theirs, ours tgtd.ToolResult
	var errTheirs, errOurs error
	wg.Add(2)
	go func() {
		defer wg.Done()
		theirs, errTheirs = tgtd.RunToolContext(ctx, nil, "iscsi-test-cu", "-d", "-t", "ALL.MultipathIO", ta, tb)
	}()
	go func() {
		defer wg.Done()
		ours, errOurs = tgtd.RunToolContext(ctx, nil, ourTool, "-d", "-t", "ALL.MultipathIO", oa, ob)
	}()
	wg.Wait()
	if errTheirs != nil || errOurs != nil {
		t.Fatalf("libiscsi: %v; ours: %v", errTheirs, errOurs)
	}
	vt, vo := verdicts(theirs.Stdout), verdicts(ours.Stdout)
	if len(vt) != 4 || len(vo) != 4 {
		t.Fatalf("%d verdicts from libiscsi, %d from ours, want 4 each\nlibiscsi:\n%s\nours:\n%s", len(vt), len(vo), tail(theirs.Stdout), tail(ours.Stdout))
	}
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
