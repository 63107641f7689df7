package tgtd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// EnvRequire names the environment variable that turns a missing tgtd (or
// tool) into a failure instead of a skip. scripts/test.sh, and so CI, sets
// it to 1.
const EnvRequire = "ISCSI_REQUIRE_TGTD"

// Gate is called first in TestMain of a package whose tests need tgtd and
// tgtadm (and the programs named in tools, e.g. libiscsi's iscsi-ls). When
// they are all installed it returns. Otherwise it prints one line and ends
// the test binary: with status 0 (the package is skipped, so that `go test
// ./...` on a machine without tgtd stays green: its summary line says
// "[no tests to run]", and -v shows why), or with status 1 when
// ISCSI_REQUIRE_TGTD is set.
func Gate(pkg string, tools ...string) {
	var missing []string
	for _, name := range append([]string{"tgtd", "tgtadm"}, tools...) {
		if _, err := lookTool(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return
	}
	what := strings.Join(missing, ", ")
	if os.Getenv(EnvRequire) != "" {
		fmt.Fprintf(os.Stderr, "%s: %s not installed and %s is set: run scripts/install-deps.sh\n", pkg, what, EnvRequire)
		os.Exit(1)
	}
	// go test ./... shows a passing package's output only with -v; the
	// standard warning makes its summary line end in [no tests to run].
	fmt.Printf("%s: %s not installed; skipping (scripts/test.sh installs it)\ntesting: warning: no tests to run\n", pkg, what)
	os.Exit(0)
}

// RunWithCommands is the rest of TestMain, after Gate, for a package whose
// tests run our command-line programs: it builds each of cmds (a directory
// under cmd/, e.g. "iscsi-nbd") once into a new temporary directory, sets
// *dir to it, runs the tests and, when they passed, fails on goroutines
// they leaked (as goleak.VerifyTestMain). It removes the directory and
// returns the exit code for os.Exit.
func RunWithCommands(m *testing.M, dir *string, cmds ...string) int {
	d, err := os.MkdirTemp("", "iscsi-go-commands-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(d)
	for _, name := range cmds {
		cmd := exec.Command("go", "build", "-o", filepath.Join(d, name), "github.com/iscsi-go/iscsi/cmd/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", name, err, out)
			return 1
		}
	}
	*dir = d
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}
