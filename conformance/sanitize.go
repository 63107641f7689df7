package conformance

import (
	"context"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("dataloss", map[string]func(*T){
		"sanitize_invalid_serviceaction": sanitizeInvalidSA,
		"sanitize_exit_failure_mode":     sanitizeExitFailureMode,
		"sanitize_overwrite_reserved":    sanitizeReserved(scsi.SanitizeOverwrite),
		"sanitize_block_erase_reserved":  sanitizeReserved(scsi.SanitizeBlockErase),
		"sanitize_crypto_erase_reserved": sanitizeReserved(scsi.SanitizeCryptoErase),
		"sanitize_overwrite":             sanitizeOverwrite,
		"sanitize_block_erase":           sanitizeBlockErase,
		"sanitize_crypto_erase":          sanitizeCryptoErase,
		"sanitize_readonly":              sanitizeReadonly,
		"sanitize_reservations":          sanitizeReservations,
		"sanitize_reset":                 sanitizeReset,
	})
}

// needSanitize is libiscsi's CHECK_FOR_SANITIZE.
func (t *T) needSanitize() {
	if !t.dev.opts.AllowSanitize {
		t.Skipf("--allow-sanitize flag is not set. Skipping test.")
	}
}

// sanitize sends SANITIZE with the CDB bytes given (so that tests can set
// reserved ones) and its parameter list.
func (t *T) sanitize(cdb []byte, params []byte, e expect) {
	t.sanitizeOn(t.dev.nexus(), cdb, params, e)
}

func (t *T) sanitizeOn(n nexus, cdb []byte, params []byte, e expect) {
	dir := session.DirNone
	if len(params) > 0 {
		dir = session.DirWrite
	}
	r := n.call(t.ctx, mustCDB(cdb), dir, params, 0)
	switch t.check("SANITIZE", mustCDB(cdb), &r, e) {
	case -2:
		t.Skipf("SANITIZE is not implemented.")
	}
}

func sanitizeCDB(sa scsi.SanitizeAction, paramLen uint16) []byte {
	c := scsi.Sanitize(sa, false, false, paramLen)
	b := c.Array()
	return b[:c.Len()]
}

// SBC-4 5.30: service actions other than 01h-03h and 1Fh are INVALID
// FIELD IN CDB.
func sanitizeInvalidSA(t *T) {
	t.needSanitize()
	for sa := 0; sa <= 0x1f; sa++ {
		switch sa {
		case 1, 2, 3, 0x1f:
			continue
		}
		t.sanitize(sanitizeCDB(scsi.SanitizeAction(sa), 0), nil, invalidCDB)
	}
}

// EXIT FAILURE MODE with a parameter list length other than 0 is INVALID
// FIELD IN CDB (SBC-4 5.30.3).
func sanitizeExitFailureMode(t *T) {
	t.needSanitize()
	t.needDataLoss()
	if t.dev.OpCodes == nil || !t.dev.OpCodes.Supports(0x48, uint16(scsi.SanitizeExitFailureMode)) {
		t.Skipf("SANITIZE EXIT FAILURE MODE is not implemented according to REPORT_SUPPORTED_OPCODES.")
	}
	t.sanitize(sanitizeCDB(scsi.SanitizeExitFailureMode, 8), make([]byte, 8), invalidCDB)
}

// Reserved bits and bytes of the SANITIZE CDB set: INVALID FIELD IN CDB
// (SPC-5 2.4.1 reserved fields).
func sanitizeReserved(sa scsi.SanitizeAction) func(*T) {
	return func(t *T) {
		t.needSanitize()
		t.needDataLoss()
		var params []byte
		plen := uint16(0)
		if sa == scsi.SanitizeOverwrite {
			bs := int(t.dev.BlockSize)
			params = append([]byte{0x01, 0x00, byte(bs >> 8), byte(bs)}, t.scratch(1, 0xaa)...)
			plen = uint16(len(params))
		}
		cdb := sanitizeCDB(sa, plen)
		cdb[1] |= 0x40
		t.sanitize(cdb, params, invalidCDB)
		for i := 2; i < 7; i++ {
			cdb := sanitizeCDB(sa, plen)
			cdb[i] = byte(i)
			t.sanitize(cdb, params, invalidCDB)
		}
	}
}

