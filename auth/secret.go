// Package auth holds what every authentication method shares: a Secret type
// that never prints its value.
package auth

import (
	"fmt"
	"log/slog"
)

// Secret is a password or CHAP secret. It formats as "<redacted>" through fmt
// (every verb), log/slog and encoding/json, so a Secret that reaches a log line
// or an error message by accident shows nothing. Reveal returns the value for
// the one place that needs it: the authentication computation.
type Secret struct {
	v string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret's value. Never log or print it.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no secret was set.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.v == o.v }

const redacted = "<redacted>"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return "auth.Secret{" + s.String() + "}" }

// Format implements fmt.Formatter so that no verb (%x, %q, %d …) can reach the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (and so JSON) with the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
