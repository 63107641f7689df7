package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// CommandTimeout bounds each SCSI command a tool sends.
const CommandTimeout = session.DefaultCommandTimeout

// maxUnitAttentions is how many UNIT ATTENTIONs TEST UNIT READY may report
// in a row before we give up, as libiscsi's connect does.
const maxUnitAttentions = 10

// In runs a command that reads at most alloc bytes from lun and returns the
// bytes the target sent.
func In(ctx context.Context, s *session.Session, lun scsi.LUN, cdb scsi.CDB, alloc int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	buf := make([]byte, alloc)
	f := s.Execute(ctx, lun, cdb, session.DirRead, iovector.New(buf))
	res, err := f.Wait()
	if err != nil {
		return nil, err
	}
	n := alloc
	if res.Underflow {
		n -= min(res.Residual, alloc)
	}
	return buf[:n], nil
}

// NoData runs a command without data on lun.
func NoData(ctx context.Context, s *session.Session, lun scsi.LUN, cdb scsi.CDB) error {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	f := s.Execute(ctx, lun, cdb, session.DirNone, nil)
	_, err := f.Wait()
	return err
}

// TestUnitReady sends TEST UNIT READY to lun until it reports something
// other than a UNIT ATTENTION (at most 10 times), and returns its error.
func TestUnitReady(ctx context.Context, s *session.Session, lun scsi.LUN) error {
	var err error
	for range maxUnitAttentions + 1 {
		err = NoData(ctx, s, lun, scsi.TestUnitReady())
		if !scsi.IsUnitAttention(err) {
			return err
		}
	}
	return fmt.Errorf("TEST UNIT READY: still reporting UNIT ATTENTION after %d tries: %w", maxUnitAttentions+1, err)
}

// Connect logs in to the LUN of rawURL the way libiscsi's
// iscsi_full_connect_sync does: login, then TEST UNIT READY to clear the
// unit attentions of a new session. A LUN without medium, reserved by
// another initiator, being sanitized or reached through a port whose ALUA
// group is not active is still a successful connection;
// any other failure (such as a LUN that does not exist) is an error.
func (t *Tool) Connect(ctx context.Context, rawURL string) (*session.Session, error) {
	s, err := session.Dial(ctx, rawURL, t.Config())
	if err != nil {
		return nil, err
	}
	err = TestUnitReady(ctx, s, s.LUN())
	if err != nil && !tolerableAtConnect(err) {
		s.Close()
		return nil, describeLUNError(s.LUN(), "TEST UNIT READY", err)
	}
	return s, nil
}

func tolerableAtConnect(err error) bool {
	var se *scsi.StatusError
	if !errors.As(err, &se) {
		return false
	}
	if se.Status == scsi.StatusReservationConflict {
		return true
	}
	if se.Sense == nil || se.Sense.Key != scsi.SenseNotReady {
		return false
	}
	switch se.Sense.ASC {
	case 0x3a00, 0x3a01, 0x3a02: // medium not present (tray closed, open)
		return true
	case 0x041b: // sanitize in progress
		return true
	case 0x040a, 0x040b, 0x040c:
		// A port of an ALUA group in transition, standby or unavailable:
		// INQUIRY and REPORT TARGET PORT GROUPS still work through it
		// (iscsi-rtpg must be able to say that it is standby).
		return true
	}
	return false
}

// LUNError is a SCSI command that failed on a LUN.
type LUNError struct {
	LUN     scsi.LUN
	Command string // e.g. "INQUIRY"
	Err     error
}

func (e *LUNError) Error() string {
	msg := e.Err.Error()
	if errors.Is(e.Err, scsi.ErrLUNotSupported) {
		msg = "the LUN does not exist on this target (" + msg + ")"
	}
	return fmt.Sprintf("%s on LUN %v: %s", e.Command, e.LUN, msg)
}

func (e *LUNError) Unwrap() error { return e.Err }

func describeLUNError(lun scsi.LUN, cmd string, err error) error {
	return &LUNError{LUN: lun, Command: cmd, Err: err}
}

// CommandError wraps err, the failure of cmd on lun, as a *LUNError.
func CommandError(lun scsi.LUN, cmd string, err error) error {
	return describeLUNError(lun, cmd, err)
}

// Close logs out of s (bounded by the command timeout) and closes it.
func Close(s *session.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	if err := s.Logout(ctx); err != nil {
		s.Close()
	}
}
