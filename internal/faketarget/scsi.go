package faketarget

import (
	"encoding/binary"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

const senseLen = 18

// FixedSense returns fixed-format sense data (response code 0x70) with key
// and asc, as the target sends it.
func FixedSense(key scsi.SenseKey, asc scsi.ASC) []byte {
	b := make([]byte, senseLen)
	putSense(b, key, asc)
	return b
}

func putSense(b []byte, key scsi.SenseKey, asc scsi.ASC) {
	clear(b[:senseLen])
	b[0] = scsi.SenseFixedCurrent
	b[2] = byte(key) & 0x0f
	b[7] = senseLen - 8
	b[12], b[13] = asc.Code(), asc.Qualifier()
}

// result is the outcome of a command: status and sense, or data.
type result struct {
	status scsi.Status
	key    scsi.SenseKey
	asc    scsi.ASC
	data   []byte // aliases LUN memory or a scratch buffer
	zero   int    // for a null LUN: this many zero bytes instead of data
	lun    *lun   // set when data aliases LUN memory
	sense  []byte // when not nil, the sense data to send instead of key and asc
}

func (r *result) length() int {
	if r.zero > 0 {
		return r.zero
	}
	return len(r.data)
}

func check(key scsi.SenseKey, asc scsi.ASC) result {
	return result{status: scsi.StatusCheckCondition, key: key, asc: asc}
}

var (
	resLBARange   = check(scsi.SenseIllegalRequest, scsi.ASCLBAOutOfRange)
	resBadOpcode  = check(scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode)
	resBadField   = check(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInCDB)
	resNoLUN      = check(scsi.SenseIllegalRequest, scsi.ASCLUNotSupported)
	resUnitAttn   = check(scsi.SenseUnitAttention, scsi.ASCPowerOnReset)
	resNoWriteBit = check(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInCDB)
)

// rwRange decodes the LBA and block count of READ/WRITE 10/16.
func rwRange(cdb []byte) (lba uint64, blocks uint32) {
	switch scsi.OpCode(cdb[0]) {
	case scsi.OpRead10, scsi.OpWrite10:
		return uint64(binary.BigEndian.Uint32(cdb[2:6])), uint32(binary.BigEndian.Uint16(cdb[7:9]))
	default:
		return binary.BigEndian.Uint64(cdb[2:10]), binary.BigEndian.Uint32(cdb[10:14])
	}
}

// checkRange validates an LBA range against a LUN and returns the byte
// range.
func checkRange(l *lun, lba uint64, blocks uint32) (start, n uint64, ok bool) {
	if lba > l.Blocks || uint64(blocks) > l.Blocks-lba {
		return 0, 0, false
	}
	return lba * l.blockLen, uint64(blocks) * l.blockLen, true
}

// execute runs a command that does not take data from the initiator and
// returns its result; small answers are built in buf.
func (p *Peer) execute(tk *task, buf []byte, consumeUA bool) result {
	cdb := tk.cmd.CDB
	op := scsi.OpCode(cdb[0])
	l := tk.lun
	switch op {
	case scsi.OpInquiry:
		return p.inquiry(l, cdb, buf)
	case scsi.OpReportLUNs:
		alloc := binary.BigEndian.Uint32(cdb[6:10])
		if alloc < 16 {
			return resBadField
		}
		b := append(buf[:0], make([]byte, 8)...)
		binary.BigEndian.PutUint32(b, uint32(8*len(p.t.luns)))
		for _, x := range p.t.luns {
			b = binary.BigEndian.AppendUint64(b, x.wireLUN)
		}
		return result{data: clip(b, alloc)}
	}
	if l == nil {
		return resNoLUN
	}
	if p.t.cfg.UnitAttention && !p.uaDone[tk.lunIdx] {
		if consumeUA {
			p.uaDone[tk.lunIdx] = true
		}
		return resUnitAttn
	}
	switch op {
	case scsi.OpTestUnitReady, scsi.OpSynchronizeCache10, scsi.OpSynchronizeCache16:
		return result{}
	case scsi.OpReadCapacity10:
		b := buf[:8]
		last := l.Blocks - 1
		if l.Blocks == 0 {
			last = 0
		}
		binary.BigEndian.PutUint32(b, uint32(min(last, 0xffffffff)))
		binary.BigEndian.PutUint32(b[4:], uint32(l.BlockSize))
		return result{data: b}
	case scsi.OpMaintenanceIn:
		switch {
		case p.t.cfg.ALUA != nil && cdb[1]&0x1f == scsi.ServiceActionReportTargetPortGroups:
			return result{data: clip(p.t.reportTargetPortGroups(buf[:0], cdb[1]>>5 == 1), binary.BigEndian.Uint32(cdb[6:10]))}
		case p.t.cfg.Sanitize && cdb[1]&0x1f == 0x0c:
			return p.supportedOpCodes(cdb, buf)
		}
		return resBadOpcode
	case scsi.OpMaintenanceOut:
		// Without a parameter list (no data): nothing to set (SPC-4).
		if a := p.t.cfg.ALUA; a == nil || a.Set == nil || cdb[1]&0x1f != scsi.ServiceActionSetTargetPortGroups {
			return resBadOpcode
		}
		return result{}
	case scsi.OpReceiveCopyResults:
		if !p.t.cfg.ExtendedCopy {
			return resBadOpcode
		}
		return p.receiveCopyResults(cdb, buf)
	case scsi.OpServiceActionIn16:
		if cdb[1]&0x1f == scsi.ServiceActionGetLBAStatus && l.mapped != nil {
			return l.getLBAStatus(cdb, buf)
		}
		if cdb[1]&0x1f != scsi.ServiceActionReadCapacity16 {
			return resBadOpcode
		}
		b := buf[:32]
		clear(b)
		binary.BigEndian.PutUint64(b, l.Blocks-1)
		binary.BigEndian.PutUint32(b[8:], uint32(l.BlockSize))
		if l.mapped != nil {
			b[14] = 0xc0 // LBPME, LBPRZ
		}
		return result{data: clip(b, binary.BigEndian.Uint32(cdb[10:14]))}
	case scsi.OpSanitize:
		if !p.t.cfg.Sanitize {
			return resBadOpcode
		}
		return p.t.sanitize(l, cdb, nil)
	case scsi.OpModeSense6:
		if !p.t.cfg.Sanitize {
			return resBadOpcode
		}
		return l.modeSense6(cdb, buf)
	case scsi.OpExtendedCopy:
		// Without a parameter list (no data): nothing to copy.
		if !p.t.cfg.ExtendedCopy {
			return resBadOpcode
		}
		if binary.BigEndian.Uint32(cdb[10:14]) != 0 {
			return resBadField
		}
		return result{}
	case scsi.OpRead10, scsi.OpRead16:
		if cdb[1]&0xe0 != 0 {
			// RDPROTECT on a LUN without protection information
			// (SBC-4 5.15: INVALID FIELD IN CDB).
			return resBadField
		}
		lba, blocks := rwRange(cdb)
		start, n, ok := checkRange(l, lba, blocks)
		if !ok {
			return resLBARange
		}
		if l.Null {
			return result{zero: int(n)}
		}
		return result{data: l.Data[start : start+n], lun: l}
	}
	return resBadOpcode
}

func clip(b []byte, alloc uint32) []byte {
	if uint32(len(b)) > alloc {
		return b[:alloc]
	}
	return b
}

func padString(b []byte, s string, n int) []byte {
	for i := range n {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		b = append(b, c)
	}
	return b
}

// inquiry answers INQUIRY: standard data or a VPD page.
func (p *Peer) inquiry(l *lun, cdb []byte, buf []byte) result {
	alloc := uint32(binary.BigEndian.Uint16(cdb[3:5]))
	evpd := cdb[1]&1 != 0
	page := cdb[2]
	periph := byte(scsi.TypeDirectAccess)
	if l == nil {
		periph = 0x7f // qualifier 3, type 0x1f: no logical unit here
	}
	b := buf[:0]
	if !evpd {
		if page != 0 {
			return resBadField
		}
		b = append(b, periph, 0, 0x06, 0x02, 0, 0, 0, 0x02) // SPC-4, HiSup off, CmdQue
		if a := p.t.cfg.ALUA; a != nil {
			b[5] |= 0x10 // TPGS 01b: implicit asymmetric access
			if a.Set != nil {
				b[5] |= 0x20 // TPGS 11b: explicit as well
			}
		}
		b = padString(b, "FAKETGT", 8)
		b = padString(b, "faketarget", 16)
		b = padString(b, "0001", 4)
		b[4] = byte(len(b) - 5)
		return result{data: clip(b, alloc)}
	}
	if l == nil {
		return resNoLUN
	}
	b = append(b, periph, page, 0, 0)
	switch page {
	case scsi.VPDSupportedPages:
		b = append(b, scsi.VPDSupportedPages, scsi.VPDUnitSerialNumber, scsi.VPDDeviceIdentification)
		if p.t.cfg.ExtendedCopy {
			b = append(b, scsi.VPDThirdPartyCopy)
		}
		b = append(b, scsi.VPDBlockLimits)
		if p.t.cfg.Sanitize {
			b = append(b, scsi.VPDBlockDeviceCharacteristic)
			if l.mapped != nil {
				b = append(b, scsi.VPDLogicalBlockProvisioning)
			}
		}
	case scsi.VPDBlockDeviceCharacteristic:
		if !p.t.cfg.Sanitize {
			return resBadField
		}
		b = append(b, make([]byte, 0x3c)...)
		b[5] = 0x01        // MEDIUM ROTATION RATE 1: non-rotating
		b[7] = 1<<6 | 1<<4 // WABEREQ 1, WACEREQ 1: reads after an erase succeed
	case scsi.VPDLogicalBlockProvisioning:
		if l.mapped == nil {
			return resBadField
		}
		b = append(b, 0, 0x04, scsi.ProvisioningThin, 0) // LBPRZ 001b, no UNMAP, thin
	case scsi.VPDThirdPartyCopy:
		if !p.t.cfg.ExtendedCopy {
			return resBadField
		}
		b = thirdPartyCopyPage(b)
	case scsi.VPDUnitSerialNumber:
		b = append(b, serial(l.Number)...)
	case scsi.VPDDeviceIdentification:
		// NAA locally assigned, binary, logical unit.
		b = append(b, 0x01, 0x03, 0, 8)
		b = append(b, naaDesignator(l.Number)...)
		// T10 vendor ID, ASCII, logical unit.
		id := padString(nil, "FAKETGT", 8)
		id = append(id, serial(l.Number)...)
		b = append(b, 0x02, 0x01, 0, byte(len(id)))
		b = append(b, id...)
		if a := p.t.cfg.ALUA; a != nil {
			rel, group := a.Port(p)
			// iSCSI, binary, PIV, target port: relative target port
			// and target port group.
			b = append(b, 0x51, 0x94, 0, 4, 0, 0, byte(rel>>8), byte(rel))
			b = append(b, 0x51, 0x95, 0, 4, 0, 0, byte(group>>8), byte(group))
		}
	case scsi.VPDBlockLimits:
		b = append(b, make([]byte, 0x3c)...)
		binary.BigEndian.PutUint32(b[8:], p.t.cfg.MaxTransferLength)
	default:
		return resBadField
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-4))
	return result{data: clip(b, alloc)}
}

