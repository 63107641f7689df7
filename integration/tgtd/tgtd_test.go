//go:build linux

package tgtd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/auth"
)

func TestMain(m *testing.M) {
	Gate("integration/tgtd")
	goleak.VerifyTestMain(m)
}

// requireIPv6 skips, saying why, when the machine has no IPv6 loopback.
func requireIPv6(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	l.Close()
}

// iscsiLs runs "iscsi-ls -s url" and returns its output.
func iscsiLs(t *testing.T, env []string, url string, extra ...string) ToolResult {
	t.Helper()
	return RunTool(t, env, "iscsi-ls", append(append([]string{"-s"}, extra...), url)...)
}

// assertPortClosed checks that nothing accepts on addr.
func assertPortClosed(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
	}
}

// assertGone checks that pid no longer exists (it was reaped).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("tgtd pid %d still exists after Stop (kill 0: %v)", pid, err)
	}
}

func TestStartBothFamilies(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		host     string
		wantAddr func(port int) string
		wantURL  func(port int) string
	}{
		{"ipv4", nil, "127.0.0.1",
			func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) },
			func(p int) string { return "iscsi://127.0.0.1:" + strconv.Itoa(p) }},
		{"ipv6", []Option{IPv6()}, "::1",
			func(p int) string { return "[::1]:" + strconv.Itoa(p) },
			func(p int) string { return "iscsi://[::1]:" + strconv.Itoa(p) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.host == "::1" {
				requireIPv6(t)
			}
			inst := Start(t, tc.opts...)
			if inst.Host() != tc.host {
				t.Errorf("Host() = %q, want %q", inst.Host(), tc.host)
			}
			if inst.Port() == 3260 || inst.Port() <= 0 {
				t.Errorf("Port() = %d, want a private port", inst.Port())
			}
			if got, want := inst.Addr(), tc.wantAddr(inst.Port()); got != want {
				t.Errorf("Addr() = %q, want %q", got, want)
			}
			if got, want := inst.PortalURL(), tc.wantURL(inst.Port()); got != want {
				t.Errorf("PortalURL() = %q, want %q", got, want)
			}
			if !listenerOwnedBy(inst.Pid(), inst.Port()) {
				t.Errorf("pid %d does not own a listener on port %d", inst.Pid(), inst.Port())
			}

			targets := inst.Apply(
				TargetSpec{TID: 1, IQN: IQN(1), LUNs: []LUNSpec{{Size: 64 << 20}, {Size: 1 << 20, Random: true, ReadOnly: true}}},
				TargetSpec{TID: 2, IQN: IQN(2), LUNs: []LUNSpec{{Null: true, BlockSize: 4096}}},
			)
			if len(targets) != 2 || len(targets[0].LUNs) != 2 || targets[1].LUNs[0].Size != NullLUNSize {
				t.Fatalf("Apply returned %+v", targets)
			}

			c, err := net.DialTimeout("tcp", inst.Addr(), 5*time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", inst.Addr(), err)
			}
			c.Close()

			res := iscsiLs(t, nil, inst.PortalURL())
			if res.ExitCode != 0 {
				t.Fatalf("iscsi-ls exit %d\nstdout:\n%s\nstderr:\n%s", res.ExitCode, res.Stdout, res.Stderr)
			}
			for _, want := range []string{
				"Target:" + IQN(1) + " Portal:" + inst.Addr() + ",1",
				"Target:" + IQN(2) + " Portal:" + inst.Addr() + ",1",
				"Lun:0    Type:STORAGE_ARRAY_CONTROLLER",
				"Lun:1    Type:DIRECT_ACCESS (Size:63M)",
				"Lun:2    Type:DIRECT_ACCESS (Size:1023k)",
				"Lun:1    Type:DIRECT_ACCESS (Size:1023G)",
			} {
				if !strings.Contains(res.Stdout, want) {
					t.Errorf("iscsi-ls output lacks %q:\n%s", want, res.Stdout)
				}
			}

			show := inst.Show()
			for _, want := range []string{"Block size: 4096", "Readonly: Yes", "Backing store type: null", targets[0].LUNs[0].Path} {
				if !strings.Contains(show, want) {
					t.Errorf("Show() lacks %q:\n%s", want, show)
				}
			}

			pid, addr := inst.Pid(), inst.Addr()
			inst.Stop()
			inst.Stop() // idempotent
			if !inst.Exited() {
				t.Errorf("Exited() = false after Stop")
			}
			assertGone(t, pid)
			assertPortClosed(t, addr)
		})
	}
}

