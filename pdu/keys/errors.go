package keys

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error this package returns wraps one of them.
var (
	// ErrSyntax reports malformed text: a pair or a value that breaks the
	// grammar of RFC 7143 §6.1.
	ErrSyntax = errors.New("iscsi keys: malformed text")
	// ErrProtocol reports a negotiation that breaks the rules of RFC 7143
	// §6.2 and §13.
	ErrProtocol = errors.New("iscsi keys: negotiation protocol error")
	// ErrTooLarge reports text longer than the caller's limit.
	ErrTooLarge = errors.New("iscsi keys: text too large")
)

// SyntaxError is a malformed key=value pair. Key is the key when one could be
// read; Offset is the byte offset of the pair in the data segment. The value
// is never included: it may be a CHAP secret's response.
type SyntaxError struct {
	Key    string
	Offset int
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("iscsi keys: key %q at offset %d: %s", e.Key, e.Offset, e.Reason)
	}
	return fmt.Sprintf("iscsi keys: pair at offset %d: %s", e.Offset, e.Reason)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// ProtocolError is a negotiation that breaks the rules: an answer that was
// not offered, out of range, contrary to the key's result function, a key
// negotiated twice, and so on. Offered or Answered is empty when that side
// sent nothing.
type ProtocolError struct {
	Key      string
	Offered  string
	Answered string
	Reason   string
}

func (e *ProtocolError) Error() string {
	s := "iscsi keys: " + e.Key + ": " + e.Reason
	if e.Offered != "" {
		s += " (offered " + strconv.Quote(e.Offered)
		if e.Answered != "" {
			s += ", answered " + strconv.Quote(e.Answered)
		}
		return s + ")"
	}
	if e.Answered != "" {
		s += " (received " + strconv.Quote(e.Answered) + ")"
	}
	return s
}

// Unwrap returns ErrProtocol.
func (e *ProtocolError) Unwrap() error { return ErrProtocol }
