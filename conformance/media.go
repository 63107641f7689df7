package conformance

import (
	"context"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("", map[string]func(*T){
		"nomedia_sbc":               noMediaSBC,
		"prefetch10_simple":         prefetchSimple(10),
		"prefetch10_beyond_eol":     prefetchBeyondEOL(10),
		"prefetch10_0blocks":        prefetchZero(10),
		"prefetch10_flags":          prefetchFlags(10),
		"prefetch16_simple":         prefetchSimple(16),
		"prefetch16_beyond_eol":     prefetchBeyondEOL(16),
		"prefetch16_0blocks":        prefetchZero(16),
		"prefetch16_flags":          prefetchFlags(16),
		"startstopunit_simple":      startStopSimple,
		"startstopunit_pwrcnd":      startStopPwrCnd,
		"startstopunit_noloej":      startStopNoLoej,
		"preventallow_simple":       preventAllowSimple,
		"preventallow_eject":        preventAllowEject,
		"preventallow_itnexus_loss": preventAllowAfter("itnexus"),
		"preventallow_logout":       preventAllowAfter("logout"),
		"preventallow_warm_reset":   preventAllowAfter("warm"),
		"preventallow_cold_reset":   preventAllowAfter("cold"),
		"preventallow_lun_reset":    preventAllowAfter("lun"),
		"preventallow_2_itnexuses":  preventAllow2Nexuses,
	})
	register("dataloss", map[string]func(*T){
		"readonly_sbc": readOnlySBC,
	})
}

// SBC-4 4.2: with the medium ejected, medium access commands fail with
// NOT READY, MEDIUM NOT PRESENT.
func noMediaSBC(t *T) {
	t.needSBC()
	if !t.dev.Inquiry.RMB {
		return // libiscsi: not removable, a pass
	}
	n := t.dev.nexus()
	t.startStop(n, true, 0, false, true, false, good)
	defer t.startStop(t.dev.nexus(), true, 0, false, true, true, good)
	t.tur(n, noMedium)
	// One helper per command, as libiscsi's: a command the unit does not
	// implement is skipped and the next one is sent.
	buf := t.scratch(2, 0xa6)
	for _, f := range []func(){
		func() { t.syncCache10(0, 1, true, true, noMedium) },
		func() { t.syncCache16(0, 1, true, true, noMedium) },
		func() { t.io(read10, 0, 1, 0, nil, noMedium) },
		func() { t.io(read12, 0, 1, 0, nil, noMedium) },
		func() { t.io(read16, 0, 1, 0, nil, noMedium) },
		func() { t.run(n, "READCAPACITY10", scsi.ReadCapacity10(), session.DirRead, nil, 8, noMedium) },
		func() { t.run(n, "READCAPACITY16", scsi.ReadCapacity16(15), session.DirRead, nil, 15, noMedium) },
		func() { t.io(verify10, 0, 1, fBytchk, buf, noMedium) },
		func() { t.io(verify12, 0, 1, fBytchk, buf, noMedium) },
		func() { t.io(verify16, 0, 1, fBytchk, buf, noMedium) },
		func() { t.getLBAStatus(0, 24, noMedium) },
		func() { t.prefetch(10, 0, 1, true, 0, noMedium) },
		func() { t.prefetch(16, 0, 1, true, 0, noMedium) },
	} {
		t.part(f)
	}
	if !t.dev.opts.DataLoss {
		return
	}
	t.writesFail(buf, noMedium, false)
}

// SBC-4 4.11: a write-protected unit fails every write with DATA PROTECT.
func readOnlySBC(t *T) {
	t.needDataLoss()
	t.needReadOnly()
	t.needSBC()
	t.writesFail(t.scratch(2, 0xa6), writeProtected, true)
}

