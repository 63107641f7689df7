package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// Digest failures. Both also wrap a *digest.MismatchError with the CRC32C
// received and the one computed.
var (
	// ErrHeaderDigest: a PDU header failed its check. The connection can no
	// longer be trusted: it is replaced and the commands in flight sent
	// again (with DisableRecovery, the session ends with an error wrapping it).
	ErrHeaderDigest = conn.ErrHeaderDigest
	// ErrDataDigest: a data segment failed its check. The connection is
	// replaced and the command sent again, so the caller gets the right
	// bytes; with DisableRecovery, the one command fails with an error
	// wrapping it and the session goes on.
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

// Errors of the full-feature phase.
var (
	// ErrClosedByUser is the cause of a session ended by Close.
	ErrClosedByUser = errors.New("closed by the application")
	// ErrLoggedOut is the cause of a session ended by a logout.
	ErrLoggedOut = errors.New("logged out")
	// ErrNotConnected is what Logout returns, and the cause of the
	// session's end, when the connection was lost and not yet replaced:
	// there is nobody to log out from, and the session is closed at once.
	ErrNotConnected = errors.New("logout while not connected (the connection was lost and is being replaced): closed without a logout")
	// ErrFutureReused is what Wait returns on a Future that was already
	// waited for (through any copy of it), and on the zero Future.
	ErrFutureReused = errors.New("iscsi: Future already waited for (or a copy of one, or the zero Future)")
	// ErrLUNReset is the error of commands that a LUN reset ended.
	ErrLUNReset = errors.New("iscsi: command ended by a LUN reset")
	// ErrVectorLength: the vector given to a command does not match its
	// transfer (for Read and Write: blocks × block size bytes).
	ErrVectorLength = errors.New("iscsi: vector length does not match the transfer")
	// ErrBeyondEnd: a write would pass the end of the LUN.
	ErrBeyondEnd = errors.New("iscsi: write beyond the end of the LUN")
	// ErrNegativeOffset: ReadAt or WriteAt with a negative offset.
	ErrNegativeOffset = errors.New("iscsi: negative offset")

	// ErrMayHaveExecuted is what a command that had been sent, and then
	// failed without an answer that says what happened, matches: it may
	// have executed, in part or whole. A command that changes the medium
	// (a WRITE, UNMAP, ...) and fails with an error that does not match it
	// did not execute and will not. The errors that match it:
	// NotReplayedError and ReplayLimitError (a lost connection), and
	// InFlightError (a caller that gave up on the command, a closed session).
	ErrMayHaveExecuted = errors.New("iscsi: the command may have executed")
	// ErrCommandTimeout is what a command that ReadAt, WriteAt or a stream
	// sent matches when Config.CommandTimeout passed before its answer
	// (with context.DeadlineExceeded).
	ErrCommandTimeout = errors.New("iscsi: no answer within Config.CommandTimeout")
	// ErrTargetSilent: the target answered no NOP-Out ping in time.
	ErrTargetSilent = errors.New("iscsi: the target stopped answering")

	errTooManyTasks    = errors.New("iscsi: too many tasks in flight")
	errLogoutRequested = errors.New("the target asked for a logout")
	errConnStalled     = errors.New("connection stalled while a command's buffers were in use")
	errAborted         = errors.New("iscsi: command aborted")
	// errReinstated ends the tasks a reconnect left behind unanswered: the
	// target ended them when it reinstated the session.
	errReinstated = &endedError{fn: reinstatement}
)

// OpError is the error of a SCSI command or a block operation: which
// operation, on which LUN of which target, and where on the LUN. Err is the
// cause: a *scsi.StatusError, an error wrapping ErrSessionClosed, a context
// error, a *ProtocolError... errors.Is and errors.As see through it.
type OpError struct {
	Op     string // the command ("READ(16)", "INQUIRY") or the method ("ReadAt")
	Portal string // host:port of the session
	Target string // the target's name
	LUN    scsi.LUN
	LBA    int64 // the first block the command addressed; -1 if none
	Offset int64 // the byte offset of the LUN the failed transfer started at; -1 if none
	Err    error
}

func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString("iscsi ")
	b.WriteString(e.Op)
	fmt.Fprintf(&b, " LUN %v", e.LUN)
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " offset %d", e.Offset)
	}
	if e.LBA >= 0 {
		fmt.Fprintf(&b, " lba %d", e.LBA)
	}
	if e.Target != "" || e.Portal != "" {
		fmt.Fprintf(&b, " (%s at %s)", e.Target, e.Portal)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *OpError) Unwrap() error { return e.Err }

// WrongUnitError is a LUN that is not the device the application asked for:
// its unit serial number (VPD page 0x80) differs from the URL's force_usn.
type WrongUnitError struct {
	Want, Got string
}

func (e *WrongUnitError) Error() string {
	return fmt.Sprintf("iscsi: the LUN's unit serial number is %q, not %q (force_usn)", strings.TrimSpace(e.Got), strings.TrimSpace(e.Want))
}

// RejectError is a command the target rejected with a Reject PDU.
type RejectError struct{ Reason uint8 }

func (e *RejectError) Error() string {
	return "iscsi: target rejected the command: " + pdu.RejectReasonString(e.Reason)
}

// TaskManagementError is a task management function the target did not
// complete.
type TaskManagementError struct {
	Function uint8
	Response uint8
}

