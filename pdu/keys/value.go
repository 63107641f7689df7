package keys

import (
	"fmt"
	"strconv"
	"strings"
)

// Values with a reserved meaning (RFC 7143 §6.2). Reject, Irrelevant and
// NotUnderstood are answers only; proposing one is a protocol error.
const (
	Yes           = "Yes"
	No            = "No"
	None          = "None"
	Reject        = "Reject"
	Irrelevant    = "Irrelevant"
	NotUnderstood = "NotUnderstood"
)

// IsReserved reports whether v is one of the answer-only constants Reject,
// Irrelevant and NotUnderstood.
func IsReserved(v string) bool {
	return v == Reject || v == Irrelevant || v == NotUnderstood
}

func valueError(kind, v string, detail string) error {
	if len(v) > 32 {
		v = v[:32] + "…"
	}
	return fmt.Errorf("%w: %s value %q: %s", ErrSyntax, kind, v, detail)
}

// ParseNumber reads a numerical value: a decimal constant or a hex constant
// with a "0x" or "0X" prefix (RFC 7143 §6.1), up to 64 bits.
func ParseNumber(s string) (uint64, error) {
	if s == "" {
		return 0, valueError("numerical", s, "empty")
	}
	digits, base := s, 10
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits, base = s[2:], 16
	}
	if digits == "" {
		return 0, valueError("numerical", s, "no digits after 0x")
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		ok := '0' <= c && c <= '9' || base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')
		if !ok {
			return 0, valueError("numerical", s, "not a decimal or 0x hex number")
		}
	}
	n, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		return 0, valueError("numerical", s, "does not fit in 64 bits")
	}
	return n, nil
}

// FormatNumber writes n in decimal, the form every target reads.
func FormatNumber(n uint64) string { return strconv.FormatUint(n, 10) }

// ParseBool reads a boolean value: exactly "Yes" or "No".
func ParseBool(s string) (bool, error) {
	switch s {
	case Yes:
		return true, nil
	case No:
		return false, nil
	}
	return false, valueError("boolean", s, `want "Yes" or "No"`)
}

// FormatBool returns "Yes" or "No".
func FormatBool(b bool) string {
	if b {
		return Yes
	}
	return No
}

// ParseList splits a list-of-values at commas. An empty list or an empty
// element is an error.
func ParseList(s string) ([]string, error) {
	if s == "" {
		return nil, valueError("list", s, "empty")
	}
	items := strings.Split(s, ",")
	for _, it := range items {
		if it == "" {
			return nil, valueError("list", s, "empty element")
		}
	}
	return items, nil
}
