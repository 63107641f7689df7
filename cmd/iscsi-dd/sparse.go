package main

import (
	"context"
	"errors"
	"sort"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// provisioning is what a LUN offers for sparse copies: GET LBA STATUS to
// skip deallocated extents when reading, UNMAP to deallocate runs of zeros
// when writing.
type provisioning struct {
	status bool // GET LBA STATUS works (LBPME)
	unmap  bool // UNMAP deallocates and deallocated blocks read as zeros
	// Block Limits of UNMAP: blocks per command and descriptors per
	// command.
	maxUnmap, maxDesc uint32

	// The last GET LBA STATUS answer, sorted by LBA.
	extents []scsi.LBAStatusDescriptor
}

// probeProvisioning asks the LUN what it supports: READ CAPACITY(16) LBPME
// and LBPRZ (both needed for either), VPD page 0xb2 LBPU, VPD page 0xb0
// UNMAP limits. Anything that
// fails means "not supported"; a sparse copy then reads and writes all.
func probeProvisioning(ctx context.Context, s *session.Session, g session.Geometry) *provisioning {
	p := &provisioning{}
	data, err := cli.In(ctx, s, s.LUN(), scsi.ReadCapacity16(32), 32)
	if err != nil {
		return p
	}
	c, err := scsi.ParseReadCapacity16(data)
	if err != nil || !c.LBPME || !c.LBPRZ {
		// Without LBPRZ deallocated blocks need not read as zeros: skipping
		// them would not copy what a read returns, and UNMAP cannot stand in
		// for writing zeros.
		return p
	}
	p.status = true
	data, err = cli.In(ctx, s, s.LUN(), scsi.InquiryVPD(scsi.VPDLogicalBlockProvisioning, 64), 64)
	if err != nil {
		return p
	}
	lbp, err := scsi.ParseLogicalBlockProvisioning(data)
	if err != nil || !lbp.LBPU {
		return p
	}
	data, err = cli.In(ctx, s, s.LUN(), scsi.InquiryVPD(scsi.VPDBlockLimits, 64), 64)
	if err != nil {
		return p
	}
	bl, err := scsi.ParseBlockLimits(data)
	if err != nil || bl.MaxUnmapLBACount == 0 || bl.MaxUnmapDescriptorCount == 0 {
		return p
	}
	p.unmap = true
	p.maxUnmap = bl.MaxUnmapLBACount
	p.maxDesc = bl.MaxUnmapDescriptorCount
	return p
}

// lbaStatusAlloc is the allocation length of GET LBA STATUS: room for 255
// extents.
const lbaStatusAlloc = 8 + 255*16

// extent reports the provisioning of the bytes at off: zero when the LUN
// says they are deallocated (or anchored: both read back per LBPRZ), and
// where the run ends.
func (p *provisioning) extent(ctx context.Context, s *session.Session, g session.Geometry, off int64) (bool, int64, error) {
	bs := int64(g.BlockSize)
	lba := uint64(off / bs)
	if x, ok := p.lookup(lba); ok {
		return readsZero(x.Status), int64(x.LBA+uint64(x.Blocks)) * bs, nil
	}
	data, err := cli.In(ctx, s, s.LUN(), scsi.GetLBAStatus(lba, lbaStatusAlloc), lbaStatusAlloc)
	if err != nil {
		var se *scsi.StatusError
		if errors.As(err, &se) {
			// ILLEGAL REQUEST and friends: the LUN does not do it after
			// all. Read everything.
			p.status = false
			return false, 0, nil
		}
		return false, 0, cli.CommandError(s.LUN(), "GET LBA STATUS", err)
	}
	st, err := scsi.ParseLBAStatus(data)
	if err != nil {
		return false, 0, cli.CommandError(s.LUN(), "GET LBA STATUS", err)
	}
	xs := st.Descriptors
	sort.Slice(xs, func(i, j int) bool { return xs[i].LBA < xs[j].LBA })
	p.extents = xs
	if x, ok := p.lookup(lba); ok {
		return readsZero(x.Status), int64(x.LBA+uint64(x.Blocks)) * bs, nil
	}
	return false, 0, nil
}

func (p *provisioning) lookup(lba uint64) (scsi.LBAStatusDescriptor, bool) {
	i := sort.Search(len(p.extents), func(i int) bool {
		x := p.extents[i]
		return x.LBA+uint64(x.Blocks) > lba
	})
	if i < len(p.extents) && p.extents[i].LBA <= lba && p.extents[i].Blocks > 0 {
		return p.extents[i], true
	}
	return scsi.LBAStatusDescriptor{}, false
}

// discard deallocates the whole blocks of [off, off+n) with UNMAP, within
// the Block Limits, and returns the bytes from off it covered (0 when off
// is not on a block boundary or n is less than a block).
func (p *provisioning) discard(ctx context.Context, s *session.Session, g session.Geometry, off, n int64) (int64, error) {
	bs := int64(g.BlockSize)
	if off%bs != 0 || n < bs {
		return 0, nil
	}
	lba := uint64(off / bs)
	blocks := uint64(n / bs)
	if err := cli.UnmapRange(ctx, s, s.LUN(), lba, lba+blocks, p.maxUnmap, p.maxDesc); err != nil {
		return 0, err
	}
	return int64(blocks) * bs, nil
}

// readsZero reports whether blocks of status st read back without data:
// deallocated or anchored (both read as zeros when LBPRZ is set, which
// probeProvisioning requires).
func readsZero(st scsi.ProvisioningStatus) bool {
	return st == scsi.LBADeallocated || st == scsi.LBAAnchored
}
