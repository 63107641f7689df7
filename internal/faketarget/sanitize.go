package faketarget

import (
	"encoding/binary"

	"github.com/iscsi-go/iscsi/scsi"
)

// SANITIZE and what comes with it, when Config.Sanitize is set (SBC-4
// 4.11, 5.30): OVERWRITE, BLOCK ERASE, CRYPTO ERASE and EXIT FAILURE MODE
// on the LUN's memory; REPORT SUPPORTED OPERATION CODES (all commands) so
// that an initiator learns which service actions there are; the Block
// Device Characteristics page (non-rotating, WABEREQ and WACEREQ 1: reads
// after an erase succeed); and logical block provisioning, since BLOCK
// ERASE deallocates: READ CAPACITY (16) reports LBPME and LBPRZ, the
// Logical Block Provisioning page a thin unit (no UNMAP), and GET LBA
// STATUS which blocks are mapped (written) and which deallocated (never
// written, or block-erased; they read as zeros).

// SANITIZE service actions (SBC-4 5.30.1).
const (
	sanitizeOverwrite   = 0x01
	sanitizeBlockErase  = 0x02
	sanitizeCryptoErase = 0x03
	sanitizeExitFailure = 0x1f
)

var resBadParam = check(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInParamList)

// sanitize runs a SANITIZE whose parameter list (nil without one) is param.
func (t *Target) sanitize(l *lun, cdb []byte, param []byte) result {
	if cdb[1]&0x40 != 0 || cdb[2]|cdb[3]|cdb[4]|cdb[5]|cdb[6] != 0 {
		return resBadField // reserved bits and bytes
	}
	plen := int(binary.BigEndian.Uint16(cdb[7:9]))
	if l.swp.Load() {
		return resWriteProtected
	}
	switch cdb[1] & 0x1f {
	case sanitizeOverwrite:
		// The list is 4 bytes and a pattern of 1 to block length bytes.
		if plen < 5 || plen > int(l.blockLen)+4 {
			return resBadField
		}
		if len(param) < 4 {
			return resBadParam
		}
		count := param[0] & 0x1f
		ipl := int(binary.BigEndian.Uint16(param[2:4]))
		if count == 0 || ipl == 0 || ipl > int(l.blockLen) || ipl > len(param)-4 {
			return resBadParam
		}
		l.overwrite(param[4 : 4+ipl])
	case sanitizeBlockErase:
		if plen != 0 {
			return resBadField
		}
		l.blockErase()
	case sanitizeCryptoErase:
		if plen != 0 {
			return resBadField
		}
		l.cryptoErase()
	case sanitizeExitFailure:
		if plen != 0 {
			return resBadField
		}
	default:
		return resBadField
	}
	return result{}
}

// overwrite fills every block with pattern, repeated, and maps it.
func (l *lun) overwrite(pattern []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Null {
		return
	}
	for off := 0; off < len(l.Data); off += len(pattern) {
		copy(l.Data[off:], pattern)
	}
	for i := range l.mapped {
		l.mapped[i] = true
	}
}

// blockErase zeroes and deallocates every block.
func (l *lun) blockErase() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.Data)
	clear(l.mapped)
}

// cryptoErase makes every block unreadable as what it held: as if the
// key were changed, the blocks read back as noise.
func (l *lun) cryptoErase() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erasures++
	x := 0x9e3779b97f4a7c15 * uint64(l.erasures)
	for i := range l.Data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		l.Data[i] = byte(x)
	}
}

// markMapped records that blocks [lba, lba+n) were written.
func (l *lun) markMapped(lba, n uint64) {
	if l.mapped == nil {
		return
	}
	l.mu.Lock()
	for i := lba; i < lba+n && i < uint64(len(l.mapped)); i++ {
		l.mapped[i] = true
	}
	l.mu.Unlock()
}

