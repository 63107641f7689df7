// Package session is the iSCSI initiator: it logs in to a target (with CHAP
// when asked), discovers targets, and runs the full-feature phase, in which
// SCSI commands travel as tasks multiplexed by Initiator Task Tag.
//
// Each Session runs one reader goroutine on its connection and a combining
// writer: a caller registers its task and encodes the command into the
// connection's batch (its CmdSN is assigned then, when the command window
// allows, so that a command cancelled before leaves no gap); whoever finds
// no write in progress sends the batch with one writev, so concurrent
// callers share system calls and a lone caller needs no hand-off. A writer
// goroutine sends what the reader asks for (Data-Out for R2Ts, NOP-Out).
// The reader puts Data-In straight into the caller's iovector.Vector at its
// BufferOffset and completes the task when the status arrives. A session
// is per target: LogicalUnit is the block API of one of its LUNs.
//
// When the connection dies, a supervisor goroutine replaces it: it logs in
// again with the same ISID, checks that every LUN in use is the same
// device, and sends the unfinished commands that are safe to repeat again
// (see docs/RELIABILITY.md). When the session ends, every task in flight
// fails exactly once with an error that unwraps to ErrSessionClosed and
// carries the cause.
//
// Credentials: the URL's, then Config's, then the LIBISCSI_CHAP_*
// environment's.
//
// On a machine of few cores shared with the target, GOMAXPROCS=1 roughly
// halves queue-depth-1 latency (no cross-thread wake-ups): see
// docs/BENCHMARKS.md.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// Session is a logged-in iSCSI session to one target. It is safe for
// concurrent use. Commands go to any LUN of the target through Execute and
// Call, or through a LogicalUnit handle (Session.LogicalUnit); the block
// methods of Session itself (ReadAt, WriteAt, Read, Write, Geometry, Sync)
// act on the LUN named in the URL.
type Session struct {
	// Set by Dial before the session starts, read-only after.
	cfg    Config
	hooks  hookSet
	log    *slog.Logger
	portal string
	target string
	isid   pdu.ISID
	lun    uint64    // the URL's LUN, encoded as on the wire
	spec   loginSpec // how to log in again
	// timeoutCause is the cause of a command context that
	// Config.CommandTimeout ended (a command's, or a pipe slot's), boxed
	// once: a commandTimeout boxed per command cost each ReadAt and
	// WriteAt an allocation.
	timeoutCause error

	// The connection and what was negotiated on it. Written by install,
	// with wmu held and no reader or writer running (at Dial, and by the
	// supervisor during a reconnect); read by the reader and the writer
	// of that connection, and by others under wmu.
	c      *conn.Conn
	params keys.Params
	tsih   uint16
	// cur is c for the goroutines that only close it (fail, lost).
	cur atomic.Pointer[conn.Conn]

	// The connection's epoch: one per connection, from 1. lostMu guards
	// lostEpoch and lostErr (the first loss of the epoch) and dead, which
	// lost closes to stop the epoch's writer and wake the supervisor.
	epoch     atomic.Uint32
	lostMu    sync.Mutex
	lostEpoch uint32
	lostErr   error
	dead      chan struct{}

	tasks table     // ITT → task; its own lock
	pool  sync.Pool // of *task, this session's only

	// The combining writer (writer.go). wmu guards every field down to
	// wdeadline; flushDone is signalled (under wmu) when a flusher stops.
	wmu        sync.Mutex
	flushDone  *sync.Cond
	flushing   bool    // a goroutine is writing a batch (it alone may)
	wclosed    bool    // no more encoding: the session is ending
	pending    []wreq  // commands waiting at the CmdSN window, FIFO from head
	head       int     // first live entry of pending
	batchUsers []*task // tasks whose buffers the batch being filled reads
	spareUsers []*task // batchUsers of the batch last written, for reuse
	wcmd       pdu.SCSICommand
	wout       pdu.DataOut
	cmdSN      uint32    // the next CmdSN to assign
	paused     bool      // the connection is lost: commands wait in pending
	holding    bool      // a new connection is checked: only priority commands go
	priority   []wreq    // the supervisor's commands during holding
	wdeadline  time.Time // owned by the flusher
	rqSignal   chan struct{}
	// r2tBatch are the tasks with R2T Data-Out in the batch being filled,
	// once per R2T (r2t.go).
	r2tBatch []*task
	// nopReply is the answer owed to the target's latest NOP-In ping,
	// encoded by the next flusher (takeBatch): pings that come faster than
	// the socket takes answers share one (writer.go, handle).
	nopReply struct {
		pending bool
		ttt     uint32
		lun     uint64
	}
	// handoff is a batch the reader began to write and the socket did not
	// take whole (readerFlush): the writer goroutine finishes it, taking
	// over the flusher's turn (flushing stays set meanwhile).
	handoff      *conn.Batch
	handoffUsers []*task
	// parked: commands wait in pending for the window to open. The reader
	// wakes the writer on a new MaxCmdSN only then. Written under wmu.
	parked atomic.Bool
	// stallSeq counts the times the window closed with commands waiting;
	// under wmu. See wreq.stall.
	stallSeq uint32

	// Sequence numbers from the target: written by the reader only.
	expStatSN atomic.Uint32
	expCmdSN  atomic.Uint32
	maxCmdSN  atomic.Uint32

	// The end. closing is closed by the first fail (closeOnce), after cause
	// is set; done is closed by the janitor once every task has completed.
	closing   chan struct{}
	closeOnce sync.Once
	cause     error
	done      chan struct{}
	loops     sync.WaitGroup // the reader and the writer goroutine
	loggedOut atomic.Bool    // a logout succeeded: the end is ErrLoggedOut

	// bg tracks goroutines started for the target (a logout it asked for);
	// bgMu guards bgClosed, after which none is started.
	bg       sync.WaitGroup
	bgMu     sync.Mutex
	bgClosed bool

	// deferWake holds the deferring and deferred bits (wakeSoon).
	deferWake atomic.Uint32

	// inCallback counts the callbacks running (callback.go): commands
	// issued meanwhile are written by the writer goroutine.
	inCallback atomic.Int32

	// Owned by the holder of the read role (readrole.go).
	rd        readRole
	completed bool // the last PDU read completed a SCSI command
	dec       pdu.Decoder
	small     []byte

	// recovery is the supervisor's: the deadline and the login attempts of
	// the recovery under way (zero deadline: none), the next backoff, and
	// when the last one succeeded (its connection counts as an attempt
	// that failed if it dies within stableAfter).
	recovery struct {
		deadline time.Time
		attempts int
		backoff  time.Duration
		up       time.Time
	}

	// targetTime2Wait is 1 + the Time2Wait of the target's last "will drop
	// the connection" message, 0 for none.
	targetTime2Wait atomic.Uint32
	// logoutEpoch is the epoch of the last connection whose logout the
	// target asked for: one logout per connection, however often it asks.
	logoutEpoch atomic.Uint32

	rxPDUs atomic.Uint64        // PDUs received, for the keepalive
	ping   atomic.Pointer[task] // the keepalive's NOP-Out in flight
	stats  struct {
		reconnects, replayed, notReplayed, digestErrors, keepalives              atomic.Uint64
		commands, commandErrors, bytesRead, bytesWritten, windowStalls, barriers atomic.Uint64
	}

	// lunRecs is the record of every LUN a command was sent to (its
	// identity); lunRecMu serialises additions (lunrecord.go).
	lunRecs  lunRecords
	lunRecMu sync.Mutex

	// units holds the LogicalUnit handles, by encoded LUN; the reader drops
	// their geometry on a CAPACITY DATA HAS CHANGED.
	unitsMu sync.Mutex
	units   map[uint64]*LogicalUnit
	unit    *LogicalUnit // the URL's LUN; set by start
}

