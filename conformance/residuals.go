package conformance

import (
	"bytes"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// The residual tests send a command whose Expected Data Transfer Length
// disagrees with its CDB, through the public Execute: the EDTL is the
// length of the buffer given, whatever the CDB says. RFC 7143 11.4.5.1: the
// target answers GOOD with the residual count and the U (underflow) or O
// (overflow) bit.

// raw sends o for n blocks at LBA 0 with an EDTL of edtl bytes.
func (t *T) raw(o rwop, n uint32, edtl int, dir session.Direction, fill byte) reply {
	var out []byte
	in := 0
	switch dir {
	case session.DirRead:
		in = edtl
	case session.DirWrite:
		out = bytes.Repeat([]byte{fill}, edtl)
	}
	if edtl == 0 && dir == session.DirWrite {
		// A WRITE with the W bit and an EDTL of 0: no correct initiator
		// sends it, so it goes on a bare connection.
		return t.rawWriteNoData(o, n)
	}
	var b1 byte
	if o.op == 0x2e || o.op == 0xae || o.op == 0x8e {
		b1 = fBytchk
	}
	return t.dev.nexus().call(t.ctx, o.cdb(0, n, b1), dir, out, in)
}

// residual checks r: its status GOOD (or, when alsoOK, that sense), and the
// residual of the kind and count wanted.
func (t *T) residual(o rwop, what string, r reply, over bool, count int, alsoIU bool) {
	okStatus := r.status == scsi.StatusGood
	if !okStatus && alsoIU && r.status == scsi.StatusCheckCondition && r.sense != nil &&
		r.sense.Key == scsi.SenseIllegalRequest && r.sense.ASC == 0x0e03 {
		okStatus = true
	}
	if !okStatus {
		t.Errorf("%s (%s) failed with status %s, want GOOD (RFC 7143 11.4.5.1: a length mismatch is a residual, not an error)%s", o.name, what, statusSense(&r), t.detail(o.cdb(0, 1, 0), &r))
	}
	if r.status == scsi.StatusNone {
		return
	}
	kind, got := "no residual", 0
	switch {
	case r.res.Overflow:
		kind, got = "overflow", r.res.Residual
	case r.res.Underflow:
		kind, got = "underflow", r.res.Residual
	}
	want := "underflow"
	if over {
		want = "overflow"
	}
	if kind != want || got != count {
		t.Errorf("%s (%s): %s of %d, want %s of %d (RFC 7143 11.4.5.1)", o.name, what, kind, got, want, count)
	}
}

// readResiduals is libiscsi's test_readNN_residuals (and Read10Invalid,
// which adds a READ sent with a Data-Out).
func readResiduals(o rwop, invalid bool) func(*T) {
	return func(t *T) {
		bs := int(t.dev.BlockSize)
		r0 := t.raw(o, 1, 0, session.DirRead, 0)
		if o.size != 10 && r0.notImplemented(o.cdb(0, 1, 0)) && (o.size == 12 || !t.dev.SBC3) {
			// libiscsi: "[SKIPPED] READ12 is not implemented on this
			// target" (READ16: "... and it does not claim SBC-3 support").
			t.Skipf("%s is not implemented on this target.", o.name)
		}
		t.residual(o, "1 block, EDTL 0", r0, true, bs, false)
		r := t.raw(o, 1, 10000, session.DirRead, 0)
		t.residual(o, "1 block, EDTL 10000", r, false, 10000-bs, false)
		if r.status == scsi.StatusGood && len(r.data) != bs {
			t.Errorf("%s: %d bytes of data in, want %d", o.name, len(r.data), bs)
		}
		r = t.raw(o, 1, 200, session.DirRead, 0)
		t.residual(o, "1 block, EDTL 200", r, true, bs-200, false)
		if r.status == scsi.StatusGood && len(r.data) != 200 {
			t.Errorf("%s: %d bytes of data in, want 200", o.name, len(r.data))
		}
		r = t.raw(o, 2, bs, session.DirRead, 0)
		t.residual(o, "2 blocks, EDTL 1 block", r, true, bs, false)
		if r.status == scsi.StatusGood && len(r.data) != bs {
			t.Errorf("%s: %d bytes of data in, want %d", o.name, len(r.data), bs)
		}
		if invalid {
			r = t.raw(o, 1, bs, session.DirWrite, 0xa6)
			if r.status != scsi.StatusGood {
				t.Errorf("%s with a Data-Out buffer failed with %s, want GOOD", o.name, statusSense(&r))
			}
		}
	}
}

// writeResiduals is libiscsi's test_writeNN_residuals and
// test_writeverifyNN_residuals.
func writeResiduals(o rwop) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		bs := int(t.dev.BlockSize)
		r := t.raw(o, 1, 0, session.DirWrite, 0)
		if r.notImplemented(o.cdb(0, 1, 0)) {
			t.Skipf("%s is not implemented.", o.name)
		}
		t.residual(o, "1 block, EDTL 0", r, true, bs, false)
		t.residual(o, "1 block, EDTL 10000", t.raw(o, 1, 10000, session.DirWrite, 0xa6), false, 10000-bs, false)
		t.residual(o, "1 block, EDTL 200", t.raw(o, 1, 200, session.DirWrite, 0xa6), true, bs-200, true)
		t.residual(o, "2 blocks, EDTL 1 block", t.raw(o, 2, bs, session.DirWrite, 0xa6), true, bs, false)

		// 1 block in the CDB, 2 blocks of data: only the first is written.
		t.io(write10, 0, 2, 0, t.scratch(2, 'a'), good)
		t.residual(o, "1 block, EDTL 2 blocks", t.raw(o, 1, 2*bs, session.DirWrite, 'b'), false, bs, false)
		t.checkAB(2)
		// 2 blocks in the CDB, 1 block of data.
		t.io(write10, 0, 2, 0, t.scratch(2, 'a'), good)
		t.residual(o, "2 blocks, EDTL 1 block", t.raw(o, 2, bs, session.DirWrite, 'b'), true, bs, false)
		t.checkAB(2)
	}
}

// checkAB reads 2 blocks at LBA 0: the first must be 'b's, the second 'a's.
func (t *T) checkAB(n uint32) {
	bs := int(t.dev.BlockSize)
	buf := t.io(read10, 0, n, 0, nil, good)
	if len(buf) < 2*bs {
		return
	}
	if !bytes.Equal(buf[:bs], bytes.Repeat([]byte{'b'}, bs)) {
		t.Errorf("Block was not written correctly")
	}
	if !bytes.Equal(buf[bs:2*bs], bytes.Repeat([]byte{'a'}, bs)) {
		t.Errorf("Second block was incorrectly overwritten")
	}
}

func (t *T) rawWriteNoData(o rwop, n uint32) reply {
	c := t.rawDial()
	var b1 byte
	if o.op == 0x2e || o.op == 0xae || o.op == 0x8e {
		b1 = fBytchk
	}
	r, err := c.command(o.cdb(0, n, b1), false, true, 0, c.cmdSN, nil, 0, same, 10*time.Second)
	c.cmdSN++
	if err != nil {
		return reply{err: err}
	}
	out := reply{status: r.status, sense: r.sense}
	out.res.Status = r.status
	out.res.Overflow, out.res.Underflow, out.res.Residual = r.overflow, r.underflow, r.residual
	return out
}
