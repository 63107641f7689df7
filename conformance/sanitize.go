package conformance

import (
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
	dir := session.DirNone
	if len(params) > 0 {
		dir = session.DirWrite
	}
	r := t.dev.nexus().call(t.ctx, mustCDB(cdb), dir, params, 0)
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
