package blockcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// offload copies ranges between two LUNs of one target with EXTENDED COPY
// (LID1): the target moves the data, none of it crosses the network.
type offload struct {
	dst          *session.LogicalUnit // the command goes to the destination
	srcBS        int64
	srcOff       int64 // Options.SourceOffset
	cscds        []scsi.CSCDIdentification
	noListID     bool
	listID       atomic.Uint32
	maxSegBlocks int64 // source blocks per segment
	maxSegs      int   // segments per command
	bufs         sync.Pool
	// refused is set when the target refused a copy: stream from then on.
	refused atomic.Bool
}

// newOffload returns the offload between src and dst, or nil (and the
// reason, for the log) when they are not LUNs of one target that is a copy
// manager for block to block copies.
func newOffload(ctx context.Context, srcRA io.ReaderAt, dstWA io.WriterAt, srcOff int64) (*offload, string) {
	src, dst := unitOf(srcRA), unitOf(dstWA)
	if src == nil || dst == nil {
		return nil, "the source and the destination are not both LUNs"
	}
	if src.Session().Target() != dst.Session().Target() {
		return nil, "the LUNs are behind different targets"
	}
	tpc, err := dst.ThirdPartyCopy(ctx)
	if err != nil {
		return nil, fmt.Sprintf("no Third-party Copy VPD page (0x8f): %v", err)
	}
	var xcopy, params bool
	for _, d := range tpc.Descriptors {
		cmds, err := d.SupportedCommands()
		if err != nil {
			continue
		}
		for _, c := range cmds {
			xcopy = xcopy || c.OpCode == scsi.OpExtendedCopy && slices.Contains(c.ServiceActions, 0x00)
			params = params || c.OpCode == scsi.OpReceiveCopyResults && slices.Contains(c.ServiceActions, byte(scsi.CopyResultsOperatingParameters))
		}
	}
	if !xcopy || !params {
		return nil, "the target does not list EXTENDED COPY (LID1) and RECEIVE COPY RESULTS in VPD page 0x8f"
	}
	buf := make([]byte, 1024)
	res, err := dst.Call(ctx, scsi.ReceiveCopyResults(scsi.CopyResultsOperatingParameters, 0, uint32(len(buf))), session.DirRead, iovector.New(buf))
	if err != nil {
		return nil, fmt.Sprintf("RECEIVE COPY RESULTS: %v", err)
	}
	op, err := scsi.ParseCopyOperatingParameters(buf[:res.Transferred()])
	if err != nil {
		return nil, fmt.Sprintf("RECEIVE COPY RESULTS: %v", err)
	}
	if !slices.Contains(op.ImplementedDescriptorTypes, scsi.XCopySegmentBlockToBlock) ||
		!slices.Contains(op.ImplementedDescriptorTypes, scsi.XCopyCSCDIdentification) ||
		(op.MaxCSCDDescriptorCount != 0 && op.MaxCSCDDescriptorCount < 2) {
		return nil, "the target does not implement block to block segments with Identification CSCD descriptors"
	}
	o := &offload{dst: dst, noListID: op.SNLID, maxSegBlocks: 0xffff, maxSegs: max(int(op.MaxSegmentDescriptorCount), 1)}
	for _, u := range []*session.LogicalUnit{src, dst} {
		g, err := u.Geometry(ctx)
		if err != nil {
			return nil, err.Error()
		}
		id, err := u.DeviceIdentification(ctx)
		if err != nil {
			return nil, fmt.Sprintf("no Device Identification page: %v", err)
		}
		i := slices.IndexFunc(id.Designators, func(d scsi.Designator) bool {
			return d.Association == scsi.AssocLogicalUnit && d.Type == scsi.DesignatorNAA && len(d.Value) <= scsi.MaxCSCDDesignator
		})
		if i < 0 {
			return nil, "a LUN has no NAA designator to name it by"
		}
		d := id.Designators[i]
		o.cscds = append(o.cscds, scsi.CSCDIdentification{CodeSet: d.CodeSet, Association: d.Association, Type: d.Type,
			Designator: slices.Clone(d.Value), BlockLength: g.BlockSize})
	}
	o.srcBS = int64(o.cscds[0].BlockLength)
	if o.srcOff = srcOff; srcOff%o.srcBS != 0 {
		return nil, "SourceOffset is not on a block of the source"
	}
	if op.MaxSegmentLength > 0 {
		o.maxSegBlocks = min(o.maxSegBlocks, int64(op.MaxSegmentLength)/o.srcBS)
	}
	// A segment keeps whole blocks of the destination too.
	dstBS := int64(o.cscds[1].BlockLength)
	o.maxSegBlocks = o.maxSegBlocks / (lcm(o.srcBS, dstBS) / o.srcBS) * (lcm(o.srcBS, dstBS) / o.srcBS)
	if op.MaxDescriptorListLength > 0 {
		o.maxSegs = min(o.maxSegs, (int(op.MaxDescriptorListLength)-2*32)/28)
	}
	if o.maxSegBlocks <= 0 || o.maxSegs <= 0 {
		return nil, "the target's copy limits are too small"
	}
	return o, ""
}

// copy copies the n bytes at off (whole blocks of both LUNs) from the
// source to the same offset of the destination.
func (o *offload) copy(ctx context.Context, off, n int64) error {
	dstBS := int64(o.cscds[1].BlockLength)
	p := scsi.ExtendedCopyParameters{NoListID: o.noListID, CSCDs: o.cscds}
	bp, _ := o.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer o.bufs.Put(bp)
	for end := off + n; off < end; {
		p.Segments = p.Segments[:0]
		if !o.noListID {
			p.ListID = uint8(o.listID.Add(1))
		}
		for len(p.Segments) < o.maxSegs && off < end {
			k := min((end-off)/o.srcBS, o.maxSegBlocks)
			p.Segments = append(p.Segments, scsi.BlockSegment{Source: 0, Destination: 1, Blocks: uint16(k),
				SourceLBA: uint64((off + o.srcOff) / o.srcBS), DestinationLBA: uint64(off / dstBS)})
			off += k * o.srcBS
		}
		var err error
		*bp, err = scsi.AppendExtendedCopyParameters((*bp)[:0], &p)
		if err != nil {
			return err
		}
		if _, err := o.dst.Call(ctx, scsi.ExtendedCopy(uint32(len(*bp))), session.DirWrite, iovector.New(*bp)); err != nil {
			return err
		}
	}
	return nil
}

// refusal reports whether err is the target refusing EXTENDED COPY (a SCSI
// status: ILLEGAL REQUEST, COPY ABORTED…), after which the copy streams.
func refusal(err error) bool {
	var se *scsi.StatusError
	return errors.As(err, &se)
}