// Dial logs in to the target and LUN of rawURL
// (iscsi://[user[%password]@]host[:port]/target-iqn/lun) and starts the
// session. ctx bounds the login; Config.LoginTimeout bounds it too.
//
// CHAP credentials come from the URL first, then from cfg (Username,
// Secret, TargetUsername, TargetSecret), then from the LIBISCSI_CHAP_*
// environment, which is read only when cfg names no Username. Every failure
// to connect or log in is a *LoginError naming the portal and target.
func Dial(ctx context.Context, rawURL string, cfg *Config) (*Session, error) {
	c := cfg.withDefaults()
	u, err := c.parser().Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return dialURL(ctx, u, &c, false)
}

// DialURL is Dial for a URL already parsed. u's credentials are used as
// they are (iscsiurl.Parse fills them from the environment; a zero
// iscsiurl.Parser reads none); cfg's are used when u has none.
func DialURL(ctx context.Context, u *iscsiurl.URL, cfg *Config) (*Session, error) {
	c := cfg.withDefaults()
	return dialURL(ctx, u, &c, false)
}

// parser returns the URL parser for Dial and Discover. Credentials come
// from the URL, then from the Config, then from the environment: the URL
// parser overrides what its LookupEnv gives with the URL's own, and its
// LookupEnv gives the Config's credentials when there are some, the
// LIBISCSI_CHAP_* environment only when there are none.
func (c *Config) parser() iscsiurl.Parser {
	look := c.lookupEnv
	if look == nil {
		look = os.LookupEnv
	}
	if c.Username != "" {
		look = c.credential
	}
	return iscsiurl.Parser{LookupEnv: look}
}