func serial(n uint32) []byte {
	const hex = "0123456789abcdef"
	s := []byte("beaf0000")
	for i := 0; i < 4; i++ {
		s[7-i] = hex[(n>>(4*i))&0xf]
	}
	return s
}

// sendResult sends the outcome of a non-write command: Data-In split to the
// initiator's MaxRecvDataSegmentLength and MaxBurstLength, with the status
// in the last one or in a SCSI Response.
func (p *Peer) sendResult(tk *task, r *result) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	req := &tk.cmd.Req
	if r.status != scsi.StatusGood {
		return p.queueStatus(tk, r, 0, false, false, true)
	}
	n := uint64(r.length())
	edtl := uint64(req.ExpectedDataTransferLength)
	if !req.Read {
		if n > 0 {
			p.t.violate("SCSI Command ITT %#x (%v): returns data but the R bit is clear", req.ITT, scsi.OpCode(tk.cmd.CDB[0]))
		}
		edtl = 0
	}
	send := uint32(min(n, edtl))
	resid, over, under := residual(n, edtl)
	if send == 0 {
		return p.queueStatus(tk, r, resid, over, under, true)
	}
	if r.lun != nil {
		r.lun.mu.RLock()
		defer r.lun.mu.RUnlock()
	}
	mrdsl := p.params.InitiatorMaxRecvDataSegmentLength
	burst := p.params.MaxBurstLength
	if r.zero > 0 {
		seg := int(min(mrdsl, send))
		if len(p.zeros) < seg {
			p.zeros = make([]byte, seg)
		}
		p.vec.Set(p.zeros[:seg])
	} else {
		p.vec.Set(r.data[:send])
	}
	statusInData := !p.t.cfg.SeparateStatus
	var dataSN, burstStart uint32
	for off := uint32(0); off < send; {
		seg := min(mrdsl, send-off, burstStart+burst-off)
		last := off+seg == send
		d := &p.dataIn
		*d = pdu.DataIn{
			Final: last || off+seg == burstStart+burst, LUN: req.LUN, ITT: req.ITT, TTT: pdu.ReservedITT,
			DataSN: dataSN, BufferOffset: off,
		}
		if last && statusInData {
			d.HasStatus, d.Status = true, uint8(r.status)
			d.Overflow, d.Underflow, d.ResidualCount = over, under, resid
		}
		p.Stamp(d)
		voff := int64(off)
		if r.zero > 0 {
			voff = 0
		}
		if r.lun == nil && r.zero == 0 {
			// An answer built in the scratch buffer is copied into the
			// batch: the next command, handled before the batch is
			// flushed (flushUnlessBusy), builds its answer there too.
			p.c.Queue(d, nil, r.data[off:off+seg])
		} else if err := p.c.QueueVector(d, &p.vec, voff, int(seg)); err != nil {
			return err
		}
		dataSN++
		off += seg
		if off == burstStart+burst {
			burstStart = off
		}
	}
	if !statusInData {
		return p.queueStatus(tk, r, resid, over, under, true)
	}
	err := p.flushUnlessBusy()
	p.vec.Reset()
	return err
}

