package conformance

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// rwop is one of the block commands of sizes 10, 12 and 16 (and READ(6)),
// built byte by byte so that tests can set any field: LBA -1, the protect
// bits, BYTCHK, FUA_NV.
type rwop struct {
	name string // libiscsi's: "READ10"
	op   byte
	size int
	dir  session.Direction
}

var (
	read6      = rwop{"READ6", 0x08, 6, session.DirRead}
	read10     = rwop{"READ10", 0x28, 10, session.DirRead}
	read12     = rwop{"READ12", 0xa8, 12, session.DirRead}
	read16     = rwop{"READ16", 0x88, 16, session.DirRead}
	write10    = rwop{"WRITE10", 0x2a, 10, session.DirWrite}
	write12    = rwop{"WRITE12", 0xaa, 12, session.DirWrite}
	write16    = rwop{"WRITE16", 0x8a, 16, session.DirWrite}
	verify10   = rwop{"VERIFY10", 0x2f, 10, session.DirWrite}
	verify12   = rwop{"VERIFY12", 0xaf, 12, session.DirWrite}
	verify16   = rwop{"VERIFY16", 0x8f, 16, session.DirWrite}
	wrverify10 = rwop{"WRITEVERIFY10", 0x2e, 10, session.DirWrite}
	wrverify12 = rwop{"WRITEVERIFY12", 0xae, 12, session.DirWrite}
	wrverify16 = rwop{"WRITEVERIFY16", 0x8e, 16, session.DirWrite}
	orwrite16  = rwop{"ORWRITE", 0x8b, 16, session.DirWrite}
)

// Byte 1 flags of the 10/12/16 forms.
const (
	fDPO    = 0x10
	fFUA    = 0x08
	fFUANV  = 0x02
	fBytchk = 0x02 // BYTCHK 01b (VERIFY, WRITE AND VERIFY)
)

func protect(p int) byte { return byte(p&7) << 5 }

// cdb builds the command: lba and blocks are cut to the field's width, as
// libiscsi's builders do (so LBA -1 is all ones).
func (o rwop) cdb(lba uint64, blocks uint32, byte1 byte) scsi.CDB {
	b := make([]byte, o.size)
	b[0] = o.op
	switch o.size {
	case 6:
		b[1] = byte(lba>>16) & 0x1f
		b[2], b[3] = byte(lba>>8), byte(lba)
		b[4] = byte(blocks)
	case 10:
		b[1] = byte1
		binary.BigEndian.PutUint32(b[2:], uint32(lba))
		binary.BigEndian.PutUint16(b[7:], uint16(blocks))
	case 12:
		b[1] = byte1
		binary.BigEndian.PutUint32(b[2:], uint32(lba))
		binary.BigEndian.PutUint32(b[6:], blocks)
	case 16:
		b[1] = byte1
		binary.BigEndian.PutUint64(b[2:], lba)
		binary.BigEndian.PutUint32(b[10:], blocks)
	}
	c, err := scsi.NewCDB(b)
	if err != nil {
		panic(err)
	}
	return c
}

// io sends the command on the primary nexus: n blocks at lba, with data out
// (the first n blocks of buf) or data in (returned).
func (t *T) io(o rwop, lba uint64, n uint32, byte1 byte, buf []byte, e expect) []byte {
	return t.ioOn(t.dev.nexus(), o, lba, n, byte1, buf, e)
}

func (t *T) ioOn(nx nexus, o rwop, lba uint64, n uint32, byte1 byte, buf []byte, e expect) []byte {
	bs := int(t.dev.BlockSize)
	dir := o.dir
	length := int(n) * bs
	if o.size == 6 && n == 256 {
		n = 0 // READ(6): 0 means 256 blocks
	}
	var out []byte
	in := 0
	switch {
	case dir == session.DirRead && length == 0:
		dir = session.DirNone
	case dir == session.DirRead:
		in = length
	case (o.op == 0x2f || o.op == 0xaf || o.op == 0x8f) && byte1&0x06 == 0:
		dir = session.DirNone // VERIFY without BYTCHK sends no data
	case length == 0:
		dir = session.DirNone
	default:
		if len(buf) < length {
			buf = append(buf, make([]byte, length-len(buf))...)
		}
		out = buf[:length]
	}
	r, _ := t.run(nx, o.name, o.cdb(lba, n, byte1), dir, out, in, e)
	return r.data
}

func (t *T) scratch(blocks int, fill byte) []byte {
	b := make([]byte, blocks*int(t.dev.BlockSize))
	for i := range b {
		b[i] = fill
	}
	return b
}