var sanitizeInProgress = expect{scsi.StatusCheckCondition, scsi.SenseNotReady, []scsi.ASC{0x041b}, "NOT_READY/SANITIZE_IN_PROGRESS"}

// sanitizeNames are the service actions as libiscsi's messages name them.
var sanitizeNames = map[scsi.SanitizeAction]string{
	scsi.SanitizeOverwrite:   "OVERWRITE",
	scsi.SanitizeBlockErase:  "BLOCK_ERASE",
	scsi.SanitizeCryptoErase: "CRYPTO_ERASE",
}

// sanitizes reports whether REPORT SUPPORTED OPERATION CODES lists the
// service action (libiscsi's get_command_descriptor).
func (t *T) sanitizes(sa scsi.SanitizeAction) bool {
	return t.dev.OpCodes != nil && t.dev.OpCodes.Supports(0x48, uint16(sa))
}

// needSanitizeAction is the start of the tests of one service action:
// --allow-sanitize, --dataloss, and the service action listed by REPORT
// SUPPORTED OPERATION CODES (else skipped, as libiscsi's do).
func (t *T) needSanitizeAction(sa scsi.SanitizeAction) {
	t.needSanitize()
	t.needDataLoss()
	if !t.sanitizes(sa) {
		t.Skipf("SANITIZE %s is not implemented according to REPORT_SUPPORTED_OPCODES.", sanitizeNames[sa])
	}
}

// overwriteParams is an OVERWRITE parameter list: OVERWRITE COUNT 1 and a
// pattern of n bytes of 0xaa.
func overwriteParams(n int) []byte {
	p := make([]byte, 4+n)
	p[0] = 0x01
	p[2], p[3] = byte(n>>8), byte(n)
	for i := 4; i < len(p); i++ {
		p[i] = 0xaa
	}
	return p
}

// fillEnds writes 'a' over the first and the last 256 blocks, and returns
// what it wrote to each.
func (t *T) fillEnds() []byte {
	data := t.scratch(256, 'a')
	t.io(write16, 0, 256, 0, data, good)
	t.io(write16, t.dev.Blocks-256, 256, 0, data, good)
	return data
}

// wiped reads 256 blocks at lba and checks them with ok.
func (t *T) wiped(lba uint64, ok func([]byte) bool, failure string) {
	r := t.dev.nexus().call(t.ctx, read16.cdb(lba, 256, 0), session.DirRead, nil, 256*int(t.dev.BlockSize))
	switch rc := t.check("READ16", read16.cdb(lba, 256, 0), &r, good); {
	case rc == -2:
		// libiscsi's check_lun_is_wiped returns; the test goes on.
		t.markSkipped("READ16 is not implemented.")
	case rc != 0:
	case len(r.data) != 256*int(t.dev.BlockSize):
		t.Errorf("READ16 of 256 blocks returned %d bytes", len(r.data))
	case !ok(r.data):
		t.Errorf("%s (blocks %d to %d)", failure, lba, lba+255)
	}
}

func allBytes(b []byte, c byte) bool {
	for _, x := range b {
		if x != c {
			return false
		}
	}
	return true
}

