package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/session"
)

// TestCommandTimeoutTyped: with the target's answers held by the network,
// ReadAt and WriteAt end by Config.CommandTimeout with a *session.OpError
// matching ErrCommandTimeout and context.DeadlineExceeded; the write's also
// matches ErrMayHaveExecuted, and it returns only once the target has ended
// the task (here the connection is given up and the session reinstated), so
// the write that follows it to the same blocks is the one that stays.
func TestCommandTimeoutTyped(t *testing.T) {
	t.Parallel()
	inst := tgtd.Start(t)
	iqn := "iqn.2026-12.test:timeout"
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 1 << 20}}})
	inst.SetParam(1, "DefaultTime2Wait", "0")
	path := targets[0].LUNs[0].Path
	p := faultproxy.Start(t, inst.Addr())
	ctx := testCtx(t)
	s, err := session.Dial(ctx, p.TargetURL(iqn, 1), &session.Config{
		CommandTimeout: time.Second, AbortTimeout: time.Second,
		NOPInterval: -1, LoginTimeout: 10 * time.Second,
		Operational: keys.Offer{DefaultTime2Wait: keys.Some[uint32](0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const span = 8 << 10
	const d1, d2 = 11, 12
	// The geometry first: ReadAt and WriteAt read it on first use.
	if _, err := s.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	c := p.Conn(p.Accepted() - 1)
	c.Down().Stall(0)

	check := func(op string, err error, write bool) {
		t.Helper()
		var oe *session.OpError
		switch {
		case err == nil:
			t.Fatalf("%s with the answers held: no error", op)
		case !errors.As(err, &oe):
			t.Errorf("%s: %v (%T), want a *session.OpError", op, err, err)
		case !errors.Is(err, session.ErrCommandTimeout) || !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("%s: %v, want ErrCommandTimeout and context.DeadlineExceeded", op, err)
		case write && !errors.Is(err, session.ErrMayHaveExecuted):
			t.Errorf("%s: %v, want ErrMayHaveExecuted too (the write was sent)", op, err)
		default:
			t.Logf("%s: %v", op, err)
		}
	}
	_, err = s.ReadAt(make([]byte, span), 0)
	check("ReadAt", err, false)
	_, err = s.WriteAt(tagged(span, d1, 0), 0)
	check("WriteAt", err, true)
	if _, err := s.WriteAtContext(ctx, tagged(span, d2, 0), 0); err != nil {
		t.Fatalf("the write after: %v", err)
	}
	c.Down().Release()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for look := 0; look < 5; look++ {
		if look > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if got := tgtd.ReadBacking(t, path, 0, span); !tagIs(got, d2, 0) {
			t.Fatalf("the blocks do not hold the write acknowledged after the timed-out one (look %d; timed-out write's bytes there: %v)", look, tagIs(got, d1, 0))
		}
	}
	st := s.Stats()
	t.Logf("reconnects %d, replayed %d", st.Reconnects, st.Replayed)
}
