package conformance

import (
	"bytes"
	"encoding/binary"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("dataloss", map[string]func(*T){
		"extendedcopy_simple":             xcopySimple,
		"extendedcopy_param":              xcopyParamHdr,
		"extendedcopy_validate_tgt_descr": xcopyValidTgtDescr,
		"extendedcopy_validate_seg_descr": xcopyValidSegDescr,
		"extendedcopy_descr_limits":       xcopyDescrLimits,
		"extendedcopy_descr_type":         xcopyDescrType,
	})
	register("", map[string]func(*T){
		"receive_copy_results_copy_status": rcrCopyStatus,
	})
}

// EXTENDED COPY (LID1) parameter lists, byte for byte as libiscsi's tests
// build them (SPC-4 6.4): a 16-byte header, one Identification CSCD
// descriptor (E4h, 32 bytes) naming the unit under test by its designator of
// highest type among vendor specific, T10, EUI-64 and NAA, and one block to
// block segment descriptor (02h, 28 bytes).
const (
	xcopyHdrLen  = 16
	cscdIdentLen = 32
	segB2BLen    = 28
)

var (
	tooManyDescr   = expect{scsi.StatusCheckCondition, scsi.SenseIllegalRequest, []scsi.ASC{0x2606, 0x2608}, "ILLEGAL_REQUEST/TOO_MANY_TARGET_OR_SEGMENT_DESCRIPTORS"}
	unsuppDescr    = expect{scsi.StatusCheckCondition, scsi.SenseIllegalRequest, []scsi.ASC{0x2607, 0x2609}, "ILLEGAL_REQUEST/UNSUPPORTED_TARGET_OR_SEGMENT_DESCRIPTOR_TYPE_CODE"}
	paramListLenEr = expect{scsi.StatusCheckCondition, scsi.SenseIllegalRequest, []scsi.ASC{0x1a00}, "ILLEGAL_REQUEST/PARAMETER_LIST_LENGTH_ERROR"}
)

var copyAborted = expect{scsi.StatusCheckCondition, scsi.SenseKey(0x0a), []scsi.ASC{0x0000, 0x0804, 0x0d02}, "COPY_ABORTED"}

// designator is libiscsi's choice of designator for the CSCD descriptor.
func (t *T) designator() []byte {
	r, ok := t.run(t.dev.nexus(), "INQUIRY", scsi.InquiryVPD(scsi.VPDDeviceIdentification, 255), session.DirRead, nil, 255, good)
	if !ok {
		return nil
	}
	ds, err := scsi.ParseDesignators(r.data[min(4, len(r.data)):])
	if err != nil {
		return nil
	}
	var best []byte
	prev := -1
	for _, d := range ds {
		typ := int(d.Type)
		switch d.Type {
		case scsi.DesignatorVendorSpecific, 0x1, 0x2, 0x3: // vendor, T10, EUI-64, NAA
			if prev <= typ {
				b := []byte{byte(d.CodeSet), byte(d.Type)&0xf | (byte(d.Association)&3)<<4, 0, byte(len(d.Value))}
				best = append(b, d.Value...)
				prev = typ
			}
		}
	}
	return best
}

// cscd is populate_tgt_desc: an Identification CSCD descriptor with LU ID
// TYPE luidType and the NUL bit.
func (t *T) cscd(luidType byte, nul bool) []byte {
	d := make([]byte, cscdIdentLen)
	d[0] = 0xe4
	d[1] = luidType << 6
	if nul {
		d[1] |= 0x20
	}
	copy(d[4:28], t.designator())
	bs := t.dev.BlockSize
	d[29], d[30], d[31] = byte(bs>>16), byte(bs>>8), byte(bs)
	return d
}

// segB2B is populate_seg_desc_b2b.
func segB2B(src, dst uint16, blocks uint16, srcLBA, dstLBA uint64) []byte {
	d := make([]byte, segB2BLen)
	d[0] = 0x02
	binary.BigEndian.PutUint16(d[2:], segB2BLen-4)
	binary.BigEndian.PutUint16(d[4:], src)
	binary.BigEndian.PutUint16(d[6:], dst)
	binary.BigEndian.PutUint16(d[10:], blocks)
	binary.BigEndian.PutUint64(d[12:], srcLBA)
	binary.BigEndian.PutUint64(d[20:], dstLBA)
	return d
}

