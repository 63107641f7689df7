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

// redact returns s with what may be a password replaced by "<redacted>".
// It is deliberately more eager than the parser, since a user's password
// may hold the parser's delimiters: it works on strings with any scheme or
// none; with an '@' anywhere it hides everything from the password's start
// to the last '@' (so that a password holding '@', '?', '&' or '/' is hidden
// whole, at the price of hiding more of a URL whose query holds an '@');
// without an '@' it still hides what may be a password before a forgotten
// "@host"; and it hides the value of every key=value argument, after a '?'
// or after an '&' typed for one, except those known to hold no secret, and
// every unknown argument whole.
func redact(s string) string {
	head := ""
	rest := s
	if i := strings.Index(s, "://"); i >= 0 {
		head, rest = s[:i+3], s[i+3:]
	}
	// The password as the parser sees it: in the userinfo before the
	// first '@' (before any '?').
	if pre, _, _ := strings.Cut(rest, "?"); strings.IndexByte(pre, '@') >= 0 {
		at := strings.IndexByte(pre, '@')
		if p := passwordStart(pre[:at]); p >= 0 {
			rest = rest[:p+1] + redacted + rest[at:]
		}
	}
	// Arguments, so that an '@' inside a target_password is gone before
	// the last '@' is looked for.
	path, query, hasQuery := strings.Cut(rest, "?")
	pathArgs := strings.Split(path, "&")
	for i := 1; i < len(pathArgs); i++ {
		pathArgs[i] = redactArg(pathArgs[i])
	}
	rest = strings.Join(pathArgs, "&")
	if hasQuery {
		args := strings.Split(query, "&")
		for i, a := range args {
			args[i] = redactArg(a)
		}
		rest += "?" + strings.Join(args, "&")
	}
	if last := strings.LastIndexByte(rest, '@'); last >= 0 {
		first := strings.IndexByte(rest, '@')
		p := passwordStart(rest[:first])
		if p < 0 {
			p = passwordStart(rest[:last])
		}
		if p >= 0 {
			rest = rest[:p+1] + redacted + rest[last:]
		}
	} else if !strings.HasPrefix(rest, "[") {
		// No '@': libiscsi sees no password, but "user%pw" or "user:pw"
		// with a forgotten "@host" may still hold one. A host has no '%',
		// and a port (or unbracketed IPv6 address) only hex digits.
		end := strings.IndexAny(rest, "/?&")
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
	return head + rest
}

// redactArg returns one argument as it may be shown: whole when its key is
// known to hold no secret, with its value redacted for target_password,
// and redacted whole otherwise (an unknown "key" may be part of a password
// cut at an '&' or '?').
func redactArg(a string) string {
	k, _, ok := strings.Cut(a, "=")
	switch k {
	case "header_digest", "data_digest", "auth", "target_user", "force_usn", "iser", "LIBISCSI_RDMA_ACK_TIMEOUT", "":
		return a
	}
	if k == "target_password" || closeToArgument(k) {
		// A typo of an argument name is no secret: keep it for the
		// reason ("did you mean …?"), hide the value.
		if ok {
			return k + "=" + redacted
		}
		return a
	}
	return redacted
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
