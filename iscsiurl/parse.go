package iscsiurl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
)

// Environment variables libiscsi reads for CHAP credentials.
const (
	EnvUser           = "LIBISCSI_CHAP_USERNAME"
	EnvPassword       = "LIBISCSI_CHAP_PASSWORD"
	EnvTargetUser     = "LIBISCSI_CHAP_TARGET_USERNAME"
	EnvTargetPassword = "LIBISCSI_CHAP_TARGET_PASSWORD"
)

// Parser parses URLs, taking credentials from an environment.
//
// Each credential starts as its environment variable (EnvUser, EnvPassword,
// EnvTargetUser, EnvTargetPassword) and the URL overrides it, as in libiscsi:
//
//   - "user@" in the URL replaces the user and keeps the environment's
//     password; "user%pw@" replaces both. "@" alone or "%pw@" sets an empty
//     user, which turns CHAP off whatever the environment says.
//   - target_user= and target_password= replace the environment's target
//     user and password one by one; an empty value clears it.
//   - Then all or nothing: without both a user and a password there is no
//     CHAP at all, and without both a target user and a target password (or
//     without CHAP) there is no mutual CHAP. An empty variable counts as unset.
//
// One deliberate difference: if the URL itself gives target_user or
// target_password a non-empty value and mutual CHAP nevertheless ends up off,
// parsing fails with ErrCredentials rather than logging in without checking
// the target.
type Parser struct {
	// LookupEnv returns the value of an environment variable, like
	// os.LookupEnv. Nil means an empty environment.
	LookupEnv func(key string) (string, bool)
}

// Parse parses a full URL, iscsi://[<user>[%<password>]@]<host>[:<port>]/<target-iqn>/<lun>,
// with credentials from the process environment (as libiscsi's
// iscsi_parse_full_url). Use a Parser to choose the environment.
func Parse(s string) (*URL, error) {
	return Parser{LookupEnv: os.LookupEnv}.Parse(s)
}

// ParsePortal parses a portal (discovery) URL, iscsi://[<user>[%<password>]@]<host>[:<port>],
// with credentials from the process environment (as libiscsi's
// iscsi_parse_portal_url). Anything after a '/' following the host is
// ignored, as libiscsi does, so Target is "" and LUN 0.
func ParsePortal(s string) (*URL, error) {
	return Parser{LookupEnv: os.LookupEnv}.ParsePortal(s)
}

// Parse parses a full URL; see the package-level Parse.
func (p Parser) Parse(s string) (*URL, error) { return p.parse(s, true) }

// ParsePortal parses a portal URL; see the package-level ParsePortal.
func (p Parser) ParsePortal(s string) (*URL, error) { return p.parse(s, false) }

func (p Parser) env(key string) string {
	if p.LookupEnv == nil {
		return ""
	}
	v, _ := p.LookupEnv(key)
	return v
}

func (p Parser) parse(s string, full bool) (*URL, error) {
	return p.parseOnce(s, full, false)
}

