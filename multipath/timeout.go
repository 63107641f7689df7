package multipath

import (
	"errors"
	"fmt"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
)

// errPathTimeout is the cause with which an attempt is cancelled when it
// took longer than Config.PathTimeout: the path is taken out of the
// picker (the checker brings it back) and the command is moved under the
// replay rules, as for a lost connection.
var errPathTimeout = errors.New("multipath: command timed out on its path")

// failSlow takes p out of the picker after a command timed out on it
// (Config.PathTimeout): PathFailed until the checker's TEST UNIT READY
// succeeds. Without the checker nothing would bring it back, so then the
// path stays in and only the command moves.
func (d *Device) failSlow(p *path, after time.Duration) {
	if d.cfg.CheckInterval < 0 {
		return
	}
	p.mu.Lock()
	gen := p.gen
	p.mu.Unlock()
	p.transition(gen, PathFailed, fmt.Errorf("%w (after %v)", errPathTimeout, after), PathReady)
}

// transportSense reports whether a CHECK CONDITION says the command was
// lost on its way rather than refused by the device: ABORTED COMMAND with
// an ASC of the transport (LOGICAL UNIT COMMUNICATION FAILURE 0x08, the
// INFORMATION UNIT errors 0x0E, SCSI PARITY / CRC errors 0x47, DATA PHASE
// ERROR and the iSCSI ones under 0x4B). Such a command is sent again,
// through the selector, when it is safe to repeat; the target answered,
// so nothing of it is left to fence. Other sense (MEDIUM ERROR, ILLEGAL
// REQUEST, UNIT ATTENTION, ...) is the command's own outcome.
func transportSense(se *scsi.StatusError) bool {
	if se.Status != scsi.StatusCheckCondition || se.Sense == nil || se.Sense.Key != scsi.SenseAbortedCommand {
		return false
	}
	switch se.Sense.ASC.Code() {
	case 0x08, 0x0e, 0x47, 0x4b:
		return true
	}
	return false
}