// xcopyList is populate_param_header followed by the descriptors.
func xcopyList(listID, listIDUsage byte, cscd, seg []byte) []byte {
	h := make([]byte, xcopyHdrLen)
	h[0] = listID
	h[1] = (listIDUsage & 3) << 3
	binary.BigEndian.PutUint16(h[2:], uint16(len(cscd)))
	binary.BigEndian.PutUint32(h[8:], uint32(len(seg)))
	return append(append(h, cscd...), seg...)
}

func (t *T) xcopy(params []byte, e expect) {
	dir := session.DirWrite
	if len(params) == 0 {
		dir = session.DirNone
	}
	r := t.dev.nexus().call(t.ctx, scsi.ExtendedCopy(uint32(len(params))), dir, params, 0)
	if t.check("EXTENDEDCOPY", scsi.ExtendedCopy(uint32(len(params))), &r, e) == -2 {
		t.Skipf("EXTENDEDCOPY is not implemented.")
	}
}

// SPC-4 6.4: a block to block copy of up to 2048 blocks from the start of
// the unit to its end lands there.
func xcopySimple(t *T) {
	d := t.dev
	n := d.Blocks / 2
	if n > 2048 {
		n = 2048
	}
	t.needDataLoss()
	data := t.scratch(int(n), 'A')
	t.io(write16, 0, uint32(n), 0, data, good)
	t.xcopy(xcopyList(1, 2, t.cscd(0, false), segB2B(0, 0, uint16(n), 0, d.Blocks-n)), good)
	got := t.io(read16, d.Blocks-n, uint32(n), 0, nil, good)
	if len(got) == len(data) && string(got) != string(data) {
		t.Errorf("Blocks were not copied correctly")
	}
}

// SPC-4 6.4.1: a parameter list cut short of its descriptors is PARAMETER
// LIST LENGTH ERROR; a length of 0 is not an error.
func xcopyParamHdr(t *T) {
	t.needDataLoss()
	list := xcopyList(1, 0, t.cscd(0, false), segB2B(0, 0, 2048, 0, t.dev.Blocks-2048))
	t.xcopy(list[:xcopyHdrLen+cscdIdentLen-1], paramListLenEr)
	t.xcopy(list[:len(list)-1], paramListLenEr)
	t.xcopy(nil, good)
}

// SPC-4 6.4.5.5: LU ID TYPE 10b is reserved before SPC-4; a NUL CSCD
// descriptor used for a block copy aborts the copy.
func xcopyValidTgtDescr(t *T) {
	t.needDataLoss()
	r, ok := t.inquiry(false, 0, 260, good)
	if !ok || len(r.data) < 3 {
		t.Fatalf("standard INQUIRY data")
	}
	spc4 := r.data[2] >= 6
	seg := segB2B(0, 0, 2048, 0, t.dev.Blocks-2048)
	if spc4 {
		t.xcopy(xcopyList(1, 0, t.cscd(2, false), seg), good)
		return // libiscsi: "Target is SPC-4+. Skipping NUL bit test", a pass
	}
	t.xcopy(xcopyList(1, 0, t.cscd(2, false), seg), invalidCDB)
	t.xcopy(xcopyList(1, 0, t.cscd(0, true), seg), copyAborted)
}

// SPC-4 6.4.6: a segment naming a CSCD descriptor that is not there, or
// reaching past the end of the unit, aborts the copy.
func xcopyValidSegDescr(t *T) {
	t.needDataLoss()
	b := t.dev.Blocks
	t.xcopy(xcopyList(1, 0, t.cscd(0, false), segB2B(0, 1, 2048, 0, b-2048)), copyAborted)
	t.xcopy(xcopyList(1, 0, t.cscd(0, false), segB2B(0, 0, 2048, 0, b-1)), copyAborted)
}

