package conformance

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("", map[string]func(*T){
		"prin_read_keys_simple":      prinReadKeysSimple,
		"prin_serviceaction_range":   prinServiceActionRange,
		"reserve6_simple":            reserve6Simple,
		"reserve6_2initiators":       reserve6TwoInitiators,
		"reserve6_logout":            reserve6After("logout"),
		"reserve6_itnexus_loss":      reserve6After("itnexus"),
		"reserve6_target_cold_reset": reserve6After("cold"),
		"reserve6_target_warm_reset": reserve6After("warm"),
		"reserve6_lun_reset":         reserve6After("lun"),
		// These send PERSISTENT RESERVE OUT, which libiscsi's helpers
		// refuse (a failure) without --dataloss.
		"prin_read_keys_truncate":      prinReadKeysTruncate,
		"prout_register_simple":        proutRegisterSimple,
		"prout_reserve_simple":         proutReserveSimple,
		"prout_reserve_access_ea":      proutAccess(scsi.PRTypeExclusiveAccess, false, false, false, false),
		"prout_reserve_access_we":      proutAccess(scsi.PRTypeWriteExclusive, true, false, true, false),
		"prout_reserve_access_earo":    proutAccess(scsi.PRTypeExclusiveAccessRegistrantsOnly, true, true, false, false),
		"prout_reserve_access_wero":    proutAccess(scsi.PRTypeWriteExclusiveRegistrantsOnly, true, true, true, false),
		"prout_reserve_access_eaar":    proutAccess(scsi.PRTypeExclusiveAccessAllRegistrants, true, true, false, false),
		"prout_reserve_access_wear":    proutAccess(scsi.PRTypeWriteExclusiveAllRegistrants, true, true, true, false),
		"prout_reserve_ownership_ea":   proutOwnership(scsi.PRTypeExclusiveAccess, false),
		"prout_reserve_ownership_we":   proutOwnership(scsi.PRTypeWriteExclusive, false),
		"prout_reserve_ownership_earo": proutOwnership(scsi.PRTypeExclusiveAccessRegistrantsOnly, false),
		"prout_reserve_ownership_wero": proutOwnership(scsi.PRTypeWriteExclusiveRegistrantsOnly, false),
		"prout_reserve_ownership_eaar": proutOwnership(scsi.PRTypeExclusiveAccessAllRegistrants, true),
		"prout_reserve_ownership_wear": proutOwnership(scsi.PRTypeWriteExclusiveAllRegistrants, true),
	})
	register("dataloss", map[string]func(*T){
		"prin_report_caps_simple": prinReportCaps,
		"prout_clear_simple":      proutClearSimple,
		"prout_preempt_rm_reg":    proutPreempt,
	})
}

// The PR helpers mirror libiscsi's: they return 0, -1 (logged) or -2 (not
// implemented, logged as a skip), and the test asserts on the result.

func randKey() uint64 { return rand.Uint64() | 1 }

func allRegistrants(t scsi.PRType) bool {
	return t == scsi.PRTypeWriteExclusiveAllRegistrants || t == scsi.PRTypeExclusiveAccessAllRegistrants
}

// rc0 is CU_ASSERT_EQUAL(ret, 0).
func (t *T) rc0(rc int, what string) {
	if rc != 0 {
		t.Errorf("%s failed", what)
	}
}

func (t *T) soft(msg string, args ...any) {
	m := fmt.Sprintf(msg, args...)
	t.Logf("%s", m)
	t.live(m)
}

func (t *T) prout(n nexus, what string, sa scsi.PROutAction, typ scsi.PRType, p scsi.PROutParameters, want scsi.Status) int {
	if !t.dev.opts.DataLoss {
		t.soft("--dataloss flag is not set in. Skipping PROUT")
		return -1
	}
	params := scsi.AppendPROutParameters(nil, p)
	cdb := scsi.PersistentReserveOut(sa, typ, uint32(len(params)))
	r := n.call(t.ctx, cdb, session.DirWrite, params, 0)
	switch {
	case r.status == scsi.StatusNone:
		t.soft("[FAILED] PROUT %s: %v", what, r.err)
		return -1
	case r.notImplemented(cdb):
		if sa == scsi.PRRegisterAndIgnore {
			t.markSkipped("PROUT Not Supported")
		} else {
			t.markSkipped("PERSISTENT RESERVE OUT is not implemented.")
		}
		return -2
	case r.status != want:
		t.soft("[FAILED] PROUT %s: %s, want %s%s", what, statusSense(&r), want, t.detail(cdb, &r))
		return -1
	}
	return 0
}