// residual compares what a command transfers with what the initiator
// expected, for the SCSI Response's O and U bits and ResidualCount.
func residual(n, edtl uint64) (resid uint32, over, under bool) {
	switch {
	case n > edtl:
		return uint32(min(n-edtl, 0xffffffff)), true, false
	case n < edtl:
		return uint32(edtl - n), false, true
	}
	return 0, false, false
}

// queueStatus queues a SCSI Response (with fixed sense for CHECK
// CONDITION) and flushes when flush is set. Called with wmu held.
func (p *Peer) queueStatus(tk *task, r *result, resid uint32, over, under, flush bool) error {
	rsp := &p.rsp
	*rsp = pdu.SCSIResponse{ITT: tk.cmd.Req.ITT, Status: uint8(r.status), Response: pdu.RespCommandCompleted,
		Overflow: over, Underflow: under, ResidualCount: resid}
	var data []byte
	switch {
	case r.sense != nil:
		if len(r.sense) > 0 {
			data = make([]byte, 2+len(r.sense))
			data[0], data[1] = byte(len(r.sense)>>8), byte(len(r.sense))
			copy(data[2:], r.sense)
		}
	case r.status == scsi.StatusCheckCondition:
		data = p.senseBf[:]
		data[0], data[1] = 0, senseLen
		putSense(data[2:], r.key, r.asc)
	}
	p.Stamp(rsp)
	p.c.Queue(rsp, nil, data)
	if !flush {
		return nil
	}
	err := p.flushUnlessBusy()
	p.vec.Reset()
	return err
}

