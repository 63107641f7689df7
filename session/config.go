package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
)

// Defaults of Config's zero values.
const (
	DefaultLoginTimeout   = 15 * time.Second
	DefaultCommandTimeout = 30 * time.Second
	DefaultAbortTimeout   = 10 * time.Second
	DefaultMaxRedirects   = 4

	DefaultNOPInterval        = 5 * time.Second
	DefaultNOPTimeout         = 5 * time.Second
	DefaultReplacementTimeout = 120 * time.Second
)

// A Dialer makes the TCP connection to a portal; *net.Dialer is one. Give
// one in Config to connect through a proxy, bind a source address, or
// hand over a net.Conn made elsewhere.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config tunes a session. The zero value (or nil) means sane defaults:
// libiscsi's operational offers, a default initiator name, a random ISID.
type Config struct {
	// InitiatorName is our iSCSI name; "" means DefaultInitiatorName().
	InitiatorName string
	// InitiatorAlias is sent as InitiatorAlias when not empty.
	InitiatorAlias string
	// ISID overrides the random ISID (keep it per session: two sessions
	// with one ISID to one target make the target drop the first).
	ISID pdu.ISID

	// Dialer makes the TCP connection. nil means a BlockingDialer: on
	// Linux a socket outside Go's netpoller, which costs less CPU per I/O;
	// elsewhere a net.Dialer. Give &net.Dialer{} for Go's netpoller.
	Dialer Dialer

	// LoginTimeout bounds connecting and logging in (default 15 s).
	LoginTimeout time.Duration
	// CommandTimeout bounds each ReadAt/WriteAt call, which take no context
	// (default 30 s).
	CommandTimeout time.Duration
	// AbortTimeout bounds the wait for the answer to an ABORT TASK or a
	// logout; past it the connection is dropped (default 10 s).
	AbortTimeout time.Duration
	// MaxRedirects bounds login redirections followed (default 4).
	MaxRedirects int
	// MaxText bounds the total size of a text or login answer spread over
	// several PDUs, such as a SendTargets list (default
	// keys.DefaultMaxText, 1 MiB).
	MaxText int

	// Username and Secret are the CHAP credentials; TargetUsername and
	// TargetSecret, when set, make CHAP mutual. The code has the last word
	// over the environment: credentials come from the URL
	// (user%secret@, target_user=, target_password=), then from these
	// fields, then from LIBISCSI_CHAP_USERNAME, LIBISCSI_CHAP_PASSWORD,
	// LIBISCSI_CHAP_TARGET_USERNAME and LIBISCSI_CHAP_TARGET_PASSWORD. The
	// environment is not read at all when Username is set. As in libiscsi,
	// a URL naming a user without a secret (user@) takes the secret from
	// the next place.
	Username       string
	Secret         auth.Secret
	TargetUsername string
	TargetSecret   auth.Secret
	// CHAPAlgorithms is the ordered CHAP_A offer; nil means MD5 only, as
	// libiscsi does (tgtd misreads CHAP_A=7). The URL's auth= argument wins.
	CHAPAlgorithms []chap.Algorithm
	// AllowNoAuth accepts a target that does not authenticate itself
	// although mutual CHAP is configured (None is then offered too). Off by
	// default: mutual CHAP is never downgraded. One-way CHAP needs no
	// AllowNoAuth: it always offers CHAP,None, since the initiator loses
	// nothing when a target does not ask who it is (see docs/LOGIN.md).
	AllowNoAuth bool

	// Operational holds the operational keys we offer; zero fields take
	// libiscsi's defaults. The URL's header_digest and data_digest win.
	// Offers of what this package does not implement yet are refused by
	// Dial with an error wrapping errors.ErrUnsupported:
	// ErrorRecoveryLevel above 0, DataPDUInOrder or DataSequenceInOrder
	// No, MaxConnections above 1.
	Operational keys.Offer

	// Logger receives the session's log; nil discards it. PDU headers are
	// logged at slog.LevelDebug when TracePDUs is set (login keys too, with
	// CHAP challenges and responses shown by length only).
	Logger    *slog.Logger
	TracePDUs bool

	// SkipTestUnitReady makes Dial return right after login. By default
	// Dial sends TEST UNIT READY to the URL's LUN until the unit
	// attentions of a new session are cleared, so that a LUN the target
	// does not have fails at Dial and the application's first command
	// does not fail with POWER ON, RESET.
	SkipTestUnitReady bool

	// NOPInterval of silence from the target makes the session send a
	// NOP-Out ping; no answer within NOPTimeout and the connection is
	// treated as lost (defaults 5 s and 5 s, as open-iscsi; negative
	// NOPInterval disables the keepalive).
	NOPInterval time.Duration
	NOPTimeout  time.Duration

	// Recovery. A lost connection (closed, reset, a write that does not
	// progress for CommandTimeout, a keepalive or an ABORT TASK not
	// answered, a digest error, a protocol error) is replaced: the session
	// logs in again with its ISID and sends the commands in flight again
	// (see docs/RELIABILITY.md). ReplacementTimeout bounds how long commands
	// wait for a new connection (default 120 s); MaxReconnects bounds the
	// login attempts per loss (0: no bound but ReplacementTimeout);
	// DisableRecovery makes a lost connection end the session at once.
	ReplacementTimeout time.Duration
	MaxReconnects      int
	DisableRecovery    bool
	// ReplayUnidentifiedWrites lets a write in flight when the connection
	// was lost be sent again to a LUN that reports neither a unit serial
	// number (VPD 0x80) nor a device identifier (VPD 0x83), or whose
	// identity could not be read: after a reconnect such a LUN is checked
	// by vendor, product, revision and capacity only, which two devices of
	// one model pass. Off by default: such a write fails with an
	// *UnverifiedReplayError (ErrMayHaveExecuted).
	ReplayUnidentifiedWrites bool
	// ReplaySafe, when set, says whether a command outside the built-in
	// list (READ, WRITE, VERIFY, SYNCHRONIZE CACHE, UNMAP, WRITE SAME, TEST
	// UNIT READY, INQUIRY, READ CAPACITY, MODE SENSE, …) may be sent again
	// after a lost connection. The others fail with ErrMayHaveExecuted.
	ReplaySafe func(cdb []byte) bool
	// OnStateChange, when set, is called on each change of the
	// connection's state (lost, reconnecting, reinstated, gave up), from
	// the session's supervisor goroutine: it must return quickly. A
	// ConnStateHook in Hooks gets the same calls, after it.
	OnStateChange func(StateChange)

	// Hooks are told what the session does, for metrics and tracing: each
	// implements one or more of CommandHook, PDUHook, ConnStateHook and
	// LoginHook (see Hook). They run on the session's goroutines and must
	// be quick. Nil costs nothing.
	Hooks []Hook

	// lookupEnv replaces os.LookupEnv for LIBISCSI_CHAP_* (tests set it
	// through export_test.go).
	lookupEnv func(string) (string, bool)
}