// SPC-4 6.18.3: COPY STATUS of a list identifier never used is INVALID
// FIELD IN CDB; after an EXTENDED COPY with that identifier, GOOD.
func rcrCopyStatus(t *T) {
	n := t.dev.nexus()
	cs := func(e expect) {
		if _, rc := t.try(n, "RECEIVE_COPY_RESULTS", scsi.ReceiveCopyResults(scsi.CopyResultsStatus, 1, 1024), session.DirRead, nil, 1024, e); rc == -2 {
			t.Skipf("RECEIVE_COPY_RESULTS is not implemented.")
		}
	}
	cs(invalidCDB)
	t.needDataLoss()
	b := t.dev.Blocks
	t.xcopy(xcopyList(1, 0, t.cscd(0, false), segB2B(0, 0, 2048, 0, b-2048)), good)
	cs(good)
}

// maxXcopyList bounds the parameter list DescrLimits builds from the
// target's limits (libiscsi allocates whatever they say).
const maxXcopyList = 16 << 20

// SPC-4 6.4.3.2, 6.4.3.3: more CSCD or segment descriptors than RECEIVE
// COPY RESULTS' OPERATING PARAMETERS allow is TOO MANY TARGET (SEGMENT)
// DESCRIPTORS; a descriptor list longer than MAXIMUM DESCRIPTOR LIST
// LENGTH is PARAMETER LIST LENGTH ERROR.
func xcopyDescrLimits(t *T) {
	t.needDataLoss()
	r, ok := t.run(t.dev.nexus(), "RECEIVECOPYRESULT", scsi.ReceiveCopyResults(scsi.CopyResultsOperatingParameters, 0, 1024), session.DirRead, nil, 1024, good)
	if !ok {
		return
	}
	op, err := scsi.ParseCopyOperatingParameters(r.data)
	if err != nil {
		t.Fatalf("RECEIVE COPY RESULTS (OPERATING PARAMETERS): %v", err)
	}
	maxT, maxS := int(op.MaxCSCDDescriptorCount), int(op.MaxSegmentDescriptorCount)
	alloc := max(xcopyHdrLen+(maxT+1)*cscdIdentLen+(maxS+1)*segB2BLen,
		xcopyHdrLen+int(op.MaxDescriptorListLength)+segB2BLen)
	if op.MaxDescriptorListLength > maxXcopyList {
		t.Fatalf("MAXIMUM DESCRIPTOR LIST LENGTH %d is too large to exceed in a test", op.MaxDescriptorListLength)
	}
	cscd := t.cscd(0, false)
	seg := segB2B(0, 0, 2048, 0, t.dev.Blocks-2048)
	list := func(id byte, targets, segments int) []byte {
		l := xcopyList(id, 0, bytes.Repeat(cscd, targets), bytes.Repeat(seg, segments))
		t.Logf("EXTENDED COPY with %d CSCD and %d segment descriptors (%d bytes)", targets, segments, len(l))
		return l
	}
	t.xcopy(list(1, maxT+1, 1), tooManyDescr)
	t.xcopy(list(2, 1, maxS+1), tooManyDescr)
	tgtLen := (maxT + 1) * cscdIdentLen
	t.xcopy(list(3, maxT+1, (alloc-xcopyHdrLen-tgtLen)/segB2BLen), paramListLenEr)
}

// SPC-4 6.4.5.1, 6.4.6.1: a CSCD descriptor type (E0h, Fibre Channel
// N_Port_Name) or a segment descriptor type (03h, stream to stream) the
// copy manager does not implement is UNSUPPORTED TARGET (SEGMENT)
// DESCRIPTOR TYPE CODE.
func xcopyDescrType(t *T) {
	t.needDataLoss()
	fc := make([]byte, cscdIdentLen)
	fc[0] = 0xe0
	bs := t.dev.BlockSize
	fc[29], fc[30], fc[31] = byte(bs>>16), byte(bs>>8), byte(bs)
	t.xcopy(xcopyList(1, 0, fc, segB2B(0, 0, 2048, 0, t.dev.Blocks-2048)), unsuppDescr)
	s2s := make([]byte, 20) // stream to stream: 4-byte header + 10h
	s2s[0] = 0x03
	binary.BigEndian.PutUint16(s2s[2:], uint16(len(s2s)-4))
	t.xcopy(xcopyList(1, 0, t.cscd(0, false), s2s), unsuppDescr)
}
