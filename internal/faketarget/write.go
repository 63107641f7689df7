package faketarget

import (
	"encoding/binary"

	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// handleCommand takes a SCSI Command whose header was just read.
func (p *Peer) handleCommand(h *pdu.BHS, ahs []byte, m *pdu.SCSICommand) error {
	t := p.t
	if p.params.Discovery {
		t.violate("SCSI Command ITT %#x in a discovery session", m.ITT)
		if err := p.c.DiscardData(); err != nil {
			return err
		}
		return p.Reject(pdu.RejectProtocolError, h)
	}
	tk := p.newTask()
	tk.cmd = Command{Peer: p, Header: *h, Req: *m, t: tk}
	tk.cmd.CDB = tk.cmd.Req.CDB[:]
	if len(ahs) > 0 {
		a, err := pdu.ParseCommandAHS(ahs)
		if err != nil {
			t.violate("SCSI Command ITT %#x: %v", m.ITT, err)
		} else if len(a.ExtendedCDB) > 0 {
			tk.cmd.CDB = append(tk.cmd.Req.CDB[:16:16], a.ExtendedCDB...)
		}
	}
	tk.lunIdx = -1
	for i, l := range t.luns {
		if l.wireLUN == m.LUN {
			tk.lun, tk.lunIdx = l, i
		}
	}
	n := uint32(p.c.DataLen())
	if n > 0 {
		switch {
		case !m.Write:
			t.violate("SCSI Command ITT %#x: %d bytes of immediate data without the W bit", m.ITT, n)
		case !p.params.ImmediateData:
			t.violate("SCSI Command ITT %#x: immediate data with ImmediateData=No", m.ITT)
		case n > p.params.FirstBurstLength:
			t.violate("SCSI Command ITT %#x: %d bytes of immediate data exceed FirstBurstLength %d", m.ITT, n, p.params.FirstBurstLength)
		case n > m.ExpectedDataTransferLength:
			t.violate("SCSI Command ITT %#x: %d bytes of immediate data exceed the expected data transfer length %d", m.ITT, n, m.ExpectedDataTransferLength)
		}
	}
	var imm []byte
	if hook := t.cfg.Hooks.Command; hook != nil {
		if cap(p.scratch) < int(n) {
			p.scratch = make([]byte, 0, n)
		}
		imm = p.scratch[:n]
		if err := p.c.ReadData(imm); err != nil {
			return err
		}
		tk.cmd.ImmediateData = imm
		v := hook(&tk.cmd)
		tk.cmd.ImmediateData = nil
		switch v {
		case Close:
			return ErrClosedByHook
		case Handled:
			tk.hooked = true
			return nil
		}
	}
	if m.Write {
		return p.startWrite(tk, imm)
	}
	if imm == nil {
		if err := p.c.DiscardData(); err != nil {
			return err
		}
	}
	var r result
	if tk.fail != nil {
		r = *tk.fail
	} else {
		r = p.execute(tk, p.scratch[:0], true)
	}
	err := p.sendResult(tk, &r)
	p.removeTask(tk)
	return err
}

// startWrite prepares a command that takes data from the initiator, stores
// its immediate data (already read into imm by a hook, or still on the
// connection) and asks for the rest.
func (p *Peer) startWrite(tk *task, imm []byte) error {
	t := p.t
	req := &tk.cmd.Req
	tk.write = true
	tk.edtl = req.ExpectedDataTransferLength
	switch op := scsi.OpCode(tk.cmd.CDB[0]); {
	case tk.fail != nil:
		// Take the data the initiator means to send, store none of it.
		tk.res = *tk.fail
		tk.need = tk.edtl
	case op == scsi.OpExtendedCopy && t.cfg.ExtendedCopy && tk.lun != nil && tk.cmd.CDB[1]&0x1f == 0:
		tk.xfer = uint64(binary.BigEndian.Uint32(tk.cmd.CDB[10:14]))
		tk.need = uint32(min(uint64(tk.edtl), tk.xfer))
		if tk.xfer > xcopyMaxListLength {
			// Take the data, store none of it.
			tk.res = check(scsi.SenseIllegalRequest, scsi.ASCParameterListLengthError)
			break
		}
		tk.withParams = p.t.extendedCopy
		tk.dst = make([]byte, tk.need)
	case op == scsi.OpSanitize && t.cfg.Sanitize && tk.lun != nil:
		tk.xfer = uint64(binary.BigEndian.Uint16(tk.cmd.CDB[7:9]))
		tk.need = uint32(min(uint64(tk.edtl), tk.xfer))
		l, cdb := tk.lun, tk.cmd.CDB
		tk.withParams = func(param []byte) result { return p.t.sanitize(l, cdb, param) }
		tk.dst = make([]byte, tk.need)
	case op == scsi.OpMaintenanceOut && t.cfg.ALUA != nil && t.cfg.ALUA.Set != nil && tk.lun != nil &&
		tk.cmd.CDB[1]&0x1f == scsi.ServiceActionSetTargetPortGroups:
		tk.xfer = uint64(binary.BigEndian.Uint32(tk.cmd.CDB[6:10]))
		tk.need = uint32(min(uint64(tk.edtl), tk.xfer))
		if tk.xfer > 4+4*0xffff {
			tk.res = check(scsi.SenseIllegalRequest, scsi.ASCParameterListLengthError)
			break
		}
		set := t.cfg.ALUA.Set
		tk.withParams = func(param []byte) result {
			sets, err := scsi.ParseSetTargetPortGroups(param)
			if err != nil {
				return check(scsi.SenseIllegalRequest, scsi.ASCParameterListLengthError)
			}
			if !set(p, sets) {
				return check(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInParamList)
			}
			return result{}
		}
		tk.dst = make([]byte, tk.need)
	case op == scsi.OpModeSelect6 && t.cfg.Sanitize && tk.lun != nil:
		tk.xfer = uint64(tk.cmd.CDB[4])
		tk.need = uint32(min(uint64(tk.edtl), tk.xfer))
		l, cdb := tk.lun, tk.cmd.CDB
		tk.withParams = func(param []byte) result { return l.modeSelect6(cdb, param) }
		tk.dst = make([]byte, tk.need)
	case op != scsi.OpWrite10 && op != scsi.OpWrite16:
		tk.res = p.execute(tk, p.scratch[:0], true)
		if tk.res.status == scsi.StatusGood {
			tk.res = resNoWriteBit
		}
	case tk.lun == nil:
		tk.res = resNoLUN
	case t.cfg.UnitAttention && !p.uaDone[tk.lunIdx]:
		p.uaDone[tk.lunIdx] = true
		tk.res = resUnitAttn
	case tk.lun.swp.Load():
		tk.res = resWriteProtected
	case tk.cmd.CDB[1]&0xe0 != 0:
		// WRPROTECT on a LUN without protection information (SBC-4
		// 5.50: INVALID FIELD IN CDB).
		tk.res = resBadField
	default:
		lba, blocks := rwRange(tk.cmd.CDB)
		start, n, ok := checkRange(tk.lun, lba, blocks)
		if !ok {
			tk.res = resLBARange
			break
		}
		tk.xfer = n
		tk.need = uint32(min(uint64(tk.edtl), tk.xfer))
		tk.lun.markMapped(lba, uint64(blocks))
		if !tk.lun.Null {
			tk.dst = tk.lun.Data[start : start+uint64(tk.need)]
		}
	}
	n := uint32(p.c.DataLen())
	if imm != nil {
		// Store what the CDB asks for: with an EDTL larger than the
		// transfer, the immediate data go past it (an overflow), and
		// only its first bytes are written.
		if tk.dst != nil {
			tk.lun.mu.Lock()
			copy(tk.dst, imm)
			tk.lun.mu.Unlock()
		}
	} else if err := p.place(tk, 0, n); err != nil {
		return err
	}
	tk.unsolNext = n
	tk.unsolLimit = min(p.params.FirstBurstLength, tk.edtl)
	if req.Final {
		tk.unsolDone = true
	} else {
		switch {
		case p.params.InitialR2T:
			t.violate("SCSI Command ITT %#x: F bit clear (unsolicited Data-Out to follow) with InitialR2T=Yes", req.ITT)
		case n >= tk.unsolLimit:
			t.violate("SCSI Command ITT %#x: F bit clear but the immediate data fill the first burst (%d bytes)", req.ITT, n)
			tk.unsolDone = true
		}
	}
	tk.nextR2T = tk.unsolNext
	return p.advanceWrite(tk)
}

// place stores n bytes of the current data segment at offset off of the
// task's data, or discards them when they do not belong there.
func (p *Peer) place(tk *task, off, n uint32) error {
	if n == 0 {
		return p.c.DiscardData()
	}
	if tk.dst == nil || uint64(off)+uint64(n) > uint64(len(tk.dst)) {
		return p.c.DiscardData()
	}
	tk.lun.mu.Lock()
	err := p.c.ReadData(tk.dst[off : off+n])
	tk.lun.mu.Unlock()
	return err
}

// advanceWrite sends R2Ts while the initiator may have more outstanding,
// and the response once all the data is in.
func (p *Peer) advanceWrite(tk *task) error {
	if !tk.unsolDone {
		return nil
	}
	maxOut := int(max(p.params.MaxOutstandingR2T, 1))
	if len(tk.r2ts) < maxOut && tk.nextR2T < tk.need {
		p.wmu.Lock()
		for len(tk.r2ts) < maxOut && tk.nextR2T < tk.need {
			p.queueR2T(tk, tk.nextR2T, min(p.params.MaxBurstLength, tk.need-tk.nextR2T))
			tk.nextR2T += tk.r2ts[len(tk.r2ts)-1].end - tk.r2ts[len(tk.r2ts)-1].off
		}
		err := p.c.Flush()
		p.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	if len(tk.r2ts) > 0 || tk.nextR2T < tk.need {
		return nil
	}
	// All data in: report.
	r := tk.res
	if tk.withParams != nil {
		r = tk.withParams(tk.dst)
	}
	var resid uint32
	over, under := false, false
	if r.status == scsi.StatusGood {
		resid, over, under = residual(tk.xfer, uint64(tk.edtl))
	}
	p.wmu.Lock()
	err := p.queueStatus(tk, &r, resid, over, under, true)
	p.wmu.Unlock()
	p.removeTask(tk)
	return err
}

// queueR2T queues one R2T (wmu held) and records it.
func (p *Peer) queueR2T(tk *task, off, n uint32) {
	ttt := p.nextTTT
	p.nextTTT++
	if p.nextTTT == pdu.ReservedITT {
		p.nextTTT = 1
	}
	tk.r2ts = append(tk.r2ts, r2tSeq{ttt: ttt, off: off, end: off + n, next: off})
	p.r2t = pdu.R2T{LUN: tk.cmd.Req.LUN, ITT: tk.cmd.Req.ITT, TTT: ttt, R2TSN: tk.r2tSN, BufferOffset: off, DesiredDataTransferLength: n}
	tk.r2tSN++
	p.Stamp(&p.r2t)
	p.c.Queue(&p.r2t, nil, nil)
}

// handleDataOut takes a Data-Out whose header was just read.
func (p *Peer) handleDataOut(m *pdu.DataOut) error {
	t := p.t
	n := uint32(p.c.DataLen())
	tk := p.findTask(m.ITT)
	if tk == nil {
		if !p.recentlyAborted(m.ITT) {
			t.violate("Data-Out for unknown ITT %#x", m.ITT)
		}
		return p.c.DiscardData()
	}
	if tk.hooked {
		return p.c.DiscardData()
	}
	if !tk.write {
		t.violate("Data-Out for ITT %#x, a command without the W bit", m.ITT)
		return p.c.DiscardData()
	}
	end := m.BufferOffset + n
	if m.TTT == pdu.ReservedITT {
		if tk.unsolDone {
			t.violate("Data-Out ITT %#x: unsolicited data after the unsolicited sequence ended", m.ITT)
			return p.c.DiscardData()
		}
		if p.params.InitialR2T {
			t.violate("Data-Out ITT %#x: unsolicited data with InitialR2T=Yes", m.ITT)
		}
		if m.DataSN != tk.unsolSN {
			t.violate("Data-Out ITT %#x unsolicited: DataSN %d, want %d", m.ITT, m.DataSN, tk.unsolSN)
		}
		if m.BufferOffset != tk.unsolNext {
			t.violate("Data-Out ITT %#x unsolicited: BufferOffset %d, want %d", m.ITT, m.BufferOffset, tk.unsolNext)
		}
		if end > tk.unsolLimit {
			t.violate("Data-Out ITT %#x unsolicited: data up to offset %d exceed FirstBurstLength %d (or the expected length %d)",
				m.ITT, end, p.params.FirstBurstLength, tk.edtl)
		}
		if err := p.place(tk, m.BufferOffset, n); err != nil {
			return err
		}
		tk.unsolSN = m.DataSN + 1
		tk.unsolNext = end
		if m.Final {
			tk.unsolDone = true
		} else if end >= tk.unsolLimit {
			t.violate("Data-Out ITT %#x: F bit missing on the last unsolicited Data-Out", m.ITT)
			tk.unsolDone = true
		}
		if tk.unsolDone {
			tk.nextR2T = max(tk.nextR2T, tk.unsolNext)
		}
		return p.advanceWrite(tk)
	}
	i := -1
	for j := range tk.r2ts {
		if tk.r2ts[j].ttt == m.TTT {
			i = j
		}
	}
	if i < 0 {
		t.violate("Data-Out ITT %#x: TTT %#x echoes no outstanding R2T", m.ITT, m.TTT)
		return p.c.DiscardData()
	}
	r := &tk.r2ts[i]
	if m.DataSN != r.dataSN {
		t.violate("Data-Out ITT %#x TTT %#x: DataSN %d, want %d (DataSN starts at 0 for each R2T)", m.ITT, m.TTT, m.DataSN, r.dataSN)
	}
	if m.BufferOffset != r.next {
		t.violate("Data-Out ITT %#x TTT %#x: BufferOffset %d, want %d", m.ITT, m.TTT, m.BufferOffset, r.next)
	}
	if end > r.end || m.BufferOffset < r.off {
		t.violate("Data-Out ITT %#x TTT %#x: data [%d, %d) outside the R2T's burst [%d, %d)", m.ITT, m.TTT, m.BufferOffset, end, r.off, r.end)
	}
	if err := p.place(tk, m.BufferOffset, n); err != nil {
		return err
	}
	r.dataSN = m.DataSN + 1
	r.next = max(r.next, end)
	if !m.Final && r.next < r.end {
		return nil
	}
	var rest r2tSeq
	if !m.Final {
		t.violate("Data-Out ITT %#x TTT %#x: F bit missing on the last Data-Out of the R2T's burst", m.ITT, m.TTT)
	} else if r.next < r.end {
		t.violate("Data-Out ITT %#x TTT %#x: F bit at offset %d before the end of the R2T's burst %d", m.ITT, m.TTT, r.next, r.end)
		rest = r2tSeq{off: r.next, end: r.end}
	}
	last := len(tk.r2ts) - 1
	tk.r2ts[i] = tk.r2ts[last]
	tk.r2ts = tk.r2ts[:last]
	if rest.end > rest.off {
		// Ask again for what the sequence left out.
		p.wmu.Lock()
		p.queueR2T(tk, rest.off, rest.end-rest.off)
		err := p.c.Flush()
		p.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	return p.advanceWrite(tk)
}