// SBC-4 5.30.2.3 OVERWRITE: the pattern lands on every block; a parameter
// list of 4 bytes or less, or longer than a block plus 4, is INVALID FIELD
// IN CDB; an OVERWRITE COUNT of 0, a pattern of 0 bytes or longer than a
// block is INVALID FIELD IN PARAMETER LIST.
func sanitizeOverwrite(t *T) {
	t.needSanitizeAction(scsi.SanitizeOverwrite)
	if t.dev.Characteristics == nil {
		t.Errorf("SANITIZE OVERWRITE opcode is supported but BlockDeviceCharacteristics VPD page is missing")
	}
	t.fillEnds()
	bs := int(t.dev.BlockSize)
	full := overwriteParams(bs)
	t.sanitize(sanitizeCDB(scsi.SanitizeOverwrite, uint16(len(full))), full, good)
	isAA := func(b []byte) bool { return allBytes(b, 0xaa) }
	t.wiped(0, isAA, "Blocks did not read back as 0xaa")
	t.wiped(t.dev.Blocks-256, isAA, "Blocks did not read back as 0xaa")
	for _, n := range []int{bs / 2, 4} {
		p := overwriteParams(n)
		t.sanitize(sanitizeCDB(scsi.SanitizeOverwrite, uint16(len(p))), p, good)
	}
	for i := 0; i < 5; i++ {
		t.sanitize(sanitizeCDB(scsi.SanitizeOverwrite, uint16(i)), full[:i], invalidCDB)
	}
	long := make([]byte, bs+5)
	t.sanitize(sanitizeCDB(scsi.SanitizeOverwrite, uint16(len(long))), long, invalidCDB)
	bad := func(count byte, ipl int) {
		p := make([]byte, bs+4)
		p[0], p[2], p[3] = count, byte(ipl>>8), byte(ipl)
		t.sanitize(sanitizeCDB(scsi.SanitizeOverwrite, uint16(len(p))), p, invalidCDB)
	}
	bad(0, bs)   // OVERWRITE COUNT 0
	bad(0, 0)    // INITIALIZATION PATTERN LENGTH 0
	bad(0, bs+4) // a pattern longer than a block
}

// eraseCommon is the start BLOCK ERASE and CRYPTO ERASE share: the
// service action in REPORT SUPPORTED OPERATION CODES (else the *EREQ field
// must be 0), the Block Device Characteristics page.
func (t *T) eraseCommon(sa scsi.SanitizeAction, req func(*scsi.BlockDeviceCharacteristics) uint8, reqName string) {
	name := sanitizeNames[sa]
	label := strings.ReplaceAll(name, "_", " ")
	t.needSanitize()
	t.needDataLoss()
	bdc := t.dev.Characteristics
	if !t.sanitizes(sa) {
		if bdc != nil && req(bdc) != 0 {
			t.Errorf("%s is not 0 but %s is not supported.", reqName, label)
		}
		t.Skipf("SANITIZE %s is not implemented according to REPORT_SUPPORTED_OPCODES.", name)
	}
	if bdc == nil {
		t.Errorf("SANITIZE %s opcode is supported but BlockDeviceCharacteristics VPD page is missing", label)
	}
}

// eraseThen is the rest they share: the erase, the check of the blocks, a
// parameter list (8 bytes) refused with INVALID FIELD IN CDB, and a READ
// after the erase as the *EREQ field says.
func (t *T) eraseThen(sa scsi.SanitizeAction, req func(*scsi.BlockDeviceCharacteristics) uint8, reqName string, checkWiped func(written []byte)) {
	label := strings.ReplaceAll(sanitizeNames[sa], "_", " ")
	written := t.fillEnds()
	t.sanitize(sanitizeCDB(sa, 0), nil, good)
	checkWiped(written)
	t.sanitize(sanitizeCDB(sa, 8), make([]byte, 8), invalidCDB)
	bdc := t.dev.Characteristics
	if bdc == nil {
		return
	}
	// SBC-4 6.6.3: WABEREQ and WACEREQ say what a READ of a block not
	// written since the erase does: 1 succeeds; 2 and 3 fail with MEDIUM
	// ERROR (3: WRITE AFTER SANITIZE REQUIRED). libiscsi sends the READ
	// expecting GOOD whatever the field says, so 2 and 3 fail its test.
	r := t.dev.nexus().call(t.ctx, read10.cdb(0, 1, 0), session.DirRead, nil, int(t.dev.BlockSize))
	if t.check("READ10", read10.cdb(0, 1, 0), &r, good) == -2 {
		// libiscsi's check_wabereq/check_wacereq return there.
		t.markSkipped("READ10 is not implemented.")
		return
	}
	switch req(bdc) {
	case 0:
		t.Errorf("SANITIZE %s opcode is supported but %s is 0", label, reqName)
	case 1:
		if r.status != scsi.StatusGood {
			t.Errorf("Read after SANITIZE failed but %s is 1", reqName)
		}
	case 2, 3:
		want := r.status == scsi.StatusCheckCondition && r.sense != nil && r.sense.Key == scsi.SenseMediumError
		if want && (req(bdc) == 3) != (r.sense.ASC == 0x1115) {
			want = false
		}
		if !want {
			t.Errorf("Read should have failed with CHECK_CONDITION/MEDIUM_ERROR (%s %d)", reqName, req(bdc))
		}
	}
}

