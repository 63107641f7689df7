package conformance

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Device is the unit under test: the primary session of the current suite,
// logged in under Options.InitiatorName, and what the suite learnt of the
// unit before the first test (as libiscsi's iscsi-test-cu does in main).
type Device struct {
	url  string
	opts *Options

	sess  *session.Session // the suite's session
	mpath *session.Session // the suite's session to the second URL, or nil

	// BlockSize and Blocks are the unit's geometry (READ CAPACITY(16),
	// else (10)); LBPPB is the logical blocks per physical block.
	BlockSize uint32
	Blocks    uint64
	LBPPB     int
	// Inquiry is the standard INQUIRY data; SBC3 says its version
	// descriptors name SBC-3.
	Inquiry scsi.StandardInquiry
	SBC3    bool
	// Capacity16 is READ CAPACITY(16)'s answer, nil when the unit has no
	// such command.
	Capacity16 *scsi.Capacity16
	// BlockLimits, Provisioning (read only for a thin unit, as libiscsi
	// does) and Characteristics are VPD pages 0xb0, 0xb2 and 0xb1, nil when
	// the unit does not have them.
	BlockLimits     *scsi.BlockLimits
	Provisioning    *scsi.LogicalBlockProvisioning
	Characteristics *scsi.BlockDeviceCharacteristics
	// OpCodes is REPORT SUPPORTED OPERATION CODES' list, nil without it.
	OpCodes *scsi.SupportedOpCodes
	// ReadOnly is the WP bit of MODE SENSE(6).
	ReadOnly bool
}

// Session returns the primary session of the current suite.
func (d *Device) Session() *session.Session { return d.sess }

// LUN returns the LUN under test.
func (d *Device) LUN() scsi.LUN { return d.sess.LUN() }

// Options returns the options of the run.
func (d *Device) Options() Options { return *d.opts }

// thin reports LBPME, as libiscsi's CHECK_FOR_THIN_PROVISIONING reads it.
func (d *Device) thin() bool { return d.Capacity16 != nil && d.Capacity16.LBPME }

func (d *Device) dial(ctx context.Context, url, name string) (*session.Session, error) {
	return d.dialWith(ctx, url, name, nil)
}

// dialWith is dial with a last say over the configuration.
func (d *Device) dialWith(ctx context.Context, url, name string, tweak func(*session.Config)) (*session.Session, error) {
	var cfg session.Config
	if d.opts.Config != nil {
		cfg = *d.opts.Config
	}
	cfg.InitiatorName = name
	if cfg.ISID != (pdu.ISID{}) {
		// One ISID for several sessions would make the target end the
		// first at the second's login. A zero ISID is a random one
		// (and, unlike a given one, costs no reinstatement barrier).
		cfg.ISID = session.NewISID()
	}
	if cfg.ReplacementTimeout == 0 {
		// libiscsi reconnects too, but a target that stays away should
		// cost a test seconds, not the session's two minutes.
		cfg.ReplacementTimeout = 10 * time.Second
	}
	if cfg.AbortTimeout == 0 {
		// An ABORT TASK of a command the target dropped: do not wait
		// the session's 10 s before reconnecting.
		cfg.AbortTimeout = 5 * time.Second
	}
	if tweak != nil {
		tweak(&cfg)
	}
	return session.Dial(ctx, url, &cfg)
}

