package session_test

// Tests of the identity check after a reconnect (lunrecord.go), issue 17
// items 3, 4 and 5.

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// vpdAnswer answers an INQUIRY of c with data (what the target would send,
// edited by edit), for a hook that returns Handled.
func vpdAnswer(c *faketarget.Command, edit func(data []byte)) {
	data, _ := c.Data()
	if edit != nil {
		edit(data)
	}
	c.Done()
	alloc := uint32(c.CDB[3])<<8 | uint32(c.CDB[4])
	_ = c.Peer.Reply(&pdu.DataIn{ITT: c.ITT(), TTT: pdu.ReservedITT, Final: true, HasStatus: true,
		Underflow: alloc > uint32(len(data)), ResidualCount: alloc - uint32(len(data))}, data)
}

func isVPD(c *faketarget.Command, page byte) bool {
	return c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 == 1 && c.CDB[2] == page
}

// TestIdentityOfExecuteOnlyLUN: a LUN used only through Call (never
// through the block API) is checked after a reconnect like any other: its
// device swapped, the write in flight is not sent to the other device.
func TestIdentityOfExecuteOnlyLUN(t *testing.T) {
	lun2, _ := scsi.EncodeLUN(2)
	var swapped atomic.Bool
	var writesAfter atomic.Int32
	cfg := faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 64}, {Number: 2, Blocks: 64}},
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			if c.Req.LUN != uint64(lun2) {
				return faketarget.Proceed
			}
			switch {
			case isWrite(c.CDB) && swapped.Load():
				writesAfter.Add(1)
			case isWrite(c.CDB) && lbaOf(c.CDB) == 9:
				swapped.Store(true)
				c.Peer.Close()
				return faketarget.Handled
			case isVPD(c, scsi.VPDUnitSerialNumber) && swapped.Load():
				vpdAnswer(c, func(d []byte) { d[len(d)-1] ^= 1 })
				return faketarget.Handled
			}
			return faketarget.Proceed
		}}}
	_, s := dial(t, cfg, quickRecovery(&cfg, &session.Config{}))
	ctx := ctxT(t)
	// The first command to LUN 2 starts the read of its identity.
	if _, err := s.Call(ctx, lun2, scsi.Read10(0, 1, 0), session.DirRead, iovector.New(make([]byte, 512))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return session.LUNIdentified(s, uint64(lun2)) })
	_, err := s.Call(ctx, lun2, scsi.Write10(9, 1, 0), session.DirWrite, iovector.New(make([]byte, 512)))
	var dc *session.DeviceChangedError
	if !errors.As(err, &dc) || dc.LUN != lun2 {
		t.Fatalf("write across a device change of an Execute-only LUN: %v", err)
	}
	if n := writesAfter.Load(); n != 0 {
		t.Fatalf("%d writes reached the other device", n)
	}
}

// TestIdentityRetriesTransientStatus: BUSY, TASK SET FULL and a unit
// attention answering the identity INQUIRY, at Dial and after a reconnect,
// are retried: the same device is not taken for another.
func TestIdentityRetriesTransientStatus(t *testing.T) {
	var transient atomic.Int32
	transient.Store(3) // at Dial: one of each
	var cut atomic.Bool
	statuses := []func(c *faketarget.Command){
		func(c *faketarget.Command) { _ = c.Respond(scsi.StatusBusy, nil) },
		func(c *faketarget.Command) { _ = c.Respond(scsi.StatusTaskSetFull, nil) },
		func(c *faketarget.Command) {
			_ = c.Respond(scsi.StatusCheckCondition, faketarget.FixedSense(scsi.SenseUnitAttention, scsi.ASCPowerOnReset))
		},
	}
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case isVPD(c, scsi.VPDUnitSerialNumber) || isVPD(c, scsi.VPDDeviceIdentification):
			if n := transient.Add(-1); n >= 0 {
				statuses[n%3](c)
				return faketarget.Handled
			}
		case isRead(c.CDB) && lbaOf(c.CDB) == 3 && cut.CompareAndSwap(false, true):
			transient.Store(3) // and again after the reconnect
			c.Peer.Close()
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, quickRecovery(&cfg, &session.Config{}))
	if _, err := s.Read(ctxT(t), 3, 1, iovector.New(make([]byte, 512))).Wait(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Reconnects != 1 || transient.Load() >= 0 {
		t.Fatalf("stats %+v, transient statuses left %d", st, transient.Load())
	}
}

// noVPDTarget is a target whose LUN 1 supports neither VPD 0x80 nor 0x83,
// and whose device is swapped when the first WRITE at LBA 9 arrives (the
// connection is cut then): the new one has another product name if
// otherModel is set, the same otherwise.
func noVPDTarget(otherModel bool, writesAfter *atomic.Int32) faketarget.Config {
	var swapped atomic.Bool
	return faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch {
		case isVPD(c, scsi.VPDUnitSerialNumber) || isVPD(c, scsi.VPDDeviceIdentification):
			_ = c.Respond(scsi.StatusCheckCondition, faketarget.FixedSense(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInCDB))
			return faketarget.Handled
		case c.CDB[0] == byte(scsi.OpInquiry) && c.CDB[1]&1 == 0 && swapped.Load() && otherModel:
			vpdAnswer(c, func(d []byte) { d[16] ^= 0x20 }) // another product
			return faketarget.Handled
		case isWrite(c.CDB) && swapped.Load():
			writesAfter.Add(1)
		case isWrite(c.CDB) && lbaOf(c.CDB) == 9:
			swapped.Store(true)
			c.Peer.Close()
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
}

// TestNoVPDIdentity: a LUN with neither VPD 0x80 nor 0x83 falls back to
// the standard INQUIRY and the capacity: another model after the reconnect
// is another device; the same model is not proof enough to send a write
// again, unless Config.ReplayUnidentifiedWrites says so.
func TestNoVPDIdentity(t *testing.T) {
	cases := []struct {
		name       string
		otherModel bool
		allow      bool
		check      func(t *testing.T, err error, writesAfter int32)
	}{
		{"same model, write not sent again", false, false, func(t *testing.T, err error, writesAfter int32) {
			var ue *session.UnverifiedReplayError
			if !errors.As(err, &ue) || !errors.Is(err, session.ErrMayHaveExecuted) || !errors.Is(err, session.ErrNoDeviceIdentity) || writesAfter != 0 {
				t.Fatalf("write: %v, %d writes sent again", err, writesAfter)
			}
		}},
		{"another model", true, true, func(t *testing.T, err error, writesAfter int32) {
			var dc *session.DeviceChangedError
			if !errors.As(err, &dc) || writesAfter != 0 {
				t.Fatalf("write: %v, %d writes sent again", err, writesAfter)
			}
		}},
		{"same model, replay allowed", false, true, func(t *testing.T, err error, writesAfter int32) {
			if err != nil || writesAfter != 1 {
				t.Fatalf("write: %v, %d writes sent again", err, writesAfter)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var writesAfter atomic.Int32
			cfg := noVPDTarget(tc.otherModel, &writesAfter)
			_, s := dial(t, cfg, quickRecovery(&cfg, &session.Config{ReplayUnidentifiedWrites: tc.allow}))
			ctx := ctxT(t)
			if _, err := s.Geometry(ctx); err != nil {
				t.Fatal(err)
			}
			_, err := s.Write(ctx, 9, 1, iovector.New(make([]byte, 512))).Wait()
			tc.check(t, err, writesAfter.Load())
		})
	}
}
