package integration

import (
	"errors"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestTaskManagementTgtd: every task management function against tgtd,
// with reads in flight: tgtd does ABORT TASK, ABORT TASK SET and LOGICAL
// UNIT RESET and refuses the others as not supported; the reads a function
// ends fail with its error, the others complete (tgtd's null LUN is quick:
// usually all do), and the session goes on. The in-process target's tests
// (session/tmf_fake_test.go) hold commands in flight to check the effects.
func TestTaskManagementTgtd(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: opsIQN, LUNs: []tgtd.LUNSpec{{Null: true}}})
	ctx := testCtx(t)
	s, err := session.Dial(ctx, inst.TargetURL(opsIQN, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := s.DefaultUnit()
	if _, err := u.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	inFlight := func() []session.Future {
		var fs []session.Future
		for i := range 16 {
			fs = append(fs, u.Read(ctx, uint64(i)*256, 256, iovector.New(make([]byte, 256*512))))
		}
		return fs
	}
	// waitAll checks each read either completed or failed with want.
	waitAll := func(what string, fs []session.Future, want error) (ended int) {
		for _, f := range fs {
			_, err := f.Wait()
			switch {
			case err == nil:
			case want != nil && errors.Is(err, want):
				ended++
			case (want == session.ErrLUNReset || want == session.ErrTargetReset) && scsi.IsUnitAttention(err):
				// Sent after the reset (queued behind it): the target
				// reports the reset to it, as SAM requires.
			default:
				t.Fatalf("%s: a read in flight failed with %v", what, err)
			}
		}
		return ended
	}
	// check checks the answer to a function: done, or (supported false)
	// refused as not supported, as tgtd does.
	check := func(what string, err error, supported bool) {
		t.Helper()
		var tme *session.TaskManagementError
		if supported && err != nil || !supported && (!errors.As(err, &tme) || tme.Response != pdu.TMRFunctionNotSupported) {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %v", what, err)
		if _, rerr := s.ReadAtContext(ctx, make([]byte, 4096), 0); rerr != nil {
			t.Fatalf("read after %s: %v", what, rerr)
		}
	}

	fs := inFlight()
	err = s.Abort(ctx, fs[15])
	n := waitAll("ABORT TASK", fs, session.ErrAborted)
	t.Logf("ABORT TASK: %v, %d read ended", err, n)
	check("ABORT TASK", err, true)
	if err := s.Abort(ctx, fs[0]); err != nil {
		t.Fatalf("Abort of a Future already waited for: %v", err)
	}

	fs = inFlight()
	err = u.AbortTaskSet(ctx)
	t.Logf("ABORT TASK SET ended %d reads", waitAll("ABORT TASK SET", fs, session.ErrAborted))
	check("ABORT TASK SET", err, true)

	fs = inFlight()
	err = u.ClearTaskSet(ctx)
	t.Logf("CLEAR TASK SET ended %d reads", waitAll("CLEAR TASK SET", fs, session.ErrAborted))
	check("CLEAR TASK SET", err, false)

	check("CLEAR ACA", u.ClearACA(ctx), false)

	fs = inFlight()
	err = u.Reset(ctx)
	t.Logf("LUN RESET ended %d reads", waitAll("LUN RESET", fs, session.ErrLUNReset))
	check("LUN RESET", err, true)

	fs = inFlight()
	err = s.TargetWarmReset(ctx)
	t.Logf("TARGET WARM RESET ended %d reads", waitAll("TARGET WARM RESET", fs, session.ErrTargetReset))
	check("TARGET WARM RESET", err, false)

	err = s.TargetColdReset(ctx)
	check("TARGET COLD RESET", err, false)
}
