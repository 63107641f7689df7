package multipath

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// ErrUnidentified: the first path's LUN reports neither a unit serial
// number (VPD 0x80) nor a logical-unit designator (VPD 0x83), so no other
// path can be shown to reach the same device.
var ErrUnidentified = errors.New("multipath: the LUN has no unit serial number and no device designator: paths cannot be matched")

// DifferentDeviceError is a path whose LUN is not the device the first
// path reaches: its serial number or its logical-unit designators differ.
type DifferentDeviceError struct {
	Path, First             string // the portals (host:port) of the refused and of the first path
	Serial, FirstSerial     string // VPD 0x80
	Designator, FirstDesign string // the logical-unit designators of VPD 0x83, in hex
}

func (e *DifferentDeviceError) Error() string {
	return fmt.Sprintf("multipath: path %s reaches another device than path %s (serial %q, designators %s; first: serial %q, designators %s)",
		e.Path, e.First, e.Serial, e.Designator, e.FirstSerial, e.FirstDesign)
}

// identity is what names a device across paths.
type identity struct {
	serial string
	ids    []string // logical-unit designators, "type:codeset:hex", sorted
	port   portInfo // the path's own: not compared
}

// portInfo is the target port a path reaches, from the designators of VPD
// page 0x83 associated with the target port (ALUA).
type portInfo struct {
	rel, group       uint16
	hasRel, hasGroup bool
}

func (id identity) designators() string { return "[" + strings.Join(id.ids, " ") + "]" }

func (id identity) empty() bool { return id.serial == "" && len(id.ids) == 0 }

func (id identity) equal(o identity) bool {
	if id.serial != o.serial || len(id.ids) != len(o.ids) {
		return false
	}
	for i := range id.ids {
		if id.ids[i] != o.ids[i] {
			return false
		}
	}
	return true
}

// readIdentity reads VPD 0x80 and 0x83. A page the LUN does not support
// (CHECK CONDITION) counts as empty; any other failure is an error.
// Only the designators associated with the logical unit are kept: those of
// the target port (relative port, port group) differ between paths.
func readIdentity(ctx context.Context, u *session.LogicalUnit) (identity, error) {
	var id identity
	serial, err := u.UnitSerialNumber(ctx)
	switch {
	case err == nil:
		id.serial = strings.TrimSpace(serial)
	case !isCheckCondition(err):
		return id, err
	}
	di, err := u.DeviceIdentification(ctx)
	switch {
	case err == nil:
		for _, d := range di.Designators {
			if d.Association == scsi.AssocTargetPort {
				n, ok := d.Number()
				switch {
				case ok && d.Type == scsi.DesignatorRelativeTargetPort:
					id.port.rel, id.port.hasRel = n, true
				case ok && d.Type == scsi.DesignatorTargetPortGroup:
					id.port.group, id.port.hasGroup = n, true
				}
			}
			if d.Association != scsi.AssocLogicalUnit {
				continue
			}
			id.ids = append(id.ids, fmt.Sprintf("%d:%d:%x", d.Type, d.CodeSet, bytes.TrimRight(d.Value, "\x00")))
		}
		sort.Strings(id.ids)
	case !isCheckCondition(err):
		return id, err
	}
	return id, nil
}

func isCheckCondition(err error) bool {
	var se *scsi.StatusError
	return errors.As(err, &se)
}