func TestParallelInstancesAreIndependent(t *testing.T) {
	const n = 4
	insts := make([]*Instance, n)
	for k := range insts {
		insts[k] = Start(t)
		insts[k].NewTarget(1, fmt.Sprintf("iqn.2024-01.test:inst%d", k))
		insts[k].BindInitiatorAddress(1, "ALL")
	}
	for k, inst := range insts {
		res := iscsiLs(t, nil, inst.PortalURL())
		for j := range insts {
			name := fmt.Sprintf("iqn.2024-01.test:inst%d", j)
			if got, want := strings.Contains(res.Stdout, name), j == k; got != want {
				t.Errorf("instance %d lists %s: %v, want %v\n%s", k, name, got, want, res.Stdout)
			}
		}
	}
}

func TestPortTakenIsDetectedAndRetried(t *testing.T) {
	tgtdPath, err := lookTool("tgtd")
	if err != nil {
		t.Fatal(err)
	}
	tgtadmPath, err := lookTool("tgtadm")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	p, err := startOnce("127.0.0.1", port, tgtdPath, tgtadmPath)
	if !errors.Is(err, errPortInUse) {
		if p != nil {
			p.current().killAndReap()
		}
		t.Fatalf("startOnce on a taken port: err = %v, want errPortInUse", err)
	}
	// Start itself picks another port and succeeds.
	inst := Start(t)
	if inst.Port() == port {
		t.Errorf("Start reused the taken port %d", port)
	}
}

func TestACL(t *testing.T) {
	inst := Start(t)
	const iqn = "iqn.2024-01.test:acl"
	const allowed = "iqn.2024-01.test:allowed-initiator"
	inst.NewTarget(1, iqn)
	inst.AddLUN(1, 1, "", Null())

	res := iscsiLs(t, nil, inst.PortalURL())
	if strings.Contains(res.Stdout, iqn) {
		t.Errorf("a target with no binding is visible:\n%s", res.Stdout)
	}

	inst.BindInitiatorName(1, allowed)
	if res := iscsiLs(t, nil, inst.PortalURL(), "-i", allowed); !strings.Contains(res.Stdout, "Lun:1") {
		t.Errorf("initiator %s bound by name cannot list LUNs:\n%s\n%s", allowed, res.Stdout, res.Stderr)
	}
	if res := iscsiLs(t, nil, inst.PortalURL(), "-i", "iqn.2024-01.test:other"); strings.Contains(res.Stdout, "Lun:1") {
		t.Errorf("an unbound initiator name can list LUNs:\n%s", res.Stdout)
	}

	inst.BindInitiatorAddress(1, "127.0.0.0/8")
	if res := iscsiLs(t, nil, inst.PortalURL(), "-i", "iqn.2024-01.test:other"); !strings.Contains(res.Stdout, "Lun:1") {
		t.Errorf("initiator from a bound CIDR cannot list LUNs:\n%s\n%s", res.Stdout, res.Stderr)
	}
}

