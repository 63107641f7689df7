package tgtd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ToolTimeout bounds every RunTool call; some libiscsi tools spin forever
// when a target misbehaves.
const ToolTimeout = 20 * time.Second

// ToolResult is what a tool run printed and how it exited.
type ToolResult struct {
	Stdout   string
	Stderr   string
	ExitCode int // -1 when the tool did not exit by itself
}

// RunToolContext runs the program name (looked up in PATH, then the sbin
// directories) with args until it exits or ctx is done, then kills its
// process group. env entries ("KEY=value") are added to the environment,
// from which every LIBISCSI_* variable of the test process is first removed.
// A non-zero exit is not an error: look at ExitCode. The error wraps
// ErrNotInstalled or ctx.Err().
func RunToolContext(ctx context.Context, env []string, name string, args ...string) (ToolResult, error) {
	path, err := lookTool(name)
	if err != nil {
		return ToolResult{ExitCode: -1}, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(environWithLIBISCSIRemoved(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = newGroupAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	res := ToolResult{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s %s: %w", name, strings.Join(redactArgs(args), " "), ctx.Err())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("%s %s: %w", name, strings.Join(redactArgs(args), " "), err)
	}
	return res, nil
}

// RunTool runs a libiscsi tool (iscsi-ls, iscsi-inq, iscsi-readcapacity16,
// iscsi-perf, ...) like RunToolContext under ToolTimeout. It fails the test
// when the tool is missing or does not finish in time.
func RunTool(tb testing.TB, env []string, name string, args ...string) ToolResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ToolTimeout)
	defer cancel()
	res, err := RunToolContext(ctx, env, name, args...)
	if err != nil {
		tb.Fatalf("tgtd.RunTool: %v\nstdout:\n%s\nstderr:\n%s", err, res.Stdout, res.Stderr)
	}
	return res
}

func environWithLIBISCSIRemoved() []string {
	var names []string
	for _, kv := range environWithout() {
		if strings.HasPrefix(kv, "LIBISCSI_") {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
	}
	return environWithout(names...)
}