// chapConfig returns the CHAP credentials for u, or nil for none.
func (c *Config) chapConfig(u *iscsiurl.URL) *chap.Config {
	var cc chap.Config
	switch {
	case u.User != "":
		cc = chap.Config{Username: u.User, Secret: u.Password, TargetUsername: u.TargetUser, TargetSecret: u.TargetPassword}
	case c.Username != "":
		cc = chap.Config{Username: c.Username, Secret: c.Secret, TargetUsername: c.TargetUsername, TargetSecret: c.TargetSecret}
	default:
		return nil
	}
	cc.Algorithms = c.CHAPAlgorithms
	if len(u.Auth) > 0 {
		cc.Algorithms = u.Auth
	}
	return &cc
}

func (c *Config) offer(u *iscsiurl.URL, discovery bool) keys.Offer {
	o := c.Operational
	o.Discovery = discovery
	if v := u.HeaderDigest.Offer(); v != "" {
		o.HeaderDigest = strings.Split(v, ",")
	}
	if v := u.DataDigest.Offer(); v != "" {
		o.DataDigest = strings.Split(v, ",")
	}
	return o
}

func dialURL(ctx context.Context, u *iscsiurl.URL, cfg *Config, discovery bool) (*Session, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cc := cfg.chapConfig(u); cc != nil {
		for _, n := range [...]struct{ what, v string }{{"CHAP user name", cc.Username}, {"CHAP target user name", cc.TargetUsername}} {
			if reason := checkTextValue(n.v); reason != "" {
				return nil, fmt.Errorf("iscsi: %s %s: %w: %s", n.what, strconv.Quote(n.v), ErrInvalidKeyValue, reason)
			}
		}
	}
	if _, err := keys.NewNegotiator(cfg.offer(u, discovery)); err != nil {
		return nil, fmt.Errorf("iscsi: Config.Operational: %w", err)
	}
	hooks, err := newHookSet(cfg.Hooks)
	if err != nil {
		return nil, err
	}
	s := &Session{
		cfg:      *cfg,
		hooks:    hooks,
		log:      cfg.Logger,
		portal:   u.Portal(),
		target:   u.Target,
		isid:     cfg.ISID,
		rqSignal: make(chan struct{}, 1),
		rd:       readRole{wake: make(chan struct{}, 1)},
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.timeoutCause = commandTimeout{cfg.CommandTimeout}
	if s.isid == (pdu.ISID{}) {
		s.isid = NewISID()
	}
	fail := func(portal string, err error) (*Session, error) {
		var le *LoginError
		if errors.As(err, &le) && le.Portal == portal {
			return nil, err
		}
		return nil, &LoginError{Target: u.Target, Portal: portal, Err: err}
	}
	if !discovery {
		l, err := scsi.EncodeLUN(uint32(u.LUN))
		if err != nil {
			return fail(s.portal, err)
		}
		s.lun = uint64(l)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.LoginTimeout)
	defer cancel()
	spec := &loginSpec{
		cfg:       cfg,
		target:    u.Target,
		discovery: discovery,
		chap:      cfg.chapConfig(u),
		offer:     cfg.offer(u, discovery),
		isid:      s.isid,
		cmdSN:     1,
	}
	portal := s.portal
	for redirects := 0; ; redirects++ {
		spec.portal = portal
		start := time.Now()
		c, err := conn.Dial(ctx, cfg.Dialer, portal)
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("connect: %w (%w)", context.Cause(ctx), err)
			} else {
				err = fmt.Errorf("connect: %w", err)
			}
			s.loginDone(portal, start, 0, "", err)
			return fail(portal, err)
		}
		if s.wantTrace() {
			c.Trace = s.trace
		}
		res, err := login(ctx, c, spec)
		var red *redirectError
		if errors.As(err, &red) {
			s.loginDone(portal, start, 0, red.address, nil)
			c.Close()
			if redirects >= cfg.MaxRedirects {
				return fail(portal, fmt.Errorf("%w (%d, the last to %s)", ErrTooManyRedirects, redirects+1, red.address))
			}
			next, err := redirectPortal(red.address)
			if err != nil {
				return fail(portal, err)
			}
			portal = next
			s.log.Info("iscsi: login redirected", "from", spec.portal, "to", portal, "permanent", red.permanent)
			continue
		}
		s.loginDone(portal, start, 0, "", err)
		if err != nil {
			c.Close()
			return fail(portal, err)
		}
		s.start(c, portal, res, spec)
		if !discovery && cfg.ISID != (pdu.ISID{}) {
			// The login may have reinstated a session whose writes still
			// execute on the target: none of them lands after ours.
			if err := s.unit.Barrier(ctx); err != nil {
				s.Close()
				return nil, err
			}
		}
		if !discovery && !cfg.SkipTestUnitReady {
			if err := s.unit.ready(ctx, u.UnitSerialNumber); err != nil {
				s.Close()
				return nil, err
			}
		}
		return s, nil
	}
}

