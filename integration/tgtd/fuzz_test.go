package tgtd

import (
	"strings"
	"testing"
)

// FuzzParsers feeds arbitrary text to the parsers of /proc/net/tcp,
// /proc/PID/stat and tgtadm output and to the redaction of iscsi:// URLs: none may panic, and a
// URL password never survives redaction.
func FuzzParsers(f *testing.F) {
	f.Add("   0: 0100007F:33CD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9826 1", "alice", "s3cret")
	f.Add("Target 1: iqn.a\nTarget 2: iqn.b\n", "u", "p")
	f.Add("x: :ZZ 0 0A a b c d e f", "", "")
	f.Add("4242 (tgt d)) T 1 4242 4242 0 -1", "", "")
	f.Fuzz(func(t *testing.T, text, user, pass string) {
		listeningInodes(text, 0x33CD)
		parseTIDs(text)
		if st, err := parseProcState(text); err == nil && len(st) != 1 {
			t.Errorf("parseProcState(%q) = %q, want one letter", text, st)
		}
		changesConfig(strings.Fields(text))
		redactArgs(strings.Fields(text))
		if strings.ContainsAny(user+pass, "@/%?") || pass == "" {
			return
		}
		url := "iscsi://" + user + "%" + pass + "@127.0.0.1:3260/iqn.x/1"
		if got := redactURL(url); strings.Contains(got, "%"+pass+"@") {
			t.Errorf("redactURL(%q) = %q keeps the password", url, got)
		}
	})
}
