//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package lunfs

import (
	"testing"

	"github.com/iscsi-go/iscsi/iscsiurl"
)

// FuzzClassify: what a user types as the URL never panics Classify, a URL
// that parses as a LUN URL is classified as one, and a target URL turned
// into its LUN 0 URL is a LUN URL.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"iscsi://127.0.0.1", "iscsi://h:3260/", "iscsi://[::1]/iqn.x:t", "iscsi://u%p@h/iqn.x:t/1?auth=md5",
		"iscsi://a@b@h/t/", "iscsi://h/t?x/y", "iscsi:///", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Classify(s)
		if _, err := (iscsiurl.Parser{}).Parse(s); err == nil && k != KindLUN {
			t.Fatalf("%q parses as a LUN URL but is classified %v", s, k)
		}
		if k == KindTarget {
			if k2 := Classify(targetURL(s)); k2 != KindLUN {
				t.Fatalf("targetURL(%q) = %q, classified %v", s, targetURL(s), k2)
			}
		}
	})
}
