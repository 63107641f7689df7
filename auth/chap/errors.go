package chap

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error this package returns unwraps to one of them,
// so callers decide with errors.Is; a *KeyError adds which key was at fault.
var (
	// ErrInvalidConfig: the Config or TargetConfig cannot be used.
	ErrInvalidConfig = errors.New("invalid CHAP configuration")
	// ErrMalformed: a value is not of the form its key requires (bad
	// hex or base64, identifier out of range, empty or oversized challenge).
	ErrMalformed = errors.New("malformed CHAP value")
	// ErrProtocol: the peer broke the CHAP sequence: a required key is
	// missing, a key appears twice, or a key arrived that the step does not allow.
	ErrProtocol = errors.New("CHAP protocol violation")
	// ErrAlgorithmNotOffered: the target chose a CHAP_A we did not offer.
	ErrAlgorithmNotOffered = errors.New("target chose a CHAP algorithm that was not offered")
	// ErrAlgorithmRejected: the target answered CHAP_A=Reject (or
	// NotUnderstood, Irrelevant): it speaks none of the algorithms offered.
	ErrAlgorithmRejected = errors.New("target rejected every CHAP algorithm offered")
	// ErrNoCommonAlgorithm: (target side) the initiator offered no
	// algorithm the responder accepts.
	ErrNoCommonAlgorithm = errors.New("no CHAP algorithm in common")
	// ErrReflection: the peer sent back a challenge that we issued, so that
	// we would compute the answer to our own challenge for it.
	ErrReflection = errors.New("CHAP reflection: peer sent a challenge we issued")
	// ErrTargetAuthFailed: mutual CHAP failed: the target answered our
	// challenge with the wrong name or response, or did not answer it.
	ErrTargetAuthFailed = errors.New("target failed mutual CHAP authentication")
	// ErrInitiatorAuthFailed: (target side) the initiator's CHAP_N or CHAP_R
	// is wrong. A target answers it with login status 0x0201.
	ErrInitiatorAuthFailed = errors.New("initiator failed CHAP authentication")
	// ErrDowngrade: CHAP was configured and required, and the target
	// answered AuthMethod=None.
	ErrDowngrade = errors.New("target answered AuthMethod=None but CHAP is required")
	// ErrCredentialsRequired: the target requires CHAP and no CHAP
	// credentials are configured.
	ErrCredentialsRequired = errors.New("target requires CHAP but no CHAP credentials are configured")
	// ErrAuthMethodRejected: the target answered AuthMethod=Reject (or
	// NotUnderstood, Irrelevant), or a method that was not offered.
	ErrAuthMethodRejected = errors.New("target did not accept the AuthMethod offered")
	// ErrState: a method was called out of order, or after an earlier error.
	ErrState = errors.New("CHAP exchange called out of order")
)

// KeyError reports what is wrong with one key of a CHAP message. It unwraps
// to one of the sentinel errors. Value holds at most 64 bytes of the
// offending value as received (challenges and responses are public on the
// wire; no secret is ever put here).
type KeyError struct {
	Key    string // the key, e.g. "CHAP_C"
	Value  string // the value received, truncated; empty when the key was missing
	Reason string // what is wrong, in words
	Err    error  // the sentinel: ErrMalformed, ErrProtocol, …
}

// Error implements error.
func (e *KeyError) Error() string {
	s := "chap: " + e.Key + ": " + e.Reason
	if e.Value != "" {
		s += " (got " + strconv.Quote(e.Value) + ")"
	}
	return s
}

// Unwrap returns the sentinel.
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(sentinel error, key, value, reason string) *KeyError {
	return &KeyError{Key: key, Value: truncate(value), Reason: reason, Err: sentinel}
}

// truncate bounds a peer-supplied value before it goes into an error.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