func wabereq(c *scsi.BlockDeviceCharacteristics) uint8 { return c.WABEREQ }
func wacereq(c *scsi.BlockDeviceCharacteristics) uint8 { return c.WACEREQ }

// SBC-4 5.30.2.2 BLOCK ERASE: on a unit with logical block provisioning
// (LBPME), every block is deallocated afterwards (GET LBA STATUS), and
// reads back as zeros with LBPRZ, or as anything but what it held.
func sanitizeBlockErase(t *T) {
	t.eraseCommon(scsi.SanitizeBlockErase, wabereq, "WABEREQ")
	c16 := t.dev.Capacity16
	if c16 == nil {
		t.Errorf("SANITIZE BLOCK ERASE opcode is supported but READCAPACITY16 is missing.")
	}
	if c16 == nil || !c16.LBPME {
		t.Errorf("SANITIZE BLOCK ERASE opcode is supported but LBPME==0.")
	}
	if bdc := t.dev.Characteristics; bdc != nil && bdc.MediumRotationRate != 1 {
		t.Logf("[WARNING] SANITIZE BLOCK ERASE opcode is supported but MediumRotationRate is not 1 (non-rotating): only SSDs should implement BLOCK ERASE")
	}
	t.eraseThen(scsi.SanitizeBlockErase, wabereq, "WABEREQ", func(written []byte) {
		if c16 == nil {
			return
		}
		ok, why := func(b []byte) bool { return string(b) != string(written) }, "Blocks were not wiped"
		if c16.LBPRZ {
			ok, why = func(b []byte) bool { return allBytes(b, 0) }, "Blocks did not read back as zero"
		}
		t.wiped(0, ok, why)
		t.wiped(t.dev.Blocks-256, ok, why)
	})
	t.checkDeallocated()
}

// checkDeallocated is libiscsi's check_unmap: GET LBA STATUS from LBA 0
// returns descriptors, none MAPPED, in order, covering the whole unit.
func (t *T) checkDeallocated() {
	r := t.dev.nexus().call(t.ctx, scsi.GetLBAStatus(0, 256), session.DirRead, nil, 256)
	switch t.check("GETLBASTATUS", scsi.GetLBAStatus(0, 256), &r, good) {
	case -2:
		// libiscsi's check_unmap returns there, the last check of its
		// test.
		t.markSkipped("GETLBASTATUS is not implemented.")
		return
	case -1:
		t.Fatalf("Failed to read LBA mapping from the target.")
	}
	st, err := scsi.ParseLBAStatus(r.data)
	if err != nil {
		t.Fatalf("Failed to unmarshall LBA mapping: %v", err)
	}
	if len(st.Descriptors) < 1 {
		t.Fatalf("Wrong number of LBA status descriptors. Expected >=1 but got %d descriptors", len(st.Descriptors))
	}
	next := uint64(0)
	for i, d := range st.Descriptors {
		if d.Status == 0 {
			t.Errorf("LBA status descriptor %d (LBA %d, %d blocks) is MAPPED: all should be DEALLOCATED or ANCHORED after SANITIZE", i, d.LBA, d.Blocks)
		}
		if d.LBA != next {
			t.Errorf("LBA status descriptors not in order: descriptor %d starts at LBA %d, not %d", i, d.LBA, next)
		}
		next = d.LBA + uint64(d.Blocks)
	}
	if next != t.dev.Blocks {
		t.Errorf("The LUN is not fully DEALLOCATED/ANCHORED: the descriptors end at LBA %d of %d", next, t.dev.Blocks)
	}
}

