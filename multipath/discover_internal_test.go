package multipath

import (
	"testing"

	"github.com/iscsi-go/iscsi/iscsiurl"
)

func TestWithPortal(t *testing.T) {
	for _, tc := range []struct{ in, portal, want string }{
		{"iscsi://10.0.0.1/iqn.2024-01.x:t/1", "10.0.1.1:3260", "iscsi://10.0.1.1:3260/iqn.2024-01.x:t/1"},
		{"iscsi://alice%s3cret@10.0.0.1:3261/iqn.2024-01.x:t/3?header_digest=crc32c&auth=SHA-256",
			"[fd00::1]:3260", "iscsi://alice%s3cret@[fd00::1]:3260/iqn.2024-01.x:t/3?header_digest=crc32c&auth=SHA-256"},
		{"iscsi://bob%pa/ss@10.0.0.1/iqn.2024-01.x:t/1", "10.0.1.1:3260", "iscsi://bob%pa/ss@10.0.1.1:3260/iqn.2024-01.x:t/1"},
		{"iscsi://host.example/iqn.2024-01.x:t/0?target_user=tgt&target_password=pw", "h2:99",
			""}, // mutual CHAP without the initiator's: Parse refuses the URL itself
	} {
		u, err := iscsiurl.Parse(tc.in)
		if err != nil {
			if tc.want == "" {
				continue
			}
			t.Fatal(err)
		}
		got, err := withPortal(tc.in, u, tc.portal)
		if err != nil || got != tc.want {
			t.Errorf("withPortal(%q, %q) = %q, %v; want %q", tc.in, tc.portal, got, err, tc.want)
		}
	}
}

// FuzzWithPortal: for any URL that parses and any portal, withPortal
// either refuses or returns a URL that parses to the same one but for its
// host and port, which are the portal's.
func FuzzWithPortal(f *testing.F) {
	f.Add("iscsi://10.0.0.1/iqn.2024-01.x:t/1", "10.0.1.1:3260")
	f.Add("iscsi://alice%s3cret@10.0.0.1:3261/iqn.2024-01.x:t/3?header_digest=crc32c&auth=SHA-256", "[fd00::1]:3260")
	f.Add("iscsi://bob%pa/ss@[::1]/iqn.2024-01.x:t/1?target_user=t&target_password=p", "h:1")
	f.Fuzz(func(t *testing.T, raw, portal string) {
		u, err := iscsiurl.Parse(raw)
		if err != nil {
			return
		}
		out, err := withPortal(raw, u, portal)
		if err != nil {
			return
		}
		v, err := iscsiurl.Parse(out)
		if err != nil {
			t.Fatalf("withPortal(%q, %q) = %q, which does not parse: %v", raw, portal, out, err)
		}
		if v.Portal() != portal || v.Target != u.Target || v.LUN != u.LUN || v.User != u.User ||
			v.Password.IsZero() != u.Password.IsZero() || v.HeaderDigest != u.HeaderDigest || v.DataDigest != u.DataDigest {
			t.Fatalf("withPortal(%q, %q) = %q: %+v, want %+v on portal %s", raw, portal, out, v, u, portal)
		}
	})
}
