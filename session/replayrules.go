package session

import "github.com/iscsi-go/iscsi/scsi"

// SafeToRepeat reports whether the command in cdb may be sent a second
// time without changing what the first execution did: the built-in list
// recovery uses to replay commands after a lost connection (READ, WRITE of
// the same data, VERIFY, SYNCHRONIZE CACHE, UNMAP, WRITE SAME, TEST UNIT
// READY, INQUIRY, READ CAPACITY, …). Config.ReplaySafe is not consulted.
// Packages that resend commands elsewhere (multipath) use the same rules.
func SafeToRepeat(cdb []byte) bool {
	if len(cdb) == 0 {
		return false
	}
	var b1 byte
	if len(cdb) > 1 {
		b1 = cdb[1]
	}
	return safeToRepeat(scsi.OpCode(cdb[0]), b1)
}

// ReadOnly reports whether the command in cdb only reads: it changes
// neither the medium nor the state of the unit (READ, VERIFY, INQUIRY,
// TEST UNIT READY, MODE SENSE, PERSISTENT RESERVE IN, …). A caller that
// gives up on such a command does not wait for the target to end it.
func ReadOnly(cdb []byte) bool {
	var a [16]byte
	copy(a[:], cdb)
	return len(cdb) > 0 && readOnly(a)
}