// probe learns the unit as libiscsi's main does before the tests.
func (d *Device) probe(ctx context.Context) error {
	n := d.nexus()
	r := n.call(ctx, scsi.ReadCapacity10(), session.DirRead, nil, 8)
	if r.err != nil {
		return fmt.Errorf("READCAPACITY10 command: %w", r.err)
	}
	c10, err := scsi.ParseReadCapacity10(r.data)
	if err != nil {
		return fmt.Errorf("READCAPACITY10: %w", err)
	}
	d.BlockSize, d.Blocks, d.LBPPB = c10.BlockLength, uint64(c10.ReturnedLBA)+1, 1
	if r := n.call(ctx, scsi.ReadCapacity16(96), session.DirRead, nil, 96); r.err == nil {
		if c, err := scsi.ParseReadCapacity16(r.data); err == nil {
			d.Capacity16 = &c
			d.BlockSize, d.Blocks, d.LBPPB = c.BlockLength, c.ReturnedLBA+1, 1<<c.LBPPBE
		}
	} else if r.status == scsi.StatusNone {
		return fmt.Errorf("READCAPACITY16 command: %w", r.err)
	}
	r = n.call(ctx, scsi.Inquiry(255), session.DirRead, nil, 255)
	if r.err != nil {
		return fmt.Errorf("inquiry command failed: %w", r.err)
	}
	if d.Inquiry, err = scsi.ParseStandardInquiry(r.data); err != nil {
		return fmt.Errorf("inquiry: %w", err)
	}
	for _, v := range d.Inquiry.VersionDescriptors {
		if v == 0x04c0 {
			d.SBC3 = true
		}
	}
	if r := n.call(ctx, scsi.InquiryVPD(scsi.VPDBlockLimits, 255), session.DirRead, nil, 255); r.err == nil {
		if bl, err := scsi.ParseBlockLimits(r.data); err == nil {
			d.BlockLimits = &bl
		}
	}
	if r := n.call(ctx, scsi.InquiryVPD(scsi.VPDBlockDeviceCharacteristic, 255), session.DirRead, nil, 255); r.err == nil {
		if c, err := scsi.ParseBlockDeviceCharacteristics(r.data); err == nil {
			d.Characteristics = &c
		}
	}
	if d.thin() {
		r := n.call(ctx, scsi.InquiryVPD(scsi.VPDLogicalBlockProvisioning, 255), session.DirRead, nil, 255)
		if r.err != nil {
			return fmt.Errorf("inquiry command failed: %w", r.err)
		}
		lbp, err := scsi.ParseLogicalBlockProvisioning(r.data)
		if err != nil {
			return fmt.Errorf("logical block provisioning page: %w", err)
		}
		d.Provisioning = &lbp
	}
	if r := n.call(ctx, scsi.ReportSupportedOpCodes(true, 65535), session.DirRead, nil, 65535); r.err == nil {
		if oc, err := scsi.ParseSupportedOpCodes(r.data); err == nil {
			d.OpCodes = &oc
		}
	}
	if r := n.call(ctx, scsi.ModeSense6(false, scsi.PageCurrent, scsi.ModePageAll, 0, 255), session.DirRead, nil, 255); r.err == nil {
		if ms, err := scsi.ParseModeSense6(r.data); err == nil {
			d.ReadOnly = ms.WriteProtected()
		}
	}
	// libiscsi refuses to run with persistent reservation keys registered.
	if r := n.call(ctx, scsi.PersistentReserveIn(scsi.PRReadKeys, 4096), session.DirRead, nil, 4096); r.err == nil {
		if k, err := scsi.ParsePRKeys(r.data); err == nil && len(k.Keys) > 0 {
			return errors.New("one or more persistent reservations keys have been registered")
		}
	}
	return nil
}

// nexus is one I_T_L nexus commands go to: a session and a LUN.
type nexus struct {
	s       *session.Session
	lun     scsi.LUN
	timeout time.Duration // bounds each command (Options.CommandTimeout)
}

func (d *Device) nexus() nexus { return d.nexusOf(d.sess) }

func (d *Device) nexusOf(s *session.Session) nexus {
	return nexus{s, s.LUN(), d.opts.CommandTimeout}
}

// stallKey keys the flag, in a test's context, that a command of the test
// got no answer within Options.CommandTimeout. The test has failed then,
// whatever follows; its later commands fail at once with errStalled
// instead of waiting as long again each (istgt answers no READ of 0
// blocks, and ZeroBlocks sends several). Its cleanups send theirs as usual.
type stallKey struct{}

var errStalled = errors.New("not sent: an earlier command of this test got no answer")

// reply is what a command came back with.
type reply struct {
	status scsi.Status
	sense  *scsi.Sense
	data   []byte // the data-in bytes the target sent
	res    session.Result
	err    error // nil for GOOD
}

// call sends cdb with data out (dir DirWrite), or inLen bytes of data in
// (DirRead): the Expected Data Transfer Length is len(out) or inLen, whatever
// the CDB says.
func (n nexus) call(ctx context.Context, cdb scsi.CDB, dir session.Direction, out []byte, inLen int) reply {
	var v *iovector.Vector
	var in []byte
	switch dir {
	case session.DirWrite:
		v = iovector.New(out)
	case session.DirRead:
		// With inLen 0, a READ with an empty buffer: the R bit and an
		// Expected Data Transfer Length of 0 (the residual tests).
		in = make([]byte, inLen)
		v = iovector.New(in)
	}
	st, _ := ctx.Value(stallKey{}).(*atomic.Bool)
	if st != nil && st.Load() {
		return reply{status: scsi.StatusNone, err: errStalled}
	}
	if n.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.timeout)
		defer cancel()
	}
	res, err := n.s.Call(ctx, n.lun, cdb, dir, v)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = fmt.Errorf("no answer within %v: %w", n.timeout, err)
		if st != nil {
			st.Store(true)
		}
	}
	r := reply{status: res.Status, res: res, err: err}
	var se *scsi.StatusError
	if errors.As(err, &se) {
		r.status, r.sense = se.Status, se.Sense
	}
	if in != nil {
		k := res.Transferred()
		if k > len(in) || k < 0 {
			k = len(in)
		}
		r.data = in[:k]
	}
	return r
}

