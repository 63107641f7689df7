package session_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// childTarget runs this test binary again as a target (env set to 1 makes
// its init serve one and print its address) and returns that address; the
// target ends when b's cleanup closes its stdin. A benchmark so counts the
// initiator's CPU alone.
func childTarget(b *testing.B, env string) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(addr)
}
