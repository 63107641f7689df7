package cli

import (
	"context"
	"fmt"
	"math"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// maxUnmapDescriptors bounds the descriptors of one UNMAP we send, below
// what the Block Limits may allow.
const maxUnmapDescriptors = 64

// UnmapRange unmaps the blocks [lba, end) of lun with as few UNMAP commands
// as the Block Limits allow: each covers at most maxLBA blocks (MAXIMUM
// UNMAP LBA COUNT; 0xffffffff means no limit) in at most maxDesc
// descriptors (MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT) of at most 0xffffffff
// blocks each. maxLBA and maxDesc must not be 0 (no UNMAP). The error is a
// *LUNError naming the range of the command that failed.
func UnmapRange(ctx context.Context, s *session.Session, lun scsi.LUN, lba, end uint64, maxLBA, maxDesc uint32) error {
	if maxLBA == 0 || maxDesc == 0 {
		return fmt.Errorf("UNMAP on LUN %v: the LUN does not support it (Block Limits give a limit of 0)", lun)
	}
	perCmd := uint64(maxLBA)
	if maxLBA == math.MaxUint32 {
		perCmd = math.MaxUint64
	}
	n := int(min(maxDesc, maxUnmapDescriptors))
	ds := make([]scsi.UnmapDescriptor, 0, n)
	params := make([]byte, 0, scsi.UnmapParametersLen(n))
	for lba < end {
		ds = ds[:0]
		var sum uint64
		for lba < end && sum < perCmd && len(ds) < n {
			k := min(end-lba, perCmd-sum, math.MaxUint32)
			ds = append(ds, scsi.UnmapDescriptor{LBA: lba, Blocks: uint32(k)})
			lba += k
			sum += k
		}
		p, err := scsi.AppendUnmapParameters(params[:0], ds)
		if err != nil {
			return err
		}
		if err := unmapOnce(ctx, s, lun, p); err != nil {
			return CommandError(lun, fmt.Sprintf("UNMAP of %d blocks from LBA %d", sum, ds[0].LBA), err)
		}
	}
	return nil
}

func unmapOnce(ctx context.Context, s *session.Session, lun scsi.LUN, params []byte) error {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	f := s.Execute(ctx, lun, scsi.Unmap(false, 0, uint16(len(params))), session.DirWrite, iovector.New(params))
	_, err := f.Wait()
	return err
}