// redirectPortal turns the TargetAddress of a redirection ("host:port,tpgt",
// "[v6]:port", "host") into a dialable host:port.
func redirectPortal(addr string) (string, error) {
	p, err := parseTargetAddress(addr, "Login Response")
	if err != nil {
		return "", err
	}
	return p.HostPort(), nil
}

// start moves a logged-in connection to the full-feature phase.
func (s *Session) start(c *conn.Conn, portal string, res *loginResult, spec *loginSpec) {
	s.flushDone = sync.NewCond(&s.wmu)
	s.pool.New = newTask
	s.unit = s.unitFor(scsi.LUN(s.lun))
	s.portal = portal
	s.spec = *spec
	s.spec.portal = portal
	s.wmu.Lock()
	s.install(c, res)
	s.wmu.Unlock()
	go s.supervise()
}

func (s *Session) tracePDU(sent bool, h *pdu.BHS) {
	dir := "recv"
	if sent {
		dir = "send"
	}
	s.log.Debug("iscsi pdu", traceAttrs(dir, h)...)
}

// traceAttrs describes a PDU header for the -d style trace: what it is,
// which task, and the fields that tell one command from another.
func traceAttrs(dir string, h *pdu.BHS) []any {
	a := []any{"dir", dir, "op", h.Opcode().String(), "itt", fmt.Sprintf("%#x", h.ITT()), "len", h.DataSegmentLength()}
	var d pdu.Decoder
	m, err := d.Decode(h)
	if err != nil {
		return a
	}
	switch m := m.(type) {
	case *pdu.SCSICommand:
		a = append(a, "cdb", fmt.Sprintf("%x", m.CDB[:cdbLen(m.CDB[0])]), "lun", fmt.Sprintf("%#x", m.LUN),
			"cmdsn", m.CmdSN, "edtl", m.ExpectedDataTransferLength, "r", m.Read, "w", m.Write)
	case *pdu.SCSIResponse:
		a = append(a, "status", fmt.Sprintf("%#02x", m.Status), "response", m.Response, "statsn", m.StatSN, "residual", m.ResidualCount)
	case *pdu.DataIn:
		a = append(a, "datasn", m.DataSN, "offset", m.BufferOffset, "final", m.Final, "status_present", m.HasStatus)
	case *pdu.DataOut:
		a = append(a, "ttt", fmt.Sprintf("%#x", m.TTT), "datasn", m.DataSN, "offset", m.BufferOffset, "final", m.Final)
	case *pdu.R2T:
		a = append(a, "ttt", fmt.Sprintf("%#x", m.TTT), "r2tsn", m.R2TSN, "offset", m.BufferOffset, "length", m.DesiredDataTransferLength)
	case *pdu.LoginRequest:
		a = append(a, "csg", m.CSG, "nsg", m.NSG, "transit", m.Transit, "continue", m.Continue)
	case *pdu.LoginResponse:
		a = append(a, "csg", m.CSG, "nsg", m.NSG, "transit", m.Transit, "status", fmt.Sprintf("%#04x", uint16(m.StatusClass)<<8|uint16(m.StatusDetail)))
	case *pdu.TaskMgmtRequest:
		a = append(a, "function", m.Function, "ref_itt", fmt.Sprintf("%#x", m.ReferencedTaskTag), "ref_cmdsn", m.RefCmdSN)
	case *pdu.TaskMgmtResponse:
		a = append(a, "response", m.Response)
	case *pdu.NOPOut:
		a = append(a, "ttt", fmt.Sprintf("%#x", m.TTT))
	case *pdu.NOPIn:
		a = append(a, "ttt", fmt.Sprintf("%#x", m.TTT))
	case *pdu.AsyncMessage:
		a = append(a, "event", m.AsyncEvent)
	case *pdu.Reject:
		a = append(a, "reason", pdu.RejectReasonString(m.Reason))
	}
	return a
}

