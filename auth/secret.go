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
//
// The value sits behind a pointer: when a Secret is an unexported field of a
// struct that fmt prints by reflection (where it cannot call our methods),
// fmt shows an address, never the value.
type Secret struct {
	p *string
}

// NewSecret wraps s.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{p: &s}
}

// Reveal returns the secret's value. Never log or print it.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether no secret was set.
func (s Secret) IsZero() bool { return s.p == nil || *s.p == "" }

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.Reveal() == o.Reveal() }

const redacted = "<redacted>"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s.IsZero() {
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
