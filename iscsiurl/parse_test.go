package iscsiurl

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
)

// secretCmp compares secrets by value (they have no exported fields).
var secretCmp = cmp.Comparer(func(a, b auth.Secret) bool { return a.Equal(b) })

// noEnv parses without any environment.
var noEnv = Parser{}

func envOf(m map[string]string) Parser {
	return Parser{LookupEnv: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func sec(s string) auth.Secret { return auth.NewSecret(s) }

func TestParseGood(t *testing.T) {
	const iqn = "iqn.2001-04.com.example:storage.disk1"
	tests := []struct {
		in   string
		want URL
	}{
		{"iscsi://127.0.0.1/" + iqn + "/1", URL{Host: "127.0.0.1", Port: 3260, Target: iqn, LUN: 1}},
		{"iscsi://127.0.0.1:3261/" + iqn + "/0", URL{Host: "127.0.0.1", Port: 3261, Target: iqn}},
		{"iscsi://san.example.com:65535/iqn.x/2", URL{Host: "san.example.com", Port: 65535, Target: "iqn.x", LUN: 2}},
		{"iscsi://san_1.example.com./iqn.x/2", URL{Host: "san_1.example.com.", Port: 3260, Target: "iqn.x", LUN: 2}},
		{"iscsi://[fec0:2727::3]:3260/iqn.x/1", URL{Host: "fec0:2727::3", Port: 3260, Target: "iqn.x", LUN: 1}},
		{"iscsi://[::1]/iqn.x/0", URL{Host: "::1", Port: 3260, Target: "iqn.x"}},
		{"iscsi://[fe80::1%eth0]:3262/iqn.x/3", URL{Host: "fe80::1%eth0", Port: 3262, Target: "iqn.x", LUN: 3}},
		{"iscsi://[::ffff:10.0.0.1]/iqn.x/3", URL{Host: "::ffff:10.0.0.1", Port: 3260, Target: "iqn.x", LUN: 3}},
		// A SendTargets address with its portal group tag.
		{"iscsi://10.0.0.1:3260,1/iqn.x/1", URL{Host: "10.0.0.1", Port: 3260, Target: "iqn.x", LUN: 1}},
		{"iscsi://[::1]:3270,65535/iqn.x/1", URL{Host: "::1", Port: 3270, Target: "iqn.x", LUN: 1}},
		{"iscsi://host,7/iqn.x/1", URL{Host: "host", Port: 3260, Target: "iqn.x", LUN: 1}},
		// LUNs.
		{"iscsi://h/iqn.x/16383", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 16383}},
		{"iscsi://h/iqn.x/007", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 7}},
		// Only the target is %-decoded; names are not otherwise judged.
		{"iscsi://h/iqn.2001-04.com.example%3Adisk/3", URL{Host: "h", Port: 3260, Target: "iqn.2001-04.com.example:disk", LUN: 3}},
		{"iscsi://h/iqn.x%2fa%2Fb%40c%3f%25/3", URL{Host: "h", Port: 3260, Target: "iqn.x/a/b@c?%", LUN: 3}},
		{"iscsi://h/Weird Name/3", URL{Host: "h", Port: 3260, Target: "Weird Name", LUN: 3}},
		// Credentials: '%' first, else ':'; split at the first '@'.
		{"iscsi://alice%s3cr3t@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, User: "alice", Password: sec("s3cr3t")}},
		{"iscsi://alice:s3cr3t@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, User: "alice", Password: sec("s3cr3t")}},
		{"iscsi://al:ice%pw@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, User: "al:ice", Password: sec("pw")}},
		{"iscsi://alice%pa:ss%w/rd@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, User: "alice", Password: sec("pa:ss%w/rd")}},
		{"iscsi://dom/alice%pw@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, User: "dom/alice", Password: sec("pw")}},
		{"iscsi://alice%p%41@[::1]:99/iqn.x/1", URL{Host: "::1", Port: 99, Target: "iqn.x", LUN: 1, User: "alice", Password: sec("p%41")}},
		// All or nothing: a user without a password (and no environment) is no CHAP.
		{"iscsi://alice@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1}},
		{"iscsi://%pw@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1}},
		{"iscsi://alice%@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1}},
		{"iscsi://@h/iqn.x/1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1}},
		// Arguments.
		{"iscsi://h/iqn.x/1?header_digest=crc32c&data_digest=none", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1,
			HeaderDigest: DigestCRC32C, DataDigest: DigestNone}},
		{"iscsi://h/iqn.x/1?header_digest=CRC32C-None&data_digest=none-crc32c", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1,
			HeaderDigest: DigestCRC32CNone, DataDigest: DigestNoneCRC32C}},
		{"iscsi://h/iqn.x/1?auth=sha-256", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, Auth: []chap.Algorithm{chap.SHA256}}},
		{"iscsi://h/iqn.x/1?auth=sha3-256,SHA1,md5", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, Auth: []chap.Algorithm{chap.SHA3_256, chap.SHA1, chap.MD5}}},
		{"iscsi://h/iqn.x/1?auth=md5&auth=sha1", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, Auth: []chap.Algorithm{chap.SHA1}}}, // last wins
		{"iscsi://h/iqn.x/1?force_usn=SN-01=2", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, UnitSerialNumber: "SN-01=2"}},
		{"iscsi://h/iqn.x/1?", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1}},
		{"iscsi://h/iqn.x/1?&&data_digest=crc32c&", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1, DataDigest: DigestCRC32C}},
		{"iscsi://alice%pw@h/iqn.x/1?target_user=tgt&target_password=t/p=w?", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1,
			User: "alice", Password: sec("pw"), TargetUser: "tgt", TargetPassword: sec("t/p=w?")}},
		// Empty target_user/target_password values turn mutual CHAP off without complaint.
		{"iscsi://alice%pw@h/iqn.x/1?target_user=&target_password=", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1,
			User: "alice", Password: sec("pw")}},
		// An empty target_user without any credentials is no request for mutual CHAP.
		{"iscsi://h/iqn.x/1?target_user=", URL{Host: "h", Port: 3260, Target: "iqn.x", LUN: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := noEnv.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&tt.want, u, secretCmp); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePortalGood(t *testing.T) {
	tests := []struct {
		in   string
		want URL
	}{
		{"iscsi://h", URL{Host: "h", Port: 3260}},
		{"iscsi://h/", URL{Host: "h", Port: 3260}},
		{"iscsi://h:3261/", URL{Host: "h", Port: 3261}},
		{"iscsi://[::1]", URL{Host: "::1", Port: 3260}},
		{"iscsi://[::1]:1/", URL{Host: "::1", Port: 1}},
		// libiscsi ignores a path in a portal URL.
		{"iscsi://h/iqn.x/1", URL{Host: "h", Port: 3260}},
		{"iscsi://h/whatever%zz/-1", URL{Host: "h", Port: 3260}},
		{"iscsi://alice%pw@h?auth=md5", URL{Host: "h", Port: 3260, User: "alice", Password: sec("pw"), Auth: []chap.Algorithm{chap.MD5}}},
		{"iscsi://alice%pw@h/?target_user=t&target_password=tp", URL{Host: "h", Port: 3260,
			User: "alice", Password: sec("pw"), TargetUser: "t", TargetPassword: sec("tp")}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := noEnv.ParsePortal(tt.in)
			if err != nil {
				t.Fatalf("ParsePortal: %v", err)
			}
			if diff := cmp.Diff(&tt.want, u, secretCmp); diff != "" {
				t.Errorf("ParsePortal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// pw is a distinctive password planted in bad inputs: no error may show it.
const pw = "Zq9-PASSWORD-Xy"

func TestParseBad(t *testing.T) {
	tests := []struct {
		in     string
		portal bool // ParsePortal instead of Parse
		want   error
		reason string // a substring of the message
	}{
		{"", false, ErrScheme, "iscsi://"},
		{"alice%" + pw + "@h/iqn.x/1", false, ErrScheme, "the form is"},
		{"iscsi:/alice%" + pw + "@h/iqn.x/1", false, ErrScheme, ""},
		{"ISCSI://alice%" + pw + "@h/iqn.x/1", false, ErrScheme, ""},
		{"http://alice:" + pw + "@h/iqn.x/1", false, ErrScheme, ""},
		{"iscsi//alice%" + pw + "@h", true, ErrScheme, "<host>[:<port>]"},
		{"iser://alice%" + pw + "@h/iqn.x/1", false, ErrISER, "iser://"},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?iser", false, ErrISER, `"iser"`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?iser=1", false, ErrISER, ""},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?LIBISCSI_RDMA_ACK_TIMEOUT=3", false, ErrISER, ""},
		// Host.
		{"iscsi://alice%" + pw + "@/iqn.x/1", false, ErrHost, "empty host"},
		{"iscsi://alice%" + pw + "@", true, ErrHost, "empty host"},
		{"iscsi://", true, ErrHost, "empty host"},
		{"iscsi://alice%" + pw + "@:3260/iqn.x/1", false, ErrHost, "empty host"},
		{"iscsi://alice%" + pw + "@[::1/iqn.x/1", false, ErrHost, "missing ']'"},
		{"iscsi://alice%" + pw + "@[::1]3260/iqn.x/1", false, ErrHost, "after ']'"},
		{"iscsi://alice%" + pw + "@[10.0.0.1]/iqn.x/1", false, ErrHost, "not an IPv6 address"},
		{"iscsi://alice%" + pw + "@[]/iqn.x/1", false, ErrHost, "empty IPv6"},
		{"iscsi://alice%" + pw + "@[fe80::1%a b]/iqn.x/1", false, ErrHost, "zone"},
		{"iscsi://alice%" + pw + "@fe80::1/iqn.x/1", false, ErrHost, "brackets"},
		{"iscsi://alice%" + pw + "@::1", true, ErrHost, "brackets"},
		{"iscsi://alice%" + pw + "@ho st/iqn.x/1", false, ErrHost, "' '"},
		{"iscsi://alice%" + pw + "@hôst/iqn.x/1", false, ErrHost, "'ô'"},
		{"iscsi://alice%" + pw + "@h,x/iqn.x/1", false, ErrHost, "portal group tag"},
		{"iscsi://alice%" + pw + "@h:3260,65536/iqn.x/1", false, ErrHost, "portal group tag"},
		{"iscsi://h%" + pw + "/iqn.x/1", false, ErrHost, "'%'"}, // a forgotten "@host"?
		// Port.
		{"iscsi://alice%" + pw + "@h:/iqn.x/1", false, ErrPort, "empty port"},
		{"iscsi://alice%" + pw + "@h:0/iqn.x/1", false, ErrPort, "port 0"},
		{"iscsi://alice%" + pw + "@h:65536/iqn.x/1", false, ErrPort, `"65536"`},
		{"iscsi://alice%" + pw + "@h:99999999999999999999/iqn.x/1", false, ErrPort, ""},
		{"iscsi://alice%" + pw + "@h:iscsi/iqn.x/1", false, ErrPort, "not a decimal number"},
		{"iscsi://alice:" + pw + "/iqn.x/1", false, ErrPort, "not a decimal number"}, // a forgotten "@host"?
		{"iscsi://alice:" + pw, true, ErrPort, "not a decimal number"},
		{"iscsi://alice%" + pw + "@h:-1/iqn.x/1", false, ErrPort, ""},
		{"iscsi://alice%" + pw + "@h:+80/iqn.x/1", false, ErrPort, ""},
		{"iscsi://alice%" + pw + "@h: 80/iqn.x/1", false, ErrPort, ""},
		{"iscsi://alice%" + pw + "@[::1]:/iqn.x/1", false, ErrPort, "empty port"},
		{"iscsi://alice%" + pw + "@[::1]:0", true, ErrPort, "port 0"},
		// Target.
		{"iscsi://alice%" + pw + "@h", false, ErrTarget, "missing /<target-iqn>/<lun>"},
		{"iscsi://alice%" + pw + "@h/", false, ErrTarget, "empty target"},
		{"iscsi://alice%" + pw + "@h//1", false, ErrTarget, "empty target"},
		{"iscsi://alice%" + pw + "@h/iqn.x%3/1", false, ErrTarget, "%-escape"},
		{"iscsi://alice%" + pw + "@h/iqn.x%zz/1", false, ErrTarget, "%-escape"},
		{"iscsi://alice%" + pw + "@h/iqn.x%/1", false, ErrTarget, "%-escape"},
		{"iscsi://alice%" + pw + "@h/iqn.x%00/1", false, ErrTarget, "control character 0x00"},
		{"iscsi://alice%" + pw + "@h/iqn.x\t/1", false, ErrTarget, "control character 0x09"},
		{"iscsi://alice%" + pw + "@h/iqn.x%FF/1", false, ErrTarget, "UTF-8"},
		{"iscsi://alice%" + pw + "@h/iqn." + strings.Repeat("a", 220) + "/1", false, ErrTarget, "224 bytes"},
		{"iscsi://alice%" + pw + "@h/iqn." + strings.Repeat("%61", 220) + "/1", false, ErrTarget, "224 bytes"},
		// LUN.
		{"iscsi://alice%" + pw + "@h/iqn.x", false, ErrLUN, "missing /<lun>"},
		{"iscsi://alice%" + pw + "@h/iqn.x/", false, ErrLUN, "empty LUN"},
		{"iscsi://alice%" + pw + "@h/iqn.x/-1", false, ErrLUN, "not a decimal"},
		{"iscsi://alice%" + pw + "@h/iqn.x/+1", false, ErrLUN, "not a decimal"},
		{"iscsi://alice%" + pw + "@h/iqn.x/ 1", false, ErrLUN, "not a decimal"},
		{"iscsi://alice%" + pw + "@h/iqn.x/1x", false, ErrLUN, "not a decimal"},
		{"iscsi://alice%" + pw + "@h/iqn.x/0x10", false, ErrLUN, "not a decimal"},
		{"iscsi://alice%" + pw + "@h/iqn.x/1/", false, ErrLUN, "not a decimal"},
		{"iscsi://alice%" + pw + "@h/iqn.x/1/2", false, ErrLUN, "not a decimal"},
		{"iscsi://alice%" + pw + "@h/iqn.x/16384", false, ErrLUN, "larger than 16383"},
		{"iscsi://alice%" + pw + "@h/iqn.x/99999999999999999999999", false, ErrLUN, "larger than 16383"},
		// Arguments.
		{"iscsi://alice%" + pw + "@h/iqn.x/1?foo=bar", false, ErrArgument, `unknown argument (known: header_digest`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?hedaer_digest=crc32c", false, ErrArgument, `unknown argument (did you mean header_digest?)`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?header_digest", false, ErrArgument, `"header_digest" needs =<value>`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?target_user", false, ErrArgument, "needs =<value>"},
		{"iscsi://alice%pw@h/iqn.x/1?target_user=t&target_pasword=" + pw, false, ErrArgument, `did you mean target_password?`},
		{"iscsi://alice%pw@h/iqn.x/1?TARGET_PASSWORD=" + pw, false, ErrArgument, `did you mean target_password?`},
		{"iscsi://alice%pw@h?Password=" + pw, true, ErrArgument, `unknown argument (known:`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?header_digest=crc", false, ErrDigest, `header_digest="crc"`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?data_digest=", false, ErrDigest, `data_digest=""`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?data_digest=none,crc32c", false, ErrDigest, ""},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?auth=sha256", false, ErrAuth, `auth="sha256"`},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?auth=", false, ErrAuth, ""},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?auth=md5,", false, ErrAuth, ""},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?auth=md5,sha1,md5", false, ErrAuth, "md5 twice"},
		// Mutual CHAP asked for but impossible.
		{"iscsi://h/iqn.x/1?target_user=tgt&target_password=" + pw, false, ErrCredentials, "initiator's user and password"},
		{"iscsi://alice@h/iqn.x/1?target_user=tgt&target_password=" + pw, false, ErrCredentials, "initiator's"},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?target_user=tgt", false, ErrCredentials, "both target_user and target_password"},
		{"iscsi://alice%" + pw + "@h/iqn.x/1?target_password=" + pw, false, ErrCredentials, "both"},
		{"iscsi://alice%" + pw + "@h?target_password=" + pw + "&target_user=", true, ErrCredentials, "both"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			parse := noEnv.Parse
			if tt.portal {
				parse = noEnv.ParsePortal
			}
			u, err := parse(tt.in)
			if err == nil {
				t.Fatalf("parsed as %v, want error %v", u, tt.want)
			}
			if u != nil {
				t.Errorf("non-nil URL with error")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q is not %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q does not say %q", msg, tt.reason)
			}
			if strings.Contains(msg, pw) || strings.Contains(e.Input, pw) || strings.Contains(e.Reason, pw) {
				t.Errorf("error shows the password: %q", msg)
			}
			if strings.Contains(tt.in, "%"+pw+"@") && !strings.Contains(e.Input, "%<redacted>@") {
				t.Errorf("Input %q does not mark the redacted password", e.Input)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	const url = "iscsi://h/iqn.x/1"
	all := map[string]string{EnvUser: "envuser", EnvPassword: "envpw", EnvTargetUser: "envtuser", EnvTargetPassword: "envtpw"}
	type creds struct{ User, Password, TargetUser, TargetPassword string }
	tests := []struct {
		name string
		env  map[string]string
		in   string
		want creds
		err  error
	}{
		{"nothing", nil, url, creds{}, nil},
		{"env only", all, url, creds{"envuser", "envpw", "envtuser", "envtpw"}, nil},
		{"env initiator only", map[string]string{EnvUser: "u", EnvPassword: "p"}, url, creds{"u", "p", "", ""}, nil},
		{"env user without password", map[string]string{EnvUser: "u"}, url, creds{}, nil},
		{"env empty values count as unset", map[string]string{EnvUser: "", EnvPassword: "p"}, url, creds{}, nil},
		{"URL user takes env password", all, "iscsi://alice@h/iqn.x/1", creds{"alice", "envpw", "envtuser", "envtpw"}, nil},
		{"URL user and password win", all, "iscsi://alice%apw@h/iqn.x/1", creds{"alice", "apw", "envtuser", "envtpw"}, nil},
		{"URL ':' password wins", all, "iscsi://alice:apw@h/iqn.x/1", creds{"alice", "apw", "envtuser", "envtpw"}, nil},
		{"URL empty user turns CHAP off", all, "iscsi://@h/iqn.x/1", creds{}, nil},
		{"URL password without user turns CHAP off", all, "iscsi://%apw@h/iqn.x/1", creds{}, nil},
		{"URL empty password turns CHAP off", all, "iscsi://alice%@h/iqn.x/1", creds{}, nil},
		{"env password, URL user", map[string]string{EnvPassword: "p"}, "iscsi://alice@h/iqn.x/1", creds{"alice", "p", "", ""}, nil},
		{"env target without initiator is ignored", map[string]string{EnvTargetUser: "t", EnvTargetPassword: "tp"}, url, creds{}, nil},
		{"env target user incomplete", map[string]string{EnvUser: "u", EnvPassword: "p", EnvTargetUser: "t"}, url, creds{"u", "p", "", ""}, nil},
		{"URL target_user with env target password", all, url + "?target_user=t", creds{"envuser", "envpw", "t", "envtpw"}, nil},
		{"URL target_password with env target user", all, url + "?target_password=tp", creds{"envuser", "envpw", "envtuser", "tp"}, nil},
		{"URL empty target_user turns mutual off", all, url + "?target_user=", creds{"envuser", "envpw", "", ""}, nil},
		{"URL target with env initiator", map[string]string{EnvUser: "u", EnvPassword: "p"}, url + "?target_user=t&target_password=tp", creds{"u", "p", "t", "tp"}, nil},
		{"URL mutual without target password", map[string]string{EnvUser: "u", EnvPassword: "p"}, url + "?target_user=t", creds{}, ErrCredentials},
		{"URL mutual without initiator", map[string]string{EnvTargetPassword: "tp"}, url + "?target_user=t", creds{}, ErrCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := envOf(tt.env).Parse(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				for _, v := range tt.env {
					if len(v) > 1 && strings.Contains(err.Error(), v) {
						t.Errorf("error %q shows environment value %q", err, v)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := creds{u.User, u.Password.Reveal(), u.TargetUser, u.TargetPassword.Reveal()}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestProcessEnvironment checks that the package-level functions read the
// process environment.
func TestProcessEnvironment(t *testing.T) {
	t.Setenv(EnvUser, "procuser")
	t.Setenv(EnvPassword, "procpw")
	t.Setenv(EnvTargetUser, "")
	t.Setenv(EnvTargetPassword, "")
	for _, parse := range []func(string) (*URL, error){Parse, ParsePortal} {
		u, err := parse("iscsi://h/iqn.x/1")
		if err != nil {
			t.Fatal(err)
		}
		if u.User != "procuser" || u.Password.Reveal() != "procpw" {
			t.Errorf("credentials %q/%v, want procuser and the environment's password", u.User, u.Password)
		}
	}
}

func TestStringAndPortal(t *testing.T) {
	tests := []struct {
		in, portal, str string
		isPortal        bool
	}{
		{"iscsi://h/iqn.x/1", "h:3260", "iscsi://h:3260/iqn.x/1", false},
		{"iscsi://[::1]/iqn.x/0", "[::1]:3260", "iscsi://[::1]:3260/iqn.x/0", false},
		{"iscsi://[fe80::1%eth0]:3261", "[fe80::1%eth0]:3261", "iscsi://[fe80::1%eth0]:3261", true},
		{"iscsi://h:3261/", "h:3261", "iscsi://h:3261", true},
		{"iscsi://alice%" + pw + "@10.1.2.3:3262/iqn.2001-04.com.example%3Adisk/5?target_password=" + pw + "2&target_user=bob&auth=sha-256,md5&header_digest=crc32c&data_digest=none-crc32c&force_usn=SN1",
			"10.1.2.3:3262",
			"iscsi://alice%<redacted>@10.1.2.3:3262/iqn.2001-04.com.example:disk/5?header_digest=crc32c&data_digest=none-crc32c&auth=sha-256,md5&target_user=bob&target_password=<redacted>&force_usn=SN1",
			false},
		{"iscsi://h/a b%2f%40%C3%A9/1", "h:3260", "iscsi://h:3260/a%20b%2F%40%C3%A9/1", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			parse := noEnv.Parse
			if tt.isPortal {
				parse = noEnv.ParsePortal
			}
			u, err := parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Portal(); got != tt.portal {
				t.Errorf("Portal() = %q, want %q", got, tt.portal)
			}
			s := u.String()
			if s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			if strings.Contains(s, pw) {
				t.Errorf("String() shows the password")
			}
			back, err := parse(s)
			if err != nil {
				t.Fatalf("String() does not parse back: %v", err)
			}
			if diff := cmp.Diff(u, back, secretCmp, ignorePasswords); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

var ignorePasswords = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.String()
	return s == "Password" || s == "TargetPassword"
}, cmp.Ignore())

func TestDigestAndAlgorithmNames(t *testing.T) {
	digests := map[Digest][2]string{
		DigestDefault:    {"", ""},
		DigestNone:       {"none", "None"},
		DigestCRC32C:     {"crc32c", "CRC32C"},
		DigestNoneCRC32C: {"none-crc32c", "None,CRC32C"},
		DigestCRC32CNone: {"crc32c-none", "CRC32C,None"},
		Digest(9):        {"Digest(9)", ""},
	}
	for d, want := range digests {
		if d.String() != want[0] || d.Offer() != want[1] {
			t.Errorf("Digest %d: String %q Offer %q, want %q %q", d, d.String(), d.Offer(), want[0], want[1])
		}
	}
	algs := map[chap.Algorithm]string{chap.MD5: "md5", chap.SHA1: "sha1", chap.SHA256: "sha-256", chap.SHA3_256: "sha3-256", 4: "Algorithm(4)"}
	for a, want := range algs {
		if got := algorithmName(a); got != want {
			t.Errorf("Algorithm %d: %q, want %q", a, got, want)
		}
		if p, ok := parseAlgorithm(want); ok != (a != 4) || ok && p != a {
			t.Errorf("parseAlgorithm(%q) = %v, %v", want, p, ok)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"iscsi://a%b@h", "iscsi://a%<redacted>@h"},
		{"iscsi://a:b@h", "iscsi://a:<redacted>@h"},
		{"iscsi://a@h", "iscsi://a@h"},
		// A password holding '@' or '?' is hidden up to the last '@'.
		{"a%b@c@d", "a%<redacted>@d"},
		{"x://a%b?c@d", "x://a%<redacted>?<redacted>"},
		{"iscsi://alice%a@bSECRET@host/iqn/1", "iscsi://alice%<redacted>@host/iqn/1"},
		{"iscsi://alice:pw@host%x@y/iqn/1", "iscsi://alice:<redacted>@y/iqn/1"},
		// A bare argument may be the part of a password after an '&'.
		{"iscsi://h?target_password=x&target_user=y&MyPass=z&pass&auth=md5&x=&iser", "iscsi://h?target_password=<redacted>&target_user=y&<redacted>&<redacted>&auth=md5&<redacted>&iser"},
		// An '&' typed for '?'.
		{"iscsi://h/iqn/1&target_password=SECRET&auth=md5", "iscsi://h/iqn/1&target_password=<redacted>&auth=md5"},
		{"iscsi://h%x/iqn/1", "iscsi://h%<redacted>/iqn/1"},
		{"iscsi://h%x", "iscsi://h%<redacted>"},
		{"iscsi://[fe80::1%eth0]/iqn/1", "iscsi://[fe80::1%eth0]/iqn/1"},
		{"iscsi://h:3260,1/iqn/1", "iscsi://h:3260,1/iqn/1"},
		{"iscsi://fe80::1/iqn/1", "iscsi://fe80::1/iqn/1"},
		{"iscsi://alice:secret/iqn/1", "iscsi://alice:<redacted>/iqn/1"},
		{"iscsi://alice:secret", "iscsi://alice:<redacted>"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestErrorHidesPasswordWithDelimiters: the cases of issue 17 item 11, where
// the parser cuts the password the user meant at an '@', '?' or '&'.
func TestErrorHidesPasswordWithDelimiters(t *testing.T) {
	for _, in := range []string{
		"iscsi://alice%a@bSECRET@host/iqn.x/1",
		"iscsi://alice%pa?ssSECRET@host/iqn.x/1",
		"iscsi://alice%pa&ssSECRET@host/iqn.x/1",
		"iscsi://alice%pw@host/iqn.x/1&target_password=SECRET",
		"iscsi://alice%pw@host/iqn.x/1?target_password=ab@cdSECRET",
		"iscsi://alice%pw@host/iqn.x/1?target_password=ab&SECRET",
		"iscsi://alice%pw@host/iqn.x/1?target_password=ab&SECRET=x",
	} {
		for _, parse := range []func(string) (*URL, error){noEnv.Parse, noEnv.ParsePortal} {
			_, err := parse(in)
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("%s: error shows the password: %v", in, err)
			}
		}
	}
}

func TestErrorFormat(t *testing.T) {
	_, err := noEnv.Parse("iscsi://alice%" + pw + "@h/iqn.x/16384")
	want := `iscsiurl: bad LUN: LUN "16384" is larger than 16383 in "iscsi://alice%<redacted>@h/iqn.x/16384"`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

func BenchmarkParse(b *testing.B) {
	const s = "iscsi://alice%secret@[fec0:2727::3]:3260/iqn.2001-04.com.example%3Adisk/1?header_digest=crc32c&auth=sha-256,md5"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := noEnv.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