// SBC-4 5.30.2.4 CRYPTO ERASE: the blocks no longer read as what they held.
func sanitizeCryptoErase(t *T) {
	t.eraseCommon(scsi.SanitizeCryptoErase, wacereq, "WACEREQ")
	t.eraseThen(scsi.SanitizeCryptoErase, wacereq, "WACEREQ", func(written []byte) {
		ok := func(b []byte) bool { return string(b) != string(written) }
		t.wiped(0, ok, "Blocks were not wiped")
		t.wiped(t.dev.Blocks-256, ok, "Blocks were not wiped")
	})
}

// eachSanitize sends every service action REPORT SUPPORTED OPERATION CODES
// lists through n, expecting e; one it does not list is noted as skipped,
// as libiscsi's tests print "[SKIPPED] SANITIZE X is not implemented".
func (t *T) eachSanitize(n nexus, e expect) {
	bs := int(t.dev.BlockSize)
	for _, sa := range []scsi.SanitizeAction{scsi.SanitizeOverwrite, scsi.SanitizeBlockErase, scsi.SanitizeCryptoErase} {
		if !t.sanitizes(sa) {
			t.markSkipped("SANITIZE " + sanitizeNames[sa] + " is not implemented according to REPORT_SUPPORTED_OPCODES.")
			continue
		}
		var p []byte
		if sa == scsi.SanitizeOverwrite {
			p = overwriteParams(bs)
		}
		t.sanitizeOn(n, sanitizeCDB(sa, uint16(len(p))), p, e)
	}
}

// SBC-4 4.11, SPC-5 7.5.8: with software write protect set (from another
// I_T nexus), SANITIZE is DATA PROTECT/WRITE PROTECTED.
func sanitizeReadonly(t *T) {
	t.needSanitize()
	t.needDataLoss()
	n, n2 := t.dev.nexus(), t.second()
	// libiscsi's set_swp: a Control page that cannot be read, or whose
	// SWP cannot be changed, fails the test.
	r, rc := t.try(n2, "MODESENSE6", scsi.ModeSense6(true, scsi.PageChangeable, 0x0a, 0, 255), session.DirRead, nil, 255, good)
	if rc != 0 {
		t.Fatalf("Failed to read CONTROL mode page.")
	}
	if ms, err := scsi.ParseModeSense6(r.data); err != nil {
		t.Fatalf("failed to unmarshall mode sense datain blob: %v", err)
	} else if cp := controlPage(&ms); len(cp) < 3 || cp[2]&0x08 == 0 {
		t.Fatalf("SWP is not changeable")
	}
	if !t.setSWP(n2, true) {
		t.Fatalf("Failed to set software write protect on the second connection")
	}
	t.clearUA(n)
	t.eachSanitize(n, writeProtected)
	if !t.setSWP(n2, false) {
		t.Errorf("Failed to clear software write protect on the second connection")
	}
	t.clearUA(n)
}

// SPC-2 5.5.1 (table 9 in SPC-3): SANITIZE conflicts with another
// initiator's RESERVE (6).
func sanitizeReservations(t *T) {
	t.needSanitize()
	t.needDataLoss()
	n2 := t.second()
	t.reserve6(n2, good)
	t.eachSanitize(t.dev.nexus(), resvConflict)
}