func TestCHAP(t *testing.T) {
	inst := Start(t)
	const iqn = "iqn.2024-01.test:chap"
	user, pass := "alice", auth.NewSecret("alice-secret-12")
	tuser, tpass := "target1", auth.NewSecret("target-secret-34")
	inst.NewTarget(1, iqn)
	inst.AddLUN(1, 1, inst.NewBackingFile(8<<20))
	inst.BindInitiatorAddress(1, "ALL")
	inst.NewAccount(user, pass)
	inst.NewAccount(tuser, tpass)
	inst.BindAccount(1, user)

	creds := []string{"LIBISCSI_CHAP_USERNAME=" + user, "LIBISCSI_CHAP_PASSWORD=" + pass.Reveal()}
	wrong := []string{"LIBISCSI_CHAP_USERNAME=" + user, "LIBISCSI_CHAP_PASSWORD=wrong-secret-99"}
	mutual := append(creds[:2:2], "LIBISCSI_CHAP_TARGET_USERNAME="+tuser, "LIBISCSI_CHAP_TARGET_PASSWORD="+tpass.Reveal())
	badMutual := append(creds[:2:2], "LIBISCSI_CHAP_TARGET_USERNAME="+tuser, "LIBISCSI_CHAP_TARGET_PASSWORD=not-the-target")
	urlCreds := fmt.Sprintf("iscsi://%s%%%s@%s", user, pass.Reveal(), inst.Addr())

	type step struct {
		name    string
		setup   func()
		env     []string
		url     string
		wantLUN bool
	}
	steps := []step{
		{name: "target CHAP, no credentials", url: inst.PortalURL()},
		{name: "target CHAP, wrong password", env: wrong, url: inst.PortalURL()},
		{name: "target CHAP, environment", env: creds, url: inst.PortalURL(), wantLUN: true},
		{name: "target CHAP, URL", url: urlCreds, wantLUN: true},
		{name: "discovery CHAP, no credentials", setup: func() { inst.BindDiscoveryAccount(user) }, url: inst.PortalURL()},
		{name: "discovery CHAP, environment", env: creds, url: inst.PortalURL(), wantLUN: true},
		{name: "mutual CHAP", setup: func() {
			inst.BindOutgoingAccount(1, tuser)
			inst.BindDiscoveryOutgoingAccount(tuser)
		}, env: mutual, url: inst.PortalURL(), wantLUN: true},
		{name: "mutual CHAP, wrong target secret", env: badMutual, url: inst.PortalURL()},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		res := iscsiLs(t, s.env, s.url)
		gotLUN := strings.Contains(res.Stdout, "Lun:1    Type:DIRECT_ACCESS")
		if gotLUN != s.wantLUN {
			t.Errorf("%s: LUN listed = %v, want %v\nstdout:\n%s\nstderr:\n%s", s.name, gotLUN, s.wantLUN, res.Stdout, res.Stderr)
		}
		if !s.wantLUN && res.ExitCode == 0 && strings.Contains(res.Stdout, iqn) {
			t.Errorf("%s: iscsi-ls reached the target and exited 0", s.name)
		}
	}
	if show := inst.Show(); !strings.Contains(show, user) || strings.Contains(show, pass.Reveal()) {
		t.Errorf("Show() should name account %s and never its password:\n%s", user, show)
	}
}

func TestSetParam(t *testing.T) {
	inst := Start(t)
	inst.NewTarget(1, IQN(1))
	params := []struct{ key, value string }{
		{"MaxRecvDataSegmentLength", "65536"},
		{"FirstBurstLength", "131072"},
		{"MaxBurstLength", "524288"},
		{"ImmediateData", "No"},
		{"InitialR2T", "No"},
		{"HeaderDigest", "CRC32C"},
		{"DataDigest", "CRC32C"},
	}
	for _, p := range params {
		inst.SetParam(1, p.key, p.value)
	}
	got := map[string]string{}
	for _, line := range strings.Split(inst.ShowParams(1), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			got[k] = v
		}
	}
	for _, p := range params {
		if got[p.key] != p.value {
			t.Errorf("%s = %q after SetParam, want %q", p.key, got[p.key], p.value)
		}
	}
	if _, err := inst.Tgtadm("--op", "update", "--mode", "target", "--tid", "1", "--name", "NoSuchKey", "--value", "1"); err == nil {
		t.Errorf("updating an unknown key succeeded")
	}
}

func TestKillAndCleanup(t *testing.T) {
	inst := Start(t)
	inst.NewTarget(1, IQN(1))
	pid, addr := inst.Pid(), inst.Addr()
	inst.Kill()
	if !inst.Exited() {
		t.Fatalf("Exited() = false after Kill")
	}
	assertGone(t, pid)
	assertPortClosed(t, addr)
	inst.Stop() // no-op after Kill
	if _, err := inst.Tgtadm("--op", "show", "--mode", "target"); err == nil {
		t.Errorf("tgtadm reached a killed tgtd")
	}
}