// expect is the outcome a test wants of a command, as libiscsi's EXPECT_*.
type expect struct {
	status scsi.Status
	key    scsi.SenseKey
	ascs   []scsi.ASC
	what   string // for messages: "LBA OUT OF RANGE"
}

var (
	good           = expect{status: scsi.StatusGood}
	lbaOutOfRange  = expect{scsi.StatusCheckCondition, scsi.SenseIllegalRequest, []scsi.ASC{0x2100}, "ILLEGAL_REQUEST/LBA_OUT_OF_RANGE"}
	invalidCDB     = expect{scsi.StatusCheckCondition, scsi.SenseIllegalRequest, []scsi.ASC{0x2400, 0x2600}, "ILLEGAL_REQUEST/INVALID_FIELD_IN_CDB"}
	anyIllegal     = expect{scsi.StatusCheckCondition, scsi.SenseIllegalRequest, nil, "ILLEGAL_REQUEST"}
	miscompare     = expect{scsi.StatusCheckCondition, scsi.SenseMiscompare, []scsi.ASC{0x1d00}, "MISCOMPARE/MISCOMPARE_DURING_VERIFY"}
	writeProtected = expect{scsi.StatusCheckCondition, scsi.SenseDataProtect, []scsi.ASC{0x2700, 0x2701, 0x2702}, "DATA_PROTECTION/WRITE_PROTECTED"}
	noMedium       = expect{scsi.StatusCheckCondition, scsi.SenseNotReady, []scsi.ASC{0x3a00, 0x3a01, 0x3a02}, "NOT_READY/MEDIUM_NOT_PRESENT"}
	removalPrevent = expect{scsi.StatusCheckCondition, scsi.SenseIllegalRequest, []scsi.ASC{0x5302}, "ILLEGAL_REQUEST/MEDIUM_REMOVAL_PREVENTED"}
	resvConflict   = expect{status: scsi.StatusReservationConflict, what: "RESERVATION_CONFLICT"}
)

// notImplemented is libiscsi's status_is_invalid_opcode: INVALID COMMAND
// OPERATION CODE, or for the two-byte opcodes (MAINTENANCE IN, SERVICE
// ACTION IN) INVALID FIELD IN CDB/PARAMETER LIST pointing at the service
// action or without a field pointer.
func (r *reply) notImplemented(cdb scsi.CDB) bool {
	if r.status != scsi.StatusCheckCondition || r.sense == nil || r.sense.Key != scsi.SenseIllegalRequest {
		return false
	}
	if r.sense.ASC == 0x2000 {
		return true
	}
	switch cdb.OpCode() {
	case 0xa3, 0x9e:
		if r.sense.ASC == 0x2400 || r.sense.ASC == 0x2600 {
			_, field, _, _, ok := r.sense.FieldPointer()
			return !r.sense.SKSV || !ok || field == 1
		}
	}
	return false
}

// check compares r with e as libiscsi's check_result does. It returns 0
// when they agree, -2 when the command is not implemented, -1 otherwise
// (and records the failure).
func (t *T) check(name string, cdb scsi.CDB, r *reply, e expect) int {
	return t.checkAs(name, cdb, r, e, t.Errorf)
}

// checkAs is check with the failure reported through fail.
func (t *T) checkAs(name string, cdb scsi.CDB, r *reply, e expect, fail func(string, ...any)) int {
	if r.status == scsi.StatusNone {
		fail("Failed to send %s command: %v%s", name, r.err, t.detail(cdb, r))
		return -1
	}
	if r.notImplemented(cdb) {
		return -2
	}
	ok := true
	switch {
	case e.status == scsi.StatusGood:
		ok = r.status == scsi.StatusGood || r.status == scsi.StatusConditionMet
		if !ok {
			fail("%s command failed with status %s%s", name, statusSense(r), t.detail(cdb, r))
			return -1
		}
	case r.status == scsi.StatusGood:
		fail("%s successful but should have failed with %s%s", name, e.what, t.detail(cdb, r))
		return -1
	case e.status == scsi.StatusReservationConflict:
		if r.status != scsi.StatusReservationConflict {
			fail("%s command should have failed with RESERVATION_CONFLICT, got %s%s", name, statusSense(r), t.detail(cdb, r))
			return -1
		}
	case e.status == scsi.StatusCheckCondition:
		ascOK := len(e.ascs) == 0
		if r.sense != nil {
			for _, a := range e.ascs {
				if a == r.sense.ASC {
					ascOK = true
				}
			}
		}
		if r.status != e.status || r.sense == nil || r.sense.Key != e.key || !ascOK {
			fail("%s failed with wrong sense: should have failed with %s but failed with %s%s", name, e.what, statusSense(r), t.detail(cdb, r))
			return -1
		}
	}
	t.Logf("[OK] %s returned %s", name, statusSense(r))
	return 0
}

