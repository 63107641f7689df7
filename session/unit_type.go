package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/scsi"
)

// ErrNotBlockDevice is matched by the error of the block API (Geometry,
// ReadAt, …) on a LUN that is not a block device, such as the storage
// array controller tgtd puts at LUN 0. The error names the peripheral
// device type, and still matches what READ CAPACITY failed with.
var ErrNotBlockDevice = errors.New("not a block device")

// blockTypes are the peripheral device types that answer READ CAPACITY
// (SBC, RBC, and the MMC and optical devices that speak it).
var blockTypes = map[scsi.DeviceType]bool{
	scsi.TypeDirectAccess: true, scsi.TypeSimplifiedDirectAccess: true, scsi.TypeWriteOnce: true,
	scsi.TypeMMC: true, scsi.TypeOpticalMemory: true,
}

// whyNoCapacity explains a READ CAPACITY the unit refused: when INQUIRY
// says the unit is not a block device, the error says so (wrapping
// ErrNotBlockDevice and the refusal); otherwise it is err unchanged.
func (u *LogicalUnit) whyNoCapacity(ctx context.Context, err error) error {
	var se *scsi.StatusError
	if !errors.As(err, &se) {
		return err
	}
	buf := make([]byte, 36)
	n, ierr := u.runIn(ctx, scsi.Inquiry(36), buf)
	if ierr != nil {
		return err
	}
	q, perr := scsi.ParseStandardInquiry(buf[:n])
	if perr != nil || blockTypes[q.DeviceType] {
		return err
	}
	return u.opErr("READ CAPACITY", fmt.Errorf("%w (peripheral type 0x%02x, %v): %w", ErrNotBlockDevice, uint8(q.DeviceType), q.DeviceType, err))
}
