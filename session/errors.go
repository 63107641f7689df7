package session

import (
	"errors"
	"fmt"

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
// violated. A session that sees one is closed.
type ProtocolError struct {
	PDU    string // the PDU or phase, e.g. "Login Response", "SCSI Data-In"
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("iscsi: target protocol error in %s: %s", e.PDU, e.Reason)
}

func protoErr(pdu, format string, args ...any) error {
	return &ProtocolError{PDU: pdu, Reason: fmt.Sprintf(format, args...)}
}

// Sentinels for login status details, matched by LoginError.Is.
var (
	ErrAuthenticationFailed = errors.New("iscsi login: authentication failed (the target refused our credentials)")
	ErrAuthorizationFailed  = errors.New("iscsi login: authorization failed (the target does not allow this initiator)")
	ErrTargetNotFound       = errors.New("iscsi login: target not found")
	ErrTargetRemoved        = errors.New("iscsi login: target removed")
	ErrTargetUnavailable    = errors.New("iscsi login: target temporarily unavailable")
	ErrTooManyRedirects     = errors.New("iscsi login: too many redirections")
)

// LoginError is a login the target refused, with the status of its Login
// Response (RFC 7143 §11.13.5).
type LoginError struct {
	Class  uint8
	Detail uint8
	Target string // the target name asked for, "" for discovery
	Portal string
	// NoCredentials is set when we offered no CHAP: an authentication
	// failure then means the target requires CHAP.
	NoCredentials bool
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
	where := e.Portal
	if e.Target != "" {
		where = e.Target + " at " + e.Portal
	}
	if e.Status() == 0x0201 && e.NoCredentials {
		what = "authentication failed: the target requires CHAP and no credentials were given (URL user%password@ or LIBISCSI_CHAP_USERNAME/LIBISCSI_CHAP_PASSWORD)"
	}
	return fmt.Sprintf("iscsi login to %s: status 0x%04x: %s", where, e.Status(), what)
}

// Is matches the sentinel of the status detail.
func (e *LoginError) Is(target error) bool {
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