func TestForSubtests(t *testing.T) {
	inst, targets := StartWithTargets(t, 2, 2, 4<<20)
	if diff := cmp.Diff([]string{IQN(1), IQN(2)}, []string{targets[0].IQN, targets[1].IQN}); diff != "" {
		t.Errorf("IQNs (-want +got):\n%s", diff)
	}
	for _, tg := range targets {
		t.Run(tg.IQN, func(t *testing.T) {
			t.Parallel()
			sub := inst.For(t)
			if !strings.Contains(sub.Show(), tg.IQN) {
				t.Errorf("Show() lacks %s", tg.IQN)
			}
			res := RunTool(t, nil, "iscsi-readcapacity16", sub.TargetURL(tg.IQN, 2))
			if want := "Total size:" + strconv.Itoa(4<<20); !strings.Contains(res.Stdout, want) {
				t.Errorf("iscsi-readcapacity16 lacks %q:\n%s\n%s", want, res.Stdout, res.Stderr)
			}
		})
	}
}

func TestRunToolContext(t *testing.T) {
	_, err := RunToolContext(context.Background(), nil, "no-such-iscsi-tool")
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("missing tool: err = %v, want ErrNotInstalled", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := RunToolContext(ctx, nil, "sleep", "60")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("tool past its deadline: err = %v, want DeadlineExceeded", err)
	}
	if res.ExitCode != -1 {
		t.Errorf("killed tool: ExitCode = %d, want -1", res.ExitCode)
	}

	t.Setenv("LIBISCSI_CHAP_PASSWORD", "ambient")
	res, err = RunToolContext(context.Background(), []string{"LIBISCSI_CHAP_USERNAME=u"}, "sh", "-c", `echo "$LIBISCSI_CHAP_USERNAME/$LIBISCSI_CHAP_PASSWORD"; exit 3`)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "u/\n" || res.ExitCode != 3 {
		t.Errorf("got stdout %q exit %d, want %q exit 3 (ambient LIBISCSI_* removed, env added)", res.Stdout, res.ExitCode, "u/\n")
	}
}

func TestRedactArgs(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"--user", "u", "--password", "p4ss"}, []string{"--user", "u", "--password", "<redacted>"}},
		{[]string{"-s", "iscsi://alice%s3cret@127.0.0.1:3260"}, []string{"-s", "iscsi://alice%<redacted>@127.0.0.1:3260"}},
		{[]string{"iscsi://alice%s3cret@[::1]:3260/iqn.x/1?target_user=t&target_password=tp"},
			[]string{"iscsi://alice%<redacted>@[::1]:3260/iqn.x/1?target_user=t&target_password=<redacted>"}},
		{[]string{"iscsi://alice@127.0.0.1/iqn.x%y/1"}, []string{"iscsi://alice@127.0.0.1/iqn.x%y/1"}},
		{[]string{"iscsi://127.0.0.1/iqn.x/1"}, []string{"iscsi://127.0.0.1/iqn.x/1"}},
		{[]string{"plain%text@x"}, []string{"plain%text@x"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, redactArgs(tc.in)); diff != "" {
			t.Errorf("redactArgs(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseTIDs(t *testing.T) {
	show := "Target 1: iqn.a\n    System information:\nTarget 12: iqn.b:c\n    LUN: 0\nTarget x: bad\n"
	if diff := cmp.Diff([]int{1, 12}, parseTIDs(show)); diff != "" {
		t.Errorf("parseTIDs (-want +got):\n%s", diff)
	}
}

func TestListeningInodes(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:33CD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9826 1 0000000000000000 100 0 0 10 0
   1: 0100007F:33CE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9900 1 0000000000000000 100 0 0 10 0
   2: 0100007F:33CD 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 9950 1 0000000000000000 100 0 0 10 0
   3: 00000000000000000000000001000000:33CD 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9977 1
garbage
`
	tests := []struct {
		port int
		want []string
	}{
		{0x33CD, []string{"9826", "9977"}},
		{0x33CE, []string{"9900"}},
		{3260, nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, listeningInodes(table, tc.port)); diff != "" {
			t.Errorf("port %d (-want +got):\n%s", tc.port, diff)
		}
	}
}
