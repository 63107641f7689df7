package multipath

import (
	"context"
	"fmt"
	"time"

	"github.com/iscsi-go/iscsi/scsi"
)

// checker is the path checker: every CheckInterval it sends TEST UNIT
// READY to the ready paths that carried no command meanwhile (a dead path
// is found before a command needs it) and to the failed ones (which come
// back when it succeeds), and dials the paths whose session ended.
func (d *Device) checker() {
	t := time.NewTicker(d.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-d.closed:
			return
		case <-t.C:
		}
		d.kickALUA()
		for _, p := range d.paths {
			select {
			case <-d.closed:
				return
			default:
			}
			d.check(p)
		}
	}
}

func (d *Device) check(p *path) {
	_, u, st := p.session()
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.CheckTimeout)
	defer cancel()
	switch st {
	case PathReady:
		idle := time.Since(time.Unix(0, p.lastUse.Load())) >= d.cfg.CheckInterval
		if !idle || p.inflight.Load() > 0 {
			return
		}
		p.mu.Lock()
		gen, tier, pending := p.gen, p.alua.tier(d.alua.on.Load()), p.prPending
		p.mu.Unlock()
		if pending && tier < 2 {
			d.registerPending(ctx, p)
		}
		if tier == 2 {
			return // its port refuses TEST UNIT READY; the ALUA reads watch it
		}
		if err := u.TestUnitReady(ctx); err != nil && !d.answered(p, err) && d.ctx.Err() == nil {
			p.transition(gen, PathFailed, fmt.Errorf("multipath: path checker: %w", err), PathReady)
		}
	case PathFailed:
		p.mu.Lock()
		gen := p.gen
		p.mu.Unlock()
		if err := u.TestUnitReady(ctx); err == nil || d.answered(p, err) {
			p.transition(gen, PathReady, nil, PathFailed)
		}
	case PathDown:
		d.redial(ctx, p)
	}
}

// redial replaces the ended session of p with a new one, logged in with the
// old ISID: the target then reinstates the old session, ending whatever of
// it was left (RFC 7143 §6.3.5), before the path carries I/O again. The LUN
// must still be the same device.
func (d *Device) redial(ctx context.Context, p *path) {
	p.mu.Lock()
	isid := p.isid
	p.mu.Unlock()
	gen := d.gens.Add(1)
	old := [6]byte(isid)
	s, err := d.dial(ctx, p, gen, &old)
	if err != nil {
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		return
	}
	id, err := readIdentity(ctx, s.DefaultUnit())
	if err == nil && !id.equal(d.id) {
		err = d.differs(s, id)
	}
	pending := false
	if err == nil {
		err = d.registered(ctx, s.DefaultUnit())
		if _, refused := aluaRefusal(err); refused && d.alua.on.Load() {
			err, pending = nil, true // registered when its group is active again
		}
	}
	if err != nil {
		s.Close()
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		return
	}
	select {
	case <-d.closed:
		s.Close()
		return
	default:
	}
	p.install(s, gen, id.port)
	switch {
	case pending:
		p.setPRPending(true)
	case d.prSetNow():
		p.setPRPending(false) // registered above
	}
	p.transition(gen, PathReady, nil, PathDown)
}

// answered reports whether err says that the path works although the
// command failed: a unit attention (reported once; ASYMMETRIC ACCESS STATE
// CHANGED has made the sense hook ask for the ALUA states), or the refusal
// of a port in an ALUA state that carries no I/O (the path carries I/O
// when its group is active again; its state is noted).
func (d *Device) answered(p *path, err error) bool {
	if scsi.IsUnitAttention(err) {
		return true
	}
	st, ok := aluaRefusal(err)
	if ok && d.alua.on.Load() {
		p.refusedBy(st)
		d.kickALUA()
		return true
	}
	return false
}
