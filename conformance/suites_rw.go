package conformance

func init() {
	rw := map[string]func(*T){
		"read6_simple":     simpleRW(read6, false),
		"read6_beyond_eol": read6BeyondEOL,
	}
	for _, o := range []struct {
		op rwop
		n  string
	}{{read10, "read10"}, {read12, "read12"}, {read16, "read16"}} {
		rw[o.n+"_simple"] = simpleRW(o.op, false)
		rw[o.n+"_beyond_eol"] = beyondEOL(o.op, false)
		rw[o.n+"_0blocks"] = zeroBlocks(o.op, false)
		rw[o.n+"_rdprotect"] = protectField(o.op, false)
		rw[o.n+"_dpofua"] = dpofua(o.op, false, []byte{fDPO, fFUA, fDPO | fFUA}, 0x18)
		rw[o.n+"_residuals"] = readResiduals(o.op, false)
	}
	rw["read10_invalid"] = readResiduals(read10, true)
	for _, o := range []struct {
		op rwop
		n  string
	}{{verify10, "verify10"}, {verify12, "verify12"}, {verify16, "verify16"}} {
		rw[o.n+"_simple"] = verifySimple(o.op)
		rw[o.n+"_beyond_eol"] = beyondEOL(o.op, false)
		rw[o.n+"_0blocks"] = zeroBlocks(o.op, false)
		rw[o.n+"_vrprotect"] = protectField(o.op, false)
		rw[o.n+"_flags"] = verifyFlags(o.op)
		rw[o.n+"_dpo"] = dpofua(o.op, false, []byte{fDPO}, 0x10)
		rw[o.n+"_mismatch"] = verifyMismatch(o.op, true)
		rw[o.n+"_mismatch_no_cmp"] = verifyMismatch(o.op, false)
	}
	w := map[string]func(*T){}
	for _, o := range []struct {
		op rwop
		n  string
	}{{write10, "write10"}, {write12, "write12"}, {write16, "write16"}} {
		w[o.n+"_simple"] = simpleRW(o.op, true)
		w[o.n+"_beyond_eol"] = beyondEOL(o.op, true)
		w[o.n+"_0blocks"] = zeroBlocks(o.op, true)
		w[o.n+"_wrprotect"] = protectField(o.op, true)
		w[o.n+"_dpofua"] = dpofua(o.op, true, []byte{fDPO, fFUA, fDPO | fFUA}, 0x18)
		w[o.n+"_residuals"] = writeResiduals(o.op)
	}
	for _, o := range []struct {
		op rwop
		n  string
	}{{wrverify10, "writeverify10"}, {wrverify12, "writeverify12"}, {wrverify16, "writeverify16"}} {
		w[o.n+"_simple"] = writeVerifySimple(o.op)
		w[o.n+"_beyond_eol"] = beyondEOL(o.op, true)
		w[o.n+"_0blocks"] = zeroBlocks(o.op, true)
		w[o.n+"_wrprotect"] = protectField(o.op, true)
		w[o.n+"_flags"] = writeVerifyFlags(o.op)
		rw[o.n+"_dpo"] = dpofua(o.op, false, []byte{fDPO}, 0x10)
		w[o.n+"_residuals"] = writeResiduals(o.op)
	}
	register("", rw)
	register("dataloss", w)
}

// read6BeyondEOL: READ(6) past the end, for LUNs READ(6) can address.
func read6BeyondEOL(t *T) {
	d := t.dev
	if d.Blocks > 0x1fffff {
		return // libiscsi: "LUN is too big for read-beyond-eol tests with READ6", a pass
	}
	for i := 1; i <= 255 && uint64(i) <= d.Blocks+1; i++ {
		t.io(read6, d.Blocks+1-uint64(i), uint32(i), 0, nil, lbaOutOfRange)
	}
	for i := 1; i <= 255; i++ {
		t.io(read6, 0x1fffff, uint32(i), 0, nil, lbaOutOfRange)
	}
	for i := 2; i <= 255; i++ {
		t.io(read6, d.Blocks-1, uint32(i), 0, nil, lbaOutOfRange)
	}
}