// Simple: 1-256 blocks at the start and at the end of the LUN.
func simpleRW(o rwop, writes bool) func(*T) {
	return func(t *T) {
		if writes {
			t.needDataLoss()
		}
		d := t.dev
		max := 256
		if o.size == 6 {
			max = 255
		}
		buf := t.scratch(256, 0xa6)
		for i := 1; i <= max; i++ {
			t.io(o, 0, uint32(i), 0, buf, good)
		}
		if o.size == 6 && d.Blocks > 0x200000 {
			return
		}
		for i := 1; i <= max && uint64(i) <= d.Blocks; i++ {
			t.io(o, d.Blocks-uint64(i), uint32(i), 0, buf, good)
		}
		if writes && o.op != 0x2e && o.op != 0xae && o.op != 0x8e && o.op != 0x8b {
			lba := uint64(4*1024*1024/int(d.BlockSize)) - 3
			if d.Blocks > lba+256 {
				for i := 1; i <= 256; i++ {
					t.io(o, lba, uint32(i), 0, buf, good)
				}
			}
		}
	}
}

// BeyondEol: transfers that reach past the last LBA fail with LBA OUT OF
// RANGE (SBC-4: "If the LBA plus the transfer length exceeds the capacity
// of the medium, ... LOGICAL BLOCK ADDRESS OUT OF RANGE").
func beyondEOL(o rwop, writes bool) func(*T) {
	return func(t *T) {
		if writes {
			t.needDataLoss()
		}
		d := t.dev
		if o.size == 16 {
			t.needSBC()
		} else if d.Blocks >= 0x80000000 {
			return // libiscsi: "LUN is too big for beyond-eol tests", a pass
		}
		var byte1 byte
		if o.op == 0x2f || o.op == 0xaf || o.op == 0x8f || o.op == 0x2e || o.op == 0xae || o.op == 0x8e {
			byte1 = fBytchk
		}
		buf := t.scratch(256, 0xa6)
		lbas := []uint64{0x80000000, ^uint64(0)}
		if o.size == 16 {
			shift := bits.TrailingZeros32(d.BlockSize)
			lbas = []uint64{1 << 63, 1 << (64 - shift), 1 << (63 - shift), ^uint64(0)}
			if o.op == 0x8b {
				lbas = []uint64{1 << 63, ^uint64(0)}
			}
		}
		for i := 1; i <= 256; i++ {
			t.io(o, d.Blocks+1-uint64(i), uint32(i), byte1, buf, lbaOutOfRange)
		}
		for _, lba := range lbas {
			for i := 1; i <= 256; i++ {
				t.io(o, lba, uint32(i), byte1, buf, lbaOutOfRange)
			}
		}
		for i := 2; i <= 256; i++ {
			t.io(o, d.Blocks-1, uint32(i), byte1, buf, lbaOutOfRange)
		}
	}
}

// ZeroBlocks: a transfer length of 0 is no transfer and succeeds at LBA 0;
// its LBA is still checked (SBC-4: a TRANSFER LENGTH of zero "is not an
// error" ... LBA OUT OF RANGE past the capacity).
func zeroBlocks(o rwop, writes bool) func(*T) {
	return func(t *T) {
		if writes {
			t.needDataLoss()
		}
		d := t.dev
		verify := o.op == 0x2f || o.op == 0xaf || o.op == 0x8f
		var byte1 byte
		if verify {
			byte1 = fBytchk
		}
		if o.size == 16 {
			t.needSBC()
		}
		if !verify {
			if o.size != 16 && writes && d.Blocks >= 0x80000000 {
				return
			}
			t.io(o, 0, 0, byte1, nil, good)
		}
		if o.size != 16 && d.Blocks > 0x80000000 {
			return // "[SKIPPED] LUN is too big", a pass
		}
		t.io(o, d.Blocks+1, 0, byte1, nil, lbaOutOfRange)
		if o.size == 16 {
			t.io(o, 1<<63, 0, byte1, nil, lbaOutOfRange)
		} else if !verify || d.Blocks-1 < 0x80000000 {
			t.io(o, 0x80000000, 0, byte1, nil, lbaOutOfRange)
		}
		t.io(o, ^uint64(0), 0, byte1, nil, lbaOutOfRange)
	}
}

// Protect: a unit without protection information enabled rejects a
// non-zero RDPROTECT/WRPROTECT/VRPROTECT with INVALID FIELD IN CDB.
func protectField(o rwop, writes bool) func(*T) {
	return func(t *T) {
		if writes {
			t.needDataLoss()
		}
		t.needSBC()
		d := t.dev
		if d.Inquiry.Protect && (d.Capacity16 == nil || d.Capacity16.ProtEn) {
			return // libiscsi checks only units without protection
		}
		buf := t.scratch(1, 0xa6)
		verify := o.op == 0x2f || o.op == 0xaf || o.op == 0x8f
		for i := 1; i < 8; i++ {
			var b1 byte = protect(i)
			if verify {
				buf = t.io(read10, 0, 1, 0, nil, good)
				b1 |= fBytchk
			}
			if o.op == 0x2e || o.op == 0xae || o.op == 0x8e {
				b1 |= 0
			}
			t.io(o, 0, 1, b1, buf, invalidCDB)
		}
	}
}

