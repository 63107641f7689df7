// Package conformance_test runs libiscsi's iscsi-test-cu and ours against
// private tgtd instances and compares their verdicts test by test, and runs
// the suite against tgtd through conformance.TestTarget.
package conformance_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// ourTool is our iscsi-test-cu, built once for the package.
var ourTool string

func TestMain(m *testing.M) {
	tgtd.Gate("integration/conformance", "iscsi-test-cu")
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "iscsi-go-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ourTool = filepath.Join(dir, "iscsi-test-cu")
	cmd := exec.Command("go", "build", "-o", ourTool, "github.com/iscsi-go/iscsi/cmd/iscsi-test-cu")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build iscsi-test-cu: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}
