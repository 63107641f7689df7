package multipath

import (
	"context"
	"fmt"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Persistent reservations over several paths. Each path is its own I_T
// nexus, so a key is registered on every path (as mpathpersist does); a
// reservation is then taken through any one path, and with a
// "registrants only" type (scsi.PRTypeWriteExclusiveRegistrantsOnly,
// scsi.PRTypeExclusiveAccessRegistrantsOnly) every path may carry I/O.
// With the other types only the nexus that reserved may write: a Device
// whose commands move between paths should not take them.

var (
	cdbPROut = []byte{0x5f}
	cdbPRIn  = []byte{0x5e}
)

// PRRegister registers newKey for the I_T nexus of every path (REGISTER,
// key being the key they hold now, 0 if none; newKey 0 unregisters). A
// path that is recovering is sent the command too (it waits for the
// reconnect, bounded by ctx); a path whose session ended is registered
// (REGISTER AND IGNORE EXISTING KEY, with newKey: 0 unregisters it too)
// when the checker dials it again, before it carries I/O; so is a path whose port refuses the command for
// its ALUA state (unavailable, transitioning) when its group is active
// again (PathStats.PRPending). The first failure is returned, naming its
// path: the paths before it are registered.
func (d *Device) PRRegister(ctx context.Context, key, newKey uint64) error {
	return d.registerAll(ctx, newKey, func(u *session.LogicalUnit) error { return u.PRRegister(ctx, key, newKey) })
}

// PRRegisterAndIgnore registers newKey for the I_T nexus of every path,
// whatever key they had (REGISTER AND IGNORE EXISTING KEY); 0 unregisters.
// See PRRegister.
func (d *Device) PRRegisterAndIgnore(ctx context.Context, newKey uint64) error {
	return d.registerAll(ctx, newKey, func(u *session.LogicalUnit) error { return u.PRRegisterAndIgnore(ctx, newKey) })
}

func (d *Device) registerAll(ctx context.Context, newKey uint64, register func(*session.LogicalUnit) error) error {
	d.prMu.Lock()
	defer d.prMu.Unlock()
	for _, p := range d.paths {
		_, u, st := p.session()
		if u == nil || st == PathDown {
			continue // registered when dialed again
		}
		var err error
		if p.prPendingNow() {
			// Its registration is behind: whatever it holds, it gets
			// newKey.
			err = u.PRRegisterAndIgnore(ctx, newKey)
		} else {
			err = register(u)
		}
		if _, refused := aluaRefusal(err); refused && d.alua.on.Load() {
			// Its port is unavailable or in transition: registered once
			// its group is active again, before it carries I/O.
			p.setPRPending(true)
			continue
		}
		if err != nil {
			return fmt.Errorf("multipath: path %d (%s): %w", p.index, p.stats().Portal, err)
		}
		p.setPRPending(false)
	}
	d.prKey, d.prSet = newKey, true
	return nil
}

// prSetNow reports whether the Device registered a key (or unregistered
// one): then every new session of a path is given prKey.
func (d *Device) prSetNow() bool {
	d.prMu.Lock()
	defer d.prMu.Unlock()
	return d.prSet
}

func (p *path) prPendingNow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prPending
}

// setPRPending marks whether the Device's key still has to be registered
// on p before p carries I/O (the picker leaves it out meanwhile).
func (p *path) setPRPending(v bool) {
	p.mu.Lock()
	changed := p.prPending != v
	p.prPending = v
	p.mu.Unlock()
	if changed {
		p.d.rebuild()
	}
}

// registerPending registers the Device's key (or its absence) on a path
// whose registration was put off, once its port accepts it.
func (d *Device) registerPending(ctx context.Context, p *path) {
	d.prMu.Lock()
	defer d.prMu.Unlock()
	p.mu.Lock()
	pending, u := p.prPending, p.unit
	p.mu.Unlock()
	if !pending || u == nil {
		return
	}
	if err := u.PRRegisterAndIgnore(ctx, d.prKey); err != nil {
		p.mu.Lock()
		p.lastErr = fmt.Errorf("multipath: registering the reservation key: %w", err)
		p.mu.Unlock()
		return // tried again by the checker and at the next change of states
	}
	p.setPRPending(false)
}

// registered gives a new session of a path the Device's key before the
// path carries I/O, once the Device has registered one: REGISTER AND
// IGNORE EXISTING KEY with the key, or with 0 when the Device unregistered
// it meanwhile (the nexus, the same ISID, may still hold the old key on
// the target). A Device that never registered sends nothing.
func (d *Device) registered(ctx context.Context, u *session.LogicalUnit) error {
	d.prMu.Lock()
	key, set := d.prKey, d.prSet
	d.prMu.Unlock()
	if !set {
		return nil
	}
	return u.PRRegisterAndIgnore(ctx, key)
}

// PRReserve takes a reservation of type typ with the registered key,
// through one path. Like every PERSISTENT RESERVE OUT it is not sent again
// when its path fails: the error then matches session.ErrMayHaveExecuted.
func (d *Device) PRReserve(ctx context.Context, key uint64, typ scsi.PRType) error {
	_, err := d.run(ctx, cdbPROut, 0, blocking(func(u *session.LogicalUnit, ctx context.Context) error { return u.PRReserve(ctx, key, typ) }))
	return err
}

// PRRelease releases the reservation of type typ held with key, through
// one path.
func (d *Device) PRRelease(ctx context.Context, key uint64, typ scsi.PRType) error {
	_, err := d.run(ctx, cdbPROut, 0, blocking(func(u *session.LogicalUnit, ctx context.Context) error { return u.PRRelease(ctx, key, typ) }))
	return err
}

// PRReadKeys returns the registered keys (one per registered I_T nexus:
// a key registered through the Device appears once per path).
func (d *Device) PRReadKeys(ctx context.Context) (scsi.PRKeys, error) {
	var keys scsi.PRKeys
	_, err := d.run(ctx, cdbPRIn, 0, blocking(func(u *session.LogicalUnit, ctx context.Context) error {
		var err error
		keys, err = u.PRReadKeys(ctx)
		return err
	}))
	return keys, err
}

// PRReadReservation returns the current reservation.
func (d *Device) PRReadReservation(ctx context.Context) (scsi.PRReservation, error) {
	var r scsi.PRReservation
	_, err := d.run(ctx, cdbPRIn, 0, blocking(func(u *session.LogicalUnit, ctx context.Context) error {
		var err error
		r, err = u.PRReadReservation(ctx)
		return err
	}))
	return r, err
}