// getLBAStatus answers GET LBA STATUS (SBC-4 5.8): from the LBA asked for,
// one descriptor for each run of mapped or deallocated blocks, as many as
// the allocation length holds.
func (l *lun) getLBAStatus(cdb []byte, buf []byte) result {
	lba := binary.BigEndian.Uint64(cdb[2:10])
	alloc := binary.BigEndian.Uint32(cdb[10:14])
	if lba >= l.Blocks {
		return resLBARange
	}
	b := append(buf[:0], make([]byte, 8)...)
	most := max(1, (int(alloc)-8)/16) // descriptors that fit
	l.mu.RLock()
	for start := lba; start < l.Blocks && (len(b)-8)/16 < most; {
		m := l.mapped[start]
		end := start + 1
		for end < l.Blocks && l.mapped[end] == m && end-start < 0xffffffff {
			end++
		}
		var d [16]byte
		binary.BigEndian.PutUint64(d[0:], start)
		binary.BigEndian.PutUint32(d[8:], uint32(end-start))
		if !m {
			d[12] = 0x01 // deallocated
		}
		b = append(b, d[:]...)
		start = end
	}
	l.mu.RUnlock()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return result{data: clip(b, alloc)}
}

// supportedOpCodes answers REPORT SUPPORTED OPERATION CODES (SPC-5 6.35)
// with REPORTING OPTIONS 000b: every command this target runs, with
// command timeouts descriptors when RCTD is set.
func (p *Peer) supportedOpCodes(cdb []byte, buf []byte) result {
	if cdb[2]&0x07 != 0 {
		return resBadField
	}
	rctd := cdb[2]&0x80 != 0
	alloc := binary.BigEndian.Uint32(cdb[6:10])
	type cmd struct {
		op     scsi.OpCode
		sa     uint16
		hasSA  bool
		cdbLen uint16
	}
	cmds := []cmd{
		{op: scsi.OpTestUnitReady, cdbLen: 6},
		{op: scsi.OpInquiry, cdbLen: 6},
		{op: scsi.OpModeSense6, cdbLen: 6},
		{op: scsi.OpModeSelect6, cdbLen: 6},
		{op: scsi.OpReadCapacity10, cdbLen: 10},
		{op: scsi.OpRead10, cdbLen: 10},
		{op: scsi.OpWrite10, cdbLen: 10},
		{op: scsi.OpSynchronizeCache10, cdbLen: 10},
		{op: scsi.OpRead16, cdbLen: 16},
		{op: scsi.OpWrite16, cdbLen: 16},
		{op: scsi.OpSynchronizeCache16, cdbLen: 16},
		{op: scsi.OpServiceActionIn16, sa: uint16(scsi.ServiceActionReadCapacity16), hasSA: true, cdbLen: 16},
		{op: scsi.OpServiceActionIn16, sa: uint16(scsi.ServiceActionGetLBAStatus), hasSA: true, cdbLen: 16},
		{op: scsi.OpReportLUNs, cdbLen: 12},
		{op: scsi.OpMaintenanceIn, sa: 0x0c, hasSA: true, cdbLen: 12},
	}
	for _, sa := range []uint16{sanitizeOverwrite, sanitizeBlockErase, sanitizeCryptoErase, sanitizeExitFailure} {
		cmds = append(cmds, cmd{op: scsi.OpSanitize, sa: sa, hasSA: true, cdbLen: 10})
	}
	if p.t.cfg.ALUA != nil {
		cmds = append(cmds, cmd{op: scsi.OpMaintenanceIn, sa: uint16(scsi.ServiceActionReportTargetPortGroups), hasSA: true, cdbLen: 12})
	}
	if p.t.cfg.ExtendedCopy {
		cmds = append(cmds,
			cmd{op: scsi.OpExtendedCopy, sa: 0, hasSA: true, cdbLen: 16},
			cmd{op: scsi.OpReceiveCopyResults, sa: uint16(scsi.CopyResultsStatus), hasSA: true, cdbLen: 16},
			cmd{op: scsi.OpReceiveCopyResults, sa: uint16(scsi.CopyResultsOperatingParameters), hasSA: true, cdbLen: 16})
	}
	b := append(buf[:0], 0, 0, 0, 0)
	for _, c := range cmds {
		var flags byte
		if c.hasSA {
			flags |= 0x01 // SERVACTV
		}
		if rctd {
			flags |= 0x02 // CTDP
		}
		b = append(b, byte(c.op), 0, byte(c.sa>>8), byte(c.sa), 0, flags, byte(c.cdbLen>>8), byte(c.cdbLen))
		if rctd {
			// Command timeouts descriptor: length 0Ah, no timeouts given.
			b = append(b, 0x00, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		}
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return result{data: clip(b, alloc)}
}

// Software write protect (SPC-5 7.5.8), with Config.Sanitize: MODE SENSE
// (6) reports the Control page, whose SWP bit alone is changeable, and
// MODE SELECT (6) sets it; while it is set, WRITE and SANITIZE are DATA
// PROTECT, WRITE PROTECTED, and MODE SENSE's WP bit is set.

var resWriteProtected = check(scsi.SenseDataProtect, scsi.ASC(0x2700))

// controlPage returns the Control mode page as page control pc asks.
func (l *lun) controlPage(pc byte) []byte {
	p := make([]byte, 12)
	p[0], p[1] = 0x0a, 0x0a
	switch pc {
	case 0: // current
		if l.swp.Load() {
			p[4] |= 0x08
		}
	case 1: // changeable
		p[4] = 0x08
	}
	return p
}

// modeSense6 answers MODE SENSE (6) for the Control page (0Ah) or all
// pages (3Fh), without block descriptors.
func (l *lun) modeSense6(cdb []byte, buf []byte) result {
	pc, page, sub := cdb[2]>>6, cdb[2]&0x3f, cdb[3]
	switch {
	case pc == 3:
		return check(scsi.SenseIllegalRequest, scsi.ASC(0x3900)) // SAVING PARAMETERS NOT SUPPORTED
	case page != 0x0a && page != 0x3f, sub != 0 && !(page == 0x3f && sub == 0xff):
		return resBadField
	}
	b := append(buf[:0], 0, 0, 0, 0)
	if l.swp.Load() {
		b[2] = 0x80 // WP
	}
	b = append(b, l.controlPage(pc)...)
	b[0] = byte(len(b) - 1)
	return result{data: clip(b, uint32(cdb[4]))}
}

// modeSelect6 takes a MODE SELECT (6) parameter list: the Control page,
// of which only SWP may differ from what MODE SENSE reports.
func (l *lun) modeSelect6(cdb []byte, param []byte) result {
	if cdb[1]&0x11 != 0x10 {
		return resBadField // PF must be set; SP (save) is not supported
	}
	if len(param) == 0 {
		return result{}
	}
	if len(param) < 4 || 4+int(param[3]) > len(param) {
		return check(scsi.SenseIllegalRequest, scsi.ASCParameterListLengthError)
	}
	pages := param[4+int(param[3]):]
	for len(pages) > 0 {
		if len(pages) < 2 || pages[0]&0x40 != 0 || 2+int(pages[1]) > len(pages) {
			return resBadParam
		}
		pg := pages[:2+int(pages[1])]
		pages = pages[len(pg):]
		if pg[0]&0x3f != 0x0a || len(pg) != 12 {
			return resBadParam
		}
		cur := l.controlPage(0)
		for i := 2; i < 12; i++ {
			mask := byte(0xff)
			if i == 4 {
				mask = 0xf7 // SWP may change
			}
			if (pg[i]^cur[i])&mask != 0 {
				return resBadParam
			}
		}
		l.swp.Store(pg[4]&0x08 != 0)
	}
	return result{}
}