// parseOnce parses s. A failure is reported on the redacted text: the
// parser may have cut a password where the user did not mean it to end (at
// an '@', '?' or '&' inside it), and a reason quoting part of s could then
// quote part of the password. So when redact changed something, the reason
// is that of parsing the redacted text again (reparse set), or, if that
// fails otherwise or not at all, one that quotes nothing.
func (p Parser) parseOnce(s string, full, reparse bool) (*URL, error) {
	fail := func(err error, format string, args ...any) (*URL, error) {
		red := redact(s)
		reason := fmt.Sprintf(format, args...)
		if red != s && !reparse {
			_, rerr := p.parseOnce(red, full, true)
			var e *Error
			if errors.As(rerr, &e) && e.Err == err {
				reason = e.Reason
			} else {
				reason = "malformed around the credentials (shown redacted); a password with '@', '?', '&' or '/' " +
					"is safer in " + EnvPassword
			}
		}
		return nil, &Error{Input: red, Err: err, Reason: reason}
	}
	syntax := Syntax
	if !full {
		syntax = PortalSyntax
	}
	rest, ok := strings.CutPrefix(s, "iscsi://")
	if !ok {
		if strings.HasPrefix(s, "iser://") {
			return fail(ErrISER, `"iser://" URL`)
		}
		return fail(ErrScheme, "the form is %s", syntax)
	}

	u := &URL{Port: DefaultPort}
	user, passwd := p.env(EnvUser), p.env(EnvPassword)
	tuser, tpasswd := p.env(EnvTargetUser), p.env(EnvTargetPassword)
	mutualAsked := false

	rest, query, _ := strings.Cut(rest, "?")
	for arg := range strings.SplitSeq(query, "&") {
		if arg == "" {
			continue
		}
		key, value, hasValue := strings.Cut(arg, "=")
		switch key {
		case "iser", "LIBISCSI_RDMA_ACK_TIMEOUT":
			return fail(ErrISER, "argument %s", quote(key))
		case "header_digest", "data_digest", "auth", "target_user", "target_password", "force_usn":
		default:
			// Not quoted: after an '&' or '?' inside a password, the
			// "argument" is part of the password.
			return fail(ErrArgument, "unknown argument%s", suggestArgument(key))
		}
		if !hasValue {
			return fail(ErrArgument, "argument %s needs =<value>", quote(key))
		}
		switch key {
		case "header_digest", "data_digest":
			d, ok := parseDigest(value)
			if !ok {
				return fail(ErrDigest, "%s=%s: want none, crc32c, none-crc32c or crc32c-none", key, quote(value))
			}
			if key == "header_digest" {
				u.HeaderDigest = d
			} else {
				u.DataDigest = d
			}
		case "auth":
			algs, reason := parseAlgorithms(value)
			if reason != "" {
				return fail(ErrAuth, "%s", reason)
			}
			u.Auth = algs
		case "target_user":
			tuser = value
			mutualAsked = mutualAsked || value != ""
		case "target_password":
			tpasswd = value
			mutualAsked = mutualAsked || value != ""
		case "force_usn":
			u.UnitSerialNumber = value
		}
	}

	if userinfo, after, ok := strings.Cut(rest, "@"); ok {
		rest = after
		user = userinfo
		if i := passwordStart(userinfo); i >= 0 {
			user, passwd = userinfo[:i], userinfo[i+1:]
		}
	}

	hostport, path, hasPath := strings.Cut(rest, "/")
	var f *fault
	if u.Host, u.Port, f = parseHostPort(hostport); f != nil {
		return fail(f.err, "%s", f.reason)
	}
	var reason string

	if full {
		if !hasPath {
			return fail(ErrTarget, "missing /<target-iqn>/<lun>; the form is %s", syntax)
		}
		target, lun, hasLUN := strings.Cut(path, "/")
		if target == "" {
			return fail(ErrTarget, "empty target name; the form is %s", syntax)
		}
		if u.Target, reason = decodeTarget(target); reason != "" {
			return fail(ErrTarget, "%s", reason)
		}
		if !hasLUN {
			return fail(ErrLUN, "missing /<lun> after the target name; the form is %s", syntax)
		}
		if u.LUN, reason = parseLUN(lun); reason != "" {
			return fail(ErrLUN, "%s", reason)
		}
	}

	if user != "" && passwd != "" {
		u.User, u.Password = user, auth.NewSecret(passwd)
		if tuser != "" && tpasswd != "" {
			u.TargetUser, u.TargetPassword = tuser, auth.NewSecret(tpasswd)
		}
	}
	if mutualAsked && u.TargetUser == "" {
		if u.User == "" {
			return fail(ErrCredentials, "mutual CHAP (target_user, target_password) needs the initiator's user and password, "+
				"from the URL or %s and %s", EnvUser, EnvPassword)
		}
		return fail(ErrCredentials, "mutual CHAP needs both target_user and target_password (or %s and %s)",
			EnvTargetUser, EnvTargetPassword)
	}
	return u, nil
}

// parseHostPort splits "host[:port][,tpgt]" or "[ipv6][:port][,tpgt]".
func parseHostPort(hp string) (host string, port int, f *fault) {
	port = DefaultPort
	if hp == "" {
		return "", 0, newFault(ErrHost, "empty host")
	}
	var portText string
	hasPort := false
	if hp[0] == '[' {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", 0, newFault(ErrHost, "unterminated IPv6 address: missing ']'")
		}
		host = hp[1:end]
		after, r := stripTPGT(hp[end+1:])
		if r != "" {
			return "", 0, newFault(ErrHost, r)
		}
		if after != "" {
			if after[0] != ':' {
				return "", 0, newFault(ErrHost, fmt.Sprintf("unexpected %s after ']'", quote(after)))
			}
			portText, hasPort = after[1:], true
		}
		if host == "" {
			return "", 0, newFault(ErrHost, "empty IPv6 address in brackets")
		}
		addr, perr := netip.ParseAddr(host)
		if perr != nil || !addr.Is6() {
			return "", 0, newFault(ErrHost, fmt.Sprintf("%s in brackets is not an IPv6 address", quote(host)))
		}
		if zone := addr.Zone(); zone != "" && strings.IndexFunc(zone, notHostRune) >= 0 {
			return "", 0, newFault(ErrHost, fmt.Sprintf("bad IPv6 zone %s", quote(zone)))
		}
	} else {
		var r string
		if hp, r = stripTPGT(hp); r != "" {
			return "", 0, newFault(ErrHost, r)
		}
		host = hp
		if i := strings.LastIndexByte(hp, ':'); i >= 0 {
			host, portText, hasPort = hp[:i], hp[i+1:], true
		}
		if strings.IndexByte(host, ':') >= 0 {
			return "", 0, newFault(ErrHost, "an IPv6 address must be written in brackets, as in iscsi://[::1]:3260")
		}
		if host == "" {
			return "", 0, newFault(ErrHost, "empty host")
		}
		if i := strings.IndexFunc(host, notHostRune); i >= 0 {
			r, _ := utf8.DecodeRuneInString(host[i:])
			return "", 0, newFault(ErrHost, fmt.Sprintf("character %q not allowed in a host name", r))
		}
	}
	if hasPort {
		if portText == "" {
			return "", 0, newFault(ErrPort, "empty port after ':'")
		}
		if strings.Trim(portText, "0123456789") != "" {
			// Not quoted: without an '@' this may be "user:password".
			return "", 0, newFault(ErrPort, "port is not a decimal number")
		}
		n, ok := decimal(portText, 65535)
		if !ok {
			return "", 0, newFault(ErrPort, fmt.Sprintf("port %s is not in 1..65535", quote(portText)))
		}
		if n == 0 {
			return "", 0, newFault(ErrPort, "port 0")
		}
		port = n
	}
	return host, port, nil
}