func (t *T) registerAndIgnore(n nexus, key uint64) int {
	return t.prout(n, "REGISTER AND IGNORE EXISTING KEY", scsi.PRRegisterAndIgnore, 0, scsi.PROutParameters{ServiceActionKey: key}, scsi.StatusGood)
}

// registerFirst is the first step of every reservation test: REGISTER AND
// IGNORE EXISTING KEY. It returns false when the unit has no persistent
// reservations (the test then ends, skipped); another failure is asserted
// and the test goes on, as libiscsi's do.
func (t *T) registerFirst(n nexus, key uint64, who string) bool {
	rc := t.registerAndIgnore(n, key)
	if rc == -2 {
		return false
	}
	t.rc0(rc, "PROUT REGISTER AND IGNORE EXISTING KEY"+who)
	return true
}

// holderKey is the RESERVATION KEY READ RESERVATION reports for a
// reservation of type typ taken with key: 0 for the all-registrants types
// (SPC-5 6.16.3.3).
func holderKey(key uint64, typ scsi.PRType) uint64 {
	if allRegistrants(typ) {
		return 0
	}
	return key
}

// reserveCycle reserves with key as typ through n, checks READ
// RESERVATION, and releases.
func (t *T) reserveCycle(n nexus, key uint64, typ scsi.PRType) {
	t.rc0(t.prReserve(n, key, typ), "PROUT RESERVE "+typ.String())
	t.rc0(t.verifyReservedAs(n, holderKey(key, typ), typ), "PRIN READ RESERVATION")
	t.rc0(t.prRelease(n, key, typ), "PROUT RELEASE "+typ.String())
}

func (t *T) registerKey(n nexus, sark, key uint64) int {
	return t.prout(n, "REGISTER", scsi.PRRegister, 0, scsi.PROutParameters{ServiceActionKey: sark, Key: key}, scsi.StatusGood)
}

func (t *T) prReserve(n nexus, key uint64, typ scsi.PRType) int {
	return t.prout(n, "RESERVE "+typ.String(), scsi.PRReserve, typ, scsi.PROutParameters{Key: key}, scsi.StatusGood)
}

func (t *T) prRelease(n nexus, key uint64, typ scsi.PRType) int {
	return t.prout(n, "RELEASE "+typ.String(), scsi.PRRelease, typ, scsi.PROutParameters{Key: key}, scsi.StatusGood)
}

// prin sends PERSISTENT RESERVE IN and returns its data, or the code.
func (t *T) prin(n nexus, sa scsi.PRInAction, alloc int) ([]byte, int) {
	cdb := scsi.PersistentReserveIn(sa, uint16(alloc))
	r := n.call(t.ctx, cdb, session.DirRead, nil, alloc)
	switch {
	case r.status == scsi.StatusNone:
		t.soft("[FAILED] PRIN command: %v", r.err)
		return nil, -1
	case r.notImplemented(cdb):
		t.markSkipped("PERSISTENT RESERVE IN is not implemented.")
		return nil, -2
	case r.status != scsi.StatusGood:
		t.soft("[FAILED] PRIN command: failed with %s%s", statusSense(&r), t.detail(cdb, &r))
		return nil, -1
	}
	return r.data, 0
}

func (t *T) readKeys(n nexus, alloc int) (*scsi.PRKeys, int) {
	b, rc := t.prin(n, scsi.PRReadKeys, alloc)
	if rc != 0 {
		return nil, rc
	}
	k, err := scsi.ParsePRKeys(b)
	if err != nil {
		t.soft("[FAILED] PRIN READ KEYS data: %v", err)
		return nil, -1
	}
	return &k, 0
}

func (t *T) verifyKey(n nexus, key uint64, present bool) int {
	k, rc := t.readKeys(n, 16384)
	if rc != 0 {
		return rc
	}
	found := false
	for _, x := range k.Keys {
		found = found || x == key
	}
	if found != present {
		t.soft("[FAILED] key %#x present=%v, want %v", key, found, present)
		return -1
	}
	return 0
}

