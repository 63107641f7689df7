package conformance

import (
	"errors"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
)

func init() {
	register("", map[string]func(*T){
		"iscsi_cmdsn_toohigh": cmdSNOutside(true),
		"iscsi_cmdsn_toolow":  cmdSNOutside(false),
	})
	register("dataloss", map[string]func(*T){
		"iscsi_datasn_invalid": dataSNInvalid,
	})
}

// rawWait is how long a raw test waits for an answer the target must not
// send (libiscsi's 3 s).
const rawWait = 3 * time.Second

// RFC 7143 4.2.2.1 (RFC 3720 3.2.2.1): a command whose CmdSN is outside
// ExpCmdSN..MaxCmdSN is silently ignored; the next one, in the window, is
// answered.
func cmdSNOutside(high bool) func(*T) {
	return func(t *T) {
		c := t.rawDial()
		sn := c.maxCmdSN + 1
		what := "MAXCMDSN+1"
		if !high {
			sn, what = c.expCmdSN-1, "EXPCMDSN-1"
		}
		r, err := c.command(scsi.TestUnitReady(), false, false, 0, sn, nil, 0, same, rawWait)
		switch {
		case errors.Is(err, errNoReply):
			t.Logf("[SUCCESS] We did not receive a reply")
		case err != nil:
			// The target dropped the connection rather than ignore the
			// command. libiscsi's test counts that as no reply too ("some
			// targets will incorrectly drop the connection") and
			// reconnects; so do we, and say so.
			t.soft("the target dropped the connection (%v) instead of ignoring the command: accepted, as libiscsi does", err)
			c.Close()
			c = t.rawDial()
		default:
			t.Errorf("We got a response (%s) from the target but CMDSN (%s) was outside of the window (RFC 7143 4.2.2.1: it must be silently ignored)", r.status, what)
		}
		r, err = c.command(scsi.TestUnitReady(), false, false, 0, c.expCmdSN, nil, 0, same, 10*time.Second)
		if err != nil {
			t.Errorf("TEST UNIT READY with CmdSN == EXPCMDSN after the ignored one: %v", err)
		} else if r.status != scsi.StatusGood && !(r.sense != nil && r.sense.Key == scsi.SenseUnitAttention) {
			t.Errorf("TEST UNIT READY with CmdSN == EXPCMDSN failed with %s", r.status)
		}
	}
}

// RFC 7143 11.7.5: Data-Out DataSNs count from 0 in order; a WRITE whose
// Data-Outs carry wrong DataSNs must not succeed.
func dataSNInvalid(t *T) {
	t.needDataLoss()
	bs := int(t.dev.BlockSize)
	data := t.scratch(2, 0xa6)
	for _, step := range []struct {
		what   string
		blocks int
		fix    func(uint32) uint32
	}{
		{"two Data-Out PDUs with DataSN==0", 2, func(uint32) uint32 { return 0 }},
		{"Data-Out PDU with DataSN==27", 1, func(uint32) uint32 { return 27 }},
		{"Data-Out PDU with DataSN==-1", 1, func(uint32) uint32 { return 0xffffffff }},
		{"Data-Out PDUs in reverse order (DataSN == 1,0)", 2, func(sn uint32) uint32 { return 1 - sn }},
	} {
		c := t.rawDial()
		n := step.blocks * bs
		r, err := c.command(write10.cdb(100, uint32(step.blocks), 0), false, true, n, c.cmdSN, data[:n], bs, step.fix, rawWait)
		c.cmdSN++
		c.Close()
		if err == nil && r.sense != nil && r.sense.Key == scsi.SenseIllegalRequest && r.sense.ASC == 0x2000 {
			t.Skipf("WRITE10 is not implemented.")
		}
		if err == nil && r.status == scsi.StatusGood {
			t.Errorf("WRITE10 with %s succeeded; RFC 7143 11.7.5 makes it a protocol error", step.what)
		}
	}
}
