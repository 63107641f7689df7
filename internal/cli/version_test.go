package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "-compiler", Value: "gc"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "85ec301abcdef0123456789abcdef0123456789a"},
		{Key: "vcs.time", Value: "2026-11-29T19:00:00Z"},
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "tool (no build information)"},
		{"module version", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/iscsi-go/iscsi", Version: "v1.2.3"}}, true,
			"tool github.com/iscsi-go/iscsi v1.2.3 go1.26.0"},
		{"checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/iscsi-go/iscsi", Version: "(devel)"}, Settings: vcs}, true,
			"tool github.com/iscsi-go/iscsi (devel) rev 85ec301abcde 2026-11-29T19:00:00Z go1.26.0"},
		{"modified checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/iscsi-go/iscsi", Version: "(devel)"},
			Settings: append(vcs[:len(vcs):len(vcs)], debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, true,
			"tool github.com/iscsi-go/iscsi (devel) rev 85ec301abcde 2026-11-29T19:00:00Z modified go1.26.0"},
		{"empty main module (go run of a file)", &debug.BuildInfo{GoVersion: "go1.26.0"}, true,
			"tool github.com/iscsi-go/iscsi (devel) go1.26.0"},
	}
	for _, tt := range tests {
		if got := versionLine("tool", tt.bi, tt.ok); got != tt.want {
			t.Errorf("%s: versionLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	tool := New("tool", "iqn.default", DebugSwitch, "HELP\n", "USAGE\n", &stdout, &stderr)
	pos, done, err := tool.Parse([]string{"--version", "U"})
	tool.Stdout.Flush()
	if err != nil || !done || pos != nil {
		t.Fatalf("Parse(--version) = %q, done %v, err %v; want done", pos, done, err)
	}
	// The test binary has build information: its main module is this one.
	if got := stdout.String(); !strings.HasPrefix(got, "tool github.com/iscsi-go/iscsi ") || !strings.HasSuffix(got, "\n") {
		t.Errorf("--version printed %q", got)
	}
	if stderr.Len() > 0 {
		t.Errorf("--version wrote to stderr: %q", stderr.String())
	}
	if _, _, err := tool.Parse([]string{"-V"}); err == nil {
		t.Error("-V is taken: libiscsi's tools leave it free, and so do we")
	}
}
