package iscsiurl

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// span is a byte range [start, end) of an input.
type span struct{ start, end int }

// passwordSpans finds the password segments of s by libiscsi's rules, written
// independently of the parser: after the "://" (or from the start), before
// the first '?', the user information ends at the first '@' and its password
// follows the first '%' (or, without one, the first ':'); after the '?', the
// value of each target_password argument.
func passwordSpans(s string) []span {
	base := 0
	if i := strings.Index(s, "://"); i >= 0 {
		base = i + 3
	}
	rest := s[base:]
	end, qs := len(rest), -1
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		end, qs = i, i+1
	}
	var spans []span
	if at := strings.IndexByte(rest[:end], '@'); at >= 0 {
		ui := rest[:at]
		p := strings.IndexByte(ui, '%')
		if p < 0 {
			p = strings.IndexByte(ui, ':')
		}
		if p >= 0 {
			spans = append(spans, span{base + p + 1, base + at})
		}
	}
	if qs >= 0 {
		off := base + qs
		for _, a := range strings.Split(rest[qs:], "&") {
			if k, _, ok := strings.Cut(a, "="); ok && k == "target_password" {
				spans = append(spans, span{off + len(k) + 1, off + len(a)})
			}
			off += len(a) + 1
		}
	}
	return spans
}

// replaceSpans replaces each non-empty span of s (in order, disjoint) by repl.
func replaceSpans(s string, spans []span, repl string) string {
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if sp.start == sp.end {
			continue
		}
		b.WriteString(s[last:sp.start])
		b.WriteString(repl)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

func TestPasswordSpans(t *testing.T) {
	s := "iscsi://u%p:w@h/t@x/1?a=b&target_password=tp=x&target_password=&c"
	got := replaceSpans(s, passwordSpans(s), "Q")
	want := "iscsi://u%Q@h/t@x/1?a=b&target_password=Q&target_password=&c"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzParse checks, for any input and both forms, that parsing never panics;
// that the outcome (error text, fields other than passwords, String) does not
// depend on the passwords, which is what "never shows a password" means;
// that no password of 4 bytes or more shows in an error or String unless it
// shows there anyway with the password replaced; the credential invariants;
// and that String parses back to the same URL.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"iscsi://127.0.0.1/iqn.2001-04.com.example:disk/1",
		"iscsi://alice%secret@[fec0:2727::3]:3260/iqn.x/1",
		"iscsi://alice:secret@h:3261/iqn.x%3Ay/0?target_user=bob&target_password=tsecret",
		"iscsi://h/iqn.x/1?header_digest=crc32c&data_digest=none-crc32c&auth=sha-256,md5&force_usn=SN",
		"iscsi://[fe80::1%eth0]:3260,1",
		"iscsi://h%secret/iqn.x/1",
		"iser://h/iqn.x/1?iser",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = redact(s)
		spans := passwordSpans(s)
		var pws []string
		for _, sp := range spans {
			if sp.end-sp.start >= 4 {
				pws = append(pws, s[sp.start:sp.end])
			}
		}
		alt := replaceSpans(s, spans, "QQQQ")
		for _, portal := range []bool{false, true} {
			parse := noEnv.Parse
			if portal {
				parse = noEnv.ParsePortal
			}
			u, err := parse(s)
			ua, erra := parse(alt)
			if (err == nil) != (erra == nil) {
				t.Fatalf("portal=%v: the password changed the outcome: %v / %v", portal, err, erra)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Err == nil {
					t.Fatalf("error %v is not an *Error with a sentinel", err)
				}
				if u != nil {
					t.Fatal("URL with an error")
				}
				if err.Error() != erra.Error() {
					t.Fatalf("error text depends on the password:\n%s\n%s", err, erra)
				}
				for _, p := range pws {
					if strings.Contains(err.Error(), p) && !strings.Contains(erra.Error(), p) {
						t.Fatalf("error %q shows password %q", err, p)
					}
				}
				continue
			}
			if diff := cmp.Diff(ua, u, secretCmp, ignorePasswords); diff != "" {
				t.Fatalf("the password changed the URL:\n%s", diff)
			}
			str := u.String()
			if str != ua.String() {
				t.Fatalf("String depends on the password: %q / %q", str, ua.String())
			}
			for _, p := range pws {
				if strings.Contains(str, p) && !strings.Contains(ua.String(), p) {
					t.Fatalf("String %q shows password %q", str, p)
				}
			}
			// Invariants.
			if (u.User == "") != u.Password.IsZero() || (u.TargetUser == "") != u.TargetPassword.IsZero() ||
				u.TargetUser != "" && u.User == "" {
				t.Fatalf("credentials not all-or-nothing: %v", u)
			}
			if u.Port < 1 || u.Port > 65535 || u.LUN < 0 || u.LUN > MaxLUN || u.Host == "" ||
				portal && (u.Target != "" || u.LUN != 0) || !portal && u.Target == "" {
				t.Fatalf("field out of range: %#v", u)
			}
			// Round trip.
			back, err := parse(str)
			if err != nil {
				t.Fatalf("String %q does not parse back: %v", str, err)
			}
			if diff := cmp.Diff(u, back, secretCmp, ignorePasswords); diff != "" {
				t.Fatalf("round trip of %q changed the URL:\n%s", str, diff)
			}
			if u.Password.IsZero() != back.Password.IsZero() || u.TargetPassword.IsZero() != back.TargetPassword.IsZero() {
				t.Fatalf("round trip lost or invented a password: %q", str)
			}
		}
	})
}

