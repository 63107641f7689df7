package session

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/iscsi-go/iscsi/scsi"
)

// ErrNotThin is the error of a provisioning operation (Unmap, Discard) on
// a unit that is not thin provisioned, or that does not support it.
var ErrNotThin = errors.New("iscsi: the LUN is not thin provisioned (UNMAP not supported)")

// Extent is a run of blocks that share a provisioning status, in blocks
// (LBA, Blocks: for Read, Write, Unmap) and in bytes (Offset, Length: for
// ReadAt, WriteAt, NewReader, Discard, WriteZeroes).
type Extent struct {
	LBA    uint64
	Blocks uint64
	// Offset and Length are LBA and Blocks in bytes (times the block
	// length).
	Offset int64
	Length int64
	// Status is scsi.LBAMapped, scsi.LBADeallocated or scsi.LBAAnchored
	// (or scsi.LBAMappedOrUnknown).
	Status scsi.ProvisioningStatus
}

// Mapped reports whether the extent's blocks hold data (mapped, or not
// known to be deallocated).
func (e Extent) Mapped() bool {
	return e.Status == scsi.LBAMapped || e.Status == scsi.LBAMappedOrUnknown
}

// Extents yields the runs of mapped and deallocated blocks from block
// startLBA up to block endLBA (exclusive; past the LUN's end means to the
// end), in order, adjacent runs of the same status merged, from as many
// GET LBA STATUS as it takes. The range is in blocks, as GET LBA STATUS
// speaks; each Extent says where it is in blocks and in bytes. On a unit
// that is not thin provisioned every block is mapped: one extent, nothing
// asked. An error ends the sequence.
func (u *LogicalUnit) Extents(ctx context.Context, startLBA, endLBA uint64) iter.Seq2[Extent, error] {
	start, end := startLBA, endLBA
	return func(yield0 func(Extent, error) bool) {
		g, err := u.Geometry(ctx)
		if err != nil {
			yield0(Extent{}, err)
			return
		}
		bs := int64(g.BlockSize)
		yield := func(e Extent, err error) bool {
			if err == nil {
				e.Offset, e.Length = int64(e.LBA)*bs, int64(e.Blocks)*bs
			}
			return yield0(e, err)
		}
		end := min(end, g.Blocks)
		if start >= end {
			return
		}
		if !g.Thin {
			yield(Extent{LBA: start, Blocks: end - start, Status: scsi.LBAMapped}, nil)
			return
		}
		var cur Extent
		lba := start
		for lba < end {
			st, err := u.GetLBAStatus(ctx, lba)
			if err != nil {
				if errors.Is(err, scsi.ErrInvalidOpcode) {
					err = u.opErr("GET LBA STATUS", fmt.Errorf("%w: %w", ErrNotThin, err))
				}
				yield(Extent{}, err)
				return
			}
			next := lba
			for _, d := range st.Descriptors {
				// Descriptors start at or before lba (SBC: the first one
				// holds lba) and follow each other; clip to [lba, end).
				dEnd := d.LBA + uint64(d.Blocks)
				if d.Blocks == 0 || dEnd <= next || d.LBA > next {
					continue
				}
				e := Extent{LBA: next, Blocks: min(dEnd, end) - next, Status: d.Status}
				next += e.Blocks
				if cur.Blocks > 0 && cur.Status == e.Status {
					cur.Blocks += e.Blocks
				} else {
					if cur.Blocks > 0 && !yield(cur, nil) {
						return
					}
					cur = e
				}
				if next >= end {
					break
				}
			}
			if next == lba {
				yield(Extent{}, u.opErr("GET LBA STATUS", fmt.Errorf("%w: no descriptor for lba %d", scsi.ErrMalformed, lba)))
				return
			}
			lba = next
		}
		if cur.Blocks > 0 {
			yield(cur, nil)
		}
	}
}

