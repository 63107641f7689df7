package integration

import (
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/session"
)

// A login with the ISID of a live session reinstates it on tgtd: the old
// session ends (its connection closed by the target), through the same
// portal and through another portal of the group. This is the fence of
// docs/RELIABILITY.md ("Closing a session whose writes may still land")
// and of multipath; tgtd runs it only for a login that leaves the security
// stage, which a login without CHAP skips unless it may reinstate.
func TestLoginWithISIDReinstatesTgtd(t *testing.T) {
	inst := tgtd.Start(t)
	const iqn = "iqn.2026-12.test:reinstate"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	second := inst.AddPortal()
	ctx := testCtx(t)
	for _, url := range []string{inst.TargetURL(iqn, 1), "iscsi://" + second + "/" + iqn + "/1"} {
		s1, err := session.Dial(ctx, inst.TargetURL(iqn, 1), &session.Config{DisableRecovery: true})
		if err != nil {
			t.Fatal(err)
		}
		s2, err := session.Dial(ctx, url, &session.Config{ISID: s1.ISID(), SkipTestUnitReady: true, DisableRecovery: true})
		if err != nil {
			s1.Close()
			t.Fatal(err)
		}
		select {
		case <-s1.Done():
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the session whose ISID the new login took is still alive after 5 s", url)
		}
		s2.Close()
		s1.Close()
	}
}