// dpofua reads the DPOFUA bit of MODE SENSE(6) and checks that the unit
// takes DPO and FUA when it says so and rejects them when it does not, and
// that REPORT SUPPORTED OPERATION CODES agrees (SBC-4 DPOFUA; SPC-5 CDB
// USAGE DATA).
func dpofua(o rwop, writes bool, combos []byte, mask byte) func(*T) {
	return func(t *T) {
		if writes {
			t.needSBC()
			t.needDataLoss()
		} else {
			t.needSBC()
		}
		verify := o.op == 0x2f || o.op == 0xaf || o.op == 0x8f || o.op == 0x2e || o.op == 0xae || o.op == 0x8e
		buf := t.scratch(1, 0xa6)
		if verify {
			buf = t.io(read10, 0, 1, 0, nil, good)
		}
		ms := t.modeSense6All()
		dpofua := ms != nil && ms.DPOFUA()
		e := invalidCDB
		if dpofua {
			e = good
		}
		for _, f := range combos {
			if verify {
				f |= fBytchk
			}
			t.io(o, 0, 1, f, buf, e)
		}
		usage := t.oneCommandUsage(o)
		if usage == nil {
			return
		}
		got := usage[1] & mask
		switch {
		case dpofua && got == 0:
			t.Errorf("DpoFua not set in CDB_USAGE_DATA of %s", o.name)
		case !dpofua && got != 0:
			t.Errorf("DpoFua not clear in CDB_USAGE_DATA of %s", o.name)
		}
	}
}

func (t *T) modeSense6All() *scsi.ModeSense6Data {
	r, ok := t.run(t.dev.nexus(), "MODESENSE6", scsi.ModeSense6(false, scsi.PageCurrent, scsi.ModePageAll, 0, 255), session.DirRead, nil, 255, good)
	if !ok {
		return nil
	}
	ms, err := scsi.ParseModeSense6(r.data)
	if err != nil {
		t.Errorf("MODESENSE6 data: %v", err)
		return nil
	}
	return &ms
}

// oneCommandUsage is REPORT SUPPORTED OPERATION CODES for one command: its
// CDB USAGE DATA (the macro's skip if the unit lacks the command).
func (t *T) oneCommandUsage(o rwop) []byte {
	r, ok := t.run(t.dev.nexus(), "REPORT_SUPPORTED_OPCODES", scsi.ReportSupportedOpCode(scsi.OpCode(o.op), false, 65535), session.DirRead, nil, 65535, good)
	if !ok {
		return nil
	}
	oc, err := scsi.ParseOneCommand(r.data)
	if err != nil || len(oc.CDBUsage) < 2 {
		t.Fatalf("REPORT_SUPPORTED_OPCODES one-command data for %s: %v", o.name, err)
	}
	return oc.CDBUsage
}

// verifySimple: VERIFY with BYTCHK of data just read is GOOD.
func verifySimple(o rwop) func(*T) {
	return func(t *T) {
		d := t.dev
		for _, at := range []func(i int) uint64{func(int) uint64 { return 0 }, func(i int) uint64 { return d.Blocks - uint64(i) }} {
			for i := 1; i <= 256; i++ {
				buf := t.io(read10, at(i), uint32(i), 0, nil, good)
				t.io(o, at(i), uint32(i), fBytchk, buf, good)
			}
		}
	}
}

// verifyMismatch: VERIFY with BYTCHK of data with one byte changed is
// MISCOMPARE (cmp) — or GOOD without BYTCHK, when nothing is compared.
func verifyMismatch(o rwop, cmp bool) func(*T) {
	return func(t *T) {
		d := t.dev
		e, b1 := miscompare, byte(fBytchk)
		if !cmp {
			e, b1 = good, 0
		}
		for _, at := range []func(i int) uint64{func(int) uint64 { return 0 }, func(i int) uint64 { return d.Blocks - uint64(i) }} {
			for i := 1; i <= 256; i++ {
				buf := t.io(read10, at(i), uint32(i), 0, nil, good)
				if len(buf) == 0 {
					continue
				}
				buf[rand.IntN(len(buf))] ^= 'X'
				t.io(o, at(i), uint32(i), b1, buf, e)
			}
		}
	}
}

func verifyFlags(o rwop) func(*T) {
	return func(t *T) {
		buf := t.io(read10, 0, 1, 0, nil, good)
		t.io(o, 0, 1, fBytchk, buf, good)
	}
}

func writeVerifyFlags(o rwop) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.io(o, 0, 1, fBytchk, t.scratch(1, 0xa6), good)
	}
}

func writeVerifySimple(o rwop) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		d := t.dev
		buf := t.scratch(256, 0xa6)
		for i := 1; i <= 256; i++ {
			t.io(o, 0, uint32(i), fBytchk, buf, good)
		}
		for i := 1; i <= 256; i++ {
			t.io(o, d.Blocks-uint64(i), uint32(i), fBytchk, buf, good)
		}
	}
}
