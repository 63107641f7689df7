// Package iscsiprom exports the metrics of iSCSI sessions to Prometheus.
//
// A Metrics is both the sessions' hook (give it in session.Config.Hooks)
// and a prometheus.Collector (register it). Command latencies, bytes,
// errors, logins and connection states come from the hooks; window
// stalls, reconnects, commands sent again, digest errors and keepalives
// from the Stats of the sessions given to Track.
//
//	m := iscsiprom.New(iscsiprom.Options{})
//	prometheus.MustRegister(m)
//	s, err := session.Dial(ctx, url, &session.Config{Hooks: []session.Hook{m}})
//	...
//	m.Track(s)
//
// One Metrics may serve several sessions: their metrics add up. To tell
// sessions apart, give each its own Metrics with Options.ConstLabels.
//
// The metrics (with the default namespace "iscsi"):
//
//	iscsi_command_duration_seconds{op}      histogram of command latency, by SCSI operation
//	iscsi_command_bytes_total{direction}    data moved by commands that ended GOOD: read, write
//	iscsi_command_errors_total{op,kind}     commands that failed, by session.CommandEvent.Outcome
//	iscsi_logins_total{outcome,reconnect}   login attempts: ok, failed, redirected
//	iscsi_connection_states_total{state}    recovery steps: lost, reconnecting, reinstated, gave up
//	iscsi_window_stalls_total               commands that waited at a closed CmdSN window
//	iscsi_reconnects_total                  connections replaced
//	iscsi_replayed_commands_total           commands sent again on a new connection
//	iscsi_not_replayed_commands_total       commands failed with ErrMayHaveExecuted
//	iscsi_barriers_total                    waits for a lost connection's writes still executing on the target
//	iscsi_digest_errors_total               header or data digest mismatches
//	iscsi_keepalives_total                  NOP-Out pings sent to a silent target
//	iscsi_sessions                          tracked sessions still open
//
// Observing a command allocates nothing once its operation has been seen.
package iscsiprom

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Options tune New. The zero value is fine.
type Options struct {
	// Namespace prefixes every metric name; "" means "iscsi".
	Namespace string
	// ConstLabels are added to every metric (a target or volume name).
	ConstLabels prometheus.Labels
	// Buckets of the latency histogram, in seconds; nil means 18
	// exponential buckets from 50 µs to 6.5 s (commands sent again after
	// a reconnect take seconds).
	Buckets []float64
}

// Metrics collects the metrics of iSCSI sessions. It implements
// session.CommandHook, session.ConnStateHook, session.LoginHook and
// prometheus.Collector; it is safe for concurrent use.
type Metrics struct {
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	logins   *prometheus.CounterVec
	states   *prometheus.CounterVec

	// Per operation code, the latency observer, found once.
	ops     [256]atomic.Pointer[prometheus.Observer]
	read    prometheus.Counter
	written prometheus.Counter

	stalls, reconnects, replayed, notReplayed, barriers, digestErrors, keepalives, sessions *prometheus.Desc

	totals session.Totals
}

var (
	_ session.CommandHook   = (*Metrics)(nil)
	_ session.ConnStateHook = (*Metrics)(nil)
	_ session.LoginHook     = (*Metrics)(nil)
	_ prometheus.Collector  = (*Metrics)(nil)
)

