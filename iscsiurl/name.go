package iscsiurl

import (
	"errors"
	"fmt"
	"strings"
)

// ErrName is the sentinel of every *NameError.
var ErrName = errors.New("invalid iSCSI name")

// NameError says why ValidateName rejected a name. Names are not secret.
type NameError struct {
	Name   string
	Reason string
}

// Error implements error.
func (e *NameError) Error() string {
	return "iscsiurl: invalid iSCSI name " + quote(e.Name) + ": " + e.Reason
}

// Unwrap returns ErrName.
func (e *NameError) Unwrap() error { return ErrName }

// ValidateName checks that name is an iSCSI name in its canonical (already
// case-folded) ASCII form, per RFC 7143 §4.2.7 (RFC 3720 §3.2.6):
//
//	iqn.YYYY-MM.<reversed domain>[:<anything>]   e.g. iqn.2001-04.com.example:storage.disk1
//	eui.<16 hex digits>                           e.g. eui.02004567A425678D
//	naa.<16 or 32 hex digits>                     e.g. naa.52004567BA64678D (RFC 3980)
//
// at most 223 bytes, of lowercase letters, digits, '-', '.' and ':' (hex
// digits may be upper case). Names with non-ASCII characters, which the RFC
// allows after stringprep, are rejected: this package does no stringprep.
// Parse does not call ValidateName: like libiscsi it sends whatever name the
// URL holds, leaving the judgement to the target.
func ValidateName(name string) error {
	bad := func(format string, args ...any) error {
		return &NameError{Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	if name == "" {
		return bad("empty")
	}
	if len(name) > MaxNameLen {
		return bad("%d bytes long, more than %d", len(name), MaxNameLen)
	}
	switch {
	case strings.HasPrefix(name, "iqn."):
		return validateIQN(name, bad)
	case strings.HasPrefix(name, "eui."):
		if !isHex(name[4:]) || len(name[4:]) != 16 {
			return bad(`"eui." must be followed by exactly 16 hex digits`)
		}
	case strings.HasPrefix(name, "naa."):
		if n := len(name[4:]); !isHex(name[4:]) || n != 16 && n != 32 {
			return bad(`"naa." must be followed by exactly 16 or 32 hex digits`)
		}
	default:
		return bad(`must start with "iqn.", "eui." or "naa." (lower case)`)
	}
	return nil
}

func validateIQN(name string, bad func(string, ...any) error) error {
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isNameByte(c) {
			if 'A' <= c && c <= 'Z' {
				return bad("upper-case %q: iSCSI names are compared in lower case, write them so", c)
			}
			return bad("character %q not allowed (lower-case letters, digits, '-', '.', ':')", c)
		}
	}
	// iqn.YYYY-MM.
	d := name[4:]
	if len(d) < 8 || !isDigits(d[:4]) || d[4] != '-' || !isDigits(d[5:7]) || d[7] != '.' {
		return bad(`"iqn." must be followed by a date "YYYY-MM."`)
	}
	if month := int(d[5]-'0')*10 + int(d[6]-'0'); month < 1 || month > 12 {
		return bad("month %s is not 01..12", d[5:7])
	}
	authority, _, _ := strings.Cut(d[8:], ":")
	if authority == "" {
		return bad("missing the naming authority (a reversed domain name) after the date")
	}
	for label := range strings.SplitSeq(authority, ".") {
		if label == "" {
			return bad("empty label in the naming authority %s", quote(authority))
		}
	}
	return nil
}

// isNameByte reports the ASCII bytes of a canonical iSCSI name.
func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':'
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) < 0 {
			return false
		}
	}
	return s != ""
}