// cdbLen is the length of a CDB by its operation code's group.
func cdbLen(op byte) int {
	switch op >> 5 {
	case 0:
		return 6
	case 1, 2:
		return 10
	case 4:
		return 16
	case 5:
		return 12
	}
	return 16
}

// fail starts the end of the session with cause. The first cause wins.
func (s *Session) fail(cause error) {
	s.closeOnce.Do(func() {
		if s.loggedOut.Load() {
			cause = ErrLoggedOut
		}
		s.cause = &closedError{cause: cause}
		close(s.closing)
		if c := s.cur.Load(); c != nil {
			c.Close()
		}
	})
}

// background runs fn in a goroutine that Close and Logout wait for. Once
// they have started waiting, nothing new is started: the session is ending
// and its janitor fails what fn would have handled.
func (s *Session) background(fn func()) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn()
	}()
}

// waitBackground stops new background work and waits for what runs.
func (s *Session) waitBackground() {
	s.bgMu.Lock()
	s.bgClosed = true
	s.bgMu.Unlock()
	s.bg.Wait()
}

// Close ends the session abruptly: the connection is closed and every task
// in flight fails with an error wrapping ErrSessionClosed; those that may
// change the medium (a WRITE, UNMAP, ...) and had been sent also match
// ErrMayHaveExecuted: the target may still execute them after Close has
// returned, for instance when the network held their bytes back. To be
// sure that nothing of a closed session lands after a new session's
// writes, dial the new one with Config.ISID set to this session's ISID:
// the target then reinstates the session and ends the old one's tasks
// first (docs/RELIABILITY.md). Logout waits for the commands instead.
// Close is idempotent, never waits for the target, and returns once every
// goroutine of the session has stopped.
func (s *Session) Close() error {
	s.fail(ErrClosedByUser)
	<-s.done
	s.waitBackground()
	return nil
}

// connected reports whether the session has a working connection (none
// while a lost one is being replaced).
func (s *Session) connected() bool {
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	return s.lostEpoch != s.epoch.Load()
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended (wrapping ErrSessionClosed), or nil.
func (s *Session) Err() error {
	select {
	case <-s.closing:
		return s.cause
	default:
		return nil
	}
}

// Params returns the negotiated parameters.
func (s *Session) Params() keys.Params {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.params
}

// Target returns the target name; Portal the address connected to.
func (s *Session) Target() string { return s.target }

// Portal returns the host:port the session is connected to.
func (s *Session) Portal() string { return s.portal }

// ISID returns the session's initiator session ID; TSIH the target's handle.
func (s *Session) ISID() pdu.ISID { return s.isid }

// TSIH returns the target-assigned session handle.
func (s *Session) TSIH() uint16 {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.tsih
}

// Logout ends the session gracefully: it waits for the SCSI commands in
// flight to end (bounded by ctx), asks the target to close the session,
// waits for the answer (bounded by ctx and AbortTimeout), then closes. When
// it returns nil, nothing of the session executes on the target any more.
// Commands still in flight when ctx ends fail with an error matching
// ErrSessionClosed (and ErrMayHaveExecuted for those that may change the
// medium and had been sent). A session whose connection is lost (being
// replaced) logs out at once with ErrNotConnected, as Close does: nothing
// waits for the target then.
func (s *Session) Logout(ctx context.Context) error {
	if err := s.Err(); err != nil {
		<-s.done
		s.waitBackground()
		return nil
	}
	if !s.connected() {
		s.fail(ErrNotConnected)
		<-s.done
		s.waitBackground()
		return ErrNotConnected
	}
	select {
	case <-s.tasks.whenDrained():
	case <-ctx.Done():
	case <-s.closing:
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AbortTimeout)
	defer cancel()
	t := s.getTask()
	t.kind = kindLogout
	t.reason = pdu.LogoutCloseSession
	t.immediate = true
	f := s.submit(ctx, t)
	res, err := f.Wait()
	if err == nil {
		if res.Response != pdu.LogoutSuccess {
			err = fmt.Errorf("iscsi: logout refused with response %d", res.Response)
		} else {
			s.loggedOut.Store(true)
		}
	}
	s.fail(ErrLoggedOut)
	<-s.done
	s.waitBackground()
	return err
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
