package tgtd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestGateHelper is run by TestGate in a child process.
func TestGateHelper(t *testing.T) {
	if os.Getenv("TGTD_GATE_CHILD") == "" {
		t.Skip("run by TestGate")
	}
	Gate("example", "no-such-iscsi-tool")
	t.Fatal("Gate returned with a tool missing")
}

// TestGate: a missing program skips the package with one line, or fails it
// when ISCSI_REQUIRE_TGTD is set.
func TestGate(t *testing.T) {
	for _, require := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestGateHelper$")
		cmd.Env = append(environWithout(EnvRequire), "TGTD_GATE_CHILD=1")
		if require {
			cmd.Env = append(cmd.Env, EnvRequire+"=1")
		}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		switch {
		case !require && (code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "example: no-such-iscsi-tool not installed; skipping") ||
			lines[1] != "testing: warning: no tests to run"):
			t.Errorf("without %s: exit %d, output %q; want exit 0, the reason and go test's no-tests marker", EnvRequire, code, out)
		case require && (code != 1 || !strings.Contains(string(out), "not installed and "+EnvRequire+" is set")):
			t.Errorf("with %s: exit %d, output %q; want exit 1 saying why", EnvRequire, code, out)
		}
	}
}