// credential plays the LIBISCSI_CHAP_* environment from the Config's
// credentials, for the URL parser: the URL overrides them as it overrides
// the environment.
func (c *Config) credential(key string) (string, bool) {
	var v string
	switch key {
	case iscsiurl.EnvUser:
		v = c.Username
	case iscsiurl.EnvPassword:
		v = c.Secret.Reveal()
	case iscsiurl.EnvTargetUser:
		v = c.TargetUsername
	case iscsiurl.EnvTargetPassword:
		v = c.TargetSecret.Reveal()
	}
	return v, v != ""
}

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.InitiatorName == "" {
		out.InitiatorName = DefaultInitiatorName()
	}
	if out.LoginTimeout <= 0 {
		out.LoginTimeout = DefaultLoginTimeout
	}
	if out.CommandTimeout <= 0 {
		out.CommandTimeout = DefaultCommandTimeout
	}
	if out.AbortTimeout <= 0 {
		out.AbortTimeout = DefaultAbortTimeout
	}
	if out.MaxRedirects <= 0 {
		out.MaxRedirects = DefaultMaxRedirects
	}
	if out.MaxText <= 0 {
		out.MaxText = keys.DefaultMaxText
	}
	if out.NOPInterval == 0 {
		out.NOPInterval = DefaultNOPInterval
	}
	if out.NOPTimeout <= 0 {
		out.NOPTimeout = DefaultNOPTimeout
	}
	if out.ReplacementTimeout <= 0 {
		out.ReplacementTimeout = DefaultReplacementTimeout
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.Dialer == nil {
		out.Dialer = &BlockingDialer{}
	}
	return out
}