// SBC-4 4.11.2: a SANITIZE in progress survives ABORT TASK, ABORT TASK
// SET, LUN RESET, the target resets and the loss of the I_T nexus; while
// it runs, TEST UNIT READY, START STOP UNIT and READ are NOT READY,
// SANITIZE IN PROGRESS, and INQUIRY works.
func sanitizeReset(t *T) {
	t.needSanitizeAction(scsi.SanitizeOverwrite)
	s := t.dev.sess
	n := t.dev.nexus()
	p := overwriteParams(int(t.dev.BlockSize))
	for i := 4; i < len(p); i++ {
		p[i] = 0
	}
	// The SANITIZE is left running: its context is the run's, not the
	// command timeout's.
	f := s.Execute(t.ctx, n.lun, mustCDB(sanitizeCDB(scsi.SanitizeOverwrite, uint16(len(p)))), session.DirWrite, iovector.New(p))
	// However the test ends, this session ends with it (the next test
	// logs in again) and the SANITIZE's Future is waited for.
	t.Cleanup(func() {
		_ = s.Close()
		_, _ = f.Wait()
	})
	_ = n.call(t.ctx, scsi.ReportLUNs(scsi.ReportAllLUNs, 64), session.DirRead, nil, 64)
	// libiscsi sleeps 3 s "in case the target is slow to start the
	// SANITIZE"; we ask every 100 ms for up to 3 s.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		r := n.call(t.ctx, scsi.TestUnitReady(), session.DirNone, nil, 0)
		if r.sense != nil && r.sense.Key == scsi.SenseNotReady && r.sense.ASC == 0x041b || !t.pause(100*time.Millisecond) {
			break
		}
	}
	t.tur(n, sanitizeInProgress)
	t.startStop(n, true, 1, false, true, false, sanitizeInProgress)
	t.io(read16, 0, 1, 0, nil, sanitizeInProgress)
	t.inquiry(false, 0, 255, good)
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"ABORT TASK", func() error { return s.Abort(ctx, f) }},
		{"ABORT TASK SET", func() error { return s.DefaultUnit().AbortTaskSet(ctx) }},
		{"LUN reset", func() error { return s.DefaultUnit().Reset(ctx) }},
		{"Warm reset", func() error { return s.TargetWarmReset(ctx) }},
		{"Cold reset", func() error { return s.TargetColdReset(ctx) }},
	} {
		if err := step.do(); err != nil {
			t.Logf("%s failed: %v", step.name, err)
		}
	}
	// Drop the I_T nexus without a logout, as libiscsi destroys its
	// context, and log in again as the suite's session.
	_ = s.Close()
	t.pause(time.Second)
	// No TEST UNIT READY at login (libiscsi sends none): the unit is
	// NOT READY while it sanitizes.
	ns, err := t.dev.dialWith(t.ctx, t.dev.url, t.dev.opts.InitiatorName, func(c *session.Config) { c.SkipTestUnitReady = true })
	if err != nil {
		t.Fatalf("Failed to login to target: %v", err)
	}
	t.dev.sess = ns
	n = t.dev.nexus()
	t.tur(n, sanitizeInProgress)
	// Wait for the SANITIZE to end (libiscsi polls every 60 s, forever).
	for deadline := time.Now().Add(sanitizeWait); ; {
		r := n.call(t.ctx, scsi.TestUnitReady(), session.DirNone, nil, 0)
		if r.status == scsi.StatusGood {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SANITIZE still in progress after %v: %s", sanitizeWait, statusSense(&r))
		}
		if !t.pause(time.Second) {
			t.Fatalf("SANITIZE still in progress when the run ended (%v): %s", context.Cause(t.ctx), statusSense(&r))
		}
	}
}

// pause waits d, or less if the run's context ends first; it reports
// whether the whole of d passed.
func (t *T) pause(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// sanitizeWait bounds the wait for a SANITIZE to end in sanitizeReset.
const sanitizeWait = 5 * time.Minute
