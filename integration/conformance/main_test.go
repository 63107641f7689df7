// Package conformance_test runs libiscsi's iscsi-test-cu and ours against
// private tgtd instances and compares their verdicts test by test, and runs
// the suite against tgtd through conformance.TestTarget.
package conformance_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// binDir holds our iscsi-test-cu, built once for the package.
var binDir string

// ourTool returns the path of our iscsi-test-cu.
func ourTool() string { return filepath.Join(binDir, "iscsi-test-cu") }

func TestMain(m *testing.M) {
	tgtd.Gate("integration/conformance", "iscsi-test-cu")
	os.Exit(tgtd.RunWithCommands(m, &binDir, "iscsi-test-cu"))
}