// writesFail sends each command that writes the medium, one block at LBA
// 0 from buf (two blocks), expecting e: NoMedia's and ReadOnly's list, in
// libiscsi's order and grouped as its helper functions are (a command the
// unit does not implement is skipped with the rest of its group, and the
// next group is sent). With unmaps, ReadOnly's UNMAP of one block and WRITE
// SAME with UNMAP are sent too, each after the command of its group.
func (t *T) writesFail(buf []byte, e expect, unmaps bool) {
	bs := t.dev.BlockSize
	groups := []func(){
		func() { t.caw(0, 1, 0, buf, e) },
		func() { t.io(orwrite16, 0, 1, 0, buf, e) },
		func() {
			t.unmap(false, []scsi.UnmapDescriptor{{LBA: 0, Blocks: uint32(t.dev.LBPPB)}}, e)
			if unmaps {
				t.unmap(false, []scsi.UnmapDescriptor{{LBA: 0, Blocks: 1}}, e)
			}
		},
		func() { t.io(write10, 0, 1, 0, buf, e) },
		func() { t.io(write12, 0, 1, 0, buf, e) },
		func() { t.io(write16, 0, 1, 0, buf, e) },
	}
	for _, size := range []int{10, 16} {
		groups = append(groups, func() {
			t.writeSame(size, 0, 1, 0, buf[:bs], e)
			if unmaps {
				t.writeSame(size, 0, 1, scsiWSUnmap, nil, e)
			}
		})
	}
	groups = append(groups,
		func() { t.io(wrverify10, 0, 1, fBytchk, buf, e) },
		func() { t.io(wrverify12, 0, 1, fBytchk, buf, e) },
		func() { t.io(wrverify16, 0, 1, fBytchk, buf, e) },
	)
	for _, g := range groups {
		t.part(g)
	}
}

const (
	scsiWSUnmap  = 0x08
	scsiWSAnchor = 0x10
	scsiWSNDOB   = 0x01
)

func prefetchSimple(size int) func(*T) {
	return func(t *T) {
		for i := 1; i <= 256; i++ {
			t.prefetch(size, 0, uint32(i), false, 0, good)
		}
		for i := 1; i <= 256; i++ {
			t.prefetch(size, t.dev.Blocks-uint64(i), uint32(i), false, 0, good)
		}
	}
}

func prefetchBeyondEOL(size int) func(*T) {
	return func(t *T) {
		d := t.dev
		big := uint64(0x80000000)
		if size == 16 {
			big = 1 << 63
		} else if d.Blocks >= 0x80000000 {
			return
		}
		for i := 1; i <= 256; i++ {
			t.prefetch(size, d.Blocks+1-uint64(i), uint32(i), false, 0, lbaOutOfRange)
		}
		for i := 1; i <= 256; i++ {
			t.prefetch(size, big, uint32(i), false, 0, lbaOutOfRange)
		}
		for i := 1; i <= 256; i++ {
			t.prefetch(size, ^uint64(0), uint32(i), false, 0, lbaOutOfRange)
		}
		for i := 2; i <= 256; i++ {
			t.prefetch(size, d.Blocks-1, uint32(i), false, 0, lbaOutOfRange)
		}
	}
}

func prefetchZero(size int) func(*T) {
	return func(t *T) {
		d := t.dev
		t.prefetch(size, 0, 0, false, 0, good)
		if size == 10 && d.Blocks > 0x80000000 {
			return // libiscsi: "[SKIPPED] LUN is too big" as a pass
		}
		t.prefetch(size, d.Blocks+1, 0, false, 0, lbaOutOfRange)
		if size == 10 {
			t.prefetch(size, 0x80000000, 0, false, 0, lbaOutOfRange)
		} else {
			t.prefetch(size, 1<<63, 0, false, 0, lbaOutOfRange)
		}
		t.prefetch(size, ^uint64(0), 0, false, 0, lbaOutOfRange)
	}
}

func prefetchFlags(size int) func(*T) {
	return func(t *T) {
		t.prefetch(size, 0, 1, true, 0, good)
		t.prefetch(size, 0, 1, false, 3, good)
		t.prefetch(size, 0, 1, true, 3, good)
	}
}

// SBC-4 5.25: START STOP UNIT with LOEJ ejects and loads a removable
// medium.
func startStopSimple(t *T) {
	if !t.dev.Inquiry.RMB {
		t.Skipf("Media is not removable.")
	}
	n := t.dev.nexus()
	for _, immed := range []bool{true, false} {
		t.startStop(n, immed, 0, false, true, false, good)
		t.tur(n, noMedium)
		t.startStop(n, immed, 0, false, true, true, good)
		t.tur(n, good)
	}
}

func startStopPwrCnd(t *T) {
	if !t.dev.Inquiry.RMB {
		return
	}
	n := t.dev.nexus()
	for i := uint8(1); i < 16; i++ {
		t.startStop(n, true, i, false, true, false, good)
		t.tur(n, good)
	}
	t.startStop(n, true, 0, false, true, true, good)
}

