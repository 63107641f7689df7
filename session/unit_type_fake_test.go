package session_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestControllerLUNIsNotABlockDevice: a LUN that refuses READ CAPACITY and
// says in INQUIRY that it is a storage array controller (tgtd's LUN 0)
// fails the block API with ErrNotBlockDevice naming the peripheral type;
// a disk that refuses READ CAPACITY keeps its plain error.
func TestControllerLUNIsNotABlockDevice(t *testing.T) {
	for _, c := range []struct {
		typ     scsi.DeviceType
		notDisk bool
	}{{scsi.TypeStorageArrayController, true}, {scsi.TypeDirectAccess, false}} {
		_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(cmd *faketarget.Command) faketarget.Verdict {
			switch {
			case cmd.CDB[0] == byte(scsi.OpInquiry) && cmd.CDB[1]&1 == 0:
				inq := make([]byte, 36)
				inq[0], inq[2], inq[3], inq[4] = byte(c.typ), 6, 2, 31
				return answerIn(cmd, inq)
			case cmd.CDB[0] == byte(scsi.OpReadCapacity10),
				cmd.CDB[0] == byte(scsi.OpServiceActionIn16) && cmd.CDB[1]&0x1f == scsi.ServiceActionReadCapacity16:
				cmd.Fail(scsi.StatusCheckCondition, fixedSense(scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode))
			}
			return faketarget.Proceed
		}}}, &session.Config{SkipTestUnitReady: true})
		_, err := s.ReadAt(make([]byte, 512), 0)
		if !errors.Is(err, scsi.ErrInvalidOpcode) {
			t.Fatalf("type %v: ReadAt = %v, want it to still match ErrInvalidOpcode", c.typ, err)
		}
		if errors.Is(err, session.ErrNotBlockDevice) != c.notDisk {
			t.Fatalf("type %v: ReadAt = %v; ErrNotBlockDevice %v, want %v", c.typ, err, !c.notDisk, c.notDisk)
		}
		if c.notDisk && !strings.Contains(err.Error(), "not a block device (peripheral type 0x0c, STORAGE_ARRAY_CONTROLLER)") {
			t.Fatalf("ReadAt = %v, want it to say what the LUN is", err)
		}
	}
}
