// Package iscsiotel records the metrics of iSCSI sessions as OpenTelemetry
// instruments.
//
// A Metrics is the sessions' hook (give it in session.Config.Hooks): command
// latencies, bytes, errors, logins and connection states are recorded as
// they happen; window stalls, reconnects, commands sent again, digest
// errors and keepalives are observed from the Stats of the sessions given
// to Track when the meter's reader collects.
//
//	m, err := iscsiotel.New(otel.Meter("iscsi"))
//	s, err := session.Dial(ctx, url, &session.Config{Hooks: []session.Hook{m}})
//	m.Track(s)
//
// The instruments:
//
//	iscsi.command.duration        histogram, s    {scsi.operation}
//	iscsi.command.io              counter, By     {iscsi.direction: read, write}; commands that ended GOOD
//	iscsi.command.errors          counter         {scsi.operation, error.type}; see session.CommandEvent.Outcome
//	iscsi.logins                  counter         {iscsi.login.outcome: ok, failed, redirected; iscsi.reconnect}
//	iscsi.connection.states       counter         {iscsi.connection.state: lost, reconnecting, reinstated, gave up}
//	iscsi.window_stalls           counter (observed)
//	iscsi.reconnects              counter (observed)
//	iscsi.commands.replayed       counter (observed)
//	iscsi.commands.not_replayed   counter (observed)
//	iscsi.barriers                counter (observed): waits for a lost connection's writes still executing
//	iscsi.digest_errors           counter (observed)
//	iscsi.keepalives              counter (observed)
//	iscsi.sessions                up-down counter (observed): tracked sessions still open
package iscsiotel

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Attribute keys.
const (
	KeyOperation = attribute.Key("scsi.operation")
	KeyDirection = attribute.Key("iscsi.direction")
	KeyErrorType = attribute.Key("error.type")
	KeyOutcome   = attribute.Key("iscsi.login.outcome")
	KeyReconnect = attribute.Key("iscsi.reconnect")
	KeyConnState = attribute.Key("iscsi.connection.state")
)

// Metrics records the metrics of iSCSI sessions. It implements
// session.CommandHook, session.ConnStateHook and session.LoginHook; it is
// safe for concurrent use.
type Metrics struct {
	duration metric.Float64Histogram
	io       metric.Int64Counter
	errors   metric.Int64Counter
	logins   metric.Int64Counter
	states   metric.Int64Counter
	reg      metric.Registration

	// Per operation code, the attributes of the duration, made once.
	ops          [256]atomic.Pointer[[]metric.RecordOption]
	read, writes []metric.AddOption

	totals session.Totals
}

var (
	_ session.CommandHook   = (*Metrics)(nil)
	_ session.ConnStateHook = (*Metrics)(nil)
	_ session.LoginHook     = (*Metrics)(nil)
)

// New creates the instruments on meter.
func New(meter metric.Meter) (*Metrics, error) {
	m := &Metrics{
		read:   []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(KeyDirection.String("read")))},
		writes: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(KeyDirection.String("write")))},
	}
	var err error
	set := func(e error) {
		if err == nil {
			err = e
		}
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, e := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		set(e)
		return c
	}
	observed := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, e := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		set(e)
		return c
	}
	var e error
	m.duration, e = meter.Float64Histogram("iscsi.command.duration", metric.WithUnit("s"),
		metric.WithDescription("Latency of SCSI commands from issue to completion, by operation."),
		metric.WithExplicitBucketBoundaries(50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 200e-3, 500e-3, 1, 2, 5, 10))
	set(e)
	m.io = counter("iscsi.command.io", "By", "Data moved by SCSI commands that ended with GOOD.")
	m.errors = counter("iscsi.command.errors", "{command}", "SCSI commands that ended with an error or a status other than GOOD.")
	m.logins = counter("iscsi.logins", "{login}", "Login attempts, by outcome.")
	m.states = counter("iscsi.connection.states", "{change}", "Steps of connection recovery.")
	stalls := observed("iscsi.window_stalls", "{command}", "SCSI commands that waited because the target's command window was closed.")
	reconnects := observed("iscsi.reconnects", "{connection}", "Connections replaced after a loss.")
	replayed := observed("iscsi.commands.replayed", "{command}", "Commands sent again on a new connection.")
	notReplayed := observed("iscsi.commands.not_replayed", "{command}", "Commands failed because they were not safe to send again.")
	barriers := observed("iscsi.barriers", "{barrier}", "Waits, after a lost connection, for its writes still executing on the target (ORDERED TEST UNIT READY).")
	digest := observed("iscsi.digest_errors", "{error}", "Header or data digest mismatches seen.")
	keepalives := observed("iscsi.keepalives", "{ping}", "NOP-Out pings sent because the target was silent.")
	sessions, e := meter.Int64ObservableUpDownCounter("iscsi.sessions", metric.WithUnit("{session}"),
		metric.WithDescription("Tracked sessions still open."))
	set(e)
	if err != nil {
		return nil, err
	}
	m.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		total, live := m.totals.Stats()
		o.ObserveInt64(stalls, int64(total.WindowStalls))
		o.ObserveInt64(reconnects, int64(total.Reconnects))
		o.ObserveInt64(replayed, int64(total.Replayed))
		o.ObserveInt64(notReplayed, int64(total.NotReplayed))
		o.ObserveInt64(barriers, int64(total.Barriers))
		o.ObserveInt64(digest, int64(total.DigestErrors))
		o.ObserveInt64(keepalives, int64(total.Keepalives))
		o.ObserveInt64(sessions, int64(live))
		return nil
	}, stalls, reconnects, replayed, notReplayed, barriers, digest, keepalives, sessions)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Close unregisters the callback of the observed instruments.
func (m *Metrics) Close() error { return m.reg.Unregister() }

// OnCommandDone implements session.CommandHook.
func (m *Metrics) OnCommandDone(ev session.CommandEvent) {
	ctx := context.Background()
	m.duration.Record(ctx, ev.Latency.Seconds(), m.opOptions(ev.Op)...)
	switch kind := ev.Outcome(); {
	case kind != "ok":
		m.errors.Add(ctx, 1, metric.WithAttributes(KeyOperation.String(ev.Op.String()), KeyErrorType.String(kind)))
	case ev.Dir == session.DirRead:
		m.io.Add(ctx, int64(ev.Transferred), m.read...)
	case ev.Dir == session.DirWrite:
		m.io.Add(ctx, int64(ev.Transferred), m.writes...)
	}
}

// opOptions returns the record options of op's latency.
func (m *Metrics) opOptions(op scsi.OpCode) []metric.RecordOption {
	p := &m.ops[op]
	if o := p.Load(); o != nil {
		return *o
	}
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(KeyOperation.String(op.String())))}
	p.Store(&o)
	return o
}

// OnConnState implements session.ConnStateHook.
func (m *Metrics) OnConnState(ev session.StateChange) {
	m.states.Add(context.Background(), 1, metric.WithAttributes(KeyConnState.String(ev.State.String())))
}

// OnLogin implements session.LoginHook.
func (m *Metrics) OnLogin(ev session.LoginEvent) {
	m.logins.Add(context.Background(), 1, metric.WithAttributes(KeyOutcome.String(ev.Outcome()), KeyReconnect.Bool(ev.Reconnect)))
}

// Track adds s to the sessions whose Stats are observed. A session that
// ended keeps counting in the totals; it is forgotten otherwise.
func (m *Metrics) Track(s *session.Session) { m.totals.Track(s) }