// flushUnlessBusy sends what is queued unless the header of another request
// is already in the read buffer: then this answer goes out with the next
// ones in one write, as a target's event loop does. The serving loop
// flushes before it waits for input. Called with wmu held.
func (p *Peer) flushUnlessBusy() error {
	if p.c.ReadBuffered() >= pdu.BHSLen {
		return nil
	}
	return p.c.Flush()
}

// reportTargetPortGroups appends REPORT TARGET PORT GROUPS parameter data
// (SPC-4 6.36), with the extended header when extended is set.
func (t *Target) reportTargetPortGroups(b []byte, extended bool) []byte {
	a := t.cfg.ALUA
	b = append(b, 0, 0, 0, 0)
	if extended {
		b = append(b, 0x10, a.ImplicitTransitionTime, 0, 0)
	}
	for _, g := range a.Groups() {
		b0 := byte(g.State) & 0x0f
		if g.Pref {
			b0 |= 0x80
		}
		var sup byte
		for _, f := range []struct {
			on  bool
			bit byte
		}{{g.TSup, 0x80}, {g.OSup, 0x40}, {g.LBDSup, 0x10}, {g.USup, 0x08}, {g.SSup, 0x04}, {g.ANSup, 0x02}, {g.AOSup, 0x01}} {
			if f.on {
				sup |= f.bit
			}
		}
		b = append(b, b0, sup, byte(g.ID>>8), byte(g.ID), 0, g.StatusCode, g.VendorSpecific, byte(len(g.Ports)))
		for _, port := range g.Ports {
			b = append(b, 0, 0, byte(port>>8), byte(port))
		}
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}
