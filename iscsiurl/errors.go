package iscsiurl

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error Parse and ParsePortal return is an *Error that
// unwraps to exactly one of these.
var (
	ErrScheme      = errors.New(`URL must start with "iscsi://"`)
	ErrISER        = errors.New("iSER transport not supported")
	ErrHost        = errors.New("bad host")
	ErrPort        = errors.New("bad port")
	ErrTarget      = errors.New("bad target name")
	ErrLUN         = errors.New("bad LUN")
	ErrArgument    = errors.New("bad URL argument")
	ErrDigest      = errors.New("bad digest")
	ErrAuth        = errors.New("bad CHAP algorithm")
	ErrCredentials = errors.New("incomplete CHAP credentials")
)

// Error describes why a URL did not parse. Input is the URL with every
// password replaced by "<redacted>"; Reason never quotes a password.
type Error struct {
	Input  string // the URL, passwords redacted
	Err    error  // one of the sentinel errors
	Reason string // what exactly is wrong, or ""
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("iscsiurl: ")
	b.WriteString(e.Err.Error())
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	b.WriteString(" in ")
	b.WriteString(quote(e.Input))
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

const redacted = "<redacted>"

// Syntax is libiscsi's description of a full URL, handy for usage messages.
const Syntax = "iscsi://[<username>[%<password>]@]<host>[:<port>]/<target-iqn>/<lun>"

// PortalSyntax is libiscsi's description of a portal (discovery) URL.
const PortalSyntax = "iscsi://[<username>[%<password>]@]<host>[:<port>]"

// redact returns s with the password parts replaced by "<redacted>". It is
// deliberately more eager than the parser: it works on strings with any
// scheme or none; without an '@' it still hides what may be a password
// before a forgotten "@host"; and it hides the value of every argument except
// those known to hold no secret, so that a misspelt target_password does not
// end up in an error.
func redact(s string) string {
	head := ""
	rest := s
	if i := strings.Index(s, "://"); i >= 0 {
		head, rest = s[:i+3], s[i+3:]
	}
	query, hasQuery := "", false
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query, hasQuery = rest[:i], rest[i+1:], true
	}
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		if p := passwordStart(rest[:at]); p >= 0 {
			rest = rest[:p+1] + redacted + rest[at:]
		}
	} else if !strings.HasPrefix(rest, "[") {
		// No '@': libiscsi sees no password, but "user%pw" or "user:pw"
		// with a forgotten "@host" may still hold one. A host has no '%',
		// and a port (or unbracketed IPv6 address) only hex digits.
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if p := strings.IndexByte(rest[:end], '%'); p >= 0 {
			rest = rest[:p+1] + redacted + rest[end:]
		} else if p := strings.IndexByte(rest[:end], ':'); p >= 0 &&
			strings.Trim(rest[p+1:end], "0123456789abcdefABCDEF:.,") != "" {
			rest = rest[:p+1] + redacted + rest[end:]
		}
	}
	if !hasQuery {
		return head + rest
	}
	args := strings.Split(query, "&")
	for i, a := range args {
		k, _, ok := strings.Cut(a, "=")
		switch k {
		case "header_digest", "data_digest", "auth", "target_user", "force_usn", "iser":
		default:
			if ok {
				args[i] = k + "=" + redacted
			}
		}
	}
	return head + rest + "?" + strings.Join(args, "&")
}

// passwordStart returns the index of the byte that introduces the password in
// userinfo (the first '%', or else the first ':'), or -1.
func passwordStart(userinfo string) int {
	if i := strings.IndexByte(userinfo, '%'); i >= 0 {
		return i
	}
	return strings.IndexByte(userinfo, ':')
}

// quote quotes s like %q but keeps it readable; it is used on redacted text
// and on parts of a URL that cannot hold a password.
func quote(s string) string {
	const max = 300
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}