// FuzzValidateName checks that ValidateName never panics, that what it
// accepts has the documented shape, and that an accepted name travels
// through a URL unchanged.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"iqn.2001-04.com.example:storage", "eui.02004567A425678D", "naa.52004567BA64678D", "iqn.x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if err != nil {
			var ne *NameError
			if !errors.As(err, &ne) || !errors.Is(err, ErrName) {
				t.Fatalf("error %T %v is not a *NameError", err, err)
			}
			return
		}
		if len(name) > MaxNameLen || !(strings.HasPrefix(name, "iqn.") || strings.HasPrefix(name, "eui.") || strings.HasPrefix(name, "naa.")) {
			t.Fatalf("accepted %q", name)
		}
		for i := 0; i < len(name); i++ {
			if c := name[i]; !isNameByte(c) && !('A' <= c && c <= 'F') {
				t.Fatalf("accepted %q with byte %q", name, c)
			}
		}
		u, err := noEnv.Parse("iscsi://h/" + escapeTarget(name) + "/0")
		if err != nil || u.Target != name {
			t.Fatalf("name %q does not travel through a URL: %v", name, err)
		}
	})
}

// FuzzErrorHidesIntendedPassword: a user's password may hold the URL's
// delimiters ('@', '?', '&', '/', '%', ':'), and then the parser's idea of
// where it ends is not the user's. For URLs built around a password where
// one goes (user%pw@host, ?target_password=pw, and &target_password=pw
// with an '&' typed for the '?'), no error shows a piece of the password
// (a run of 4 bytes or more between delimiters) found nowhere else in the
// input, unless the error shows it as well with the password's letters and
// digits replaced.
func FuzzErrorHidesIntendedPassword(f *testing.F) {
	for _, c := range []struct {
		user, pw, tail string
		form           uint8
	}{
		{"alice", "a@bSECRET", "host/iqn.x/1", 0},
		{"alice", "pa?ssWORD", "host/iqn.x/1", 0},
		{"alice", "pa&ss=WORD", "host/iqn.x/1", 0},
		{"alice", "pa/ss@WORD:99", "host/iqn.x/1", 0},
		{"alice", "SECRET", "host/iqn.x/1", 2},
		{"alice", "SECRET&auth=x", "host/iqn.x/1", 1},
		{"", "hunter22@[::1]:3260", "host/iqn.x/1", 0},
	} {
		f.Add(c.user, c.pw, c.tail, c.form)
	}
	f.Fuzz(func(t *testing.T, user, pw, tail string, form uint8) {
		build := func(pw string) string {
			switch form % 3 {
			case 0:
				return "iscsi://" + user + "%" + pw + "@" + tail
			case 1:
				return "iscsi://" + user + "%x@" + tail + "?target_password=" + pw
			}
			return "iscsi://" + user + "%x@" + tail + "&target_password=" + pw
		}
		s, masked := build(pw), build(maskPassword(pw))
		secret := pw
		if form%3 != 0 {
			// In an argument, a password holding "&auth=" (or another
			// argument, or a typo of one) cannot be told from that
			// argument: only what comes before is a secret.
			for i := 0; i < len(secret); i++ {
				if secret[i] != '&' {
					continue
				}
				k, _, _ := strings.Cut(secret[i+1:], "&")
				k, _, _ = strings.Cut(k, "=")
				if closeToArgument(k) || k == "iser" || k == "LIBISCSI_RDMA_ACK_TIMEOUT" {
					secret = secret[:i]
					break
				}
			}
		}
		var pieces []string
		for _, p := range strings.FieldsFunc(secret, func(r rune) bool { return strings.ContainsRune("@?&/%:=#,[]", r) }) {
			if len(p) >= 4 && strings.Count(s, p) == strings.Count(pw, p) {
				pieces = append(pieces, p)
			}
		}
		for _, parse := range []func(string) (*URL, error){noEnv.Parse, noEnv.ParsePortal} {
			_, err := parse(s)
			if err == nil {
				continue
			}
			msg, mmsg := err.Error(), ""
			if _, merr := parse(masked); merr != nil {
				mmsg = merr.Error()
			}
			for _, p := range pieces {
				if strings.Contains(msg, p) && !strings.Contains(mmsg, p) {
					t.Fatalf("error for %q shows %q of the password %q:\n%s", s, p, pw, msg)
				}
			}
		}
	})
}

// maskPassword replaces the letters and digits of pw, keeping hex digits
// hex and everything else (delimiters) as it is, so that the URL keeps its
// shape.
func maskPassword(pw string) string {
	b := []byte(pw)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'f':
			b[i] = 'a'
		case 'A' <= c && c <= 'F':
			b[i] = 'A'
		case 'g' <= c && c <= 'z':
			b[i] = 'q'
		case 'G' <= c && c <= 'Z':
			b[i] = 'Q'
		case '0' <= c && c <= '9':
			b[i] = '7'
		}
	}
	return string(b)
}
