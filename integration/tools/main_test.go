// Package tools_test checks that our iscsi-ls, iscsi-inq,
// iscsi-readcapacity16 and iscsi-swp print what libiscsi's do, byte for
// byte, against the same tgtd, and that they fail clearly where a user can
// go wrong; and that iscsi-dd, iscsi-md5sum, iscsi-discard, iscsi-pr and
// iscsi-rtpg (which libiscsi-bin 1.19 lacks) do what they say to tgtd's
// LUNs, checked against the backing files.
package tools_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// binDir holds our tools, built once for the whole package.
var binDir string

var toolNames = []string{"iscsi-ls", "iscsi-inq", "iscsi-readcapacity16", "iscsi-dd", "iscsi-md5sum", "iscsi-discard", "iscsi-swp", "iscsi-pr", "iscsi-rtpg", "iscsi-perf"}

func TestMain(m *testing.M) {
	tgtd.Gate("integration/tools", "iscsi-ls", "iscsi-inq", "iscsi-readcapacity16")
	os.Exit(tgtd.RunWithCommands(m, &binDir, toolNames...))
}

// ours returns the path of our build of tool.
func ours(tool string) string { return filepath.Join(binDir, tool) }
