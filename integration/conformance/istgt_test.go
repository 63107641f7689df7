package conformance_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

const istgtIQN = "iqn.2026-12.com.github.iscsi-go.istgt:disk1"

// istgtConf is a private istgt configuration: one portal, one 16 MiB LUN 0,
// no authentication (docs/CONFORMANCE.md, "istgt").
const istgtConf = `[Global]
  NodeBase "iqn.2026-12.com.github.iscsi-go.istgt"
  PidFile %[1]s/istgt.pid
  AuthFile %[1]s/auth.conf
  MediaDirectory %[1]s
  LogFacility "local7"
  Timeout 30
  NopInInterval 20
  DiscoveryAuthMethod Auto
  MaxSessions 16
  MaxConnections 4
  FirstBurstLength 262144
  MaxBurstLength 1048576
  MaxRecvDataSegmentLength 262144
  InitialR2T Yes
  ImmediateData Yes
  DataPDUInOrder Yes
  DataSequenceInOrder Yes
  ErrorRecoveryLevel 0
[UnitControl]
  AuthMethod None
  Portal UC1 127.0.0.1:%[3]d
  Netmask 127.0.0.1
[PortalGroup1]
  Portal DA1 127.0.0.1:%[2]d
[InitiatorGroup1]
  InitiatorName "ALL"
  Netmask 127.0.0.0/8
[LogicalUnit1]
  TargetName disk1
  Mapping PortalGroup1 InitiatorGroup1
  AuthMethod None
  UseDigest Auto
  UnitType Disk
  LUN0 Storage %[1]s/disk.img Auto
`

// startIstgt runs a private istgt for the test and returns its LUN's URL.
// Without istgt the test is skipped (it fails when ISCSI_REQUIRE_TGTD is
// set, as in CI, where scripts/install-deps.sh installs it).
func startIstgt(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("istgt")
	if err != nil {
		path = "/usr/sbin/istgt"
		if _, err := os.Stat(path); err != nil {
			if os.Getenv(tgtd.EnvRequire) != "" {
				t.Fatalf("istgt is not installed and %s is set: run scripts/install-deps.sh", tgtd.EnvRequire)
			}
			t.Skip("istgt is not installed")
		}
	}
	dir := t.TempDir()
	ports := make([]int, 2) // the portal, istgt's control portal
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "istgt.conf"), fmt.Appendf(nil, istgtConf, dir, ports[0], ports[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "disk.img"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "disk.img"), 16<<20); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(path, "-D", "-c", filepath.Join(dir, "istgt.conf"), "-p", filepath.Join(dir, "istgt.pid"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("istgt's log:\n%s", tail(log.String()))
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("istgt exited: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("istgt does not listen on %s\n%s", addr, log.String())
		}
	}
	return fmt.Sprintf("iscsi://%s/%s/0", addr, istgtIQN)
}

// istgt never answers a READ of 0 blocks (it logs "R_bit == 0"): libiscsi's
// suite waits there forever. Ours fails that test after --command-timeout,
// does not send its other commands, and runs the next suite.
func TestIstgtCommandTimeout(t *testing.T) {
	url := startIstgt(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := tgtd.RunToolContext(ctx, nil, ourTool(), "-d", "--command-timeout", "1s", "-t", "ALL.Read10.ZeroBlocks,ALL.TestUnitReady", url)
	if err != nil {
		t.Fatal(err)
	}
	v := verdicts(res.Stdout)
	if v["ALL.Read10.ZeroBlocks"] != "failed" || v["ALL.TestUnitReady.Simple"] != "passed" || len(v) != 2 {
		t.Errorf("verdicts %v, want Read10.ZeroBlocks failed and TestUnitReady.Simple passed\n%s", v, tail(res.Stdout))
	}
	if n := strings.Count(res.Stdout, "no answer within 1s"); n < 1 {
		t.Errorf("no command timed out\n%s", tail(res.Stdout))
	}
	if !strings.Contains(res.Stdout, "not sent: an earlier command of this test got no answer") {
		t.Errorf("the test's other commands were sent and waited for\n%s", tail(res.Stdout))
	}
	if res.ExitCode != 1 {
		t.Errorf("exit status %d, want 1", res.ExitCode)
	}
}