func (t *T) verifyReservedAs(n nexus, key uint64, typ scsi.PRType) int {
	b, rc := t.prin(n, scsi.PRReadReservation, 16384)
	if rc != 0 {
		return rc
	}
	rr, err := scsi.ParsePRReservation(b)
	switch {
	case err != nil:
		t.soft("[FAILED] PRIN READ RESERVATION data: %v", err)
		return -1
	case !rr.Reserved:
		t.soft("[FAILED] Failed to find Target reserved as expected.")
		return -1
	case rr.Key != key:
		t.soft("[FAILED] Failed to find reservation key %#x, found %#x.", key, rr.Key)
		return -1
	case rr.Type != typ:
		t.soft("[FAILED] Failed to find reservation type %v, found %v.", typ, rr.Type)
		return -1
	}
	return 0
}

func (t *T) verifyNotReserved(n nexus) int {
	b, rc := t.prin(n, scsi.PRReadReservation, 16384)
	if rc != 0 {
		return rc
	}
	rr, err := scsi.ParsePRReservation(b)
	if err != nil {
		t.soft("[FAILED] PRIN READ RESERVATION data: %v", err)
		return -1
	}
	if rr.Reserved {
		t.soft("[FAILED] Target is reserved, expected it not to be.")
		return -1
	}
	return 0
}

// readWorks and writeWorks are libiscsi's verify_*: one 512-byte READ(10)
// or WRITE(10) of LBA 1, whatever the block size.
func (t *T) access(n nexus, write, works bool) int {
	var r reply
	if write {
		r = n.call(t.ctx, read10.cdbWith(write10.op, 1, 1), session.DirWrite, make([]byte, 512), 0)
	} else {
		r = n.call(t.ctx, read10.cdb(1, 1, 0), session.DirRead, nil, 512)
	}
	what := map[bool]string{false: "READ10", true: "WRITE10"}[write]
	switch {
	case r.status == scsi.StatusNone:
		t.soft("[FAILED] %s: %v", what, r.err)
		return -1
	case works && r.status != scsi.StatusGood:
		t.soft("[FAILED] %s failed with %s, expected to work", what, statusSense(&r))
		return -1
	case !works && r.status == scsi.StatusGood:
		t.soft("[FAILED] %s succeeded, expected to fail (SPC-5 5.13.1 table 45)", what)
		return -1
	}
	return 0
}

// cdbWith builds the CDB of o's size with another opcode.
func (o rwop) cdbWith(op byte, lba uint64, blocks uint32) scsi.CDB {
	c := o.cdb(lba, blocks, 0)
	b := c.Array()
	b[0] = op
	return mustCDB(b[:c.Len()])
}

// SPC-5 6.16.2: READ KEYS' ADDITIONAL LENGTH matches the data.
func prinReadKeysSimple(t *T) {
	b, rc := t.prin(t.dev.nexus(), scsi.PRReadKeys, 16384)
	if rc == -2 {
		return
	}
	t.rc0(rc, "PRIN READ KEYS")
	if len(b) < 8 {
		return
	}
	if al := binary.BigEndian.Uint32(b[4:]); int(al) != len(b)-8 {
		t.soft("[FAILED] ADDITIONAL_LENGTH was %d bytes but %d was expected.", al, len(b)-8)
	}
}

// An allocation length of 8 holds the header only: no keys, ADDITIONAL
// LENGTH still counts them (SPC-5 4.2.5.6).
func prinReadKeysTruncate(t *T) {
	n := t.dev.nexus()
	key := randKey()
	if !t.registerFirst(n, key, "") {
		return
	}
	k, rc := t.readKeys(n, 8)
	if rc == -2 {
		t.registerKey(n, 0, key)
		return
	}
	t.rc0(rc, "PRIN READ KEYS")
	if k != nil {
		if k.AdditionalLength == 0 {
			t.Errorf("ADDITIONAL LENGTH is 0 with a key registered")
		}
		if len(k.Keys) != 0 {
			t.Errorf("%d keys in 8 bytes of READ KEYS data", len(k.Keys))
		}
	}
	t.rc0(t.registerKey(n, 0, key), "PROUT REGISTER (unregister)")
}

