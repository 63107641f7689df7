package session_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestGeometryFollowsCapacityChange: a LUN that grows is seen at its new
// size once the target says CAPACITY DATA HAS CHANGED, on any command.
func TestGeometryFollowsCapacityChange(t *testing.T) {
	var grown, announce atomic.Bool
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case announce.Load() && c.CDB[0] == byte(scsi.OpTestUnitReady):
			announce.Store(false)
			_ = c.Respond(scsi.StatusCheckCondition, fixedSense(scsi.SenseUnitAttention, scsi.ASCCapacityDataChanged))
			return faketarget.Handled
		case grown.Load() && c.CDB[0] == byte(scsi.OpServiceActionIn16):
			data := make([]byte, 32)
			binary.BigEndian.PutUint64(data, 2*4096-1)
			binary.BigEndian.PutUint32(data[8:], 512)
			c.Done()
			_ = c.Peer.Reply(&pdu.DataIn{ITT: c.ITT(), Final: true, HasStatus: true}, data)
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	g, err := s.Geometry(ctx)
	if err != nil || g.Blocks != 4096 {
		t.Fatalf("Geometry = %+v, %v", g, err)
	}
	grown.Store(true)
	if g, _ := s.Geometry(ctx); g.Blocks != 4096 {
		t.Fatalf("geometry changed without a unit attention: %+v", g)
	}
	announce.Store(true)
	_, err = s.Call(ctx, s.LUN(), scsi.TestUnitReady(), session.DirNone, nil)
	if !errors.Is(err, scsi.ErrCapacityDataChanged) {
		t.Fatalf("TEST UNIT READY: %v, want CAPACITY DATA HAS CHANGED", err)
	}
	if g, err := s.Geometry(ctx); err != nil || g.Blocks != 2*4096 {
		t.Fatalf("after CAPACITY DATA HAS CHANGED: %+v, %v", g, err)
	}
	grown.Store(false)
	if g, err := s.DefaultUnit().Refresh(ctx); err != nil || g.Blocks != 4096 {
		t.Fatalf("Refresh: %+v, %v", g, err)
	}
}

// TestDialClearsUnitAttentions: a target that reports POWER ON, RESET to
// the first command of a session has it cleared by Dial, so the first
// command of the application (a raw one) succeeds.
func TestDialClearsUnitAttentions(t *testing.T) {
	_, s := dial(t, faketarget.Config{UnitAttention: true}, nil)
	if _, err := s.Call(ctxT(t), s.LUN(), scsi.TestUnitReady(), session.DirNone, nil); err != nil {
		t.Fatalf("first command after Dial: %v", err)
	}
}

// TestDialMissingLUN: a LUN the target does not have fails at Dial.
func TestDialMissingLUN(t *testing.T) {
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(64)})
	_, err := session.Dial(ctxT(t), url(tg, "")[:len(url(tg, ""))-1]+"7", nil)
	if !errors.Is(err, scsi.ErrLUNotSupported) {
		t.Fatalf("Dial to LUN 7: %v", err)
	}
	var oe *session.OpError
	if !errors.As(err, &oe) || oe.LUN.String() != "7" || !strings.Contains(err.Error(), "LUN 7") {
		t.Fatalf("error does not say which LUN: %v", err)
	}
}

// TestForceUSN: the URL's force_usn must match the unit serial number.
func TestForceUSN(t *testing.T) {
	tg := faketarget.Start(t, faketarget.Config{Name: tgtName, LUNs: disk(64)})
	s, err := session.Dial(ctxT(t), url(tg, "")+"?force_usn=beaf0001", nil)
	if err != nil {
		t.Fatalf("right serial: %v", err)
	}
	s.Close()
	_, err = session.Dial(ctxT(t), url(tg, "")+"?force_usn=beaf0009", nil)
	var wu *session.WrongUnitError
	if !errors.As(err, &wu) || wu.Want != "beaf0009" || strings.TrimSpace(wu.Got) != "beaf0001" {
		t.Fatalf("wrong serial: %v", err)
	}
}

// TestLogicalUnits: handles for two LUNs of one session address their own
// LUN, are the same handle for the same number, and reset their own LUN.
func TestLogicalUnits(t *testing.T) {
	luns := []faketarget.LUN{{Number: 1, Blocks: 64}, {Number: 2, Blocks: 128, BlockSize: 4096}}
	_, s := dial(t, faketarget.Config{LUNs: luns}, nil)
	ctx := ctxT(t)
	u2, err := s.LogicalUnit(2)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.LogicalUnit(2); again != u2 {
		t.Fatal("two handles for one LUN")
	}
	if s.DefaultUnit().LUN() != s.LUN() {
		t.Fatal("DefaultUnit is not the URL's LUN")
	}
	g, err := u2.Geometry(ctx)
	if err != nil || g.BlockSize != 4096 || g.Blocks != 128 {
		t.Fatalf("LUN 2 geometry: %+v, %v", g, err)
	}
	want := pattern(5000, 3)
	if _, err := u2.WriteAt(want, 100); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := u2.ReadAt(got, 100); err != nil || string(got) != string(want) {
		t.Fatalf("LUN 2 read back: %v", err)
	}
	one := make([]byte, len(want))
	if _, err := s.ReadAt(one, 100); err != nil || string(one) == string(want) {
		t.Fatalf("LUN 1 holds LUN 2's bytes (%v)", err)
	}
	if err := u2.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := u2.Read(ctx, 0, 1, iovector.New(make([]byte, 4096))).Wait(); err != nil {
		t.Fatalf("read after reset: %v", err)
	}
	if _, err := s.LogicalUnit(1 << 20); err == nil {
		t.Fatal("LUN 1<<20 accepted")
	}
}