func statusSense(r *reply) string {
	s := r.status.String()
	if r.sense != nil {
		s += ", sense " + r.sense.String()
	}
	return s
}

// detail is the second part of a failure: the CDB and the clause checked.
func (t *T) detail(cdb scsi.CDB, r *reply) string {
	b := cdb.Array()
	s := "\n        CDB: " + strings.TrimSpace(hexSpaced(b[:cdb.Len()]))
	if c := clause(cdb.OpCode()); c != "" {
		s += "\n        checks: " + c
	}
	return s
}

func hexSpaced(b []byte) string {
	var sb strings.Builder
	for i := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(hex.EncodeToString(b[i : i+1]))
	}
	return sb.String()
}

// run sends a command and checks it; a command the unit does not implement
// skips the test (libiscsi's macros: "[SKIPPED] READ10 is not implemented.").
// It returns the reply and whether it came out as expected.
func (t *T) run(n nexus, name string, cdb scsi.CDB, dir session.Direction, out []byte, inLen int, e expect) (reply, bool) {
	r := n.call(t.ctx, cdb, dir, out, inLen)
	switch t.check(name, cdb, &r, e) {
	case -2:
		t.Skipf("%s is not implemented.", name)
	case -1:
		return r, false
	}
	return r, true
}

// try is run without the skip: -2 comes back for the test to decide. The
// test is still marked skipped (unless it fails), as libiscsi's
// check_result prints "[SKIPPED] X is not implemented." for every such
// command.
func (t *T) try(n nexus, name string, cdb scsi.CDB, dir session.Direction, out []byte, inLen int, e expect) (reply, int) {
	r := n.call(t.ctx, cdb, dir, out, inLen)
	rc := t.check(name, cdb, &r, e)
	if rc == -2 {
		t.markSkipped(name + " is not implemented.")
	}
	return r, rc
}

// attempt is try for a command whose failure the test does not assert (as
// libiscsi's tests that look at the return code and go on): a mismatch is
// logged, not recorded as a failure.
func (t *T) attempt(n nexus, name string, cdb scsi.CDB, dir session.Direction, out []byte, inLen int, e expect) (reply, int) {
	r := n.call(t.ctx, cdb, dir, out, inLen)
	rc := t.checkAs(name, cdb, &r, e, func(f string, a ...any) {
		msg := fmt.Sprintf(f, a...)
		t.Logf("[FAILED] %s", msg)
		t.live("[FAILED] " + msg)
	})
	if rc == -2 {
		t.markSkipped(name + " is not implemented.")
	}
	return r, rc
}

// second logs in to the unit under the second initiator name, for the
// length of the test.
func (t *T) second() nexus {
	s, err := t.dev.dial(t.ctx, t.dev.url, t.dev.opts.InitiatorName2)
	if err != nil {
		t.Fatalf("Failed to login to target with the second initiator name: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return t.dev.nexusOf(s)
}

// needDataLoss is libiscsi's CHECK_FOR_DATALOSS.
func (t *T) needDataLoss() {
	if !t.dev.opts.DataLoss {
		t.Skipf("--dataloss flag is not set. Skipping test.")
	}
}

func (t *T) needSBC() {
	if t.dev.Inquiry.DeviceType != scsi.TypeDirectAccess {
		t.Skipf("Not SBC device. Skipping test")
	}
}

func (t *T) needThin() {
	if !t.dev.thin() {
		t.Skipf("Logical unit is fully provisioned. Skipping test")
	}
}

func (t *T) needReadOnly() {
	if !t.dev.ReadOnly {
		t.Skipf("Logical unit is not write-protected. Skipping test.")
	}
}

func (t *T) needRemovable() {
	if !t.dev.Inquiry.RMB {
		t.Skipf("Logical unit is not removable. Skipping test.")
	}
}
