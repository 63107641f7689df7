package faketarget

import (
	"bytes"
	"encoding/binary"

	"github.com/iscsi-go/iscsi/scsi"
)

// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS, when Config.ExtendedCopy
// is set: the target copies blocks between its own LUNs, named in the
// parameter list by their NAA designator (VPD page 0x83), one block to
// block segment after another, and answers once the copy is done.

// Limits reported in RECEIVE COPY RESULTS' operating parameters.
const (
	xcopyMaxCSCDs        = 16
	xcopyMaxSegments     = 64
	xcopyMaxListLength   = 16 + xcopyMaxCSCDs*32 + xcopyMaxSegments*28
	xcopyMaxSegmentBytes = 32 << 20
)

// naaDesignator is the NAA designator the Device Identification page gives
// LUN n.
func naaDesignator(n uint32) []byte {
	return []byte{0x30 | 0x0f&byte(n>>24), 0xfa, 0x4e, 0x00, 0, 0, byte(n >> 8), byte(n)}
}

// thirdPartyCopyPage appends the body of VPD page 0x8f: one Supported
// Commands descriptor listing EXTENDED COPY (LID1) and RECEIVE COPY
// RESULTS (COPY STATUS, OPERATING PARAMETERS).
func thirdPartyCopyPage(b []byte) []byte {
	cmds := []byte{byte(scsi.OpExtendedCopy), 1, 0x00, byte(scsi.OpReceiveCopyResults), 2, 0x00, 0x03}
	body := append([]byte{byte(len(cmds))}, cmds...)
	b = binary.BigEndian.AppendUint16(b, scsi.TPCSupportedCommands)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// receiveCopyResults answers RECEIVE COPY RESULTS (LID1): the operating
// parameters, or the status of the last copy (every copy completes before
// EXTENDED COPY answers).
func (p *Peer) receiveCopyResults(cdb []byte, buf []byte) result {
	alloc := binary.BigEndian.Uint32(cdb[10:14])
	switch scsi.CopyResultsAction(cdb[1] & 0x1f) {
	case scsi.CopyResultsOperatingParameters:
		b := append(buf[:0], make([]byte, 44)...)
		b[4] = 0x01 // SNLID
		binary.BigEndian.PutUint16(b[8:], xcopyMaxCSCDs)
		binary.BigEndian.PutUint16(b[10:], xcopyMaxSegments)
		binary.BigEndian.PutUint32(b[12:], xcopyMaxListLength)
		binary.BigEndian.PutUint32(b[16:], xcopyMaxSegmentBytes)
		b[36] = 1 // MAXIMUM CONCURRENT COPIES
		b[37] = 9 // DATA SEGMENT GRANULARITY: 512 bytes
		b[43] = 2
		b = append(b, scsi.XCopySegmentBlockToBlock, scsi.XCopyCSCDIdentification)
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		return result{data: clip(b, alloc)}
	case scsi.CopyResultsStatus:
		b := append(buf[:0], make([]byte, 12)...)
		binary.BigEndian.PutUint32(b, 8)
		b[4] = 0x01 // completed without errors
		return result{data: clip(b, alloc)}
	}
	return resBadField
}

// extendedCopy runs the copy a parameter list describes.
func (t *Target) extendedCopy(param []byte) result {
	badParam := check(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInParamList)
	if r, ok := t.xcopyLimits(param); !ok {
		return r
	}
	p, err := scsi.ParseExtendedCopyParameters(param)
	if err != nil {
		return badParam
	}
	luns := make([]*lun, len(p.CSCDs))
	for i, c := range p.CSCDs {
		if c.Type != scsi.DesignatorNAA {
			return badParam
		}
		for _, l := range t.luns {
			if bytes.Equal(c.Designator, naaDesignator(l.Number)) {
				luns[i] = l
			}
		}
		if luns[i] == nil {
			// COPY TARGET DEVICE NOT REACHABLE
			return check(scsi.SenseCopyAborted, scsi.ASC(0x0d02))
		}
	}
	for _, s := range p.Segments {
		if int(s.Source) >= len(luns) || int(s.Destination) >= len(luns) {
			return badParam
		}
		src, dst := luns[s.Source], luns[s.Destination]
		unit := src.blockLen
		if s.DC {
			unit = dst.blockLen
		}
		n := uint64(s.Blocks) * unit
		if n%src.blockLen != 0 || n%dst.blockLen != 0 || n > xcopyMaxSegmentBytes {
			return badParam
		}
		if _, _, ok := checkRange(src, s.SourceLBA, uint32(n/src.blockLen)); !ok {
			return resLBARange
		}
		if _, _, ok := checkRange(dst, s.DestinationLBA, uint32(n/dst.blockLen)); !ok {
			return resLBARange
		}
		t.copyBlocks(src, s.SourceLBA*src.blockLen, dst, s.DestinationLBA*dst.blockLen, n)
	}
	return result{}
}

// xcopyLimits checks a parameter list against the limits RECEIVE COPY
// RESULTS reports and the descriptor types implemented, in SPC-4's order
// (6.4.1, 6.4.3.2, 6.4.3.3, 6.4.5.1, 6.4.6.1): a list cut short of the
// lengths its header gives, or longer than MAXIMUM DESCRIPTOR LIST LENGTH,
// is PARAMETER LIST LENGTH ERROR; more CSCD or segment descriptors than
// allowed are TOO MANY TARGET (SEGMENT) DESCRIPTORS; a type not
// implemented is UNSUPPORTED TARGET (SEGMENT) DESCRIPTOR TYPE CODE.
func (t *Target) xcopyLimits(param []byte) (result, bool) {
	const hdr = 16
	switch {
	case len(param) == 0:
		return result{}, false // nothing to copy (SPC-4 6.4.1)
	case len(param) < hdr:
		return check(scsi.SenseIllegalRequest, scsi.ASCParameterListLengthError), false
	}
	cscdLen := int(binary.BigEndian.Uint16(param[2:]))
	segLen := int64(binary.BigEndian.Uint32(param[8:]))
	if int64(cscdLen)+segLen > int64(len(param)-hdr) || int64(cscdLen)+segLen > xcopyMaxListLength {
		return check(scsi.SenseIllegalRequest, scsi.ASCParameterListLengthError), false
	}
	cscds := param[hdr : hdr+cscdLen]
	segs := param[hdr+cscdLen : hdr+int64(cscdLen)+segLen]
	if len(cscds)/32 > xcopyMaxCSCDs {
		return check(scsi.SenseIllegalRequest, scsi.ASC(0x2606)), false
	}
	nseg := 0
	for d := segs; len(d) >= 4; nseg++ {
		n := 4 + int(binary.BigEndian.Uint16(d[2:]))
		d = d[min(n, len(d)):]
	}
	if nseg > xcopyMaxSegments {
		return check(scsi.SenseIllegalRequest, scsi.ASC(0x2608)), false
	}
	for d := cscds; len(d) >= 32; d = d[32:] {
		if d[0] != scsi.XCopyCSCDIdentification {
			return check(scsi.SenseIllegalRequest, scsi.ASC(0x2607)), false
		}
	}
	for d := segs; len(d) >= 4; {
		if d[0] != scsi.XCopySegmentBlockToBlock {
			return check(scsi.SenseIllegalRequest, scsi.ASC(0x2609)), false
		}
		d = d[min(4+int(binary.BigEndian.Uint16(d[2:])), len(d)):]
	}
	return result{}, true
}

// copyBlocks copies n bytes between (or within) LUNs, under their locks.
func (t *Target) copyBlocks(src *lun, from uint64, dst *lun, to uint64, n uint64) {
	switch {
	case dst.Null:
		return
	case src == dst:
		src.mu.Lock()
		defer src.mu.Unlock()
	default:
		// Lock in the order of the LUN list, so that two copies in
		// opposite directions do not deadlock.
		first, second := src, dst
		for _, l := range t.luns {
			if l == dst {
				first, second = dst, src
				break
			}
			if l == src {
				break
			}
		}
		first.mu.Lock()
		defer first.mu.Unlock()
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	if src.Null {
		clear(dst.Data[to : to+n])
		return
	}
	copy(dst.Data[to:to+n], src.Data[from:from+n])
}
