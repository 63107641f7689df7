//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/faultproxy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// slowDiskTarget is a tgtd target whose LUN 1 lives on a gated FUSE file
// (gatefs_linux_test.go), behind a fault proxy.
func slowDiskTarget(t *testing.T, iqn string) (*gateFile, string, *faultproxy.Proxy) {
	t.Helper()
	path, gate := mountGate(t, 4<<20) // first: unmounted after tgtd stopped
	inst := tgtd.Start(t)
	inst.NewTarget(1, iqn)
	inst.AddLUN(1, 1, path)
	inst.BindInitiatorAddress(1, "ALL")
	inst.SetParam(1, "DefaultTime2Wait", "0")
	p := faultproxy.Start(t, inst.Addr())
	return gate, path, p
}

// writeHeld writes `first` to blocks at off (acknowledged), then sends
// `held` to the same blocks and returns once the target executes it: its
// backing-store thread is held in pwrite until the gate is released. It
// returns the WRITE's Future and a channel closed when it has landed.
func writeHeld(t *testing.T, gate *gateFile, s *session.Session, off int64, blocks uint32, first, held uint64) (session.Future, <-chan struct{}) {
	t.Helper()
	ctx := testCtx(t)
	span := int(blocks) * 512
	if _, err := s.WriteAtContext(ctx, tagged(span, first, off), off); err != nil {
		t.Fatal(err)
	}
	data := tagged(span, held, off)
	arrived, landed := gate.hold(data[:64])
	f := s.Write(ctx, uint64(off/512), blocks, iovector.New(data))
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the WRITE never reached the backing file")
	}
	return f, landed
}

// landLate lets the held WRITE (stale) finish once the rewrite (want) was
// acknowledged, if it had not finished before, waits for it, and returns
// how many blocks of [off, off+n) it overwrote.
func landLate(t *testing.T, gate *gateFile, landed <-chan struct{}, path string, off int64, n int, stale, want uint64) int {
	t.Helper()
	select {
	case <-landed:
		t.Log("the old WRITE had landed before the rewrite was acknowledged")
	default:
		gate.release()
		t.Log("the rewrite was acknowledged while the old WRITE was still executing on the target")
	}
	select {
	case <-landed:
	case <-time.After(20 * time.Second):
		t.Fatal("the held WRITE never finished")
	}
	return staleBlocks(t, path, off, n, stale, want)
}

// TestReinstatementWaitsForTargetTasks is the stale write of issue 23's
// soak, made deterministic: a WRITE that the target is executing (its
// backing-store thread is in pwrite) when the connection is lost. tgtd
// reinstates the session at the new login but does not wait for such a
// task: it lands whenever the disk finishes it. Without a barrier, the
// session sent the write again, the application wrote the same blocks
// anew (acknowledged), and then the old WRITE landed over them. The
// session must not send anything on a LUN where the old connection's
// writes may still execute until the target has finished them.
func TestReinstatementWaitsForTargetTasks(t *testing.T) {
	t.Parallel()
	const (
		blocks     = 16
		span       = blocks * 512
		off        = 64 << 10
		d0, d1, d2 = 101, 102, 103
	)
	iqn := "iqn.2026-12.test:stale-task"
	gate, path, p := slowDiskTarget(t, iqn)
	ctx := testCtx(t)
	s, err := session.Dial(ctx, p.TargetURL(iqn, 1), &session.Config{LoginTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, landed := writeHeld(t, gate, s, off, blocks, d0, d1)
	// The WRITE executes on the target; its connection goes.
	p.Conn(p.Accepted() - 1).Cut()
	// The disk finishes it 3 s later, or as soon as the rewrite below is
	// acknowledged, whichever comes first.
	slow := time.AfterFunc(3*time.Second, gate.release)
	defer slow.Stop()
	if _, err := f.Wait(); err != nil {
		t.Logf("the write held on the lost connection: %v", err)
	}
	if _, err := s.WriteAtContext(ctx, tagged(span, d2, off), off); err != nil {
		t.Fatal(err)
	}
	if n := landLate(t, gate, landed, path, off, span, d1, d2); n > 0 {
		t.Errorf("%d blocks of the WRITE the target executed when its connection was lost landed over the acknowledged rewrite", n)
	}
	if st := s.Stats(); st.Barriers == 0 || st.Reconnects == 0 {
		t.Errorf("Stats: %d reconnects, %d barriers; want at least one of each", st.Reconnects, st.Barriers)
	}
}

// TestFenceDialWaitsForTargetTasks is the same stale write after Close:
// the documented fence (dial the next session with the closed one's ISID)
// must keep the closed session's WRITE, still executing on the target,
// from landing after the new session's.
func TestFenceDialWaitsForTargetTasks(t *testing.T) {
	t.Parallel()
	const (
		blocks     = 16
		span       = blocks * 512
		off        = 128 << 10
		d0, d1, d2 = 201, 202, 203
	)
	iqn := "iqn.2026-12.test:stale-task-close"
	gate, path, p := slowDiskTarget(t, iqn)
	ctx := testCtx(t)
	url := p.TargetURL(iqn, 1)
	s, err := session.Dial(ctx, url, &session.Config{LoginTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f, landed := writeHeld(t, gate, s, off, blocks, d0, d1)
	isid := s.ISID()
	s.Close()
	if _, err := f.Wait(); !errors.Is(err, session.ErrMayHaveExecuted) || !errors.Is(err, session.ErrSessionClosed) {
		t.Errorf("the write in flight at Close: %v; want ErrSessionClosed and ErrMayHaveExecuted", err)
	}
	slow := time.AfterFunc(3*time.Second, gate.release)
	defer slow.Stop()
	s2, err := session.Dial(ctx, url, &session.Config{LoginTimeout: 10 * time.Second, ISID: isid})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.WriteAtContext(ctx, tagged(span, d2, off), off); err != nil {
		t.Fatal(err)
	}
	if n := landLate(t, gate, landed, path, off, span, d1, d2); n > 0 {
		t.Errorf("%d blocks of the closed session's WRITE landed over the new session's acknowledged write", n)
	}
}