var tmfResponses = map[uint8]string{
	pdu.TMRTaskDoesNotExist:     "task does not exist",
	pdu.TMRLUNDoesNotExist:      "LUN does not exist",
	pdu.TMRTaskStillAllegiant:   "task still allegiant",
	pdu.TMRReassignNotSupported: "task allegiance reassignment not supported",
	pdu.TMRFunctionNotSupported: "function not supported",
	pdu.TMRAuthorizationFailed:  "authorization failed",
	pdu.TMRFunctionRejected:     "function rejected",
}

func (e *TaskManagementError) Error() string {
	what, ok := tmfResponses[e.Response]
	if !ok {
		what = fmt.Sprintf("response %d", e.Response)
	}
	return fmt.Sprintf("iscsi: task management function %s: %s", TMFName(e.Function), what)
}

// NotReplayedError is a command in flight when its connection was lost,
// which was not sent again on the new connection because repeating it is
// not safe (COMPARE AND WRITE, PERSISTENT RESERVE OUT, RESERVE, RELEASE,
// any command Config.ReplaySafe does not allow): it may have executed.
// It matches ErrMayHaveExecuted.
type NotReplayedError struct{ Cause error }

func (e *NotReplayedError) Error() string {
	return ErrMayHaveExecuted.Error() + " (not sent again: not safe to repeat; connection lost: " + fmt.Sprint(e.Cause) + ")"
}

func (e *NotReplayedError) Unwrap() []error { return []error{ErrMayHaveExecuted, e.Cause} }

// RecoveryError is why a session gave up replacing a lost connection:
// ReplacementTimeout passed (Timeout) or MaxReconnects attempts failed.
// It is the cause of the session's end, so every waiting command fails
// with an error wrapping it and ErrSessionClosed.
type RecoveryError struct {
	Cause    error // the loss, or the last failed attempt
	Attempts int
	Timeout  bool
}

func (e *RecoveryError) Error() string {
	why := fmt.Sprintf("%d reconnect attempts failed", e.Attempts)
	if e.Timeout {
		why = fmt.Sprintf("replacement timeout after %d attempts", e.Attempts)
	}
	return "iscsi: connection not replaced (" + why + "): " + fmt.Sprint(e.Cause)
}

func (e *RecoveryError) Unwrap() error { return e.Cause }

// DeviceChangedError is a LUN that, after a reconnect, is not the device it
// was: its unit serial number or device identifiers differ. The session
// ends with it before any command is sent again: nothing is written to the
// other device.
type DeviceChangedError struct {
	LUN      scsi.LUN
	Was, Now string // unit serial numbers (VPD page 0x80)
}

func (e *DeviceChangedError) Error() string {
	return fmt.Sprintf("iscsi: LUN %v is another device after the reconnect (serial %q, was %q)",
		e.LUN, strings.TrimSpace(e.Now), strings.TrimSpace(e.Was))
}

// ReplayLimitError is a command that was in flight each time its
// connection was lost, Sent times in all: it is not sent again, so that a
// target that fails on it cannot hold it forever. A write may have been
// executed. It matches ErrMayHaveExecuted.
type ReplayLimitError struct {
	Sent  int
	Cause error // the last loss
}

func (e *ReplayLimitError) Error() string {
	return fmt.Sprintf("iscsi: the connection was lost each of the %d times the command was sent; not sending it again (last loss: %v)", e.Sent, e.Cause)
}

func (e *ReplayLimitError) Unwrap() []error { return []error{ErrMayHaveExecuted, e.Cause} }

// InFlightError is a command that had been sent when its caller gave up on
// it (its context ended, or the target broke the protocol on it), or when
// the session ended (Close, Logout, recovery giving up): it may have
// executed. It matches ErrMayHaveExecuted, Why and Ended.
//
// For a command that changes the medium, Ended says how the target ended
// it before the call returned (an error matching ErrAborted: ABORT TASK or
// a reinstated session; ErrLUNReset): nothing of it executes after that.
// When Ended (or Why) matches ErrSessionClosed, the session ended first:
// then the target may still execute it, unless the application fences it
// (see docs/RELIABILITY.md: dial again with Config.ISID set to the closed
// session's ISID).
type InFlightError struct {
	Why   error // the context's error, the target's protocol error, or the session's end
	Ended error // what ended the task on the target, or nil
}

func (e *InFlightError) Error() string {
	msg := fmt.Sprint(e.Why) + " (the command had been sent: it may have executed"
	if e.Ended != nil {
		msg += "; ended by: " + e.Ended.Error()
	}
	return msg + ")"
}

func (e *InFlightError) Unwrap() []error {
	if e.Ended == nil {
		return []error{ErrMayHaveExecuted, e.Why}
	}
	return []error{ErrMayHaveExecuted, e.Why, e.Ended}
}

// commandTimeout is the cause of a command context that
// Config.CommandTimeout ended: it matches ErrCommandTimeout and
// context.DeadlineExceeded.
type commandTimeout struct{ d time.Duration }

func (e commandTimeout) Error() string {
	return fmt.Sprintf("%v (%v): %v", ErrCommandTimeout, e.d, context.DeadlineExceeded)
}

func (e commandTimeout) Is(target error) bool {
	return target == ErrCommandTimeout || target == context.DeadlineExceeded
}

// withCommandTimeout bounds ctx by Config.CommandTimeout, with a cause
// that says so.
func (s *Session) withCommandTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.cfg.CommandTimeout, s.timeoutCause)
}

// ctxErr is the error of an ended context: its cause when the cause
// matches its error or is a command timeout, else its error.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err && (errors.Is(cause, err) || errors.Is(cause, ErrCommandTimeout)) {
		return cause
	}
	return err
}
