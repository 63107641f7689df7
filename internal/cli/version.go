package cli

import (
	"runtime/debug"
	"strings"
)

// Version returns the line --version prints: the program name, the module
// and its version ("(devel)" for a build from a checkout), the VCS
// revision and time when the build recorded them, and the Go version.
//
//	iscsi-ls github.com/iscsi-go/iscsi v1.2.0 go1.26.0
//	iscsi-ls github.com/iscsi-go/iscsi (devel) rev 85ec301abcde 2026-11-29T19:00:00Z modified go1.26.0
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	return versionLine(name, bi, ok)
}

func versionLine(name string, bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return name + " (no build information)"
	}
	parts := []string{name}
	path, version := bi.Main.Path, bi.Main.Version
	if path == "" {
		path = "github.com/iscsi-go/iscsi"
	}
	if version == "" {
		version = "(devel)"
	}
	parts = append(parts, path, version)
	var rev, at string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		parts = append(parts, "rev", rev)
		if at != "" {
			parts = append(parts, at)
		}
		if modified {
			parts = append(parts, "modified")
		}
	}
	if bi.GoVersion != "" {
		parts = append(parts, bi.GoVersion)
	}
	return strings.Join(parts, " ")
}
