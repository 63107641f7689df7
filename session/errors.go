package session

import (
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/conn"
)

// Digest failures. Both also wrap a *digest.MismatchError with the CRC32C
// received and the one computed.
var (
	// ErrHeaderDigest: a PDU header failed its check. The connection can no
	// longer be trusted: the session ends with an error wrapping it.
	ErrHeaderDigest = conn.ErrHeaderDigest
	// ErrDataDigest: a data segment failed its check. The command it
	// belongs to fails with an error wrapping it; the session goes on.
	ErrDataDigest = conn.ErrDataDigest
)

// ErrSessionClosed is what every error that ends a session unwraps to: the
// connection died, the target logged us out, or Close was called. The
// error wrapping it carries the cause.
var ErrSessionClosed = errors.New("iscsi: session closed")

// closedError is ErrSessionClosed with its cause.
type closedError struct{ cause error }

func (e *closedError) Error() string {
	if e.cause == nil {
		return ErrSessionClosed.Error()
	}
	return ErrSessionClosed.Error() + ": " + e.cause.Error()
}

func (e *closedError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrSessionClosed}
	}
	return []error{ErrSessionClosed, e.cause}
}

// ProtocolError reports a target that broke RFC 7143: it names what was
// violated. A session that sees one is closed. A violation of the login
// negotiation rules wraps the *keys.ProtocolError (or *keys.SyntaxError)
// that says which key: errors.As finds both.
type ProtocolError struct {
	PDU    string // the PDU or phase, e.g. "Login Response", "SCSI Data-In"
	Reason string
	Err    error // the underlying error, when there is one
}

func (e *ProtocolError) Error() string {
	reason := e.Reason
	if reason == "" && e.Err != nil {
		reason = e.Err.Error()
	}
	return fmt.Sprintf("iscsi: target protocol error in %s: %s", e.PDU, reason)
}

// Unwrap returns the underlying error, or nil.
func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(pdu, format string, args ...any) error {
	return &ProtocolError{PDU: pdu, Reason: fmt.Sprintf(format, args...)}
}

// wrapProto makes err, found in what the target sent in pdu (a violation
// of the negotiation rules, malformed text), a *ProtocolError wrapping it.
func wrapProto(pdu string, err error) error {
	if err == nil {
		return nil
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return err
	}
	return &ProtocolError{PDU: pdu, Err: err}
}

// Sentinels for login failures, matched by LoginError.Is.
var (
	// ErrAuthenticationFailed: the target refused our CHAP credentials
	// (status 0x0201), or the target failed mutual CHAP (its answer to our
	// challenge did not verify; the error also wraps chap.ErrTargetAuthFailed).
	ErrAuthenticationFailed = errors.New("iscsi login: authentication failed")
	ErrAuthorizationFailed  = errors.New("iscsi login: authorization failed (the target does not allow this initiator)")
	ErrTargetNotFound       = errors.New("iscsi login: target not found")
	ErrTargetRemoved        = errors.New("iscsi login: target removed")
	ErrTargetUnavailable    = errors.New("iscsi login: target temporarily unavailable")
	ErrTooManyRedirects     = errors.New("too many login redirections")
)

// LoginError is a failed Dial or Discover: it names the portal and the
// target, as *url.Error names the URL in net/http, and wraps the cause.
// Every error of Dial, DialURL, Discover and DiscoverURL after the URL was
// parsed is one.
//
// When the target refused the login, Class and Detail hold the status of
// its Login Response (RFC 7143 §11.13.5) and Err, when set, says what was
// refused (e.g. a *chap.KeyError wrapping chap.ErrAlgorithmRejected for a
// target that speaks none of the CHAP algorithms offered). Otherwise Class
// is 0 and Err is the cause: a connection error, a timeout, a
// *ProtocolError, a CHAP failure (mutual CHAP that does not verify matches
// ErrAuthenticationFailed), and so on.
type LoginError struct {
	Class  uint8
	Detail uint8
	Target string // the target name asked for, "" for discovery
	Portal string // host:port
	// NoCredentials is set when we offered no CHAP: an authentication
	// failure then means the target requires CHAP.
	NoCredentials bool
	Err           error
}

var loginDetails = map[uint16]string{
	0x0101: "target moved temporarily",
	0x0102: "target moved permanently",
	0x0200: "initiator error",
	0x0201: "authentication failed (the target refused our credentials)",
	0x0202: "authorization failed (the target does not allow this initiator)",
	0x0203: "target not found",
	0x0204: "target removed",
	0x0205: "unsupported iSCSI version",
	0x0206: "too many connections",
	0x0207: "missing parameter",
	0x0208: "cannot include connection in session",
	0x0209: "session type not supported",
	0x020a: "session does not exist",
	0x020b: "request invalid during login",
	0x0300: "target error",
	0x0301: "service unavailable",
	0x0302: "out of resources",
}

// Status returns class and detail as one number, e.g. 0x0201.
func (e *LoginError) Status() uint16 { return uint16(e.Class)<<8 | uint16(e.Detail) }

func (e *LoginError) Error() string {
	where := e.Portal
	if e.Target != "" {
		where = e.Target + " at " + e.Portal
	}
	if e.Class == 0 {
		cause := "failed"
		if e.Err != nil {
			cause = e.Err.Error()
		}
		return fmt.Sprintf("iscsi login to %s: %s", where, cause)
	}
	what, ok := loginDetails[e.Status()]
	if !ok {
		switch e.Class {
		case 2:
			what = "initiator error"
		case 3:
			what = "target error"
		default:
			what = "unknown status"
		}
	}
	switch {
	case e.Err != nil:
		what = e.Err.Error()
	case e.Status() == 0x0201 && e.NoCredentials:
		what = "authentication failed: the target requires CHAP and no credentials were given (in the URL as user%password@, in the Config, or in LIBISCSI_CHAP_USERNAME and LIBISCSI_CHAP_PASSWORD)"
	}
	return fmt.Sprintf("iscsi login to %s: status 0x%04x: %s", where, e.Status(), what)
}

// Unwrap returns the cause, or nil.
func (e *LoginError) Unwrap() error { return e.Err }

// Is matches the sentinel of the status detail, and ErrAuthenticationFailed
// for a target that failed mutual CHAP.
func (e *LoginError) Is(target error) bool {
	if target == ErrAuthenticationFailed && errors.Is(e.Err, chap.ErrTargetAuthFailed) {
		return true
	}
	switch e.Status() {
	case 0x0201:
		return target == ErrAuthenticationFailed
	case 0x0202:
		return target == ErrAuthorizationFailed
	case 0x0203:
		return target == ErrTargetNotFound
	case 0x0204:
		return target == ErrTargetRemoved
	case 0x0301:
		return target == ErrTargetUnavailable
	}
	return false
}
