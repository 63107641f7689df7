package session

import (
	"context"

	"github.com/iscsi-go/iscsi/scsi"
)

// Persistent reservations (SPC-4 PERSISTENT RESERVE IN and OUT). Keys are
// the 8-byte reservation keys each I_T nexus (session) registers. A command
// refused because another initiator holds the reservation fails with an
// error that matches scsi.ErrReservationConflict.

// prIn runs PERSISTENT RESERVE IN with service action sa and returns its
// whole answer (whose length is in bytes 4-7, plus 8, for every action but
// REPORT CAPABILITIES, whose answer is 8 bytes).
func (u *LogicalUnit) prIn(ctx context.Context, sa scsi.PRInAction) ([]byte, error) {
	full := lenField(4, 4, 8)
	if sa == scsi.PRReportCapabilities {
		full = func([]byte) int { return 0 }
	}
	return u.readIn(ctx, func(n uint32) scsi.CDB { return scsi.PersistentReserveIn(sa, uint16(n)) }, 512, 0xffff, full)
}

func prParse[T any](ctx context.Context, u *LogicalUnit, sa scsi.PRInAction, parse func([]byte) (T, error)) (T, error) {
	b, err := u.prIn(ctx, sa)
	if err != nil {
		var zero T
		return zero, err
	}
	r, err := parse(b)
	if err != nil {
		return r, u.opErr("PERSISTENT RESERVE IN", err)
	}
	return r, nil
}

// PRReadKeys returns the registered reservation keys (PERSISTENT RESERVE
// IN, READ KEYS).
func (u *LogicalUnit) PRReadKeys(ctx context.Context) (scsi.PRKeys, error) {
	return prParse(ctx, u, scsi.PRReadKeys, scsi.ParsePRKeys)
}

// PRReadReservation returns the persistent reservation, if any: its holder's
// key and its type (READ RESERVATION).
func (u *LogicalUnit) PRReadReservation(ctx context.Context) (scsi.PRReservation, error) {
	return prParse(ctx, u, scsi.PRReadReservation, scsi.ParsePRReservation)
}

// PRReportCapabilities returns what the unit's persistent reservations
// support (REPORT CAPABILITIES).
func (u *LogicalUnit) PRReportCapabilities(ctx context.Context) (scsi.PRCapabilities, error) {
	return prParse(ctx, u, scsi.PRReportCapabilities, scsi.ParsePRCapabilities)
}

// PRReadFullStatus returns every registration with its I_T nexus and the
// reservation (READ FULL STATUS).
func (u *LogicalUnit) PRReadFullStatus(ctx context.Context) (scsi.PRFullStatus, error) {
	return prParse(ctx, u, scsi.PRReadFullStatus, scsi.ParsePRFullStatus)
}

// PersistentReserveOut sends PERSISTENT RESERVE OUT with service action sa,
// reservation type typ (for the actions that take one) and parameters p:
// the general form of the PR methods below, for APTPL, ALL_TG_PT and
// SPEC_I_PT.
func (u *LogicalUnit) PersistentReserveOut(ctx context.Context, sa scsi.PROutAction, typ scsi.PRType, p scsi.PROutParameters) error {
	data := scsi.AppendPROutParameters(make([]byte, 0, scsi.PROutParametersLen+len(p.TransportIDs)+4), p)
	return u.runOut(ctx, scsi.PersistentReserveOut(sa, typ, uint32(len(data))), data)
}

// PRRegister registers newKey for this session's I_T nexus, replacing key
// (0 when not registered yet); newKey 0 unregisters.
func (u *LogicalUnit) PRRegister(ctx context.Context, key, newKey uint64) error {
	return u.PersistentReserveOut(ctx, scsi.PRRegister, 0, scsi.PROutParameters{Key: key, ServiceActionKey: newKey})
}

// PRRegisterAndIgnore registers newKey whatever key the nexus had (REGISTER
// AND IGNORE EXISTING KEY); 0 unregisters.
func (u *LogicalUnit) PRRegisterAndIgnore(ctx context.Context, newKey uint64) error {
	return u.PersistentReserveOut(ctx, scsi.PRRegisterAndIgnore, 0, scsi.PROutParameters{ServiceActionKey: newKey})
}

// PRReserve takes a reservation of type typ with the registered key.
func (u *LogicalUnit) PRReserve(ctx context.Context, key uint64, typ scsi.PRType) error {
	return u.PersistentReserveOut(ctx, scsi.PRReserve, typ, scsi.PROutParameters{Key: key})
}

// PRRelease releases the reservation of type typ held with key.
func (u *LogicalUnit) PRRelease(ctx context.Context, key uint64, typ scsi.PRType) error {
	return u.PersistentReserveOut(ctx, scsi.PRRelease, typ, scsi.PROutParameters{Key: key})
}

// PRClear releases the reservation and removes every registration (CLEAR),
// sent with this nexus's registered key.
func (u *LogicalUnit) PRClear(ctx context.Context, key uint64) error {
	return u.PersistentReserveOut(ctx, scsi.PRClear, 0, scsi.PROutParameters{Key: key})
}

// PRPreempt removes the registrations of victimKey and, if it held the
// reservation, takes it with type typ (PREEMPT).
func (u *LogicalUnit) PRPreempt(ctx context.Context, key, victimKey uint64, typ scsi.PRType) error {
	return u.PersistentReserveOut(ctx, scsi.PRPreempt, typ, scsi.PROutParameters{Key: key, ServiceActionKey: victimKey})
}

// PRPreemptAndAbort is PRPreempt that also aborts the preempted nexuses'
// commands on the unit (PREEMPT AND ABORT).
func (u *LogicalUnit) PRPreemptAndAbort(ctx context.Context, key, victimKey uint64, typ scsi.PRType) error {
	return u.PersistentReserveOut(ctx, scsi.PRPreemptAndAbort, typ, scsi.PROutParameters{Key: key, ServiceActionKey: victimKey})
}
