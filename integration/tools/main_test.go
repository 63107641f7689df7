// Package tools_test checks that our iscsi-ls, iscsi-inq,
// iscsi-readcapacity16 and iscsi-swp print what libiscsi's do, byte for
// byte, against the same tgtd, and that they fail clearly where a user can
// go wrong; and that iscsi-dd, iscsi-md5sum, iscsi-discard, iscsi-pr and
// iscsi-rtpg (which libiscsi-bin 1.19 lacks) do what they say to tgtd's
// LUNs, checked against the backing files.
package tools_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// binDir holds our tools, built once for the whole package.
var binDir string

var toolNames = []string{"iscsi-ls", "iscsi-inq", "iscsi-readcapacity16", "iscsi-dd", "iscsi-md5sum", "iscsi-discard", "iscsi-swp", "iscsi-pr", "iscsi-rtpg", "iscsi-perf"}

func TestMain(m *testing.M) {
	tgtd.Gate("integration/tools", "iscsi-ls", "iscsi-inq", "iscsi-readcapacity16")
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "iscsi-go-tools-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for _, name := range toolNames {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "github.com/iscsi-go/iscsi/cmd/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", name, err, out)
			return 1
		}
	}
	binDir = dir
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}

// ours returns the path of our build of tool.
func ours(tool string) string { return filepath.Join(binDir, tool) }
