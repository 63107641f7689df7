package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
)

// What the session knows of each LUN a command was sent to: the identity
// of the device behind it, read once, so that after a reconnect every such
// LUN is checked before a command is sent again (recovery.go, checkUnits),
// whether the command came from the block API or from Execute and Call.
//
// The identity is the unit serial number (VPD 0x80) and the device
// identification page (VPD 0x83). A LUN that has neither falls back to what
// there is: the standard INQUIRY's vendor, product and revision and the
// capacity and block size (READ CAPACITY). That weak identity is compared
// as well, but two devices of one model and size pass it: a write in
// flight to such a LUN, or to one whose identity is not known yet, is not
// sent again after a reconnect unless Config.ReplayUnidentifiedWrites says
// so (it fails with an *UnverifiedReplayError).

// ErrNoDeviceIdentity: nothing tells the device behind a LUN from another
// one (no unit serial number, no device identifier), or its identity was
// not read yet.
var ErrNoDeviceIdentity = errors.New("iscsi: nothing identifies the device behind the LUN")

// UnverifiedReplayError is a write in flight when its connection was lost,
// not sent again because nothing identifies the device behind its LUN: the
// LUN after the reconnect could be another device. The write may have
// executed. It matches ErrMayHaveExecuted and ErrNoDeviceIdentity.
type UnverifiedReplayError struct {
	LUN   scsi.LUN
	Cause error // the loss
}

func (e *UnverifiedReplayError) Error() string {
	return fmt.Sprintf("%s (not sent again: LUN %v has no unit serial number or device identifier to check the device after the reconnect, see Config.ReplayUnidentifiedWrites; connection lost: %v)",
		ErrMayHaveExecuted, e.LUN, e.Cause)
}

func (e *UnverifiedReplayError) Unwrap() []error {
	return []error{ErrMayHaveExecuted, ErrNoDeviceIdentity, e.Cause}
}

// unitIdentity is what tells one device from another.
type unitIdentity struct {
	serial []byte // VPD 0x80, as sent; nil if the page is not supported
	ids    []byte // VPD 0x83, as sent; nil if the page is not supported
	// The fallback, read only when neither page is supported: bytes 8 to
	// 35 of the standard INQUIRY data (vendor, product, revision) and the
	// READ CAPACITY data (capacity and block size).
	inquiry  []byte
	capacity []byte
}

// strong reports whether the identity names this device and no other.
func (id *unitIdentity) strong() bool { return id.serial != nil || id.ids != nil }

// name is what DeviceChangedError shows of the identity: the unit serial
// number, or vendor, product and revision when there is none.
func (id *unitIdentity) name() string {
	if id.serial != nil || id.inquiry == nil {
		return string(id.serial)
	}
	return string(id.inquiry)
}

func (id *unitIdentity) equal(o *unitIdentity) bool {
	return bytes.Equal(id.serial, o.serial) && bytes.Equal(id.ids, o.ids) &&
		bytes.Equal(id.inquiry, o.inquiry) && bytes.Equal(id.capacity, o.capacity)
}

// States of lunRecord.state.
const (
	idUnknown uint32 = iota // not read yet: the first command starts it
	idReading               // a read is under way
	idKnown                 // id is set
	idFailed                // the read failed: nothing identifies the device
)

// lunRecord is the session's record of one LUN.
type lunRecord struct {
	lun   scsi.LUN
	state atomic.Uint32
	id    atomic.Pointer[unitIdentity]
	// settled is closed once state is idKnown or idFailed.
	settled chan struct{}
	// checked is the epoch of the connection on which the identity was
	// last found unchanged (checkUnits): writes in flight are sent again
	// on that connection only.
	checked atomic.Uint32
}

// lunRecords is the session's records, by encoded LUN: an immutable map
// replaced whole when a LUN is added (rarely), so that each command looks
// its LUN up without a lock.
type lunRecords struct {
	m atomic.Pointer[map[uint64]*lunRecord]
}

// record returns the record of lun, made if there is none.
func (s *Session) record(lun scsi.LUN) *lunRecord {
	if m := s.lunRecs.m.Load(); m != nil {
		if r := (*m)[uint64(lun)]; r != nil {
			return r
		}
	}
	s.lunRecMu.Lock()
	defer s.lunRecMu.Unlock()
	old := s.lunRecs.m.Load()
	if old != nil {
		if r := (*old)[uint64(lun)]; r != nil {
			return r
		}
	}
	m := make(map[uint64]*lunRecord, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	r := &lunRecord{lun: lun, settled: make(chan struct{})}
	m[uint64(lun)] = r
	s.lunRecs.m.Store(&m)
	return r
}

func lenOf(m *map[uint64]*lunRecord) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// records returns every record.
func (s *Session) records() []*lunRecord {
	m := s.lunRecs.m.Load()
	if m == nil {
		return nil
	}
	out := make([]*lunRecord, 0, len(*m))
	for _, r := range *m {
		out = append(out, r)
	}
	return out
}

// noteLUN is called for every SCSI command the application issues: the
// first one to a LUN starts the read of its identity, in the background
// (the command itself goes on at once).
func (s *Session) noteLUN(lun scsi.LUN) {
	r := s.record(lun)
	if r.state.Load() != idUnknown || !r.state.CompareAndSwap(idUnknown, idReading) {
		return
	}
	s.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommandTimeout)
		defer cancel()
		go func() {
			select {
			case <-s.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.settleIdentity(r, ctx)
	})
}

