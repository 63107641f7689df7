package conformance

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("dataloss", map[string]func(*T){
		"async_read":                  asyncIO(false),
		"async_write":                 asyncIO(true),
		"async_abort_simple":          asyncAbort,
		"async_lu_reset_simple":       asyncLUReset,
		"multipathio_simple":          mpathSimple,
		"multipathio_reset":           mpathReset,
		"multipathio_compareandwrite": mpathCAW,
		"mpio_async_caw":              mpathAsyncCAW,
	})
}

// asyncIO is libiscsi's test_async_read/write: 1000 commands of 8 "blocks"
// of 512 bytes (libiscsi's fixed size, whatever the unit's) in flight at
// once; none may end in CHECK CONDITION.
func asyncIO(write bool) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		const n, per = 1000, 8
		s := t.dev.sess
		lun := s.LUN()
		buf := make([]byte, n*per*512)
		fs := make([]session.Future, 0, n)
		for i := 0; i < n; i++ {
			lba := uint64(i * per)
			chunk := buf[i*per*512 : (i+1)*per*512]
			if write {
				fs = append(fs, s.Execute(t.ctx, lun, write10.cdb(lba, per, 0), session.DirWrite, iovector.New(chunk)))
			} else {
				fs = append(fs, s.Execute(t.ctx, lun, read10.cdb(lba, per, 0), session.DirRead, iovector.New(chunk)))
			}
		}
		bad := 0
		for i, f := range fs {
			_, err := f.Wait()
			var se *scsi.StatusError
			if errors.As(err, &se) && se.Status == scsi.StatusCheckCondition {
				if bad == 0 {
					t.Errorf("command %d of %d ended in %v", i+1, n, err)
				}
				bad++
			} else if err != nil && se == nil {
				t.Errorf("command %d of %d failed: %v", i+1, n, err)
				return
			}
		}
		if bad > 1 {
			t.Errorf("%d of %d commands ended in CHECK CONDITION", bad, n)
		}
	}
}

// RFC 7143 11.5.1: ABORT TASK of a WRITE in flight answers FUNCTION
// COMPLETE (the WRITE then has no status), or TASK DOES NOT EXIST after the
// WRITE completed GOOD. Run on a session of its own, as libiscsi's ends
// its session after it.
func asyncAbort(t *T) {
	t.needDataLoss()
	t.needSBC()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	s, err := t.dev.dial(ctx, t.dev.url, t.dev.opts.InitiatorName)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer s.Close()
	f := s.Execute(ctx, s.LUN(), write10.cdb(0, 8, 0), session.DirWrite, iovector.New(make([]byte, 8*512)))
	aerr := s.Abort(ctx, f)
	_, werr := f.Wait()
	switch {
	case aerr != nil:
		t.Errorf("ABORT TASK failed: %v (RFC 7143 11.6.1: FUNCTION COMPLETE or TASK DOES NOT EXIST)", aerr)
	case errors.Is(werr, session.ErrAborted):
		// aborted on the target: FUNCTION COMPLETE
	case werr == nil:
		// the WRITE completed first: TASK DOES NOT EXIST
	default:
		t.Errorf("unexpected WRITE/ABORT state: the WRITE ended with %v", werr)
	}
	lctx, lcancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer lcancel()
	_ = s.Logout(lctx)
}

// RFC 7143 11.5.1, SAM-5 7.7: LOGICAL UNIT RESET with a WRITE in flight
// answers FUNCTION COMPLETE.
func asyncLUReset(t *T) {
	t.needDataLoss()
	t.needSBC()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	s, err := t.dev.dial(ctx, t.dev.url, t.dev.opts.InitiatorName)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer s.Close()
	f := s.Execute(ctx, s.LUN(), write10.cdb(0, 8, 0), session.DirWrite, iovector.New(make([]byte, 8*512)))
	rerr := s.DefaultUnit().Reset(ctx)
	_, werr := f.Wait()
	if rerr != nil {
		t.Errorf("LOGICAL UNIT RESET failed: %v, want FUNCTION COMPLETE", rerr)
	}
	var se *scsi.StatusError
	if errors.As(werr, &se) && se.Status == scsi.StatusCheckCondition {
		t.Errorf("the WRITE in flight ended in CHECK CONDITION: %v", werr)
	}
	lctx, lcancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer lcancel()
	_ = s.Logout(lctx)
}

// paths is libiscsi's mp_sds: the primary and the second URL's session.
func (t *T) paths() []nexus {
	if t.dev.mpath == nil {
		t.Skipf("Multipath unavailable. Skipping test")
	}
	return []nexus{t.dev.nexus(), t.dev.nexusOf(t.dev.mpath)}
}