// validate refuses offers of what the session does not implement, before
// anything is sent: a target could accept them, and the session would then
// break its promise.
func (c *Config) validate() error {
	o := c.Operational
	unsupported := func(key string, v any, why string) error {
		return fmt.Errorf("iscsi: Config.Operational.%s=%v: %w: %s", key, v, errors.ErrUnsupported, why)
	}
	switch {
	case o.ErrorRecoveryLevel.Get(0) > 0:
		return unsupported(keys.KeyErrorRecoveryLevel, o.ErrorRecoveryLevel.V, "only ErrorRecoveryLevel=0 is implemented")
	case !o.DataPDUInOrder.Get(true):
		return unsupported(keys.KeyDataPDUInOrder, "No", "Data-In PDUs out of order are not implemented")
	case !o.DataSequenceInOrder.Get(true):
		return unsupported(keys.KeyDataSequenceInOrder, "No", "data sequences out of order are not implemented")
	case o.MaxConnections.Get(1) > 1:
		return unsupported(keys.KeyMaxConnections, o.MaxConnections.V, "one connection per session is implemented")
	}
	if reason := checkInitiatorName(c.InitiatorName); reason != "" {
		return fmt.Errorf("iscsi: Config.InitiatorName: %w", &iscsiurl.NameError{Name: c.InitiatorName, Reason: reason})
	}
	if reason := checkTextValue(c.InitiatorAlias); reason != "" {
		return fmt.Errorf("iscsi: Config.InitiatorAlias %s: %w: %s", strconv.Quote(c.InitiatorAlias), ErrInvalidKeyValue, reason)
	}
	return nil
}

// ErrInvalidKeyValue is the sentinel of a value that cannot be sent as a
// login key: a NUL byte would end it early and let the rest be read as
// more keys (RFC 7143 §6.1), so it is refused before anything is sent.
var ErrInvalidKeyValue = errors.New("invalid iSCSI key value")

// checkInitiatorName checks an iSCSI name we send, and returns why it is
// refused, or "". The name has a type ("iqn.", "eui." or "naa.", RFC 7143
// §4.2.7), at most 223 bytes, and only the characters RFC 3722's
// stringprep profile lets through: ASCII letters, digits, '-', '.', ':',
// and non-ASCII letters and digits. Upper-case letters are accepted, as the
// profile maps them to lower case (targets compare names that way).
func checkInitiatorName(name string) string {
	if name == "" {
		return "empty"
	}
	if len(name) > iscsiurl.MaxNameLen {
		return fmt.Sprintf("%d bytes long, more than %d", len(name), iscsiurl.MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return "not valid UTF-8"
	}
	for i, r := range name {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '.', r == ':':
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
		default:
			return fmt.Sprintf("character %q at byte %d not allowed (RFC 3722: letters, digits, '-', '.', ':')", r, i)
		}
	}
	if t := strings.ToLower(name[:min(4, len(name))]); t != "iqn." && t != "eui." && t != "naa." {
		return `must start with "iqn.", "eui." or "naa."`
	}
	return ""
}

// checkTextValue checks a value sent as is in a login key (an alias, a
// CHAP name): UTF-8 without NUL, at most 255 bytes (RFC 7143 §6.1).
func checkTextValue(v string) string {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return "holds a NUL byte, which would end the key early"
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	case len(v) > 255:
		return fmt.Sprintf("%d bytes long, more than 255", len(v))
	}
	return ""
}