// identify reads the identity of lun now, or waits for the read under
// way, for Dial and the block API: their first write then never goes out
// with nothing to check it against. It returns the read's error, if it
// failed (then or before).
func (s *Session) identify(ctx context.Context, lun scsi.LUN) error {
	r := s.record(lun)
	if r.state.CompareAndSwap(idUnknown, idReading) {
		return s.settleIdentity(r, ctx)
	}
	select {
	case <-r.settled:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return s.cause // the read may never run: background refuses new work
	}
	if r.state.Load() == idFailed {
		return fmt.Errorf("%w: LUN %v: its identity could not be read", ErrNoDeviceIdentity, lun)
	}
	return nil
}

// settleIdentity reads r's identity, which the caller claimed (idReading).
func (s *Session) settleIdentity(r *lunRecord, ctx context.Context) error {
	id, err := s.readIdentity(ctx, r.lun, false)
	if err != nil {
		r.state.Store(idFailed)
		close(r.settled)
		level := slog.LevelWarn
		if errors.Is(err, scsi.ErrLUNotSupported) || errors.Is(err, ErrSessionClosed) || errors.Is(err, context.Canceled) {
			level = slog.LevelDebug // no such LUN, or the session ends: nothing to warn about
		}
		s.log.Log(ctx, level, "iscsi: the LUN's identity could not be read; writes to it will not be sent again after a reconnect",
			"lun", r.lun, "err", err)
		return err
	}
	r.id.Store(&id)
	r.state.Store(idKnown)
	close(r.settled)
	if !id.strong() {
		s.log.Info("iscsi: the LUN has no unit serial number or device identifier; after a reconnect it is checked by vendor, product and capacity only",
			"lun", r.lun)
	}
	return nil
}

// verified reports whether a write to lun may be sent again after a
// reconnect: the device behind it has a strong identity (checked before
// anything is sent again), or the application allows it anyway.
func (s *Session) verified(lun uint64) bool {
	if s.cfg.ReplayUnidentifiedWrites {
		return true
	}
	m := s.lunRecs.m.Load()
	if m == nil {
		return false
	}
	r := (*m)[lun]
	if r == nil {
		return false
	}
	id := r.id.Load()
	return r.state.Load() == idKnown && id != nil && id.strong() && r.checked.Load() == s.epoch.Load()
}

// changesData reports whether t writes to the medium, so that sending it
// to another device would do harm.
func changesData(t *task) bool {
	switch scsi.OpCode(t.cdb[0]) {
	case 0x41, 0x93: // WRITE SAME 10/16 (may carry no data)
		return true
	}
	return t.write
}

// identityRetries bounds the retries of an identity read answered BUSY,
// TASK SET FULL or with a unit attention.
const identityRetries = 6

// readIdentity reads the identity of lun: VPD 0x80 and 0x83, and the
// fallback when neither page is supported. BUSY, TASK SET FULL and unit
// attentions are retried; only ILLEGAL REQUEST (other than LOGICAL UNIT
// NOT SUPPORTED) means that a page is not supported. priority sends the
// commands ahead of the held ones, during a reconnect.
func (s *Session) readIdentity(ctx context.Context, lun scsi.LUN, priority bool) (unitIdentity, error) {
	var id unitIdentity
	var err error
	if id.serial, err = s.readPage(ctx, lun, scsi.InquiryVPD(scsi.VPDUnitSerialNumber, 1024), 1024, priority); err != nil {
		return id, err
	}
	if id.ids, err = s.readPage(ctx, lun, scsi.InquiryVPD(scsi.VPDDeviceIdentification, 1024), 1024, priority); err != nil {
		return id, err
	}
	if id.strong() {
		return id, nil
	}
	inq, err := s.readPage(ctx, lun, scsi.Inquiry(36), 36, priority)
	if err != nil {
		return id, err
	}
	if len(inq) >= 36 {
		id.inquiry = inq[8:36]
	}
	if id.capacity, err = s.readPage(ctx, lun, scsi.ReadCapacity16(32), 32, priority); err != nil {
		return id, err
	}
	if id.capacity == nil {
		if id.capacity, err = s.readPage(ctx, lun, scsi.ReadCapacity10(), 8, priority); err != nil {
			return id, err
		}
	}
	if len(id.capacity) > 12 {
		id.capacity = id.capacity[:12] // the rest (provisioning bits) may change
	}
	return id, nil
}

// readPage runs one data-in command of the identity read and returns its
// data, or nil when the target says it does not support it.
func (s *Session) readPage(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, size int, priority bool) ([]byte, error) {
	backoff := time.Millisecond
	for i := 0; ; i++ {
		buf := make([]byte, size)
		r, err := s.call(ctx, lun, cdb, DirRead, buf, priority)
		switch {
		case err == nil:
			return buf[:r.Transferred()], nil
		case errors.Is(err, scsi.ErrIllegalRequest) && !errors.Is(err, scsi.ErrLUNotSupported):
			return nil, nil // not supported: it tells nothing
		case (scsi.IsRetryable(err) || scsi.IsUnitAttention(err)) && i < identityRetries:
			if werr := sleepCtx(ctx, backoff); werr != nil {
				return nil, err
			}
			backoff *= 4
			continue
		}
		return nil, err
	}
}