// SPC-5 6.16.1: service actions 0-3 exist, 4-0x1f are INVALID FIELD.
func prinServiceActionRange(t *T) {
	n := t.dev.nexus()
	_, rc := t.prin(n, scsi.PRReadKeys, 16384)
	if rc == -2 {
		return
	}
	t.rc0(rc, "PRIN READ KEYS")
	for sa := 0; sa < 0x20; sa++ {
		cdb := scsi.PersistentReserveIn(scsi.PRInAction(sa), 16384)
		r := n.call(t.ctx, cdb, session.DirRead, nil, 16384)
		ok := true
		switch {
		case r.status == scsi.StatusNone:
			ok = false
		case r.notImplemented(cdb):
			t.markSkipped("PERSISTENT RESERVE IN is not implemented.")
			ok = false
		case sa < 4 && r.status != scsi.StatusGood:
			t.soft("[FAILED] PRIN/SA=%#x failed: %s", sa, statusSense(&r))
			ok = false
		case sa >= 4 && r.status == scsi.StatusGood:
			t.soft("[FAILED] PRIN/SA=%#x succeeded, expected failure", sa)
			ok = false
		}
		if !ok {
			t.Errorf("PRIN/SA=%#x: %s (SPC-5 6.16.1: service actions 0-3 are defined, 4-1fh reserved)", sa, statusSense(&r))
		}
	}
}

// SPC-5 6.16.3: REPORT CAPABILITIES, and each type it claims works.
func prinReportCaps(t *T) {
	t.needDataLoss()
	n := t.dev.nexus()
	key := randKey()
	if !t.registerFirst(n, key, "") {
		return
	}
	b, rc := t.prin(n, scsi.PRReportCapabilities, 16384)
	t.rc0(rc, "PRIN REPORT CAPABILITIES")
	if rc != 0 {
		t.Fatalf("no REPORT CAPABILITIES data")
	}
	c, err := scsi.ParsePRCapabilities(b)
	if err != nil {
		t.Fatalf("REPORT CAPABILITIES data: %v", err)
	}
	if c.Length != 8 {
		t.Errorf("REPORT CAPABILITIES LENGTH is %d, want 8", c.Length)
	}
	if c.AllowCommands > 5 {
		t.Errorf("ALLOW COMMANDS is %d, at most 5", c.AllowCommands)
	}
	const all = 0xea01 // WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX (byte 4), EX_AC_AR (byte 5)
	if c.TypeMask&^all != 0 {
		t.Errorf("PERSISTENT RESERVATION TYPE MASK %#04x has reserved bits set", c.TypeMask)
	}
	for _, typ := range []scsi.PRType{scsi.PRTypeWriteExclusiveAllRegistrants, scsi.PRTypeExclusiveAccessRegistrantsOnly, scsi.PRTypeWriteExclusiveRegistrantsOnly, scsi.PRTypeExclusiveAccess, scsi.PRTypeWriteExclusive, scsi.PRTypeExclusiveAccessAllRegistrants} {
		if !c.Supports(typ) {
			continue
		}
		t.reserveCycle(n, key, typ)
	}
	t.rc0(t.registerKey(n, 0, key), "PROUT REGISTER (unregister)")
}

// SPC-5 5.14.7: REGISTER, a REGISTER with the wrong key is RESERVATION
// CONFLICT, unregister.
func proutRegisterSimple(t *T) {
	n := t.dev.nexus()
	key := randKey()
	if !t.registerFirst(n, key, "") {
		return
	}
	t.rc0(t.verifyKey(n, key, true), "the key registered is listed")
	t.rc0(t.prout(n, "REGISTER with a wrong key", scsi.PRRegister, 0, scsi.PROutParameters{ServiceActionKey: key + 1}, scsi.StatusReservationConflict), "re-REGISTER without the key is RESERVATION CONFLICT")
	t.rc0(t.registerKey(n, 0, key), "PROUT REGISTER (unregister)")
	t.rc0(t.verifyKey(n, key, false), "the key unregistered is gone")
}