// Without LOEJ, START STOP UNIT leaves the medium where it is.
func startStopNoLoej(t *T) {
	if !t.dev.Inquiry.RMB {
		return
	}
	n := t.dev.nexus()
	for _, noFlush := range []bool{false, true} {
		for _, immed := range []bool{false, true} {
			for _, start := range []bool{false, true} {
				t.startStop(n, immed, 0, noFlush, false, start, good)
				t.tur(n, good)
			}
		}
	}
	t.startStop(n, true, 0, false, true, true, good)
}

func preventAllowSimple(t *T) {
	t.needSBC()
	t.needRemovable()
	n := t.dev.nexus()
	t.preventAllow(n, true)
	t.preventAllow(n, false)
}

// SBC-4 5.13: with removal prevented, an eject fails with MEDIUM REMOVAL
// PREVENTED.
func preventAllowEject(t *T) {
	t.needSBC()
	t.needRemovable()
	n := t.dev.nexus()
	t.preventRemoval(n)
	t.preventAllow(n, false)
	t.startStop(n, false, 0, false, true, false, good)
	t.tur(n, noMedium)
	t.preventAllow(n, true)
	t.startStop(n, false, 0, false, true, true, removalPrevent)
	t.allowAndLoad(n)
}

// preventRemoval prevents medium removal on n and checks that an eject
// then fails with MEDIUM REMOVAL PREVENTED and leaves the medium in.
func (t *T) preventRemoval(n nexus) {
	t.preventAllow(n, true)
	t.startStop(n, false, 0, false, true, false, removalPrevent)
	t.tur(n, good)
}

// allowAndLoad allows medium removal on n again and loads the medium.
func (t *T) allowAndLoad(n nexus) {
	t.preventAllow(n, false)
	t.startStop(n, false, 0, false, true, true, good)
}

// SPC-5 6.16: the prevention ends with the I_T nexus (loss, logout) and
// with a reset; then the medium can be ejected.
func preventAllowAfter(event string) func(*T) {
	return func(t *T) {
		t.needSBC()
		t.needRemovable()
		n := t.dev.nexus()
		t.preventRemoval(n)
		ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
		defer cancel()
		var err error
		switch event {
		case "itnexus", "logout":
			if event == "logout" {
				_ = t.dev.sess.Logout(ctx)
			}
			_ = t.dev.sess.Close()
			t.dev.sess, err = t.dev.dial(ctx, t.dev.url, t.dev.opts.InitiatorName)
			if err != nil {
				t.Fatalf("Failed to log in again: %v", err)
			}
		case "warm", "cold":
			// libiscsi: a reset the target refuses (any response but
			// FUNCTION COMPLETE) or that gets no answer skips the test.
			reset, name := t.dev.sess.TargetWarmReset, "WarmReset"
			if event == "cold" {
				reset, name = t.dev.sess.TargetColdReset, "ColdReset"
			}
			if err := reset(ctx); err != nil {
				t.Logf("%v", err)
				t.Skipf("Task Management function for %s is not working/implemented", name)
			}
		case "lun":
			if err := t.dev.sess.DefaultUnit().Reset(ctx); err != nil {
				t.Errorf("LOGICAL UNIT RESET failed: %v", err)
			}
		}
		n = t.dev.nexus()
		t.clearUA(n)
		t.startStop(n, false, 0, false, true, false, good)
		t.tur(n, noMedium)
		t.startStop(n, false, 0, false, true, false, good)
		t.allowAndLoad(n)
	}
}

// clearUA sends TEST UNIT READY until no unit attention is pending (as
// libiscsi's loops after a reset do).
func (t *T) clearUA(n nexus) {
	for i := 0; i < 10; i++ {
		r := n.call(t.ctx, scsi.TestUnitReady(), session.DirNone, nil, 0)
		if r.sense == nil || r.sense.Key != scsi.SenseUnitAttention {
			return
		}
	}
}

// The prevention is per I_T nexus: another initiator cannot eject either.
func preventAllow2Nexuses(t *T) {
	t.needSBC()
	t.needRemovable()
	n := t.dev.nexus()
	t.preventRemoval(n)
	n2 := t.second()
	t.clearUA(n2)
	t.startStop(n2, false, 0, false, true, false, removalPrevent)
	t.allowAndLoad(n)
}