// Discard tells a thin provisioned unit that the n bytes at off hold
// nothing of value: the whole blocks inside the range are unmapped (UNMAP,
// within the Block Limits page's limits); the partial blocks at either end
// are left as they are. On a unit that is not thin provisioned (or without
// UNMAP) it fails with an error matching ErrNotThin, and changes nothing.
// What discarded blocks read as depends on the unit (see WriteZeroes).
func (u *LogicalUnit) Discard(ctx context.Context, off, n int64) error {
	g, err := u.Geometry(ctx)
	if err != nil {
		return err
	}
	if err := u.checkRange("Discard", g, off, n); err != nil {
		return err
	}
	if !g.Thin {
		return u.atErr("Discard", off, ErrNotThin)
	}
	if p, err := u.cachedProvisioning(ctx); err == nil && !p.LBPU {
		return u.atErr("Discard", off, fmt.Errorf("%w: the provisioning page says LBPU=0", ErrNotThin))
	}
	bs := int64(g.BlockSize)
	first := (off + bs - 1) / bs
	last := (off + n) / bs
	if last <= first {
		return nil
	}
	var ext []scsi.UnmapDescriptor
	for lba := first; lba < last; {
		k := min(last-lba, 0xffffffff)
		ext = append(ext, scsi.UnmapDescriptor{LBA: uint64(lba), Blocks: uint32(k)})
		lba += k
	}
	return u.Unmap(ctx, ext)
}

func (u *LogicalUnit) checkRange(op string, g Geometry, off, n int64) error {
	if off < 0 {
		return u.atErr(op, off, ErrNegativeOffset)
	}
	if end := off + n; n < 0 || end > g.Size() || end < off {
		return u.atErr(op, off, fmt.Errorf("%w: %d bytes, the LUN has %d", ErrBeyondEnd, n, g.Size()))
	}
	return nil
}

// zeroChunk bounds one WRITE SAME, in blocks, when the Block Limits page
// gives no MAXIMUM WRITE SAME LENGTH.
const zeroChunk = 1 << 16

// WriteZeroes makes the n bytes at off read as zeros, the cheapest way the
// unit allows: WRITE SAME with UNMAP (the blocks are deallocated) when the
// provisioning page says WRITE SAME(16) may unmap (LBPWS) and unmapped
// blocks read as zeros (LBPRZ); plain WRITE SAME of a zero block
// otherwise; zeros written with WRITE when the unit has no WRITE SAME.
// Partial blocks at either end are written with WriteAt.
func (u *LogicalUnit) WriteZeroes(ctx context.Context, off, n int64) error {
	g, err := u.Geometry(ctx)
	if err != nil {
		return err
	}
	if err := u.checkRange("WriteZeroes", g, off, n); err != nil {
		return err
	}
	bs := int64(g.BlockSize)
	first := (off + bs - 1) / bs
	last := (off + n) / bs
	if last <= first {
		_, err := u.WriteAtContext(ctx, make([]byte, n), off)
		return err
	}
	if head := first*bs - off; head > 0 {
		if _, err := u.WriteAtContext(ctx, make([]byte, head), off); err != nil {
			return err
		}
	}
	if tail := off + n - last*bs; tail > 0 {
		if _, err := u.WriteAtContext(ctx, make([]byte, tail), last*bs); err != nil {
			return err
		}
	}
	var flags scsi.WriteSameFlags
	if g.Thin {
		if p, err := u.cachedProvisioning(ctx); err == nil && p.LBPWS && (p.LBPRZ != 0 || g.UnmappedReadsZero) {
			flags = scsi.WriteSameUnmap
		}
	}
	chunk := uint64(zeroChunk)
	if bl, err := u.cachedBlockLimits(ctx); err == nil && bl.MaxWriteSameLength > 0 {
		chunk = min(bl.MaxWriteSameLength, 0xffffffff)
	}
	zero := make([]byte, bs)
	for lba := uint64(first); lba < uint64(last); {
		k := min(uint64(last)-lba, chunk)
		err := u.WriteSame(ctx, lba, uint32(k), zero, flags)
		if errors.Is(err, scsi.ErrInvalidOpcode) || (flags != 0 && errors.Is(err, scsi.ErrInvalidFieldInCDB)) {
			if flags != 0 {
				flags = 0 // WRITE SAME without UNMAP, then
				continue
			}
			return u.zeroWrites(ctx, g, int64(lba)*bs, int64(last)*bs)
		}
		if err != nil {
			var oe *OpError
			if errors.As(err, &oe) {
				oe.Offset = int64(lba) * bs
			}
			return err
		}
		lba += k
	}
	return nil
}

// zeroWrites writes zeros from byte from to byte to, both block aligned.
func (u *LogicalUnit) zeroWrites(ctx context.Context, g Geometry, from, to int64) error {
	zero := make([]byte, min(int64(g.MaxTransfer), to-from))
	for from < to {
		k := min(int64(len(zero)), to-from)
		if _, err := u.WriteAtContext(ctx, zero[:k], from); err != nil {
			return err
		}
		from += k
	}
	return nil
}