func proutReserveSimple(t *T) {
	n := t.dev.nexus()
	key := randKey()
	if !t.registerFirst(n, key, "") {
		return
	}
	for _, typ := range []scsi.PRType{scsi.PRTypeWriteExclusive, scsi.PRTypeExclusiveAccess, scsi.PRTypeWriteExclusiveRegistrantsOnly, scsi.PRTypeExclusiveAccessRegistrantsOnly, scsi.PRTypeWriteExclusiveAllRegistrants, scsi.PRTypeExclusiveAccessAllRegistrants} {
		t.reserveCycle(n, key, typ)
	}
	t.rc0(t.registerKey(n, 0, key), "PROUT REGISTER (unregister)")
}

// reservedWithTwo is the set-up of the access and ownership tests: both
// initiators registered (keys key1 and key2), initiator 1 holding a
// reservation of type typ. ok is false when the unit has no persistent
// reservations.
func (t *T) reservedWithTwo(typ scsi.PRType) (n1, n2 nexus, key1, key2 uint64, ok bool) {
	n1, n2 = t.dev.nexus(), t.second()
	key1, key2 = randKey(), randKey()
	t.clearUA(n1)
	t.clearUA(n2)
	if !t.registerFirst(n1, key1, " (initiator 1)") {
		return n1, n2, key1, key2, false
	}
	t.rc0(t.registerAndIgnore(n2, key2), "PROUT REGISTER AND IGNORE EXISTING KEY (initiator 2)")
	t.rc0(t.prReserve(n1, key1, typ), "PROUT RESERVE "+typ.String())
	t.rc0(t.verifyReservedAs(n1, holderKey(key1, typ), typ), "PRIN READ RESERVATION")
	return n1, n2, key1, key2, true
}

// SPC-5 5.13.1 table 45: which commands of another I_T nexus, registered
// or not, a reservation of each type lets through.
func proutAccess(typ scsi.PRType, regRead, regWrite, unregRead, unregWrite bool) func(*T) {
	return func(t *T) {
		n1, n2, key, key2, ok := t.reservedWithTwo(typ)
		if !ok {
			return
		}
		t.rc0(t.access(n1, false, true), "READ by the holder")
		t.rc0(t.access(n1, true, true), "WRITE by the holder")
		t.rc0(t.access(n2, false, regRead), fmt.Sprintf("READ by a registrant (allowed: %v)", regRead))
		t.rc0(t.access(n2, true, regWrite), fmt.Sprintf("WRITE by a registrant (allowed: %v)", regWrite))
		t.rc0(t.registerKey(n2, 0, key2), "PROUT REGISTER (unregister initiator 2)")
		t.rc0(t.access(n2, false, unregRead), fmt.Sprintf("READ by a non-registrant (allowed: %v)", unregRead))
		t.rc0(t.access(n2, true, unregWrite), fmt.Sprintf("WRITE by a non-registrant (allowed: %v)", unregWrite))
		t.rc0(t.prRelease(n1, key, typ), "PROUT RELEASE")
		t.rc0(t.registerKey(n1, 0, key), "PROUT REGISTER (unregister initiator 1)")
	}
}

// SPC-5 5.14.11: a reservation ends when its holder unregisters, unless it
// is of an all-registrants type and another registrant remains.
func proutOwnership(typ scsi.PRType, shared bool) func(*T) {
	return func(t *T) {
		n1, n2, key1, key2, ok := t.reservedWithTwo(typ)
		if !ok {
			return
		}
		k := holderKey(key1, typ)
		t.rc0(t.registerKey(n1, 0, key1), "PROUT REGISTER (unregister the holder)")
		if shared {
			t.rc0(t.verifyReservedAs(n1, k, typ), "the all-registrants reservation stays")
			t.rc0(t.prRelease(n2, key2, typ), "PROUT RELEASE by the other registrant")
		} else {
			t.rc0(t.verifyNotReserved(n1), "the reservation ends with its holder's registration")
			t.clearUA(n2)
		}
		t.rc0(t.registerKey(n2, 0, key2), "PROUT REGISTER (unregister initiator 2)")
	}
}