// fault is an error found by a helper of parse, before it is wrapped in an *Error.
type fault struct {
	err    error
	reason string
}

func newFault(err error, reason string) *fault { return &fault{err, reason} }

// stripTPGT removes a ",<portal group tag>" suffix, which libiscsi accepts
// (and ignores) so that SendTargets addresses can be pasted into a URL.
func stripTPGT(s string) (string, string) {
	i := strings.LastIndexByte(s, ',')
	if i < 0 {
		return s, ""
	}
	if _, ok := decimal(s[i+1:], 65535); !ok {
		return "", fmt.Sprintf("portal group tag %s is not a number in 0..65535", quote(s[i+1:]))
	}
	return s[:i], ""
}

// notHostRune reports runes not allowed in a host name or IPv6 zone.
func notHostRune(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_')
}

// decimal parses plain ASCII digits (no sign, no space) with a value up to max.
func decimal(s string, max int) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= max
}

func parseLUN(s string) (int, string) {
	if s == "" {
		return 0, "empty LUN"
	}
	if strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Sprintf("LUN %s is not a decimal number", quote(s))
	}
	n, ok := decimal(s, MaxLUN)
	if !ok {
		return 0, fmt.Sprintf("LUN %s is larger than %d", quote(s), MaxLUN)
	}
	return n, ""
}

// MaxNameLen is the longest iSCSI name in bytes (RFC 7143 §4.2.7.1).
const MaxNameLen = 223

// decodeTarget %-decodes a target name. Unlike libiscsi, which decodes
// malformed escapes into garbage, it rejects them, and control characters,
// invalid UTF-8 and names longer than MaxNameLen.
func decodeTarget(s string) (string, string) {
	if strings.IndexByte(s, '%') < 0 && len(s) <= MaxNameLen {
		// Fast path: nothing to decode.
		return s, checkTargetBytes(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", fmt.Sprintf("bad %%-escape at byte %d of the target name: want %%XX with two hex digits", i)
			}
			c = byte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		}
		b = append(b, c)
	}
	if len(b) > MaxNameLen {
		return "", fmt.Sprintf("target name is %d bytes long, more than %d", len(b), MaxNameLen)
	}
	name := string(b)
	return name, checkTargetBytes(name)
}

func checkTargetBytes(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return fmt.Sprintf("control character 0x%02x in the target name", c)
		}
	}
	if !utf8.ValidString(name) {
		return "target name is not valid UTF-8"
	}
	return ""
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// parseAlgorithms parses "md5", or a preference list "sha-256,md5".
func parseAlgorithms(v string) ([]chap.Algorithm, string) {
	var algs []chap.Algorithm
	for name := range strings.SplitSeq(v, ",") {
		a, ok := parseAlgorithm(name)
		if !ok {
			return nil, fmt.Sprintf("auth=%s: want md5, sha1, sha-256 or sha3-256, or a comma-separated list of them", quote(name))
		}
		for _, b := range algs {
			if a == b {
				return nil, fmt.Sprintf("auth lists %s twice", algorithmName(a))
			}
		}
		algs = append(algs, a)
	}
	return algs, ""
}

// urlArguments are the arguments a URL may carry.
var urlArguments = []string{"header_digest", "data_digest", "auth", "target_user", "target_password", "force_usn"}

// suggestArgument names the known argument closest to key (a typo), or
// lists them all: the reason of an unknown argument, which never quotes
// key.
func suggestArgument(key string) string {
	if best := closestArgument(key); best != "" {
		return " (did you mean " + best + "?)"
	}
	return " (known: " + strings.Join(urlArguments, ", ") + ")"
}

// closestArgument returns the argument key is a typo of (at most two
// edits away, case aside), or "".
func closestArgument(key string) string {
	best, bestDist := "", 3
	for _, a := range urlArguments {
		if d := editDistance(strings.ToLower(key), a); d < bestDist {
			best, bestDist = a, d
		}
	}
	return best
}

func closeToArgument(key string) bool { return closestArgument(key) != "" }

// editDistance is the Levenshtein distance of a and b, bytes, for short
// strings (0 beyond 64 bytes is not needed: a long key is no typo).
func editDistance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
