package tgtd

import (
	"fmt"
	"os"
	"strings"
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