// SPC-5 5.14.10: CLEAR releases the reservation, removes every key and
// bumps PRGENERATION.
func proutClearSimple(t *T) {
	t.needDataLoss()
	n := t.dev.nexus()
	key := randKey()
	if !t.registerFirst(n, key, "") {
		return
	}
	k := t.mustReadKeys(n)
	if len(k.Keys) == 0 {
		t.Errorf("no key registered after REGISTER AND IGNORE EXISTING KEY")
	}
	gen := k.Generation
	t.rc0(t.prReserve(n, key, scsi.PRTypeExclusiveAccess), "PROUT RESERVE")
	t.rc0(t.verifyReservedAs(n, key, scsi.PRTypeExclusiveAccess), "PRIN READ RESERVATION")
	t.rc0(t.prout(n, "CLEAR", scsi.PRClear, 0, scsi.PROutParameters{Key: key}, scsi.StatusGood), "PROUT CLEAR")
	t.rc0(t.verifyNotReserved(n), "not reserved after CLEAR")
	t.keysAfter(n, "CLEAR", 0, gen+1)
}

// SPC-5 5.14.6: PREEMPT without a reservation removes the victim's
// registration.
func proutPreempt(t *T) {
	t.needDataLoss()
	n1 := t.dev.nexus()
	k1, k2 := randKey(), randKey()
	if !t.registerFirst(n1, k1, "") {
		return
	}
	t.rc0(t.prout(n1, "CLEAR", scsi.PRClear, 0, scsi.PROutParameters{Key: k1}, scsi.StatusGood), "PROUT CLEAR")
	t.rc0(t.registerAndIgnore(n1, k1), "PROUT REGISTER AND IGNORE EXISTING KEY")
	n2 := t.second()
	t.rc0(t.registerAndIgnore(n2, k2), "PROUT REGISTER AND IGNORE EXISTING KEY (initiator 2)")
	k := t.mustReadKeys(n1)
	if len(k.Keys) != 2 {
		t.Errorf("%d keys registered, want 2", len(k.Keys))
	}
	gen := k.Generation
	t.rc0(t.prout(n2, "PREEMPT", scsi.PRPreempt, scsi.PRTypeExclusiveAccess, scsi.PROutParameters{Key: k2, ServiceActionKey: k1}, scsi.StatusGood), "PROUT PREEMPT")
	t.rc0(t.turUntilGood(n1), "TEST UNIT READY until GOOD (initiator 1)")
	t.rc0(t.turUntilGood(n2), "TEST UNIT READY until GOOD (initiator 2)")
	k = t.keysAfter(n1, "PREEMPT", 1, gen+1)
	if len(k.Keys) > 0 && k.Keys[0] != k2 {
		t.Errorf("key %#x left after PREEMPT, want %#x", k.Keys[0], k2)
	}
	t.rc0(t.registerKey(n2, 0, k2), "PROUT REGISTER (unregister initiator 2)")
}

// mustReadKeys returns READ KEYS' data, or ends the test.
func (t *T) mustReadKeys(n nexus) *scsi.PRKeys {
	k, rc := t.readKeys(n, 16384)
	if rc != 0 || k == nil {
		t.Fatalf("PRIN READ KEYS failed")
	}
	return k
}

// keysAfter checks the number of keys and PRGENERATION after a service
// action that changed them, and returns the keys.
func (t *T) keysAfter(n nexus, what string, keys int, gen uint32) *scsi.PRKeys {
	k := t.mustReadKeys(n)
	if len(k.Keys) != keys {
		t.Errorf("%d keys registered after %s, want %d", len(k.Keys), what, keys)
	}
	if k.Generation != gen {
		t.Errorf("PRGENERATION %d after %s, want %d", k.Generation, what, gen)
	}
	return k
}

func (t *T) turUntilGood(n nexus) int {
	for i := 0; i < 16; i++ {
		r := n.call(t.ctx, scsi.TestUnitReady(), session.DirNone, nil, 0)
		if r.status == scsi.StatusGood {
			return 0
		}
		if r.sense == nil || r.sense.Key != scsi.SenseUnitAttention {
			t.soft("unexpected non-UA failure: %s", statusSense(&r))
		}
	}
	return -1
}

func (t *T) reserve6(n nexus, e expect) {
	t.run(n, "RESERVE6", scsi.Reserve6(), session.DirNone, nil, 0, e)
}

func (t *T) release6(n nexus) {
	t.run(n, "RELEASE6", scsi.Release6(), session.DirNone, nil, 0, good)
}

// SPC-2 7.21: RESERVE(6) and RELEASE(6).
func reserve6Simple(t *T) {
	n := t.dev.nexus()
	t.reserve6(n, good)
	t.release6(n)
}