// What is written through one path reads back through the other.
func mpathSimple(t *T) {
	t.needDataLoss()
	t.needSBC()
	ps := t.paths()
	for w := range ps {
		r := (w + 1) % len(ps)
		data := t.scratch(256, byte(0xa6^w))
		for i := 1; i <= 256; i++ {
			t.ioOn(ps[w], write10, 0, uint32(i), 0, data, good)
			got := t.ioOn(ps[r], read10, 0, uint32(i), 0, nil, good)
			if len(got) == i*int(t.dev.BlockSize) && !bytes.Equal(got, data[:len(got)]) {
				t.Errorf("%d blocks written through path %d read back different through path %d", i, w, r)
			}
		}
	}
}

// SAM-5 6.3.3: a LUN reset through one path raises a unit attention on
// every path.
func mpathReset(t *T) {
	t.needDataLoss()
	t.needSBC()
	ps := t.paths()
	for i, p := range ps {
		t.rc0(t.turUntilGood(p), "TEST UNIT READY until GOOD")
		ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
		err := p.s.DefaultUnit().Reset(ctx)
		cancel()
		if err != nil {
			t.Errorf("LUN reset through path %d failed: %v", i, err)
		}
		for j, q := range ps {
			uas := 0
			good := false
			for k := 0; k < 16; k++ {
				r := q.call(t.ctx, scsi.TestUnitReady(), session.DirNone, nil, 0)
				if r.status == scsi.StatusGood {
					good = true
					break
				}
				if r.sense != nil && r.sense.Key == scsi.SenseUnitAttention {
					uas++
				}
			}
			if !good {
				t.Errorf("TEST UNIT READY through path %d never GOOD after the reset", j)
			}
			if uas == 0 && j != i {
				t.Errorf("no unit attention through path %d after a LUN reset through path %d (SAM-5 6.3.3)", j, i)
			}
		}
	}
}

// COMPARE AND WRITE through either path sees the other's writes.
func mpathCAW(t *T) {
	t.needDataLoss()
	t.needSBC()
	ps := t.paths()
	d := t.dev
	if d.BlockLimits != nil && d.BlockLimits.MaxCompareAndWriteLength < 1 {
		return // "MAXIMUM_COMPARE_AND_WRITE_LENGTH too small", a pass
	}
	n := 256
	if uint64(n) > d.Blocks {
		n = int(d.Blocks)
	}
	_, rc := t.try(ps[0], "WRITESAME10", writeSameCDB(10, 0, 256, 0, 0), session.DirWrite, t.scratch(1, 0), 0, good)
	if rc == -2 {
		return
	}
	t.rc0(rc, "WRITESAME10 of zeros")
	for i := 0; i <= n; i++ {
		for p := range ps {
			data := append(t.scratch(1, byte(p)), t.scratch(1, byte(p+1))...)
			t.run(ps[p], "COMPAREANDWRITE", cawCDB(uint64(i), 1, 0), session.DirWrite, data, 0, good)
			t.run(ps[p], "COMPAREANDWRITE", cawCDB(uint64(i), 1, 0), session.DirWrite, data, 0, miscompare)
		}
	}
}

// 1000 one-block COMPARE AND WRITEs on each path at once, each changing the
// block from its path's value to the next path's: any may miscompare, but
// only with MISCOMPARE (SBC-4 5.3).
func mpathAsyncCAW(t *T) {
	t.needDataLoss()
	t.needSBC()
	ps := t.paths()
	bs := int(t.dev.BlockSize)
	t.run(ps[0], "WRITESAME10", writeSameCDB(10, 0, 1, 0, 0), session.DirWrite, t.scratch(1, 0), 0, good)
	var fs []session.Future
	for i := 0; i < 1000; i++ {
		for p := range ps {
			data := append(t.scratch(1, byte(p)), t.scratch(1, byte((p+1)%len(ps)))...)
			fs = append(fs, ps[p].s.Execute(t.ctx, ps[p].lun, cawCDB(0, 1, 0), session.DirWrite, iovector.New(data[:2*bs])))
		}
	}
	bad := 0
	for _, f := range fs {
		_, err := f.Wait()
		var se *scsi.StatusError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Status == scsi.StatusCheckCondition:
			if se.Sense == nil || se.Sense.Key != scsi.SenseMiscompare || se.Sense.ASC != 0x1d00 {
				if bad == 0 {
					t.Errorf("COMPARE AND WRITE ended in %v, want GOOD or MISCOMPARE", err)
				}
				bad++
			}
		default:
			t.Errorf("COMPARE AND WRITE failed: %v", err)
			return
		}
	}
	if bad > 1 {
		t.Errorf("%d COMPARE AND WRITEs ended in something else than GOOD or MISCOMPARE", bad)
	}
}