// New returns Metrics ready to register and to give to sessions as a hook.
func New(o Options) *Metrics {
	ns := o.Namespace
	if ns == "" {
		ns = "iscsi"
	}
	buckets := o.Buckets
	if buckets == nil {
		buckets = prometheus.ExponentialBuckets(50e-6, 2, 18)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: o.ConstLabels}, labels)
	}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, nil, o.ConstLabels)
	}
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "command_duration_seconds",
			Help: "Latency of SCSI commands from issue to completion, by operation.", ConstLabels: o.ConstLabels, Buckets: buckets},
			[]string{"op"}),
		bytes:  counter("command_bytes_total", "Data moved by SCSI commands that ended with GOOD.", "direction"),
		errors: counter("command_errors_total", "SCSI commands that ended with an error or a status other than GOOD, by operation and kind.", "op", "kind"),
		logins: counter("logins_total", "Login attempts, by outcome; reconnect is true for the logins of the recovery.", "outcome", "reconnect"),
		states: counter("connection_states_total", "Steps of connection recovery: lost, reconnecting, reinstated, gave up.", "state"),

		stalls:       desc("window_stalls_total", "SCSI commands that waited because the target's command window was closed."),
		reconnects:   desc("reconnects_total", "Connections replaced after a loss."),
		replayed:     desc("replayed_commands_total", "Commands sent again on a new connection."),
		notReplayed:  desc("not_replayed_commands_total", "Commands failed because they were not safe to send again."),
		barriers:     desc("barriers_total", "Waits, after a lost connection, for its writes still executing on the target (ORDERED TEST UNIT READY)."),
		digestErrors: desc("digest_errors_total", "Header or data digest mismatches seen."),
		keepalives:   desc("keepalives_total", "NOP-Out pings sent because the target was silent."),
		sessions:     desc("sessions", "Tracked sessions still open."),
	}
	m.read = m.bytes.WithLabelValues("read")
	m.written = m.bytes.WithLabelValues("write")
	return m
}

// OnCommandDone implements session.CommandHook.
func (m *Metrics) OnCommandDone(ev session.CommandEvent) {
	m.observer(ev.Op).Observe(ev.Latency.Seconds())
	switch kind := ev.Outcome(); {
	case kind != "ok":
		m.errors.WithLabelValues(ev.Op.String(), kind).Inc()
	case ev.Dir == session.DirRead:
		m.read.Add(float64(ev.Transferred))
	case ev.Dir == session.DirWrite:
		m.written.Add(float64(ev.Transferred))
	}
}

// observer returns the latency histogram of op.
func (m *Metrics) observer(op scsi.OpCode) prometheus.Observer {
	p := &m.ops[op]
	if o := p.Load(); o != nil {
		return *o
	}
	o := m.duration.WithLabelValues(op.String())
	p.Store(&o)
	return o
}

// OnConnState implements session.ConnStateHook.
func (m *Metrics) OnConnState(ev session.StateChange) {
	m.states.WithLabelValues(ev.State.String()).Inc()
}

// OnLogin implements session.LoginHook.
func (m *Metrics) OnLogin(ev session.LoginEvent) {
	reconnect := "false"
	if ev.Reconnect {
		reconnect = "true"
	}
	m.logins.WithLabelValues(ev.Outcome(), reconnect).Inc()
}

// Track adds s to the sessions whose Stats are reported. A session that
// ended keeps counting in the totals; it is forgotten otherwise.
func (m *Metrics) Track(s *session.Session) { m.totals.Track(s) }

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.duration.Describe(ch)
	m.bytes.Describe(ch)
	m.errors.Describe(ch)
	m.logins.Describe(ch)
	m.states.Describe(ch)
	for _, d := range []*prometheus.Desc{m.stalls, m.reconnects, m.replayed, m.notReplayed, m.barriers, m.digestErrors, m.keepalives, m.sessions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.duration.Collect(ch)
	m.bytes.Collect(ch)
	m.errors.Collect(ch)
	m.logins.Collect(ch)
	m.states.Collect(ch)

	total, live := m.totals.Stats()

	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(m.stalls, total.WindowStalls)
	counter(m.reconnects, total.Reconnects)
	counter(m.replayed, total.Replayed)
	counter(m.notReplayed, total.NotReplayed)
	counter(m.barriers, total.Barriers)
	counter(m.digestErrors, total.DigestErrors)
	counter(m.keepalives, total.Keepalives)
	ch <- prometheus.MustNewConstMetric(m.sessions, prometheus.GaugeValue, float64(live))
}