// SPC-2 5.5.1: another initiator's commands meet RESERVATION CONFLICT,
// its RELEASE(6) is a no-op, and MODE SENSE conflicts too (table 9).
func reserve6TwoInitiators(t *T) {
	n1 := t.dev.nexus()
	t.soft("Take out a RESERVE6 from the first initiator")
	t.reserve6(n1, good)
	t.soft("Verify that the first initiator can re-RESERVE6 the same reservation")
	t.reserve6(n1, good)
	n2 := t.second()
	t.soft("Try to take out a RESERVE6 from the second initiator")
	t.reserve6(n2, resvConflict)
	t.soft("Try to RELEASE from the second initiator. Should be a nop")
	t.release6(n2)
	t.soft("Test we can still send MODE SENSE from the first initiator")
	t.run(n1, "MODESENSE6", scsi.ModeSense6(false, scsi.PageCurrent, scsi.ModePageAll, 0, 255), session.DirRead, nil, 255, good)
	t.soft("MODE SENSE should fail from the second initiator")
	t.run(n2, "MODESENSE6", scsi.ModeSense6(false, scsi.PageCurrent, scsi.ModePageAll, 0, 255), session.DirRead, nil, 255, resvConflict)
	t.soft("RESERVE6 from the second initiator should still fail")
	t.reserve6(n2, resvConflict)
	t.soft("RELEASE6 from the first initiator")
	t.release6(n1)
	t.soft("RESERVE6 from the second initiator should work now")
	t.reserve6(n2, good)
	t.soft("RELEASE6 from the second initiator")
	t.release6(n2)
}

// SPC-2 5.5.1: the reservation ends with its I_T nexus (logout, loss) and
// with a reset; then the other initiator can reserve.
func reserve6After(event string) func(*T) {
	return func(t *T) {
		n1 := t.dev.nexus()
		if event == "logout" || event == "itnexus" {
			t.soft("Take out a RESERVE6 from the first initiator")
		}
		t.reserve6(n1, good)
		ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
		defer cancel()
		var n2 nexus
		switch event {
		case "logout", "itnexus":
			n2 = t.second()
			t.soft("Try to take out a RESERVE6 from the second initiator")
			t.reserve6(n2, resvConflict)
			if event == "logout" {
				_ = t.dev.sess.Logout(ctx)
			}
			_ = t.dev.sess.Close()
			s, err := t.dev.dial(ctx, t.dev.url, t.dev.opts.InitiatorName)
			if err != nil {
				t.Fatalf("Failed to log in again: %v", err)
			}
			t.dev.sess = s
		case "cold", "warm":
			var err error
			if event == "cold" {
				err = t.dev.sess.TargetColdReset(ctx)
			} else {
				err = t.dev.sess.TargetWarmReset(ctx)
			}
			if err != nil {
				name := map[string]string{"cold": "ColdReset", "warm": "WarmReset"}[event]
				t.Skipf("Task Management function for %s is not working/implemented", name)
			}
			n2 = t.second()
		case "lun":
			if err := t.dev.sess.DefaultUnit().Reset(ctx); err != nil {
				t.Errorf("LUN RESET failed: %v", err)
			}
			n2 = t.second()
		}
		// libiscsi sleeps 3 s for the target to drop the old nexus; poll
		// for at most as long instead.
		if event != "logout" {
			deadline := time.NewTimer(3 * time.Second)
			tick := time.NewTicker(100 * time.Millisecond)
		poll:
			for {
				r := n2.call(t.ctx, scsi.Reserve6(), session.DirNone, nil, 0)
				if r.status == scsi.StatusGood {
					n2.call(t.ctx, scsi.Release6(), session.DirNone, nil, 0)
					break
				}
				select {
				case <-tick.C:
				case <-deadline.C:
					break poll
				case <-t.ctx.Done():
					break poll
				}
			}
			tick.Stop()
			deadline.Stop()
		}
		if event == "logout" || event == "itnexus" {
			t.soft("RESERVE6 from the second initiator should work now")
		}
		t.clearUA(n2)
		t.reserve6(n2, good)
		if event == "logout" || event == "itnexus" {
			t.soft("RELEASE6 from the second initiator")
		}
		t.release6(n2)
	}
}
