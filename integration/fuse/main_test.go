//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package fuse_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/internal/syncbuf"
)

// The programs the tests run, besides tgtd.
var tools = []string{"fusermount3", "mkfs.ext4", "e2fsck", "qemu-img", "fallocate", "cmp", "md5sum", "dd", "cp", "stat", "truncate"}

// binDir holds our iscsi-fuse, built once.
var binDir string

func TestMain(m *testing.M) {
	tgtd.Gate("integration/fuse", tools...)
	if _, err := os.Stat("/dev/fuse"); err != nil {
		// The kernel side is missing: a failure when tests are required,
		// as a missing tgtd is (see tgtd.Gate).
		if os.Getenv(tgtd.EnvRequire) != "" {
			fmt.Fprintf(os.Stderr, "integration/fuse: /dev/fuse missing (%v) and %s is set: load the fuse module (modprobe fuse)\n", err, tgtd.EnvRequire)
			os.Exit(1)
		}
		fmt.Printf("integration/fuse: /dev/fuse missing (%v); skipping\ntesting: warning: no tests to run\n", err)
		os.Exit(0)
	}
	os.Exit(tgtd.RunWithCommands(m, &binDir, "iscsi-fuse"))
}

// mount is a running iscsi-fuse.
type mount struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// mountWait bounds the wait for a mount to appear and for iscsi-fuse to
// exit after SIGTERM.
const mountWait = 20 * time.Second

// startMount runs iscsi-fuse args... URL DIR (DIR a new empty directory)
// and waits until DIR is a FUSE mount. The cleanup stops it with SIGTERM,
// kills it if it does not exit, and unmounts (lazily if need be) whatever
// is left, so that no failed test leaves a mount behind.
func startMount(t *testing.T, url string, args ...string) *mount {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Other users (TestLUNURLReadOnly's nobody) reach the mount point
	// through t.TempDir's two directories (0700).
	for _, d := range []string{filepath.Dir(dir), filepath.Dir(filepath.Dir(dir))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := &mount{t: t, dir: dir, out: &syncbuf.Buffer{}, exited: make(chan struct{})}
	m.cmd = exec.Command(filepath.Join(binDir, "iscsi-fuse"), append(args, url, dir)...)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	// Its own process group, and killed with the test binary.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(m.cleanup)
	deadline := time.Now().Add(mountWait)
	for !mounted(dir) {
		select {
		case <-m.exited:
			t.Fatalf("iscsi-fuse exited before mounting (%v):\n%s", m.err, m.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mount on %s after %v:\n%s", dir, mountWait, m.out)
		}
	}
	return m
}

// path returns the path of name under the mount point.
func (m *mount) path(name string) string { return filepath.Join(m.dir, name) }

// stop sends SIGTERM and waits (bounded) for iscsi-fuse to exit; it
// returns the error of the wait (nil: exit status 0).
func (m *mount) stop() error {
	m.t.Helper()
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
		return m.err
	case <-time.After(mountWait):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
		return fmt.Errorf("iscsi-fuse did not exit within %v of SIGTERM", mountWait)
	}
}

func (m *mount) cleanup() {
	select {
	case <-m.exited:
	default:
		if err := m.stop(); err != nil {
			m.t.Errorf("stopping iscsi-fuse: %v", err)
		}
	}
	if mounted(m.dir) {
		m.t.Errorf("%s still mounted after iscsi-fuse exited; unmounting lazily", m.dir)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "fusermount3", "-u", "-z", m.dir).CombinedOutput(); err != nil {
			m.t.Errorf("fusermount3 -u -z %s: %v: %s", m.dir, err, out)
			_ = syscall.Unmount(m.dir, syscall.MNT_DETACH)
		}
	}
	if m.t.Failed() {
		m.t.Logf("iscsi-fuse output:\n%s", m.out)
	}
}

// mounted reports whether dir is a mount point (/proc/self/mountinfo).
func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// toolTimeout bounds each program run through a mount.
const toolTimeout = 60 * time.Second

// sh runs a program under toolTimeout and returns what it printed; a
// non-zero exit fails the test unless wantFail.
func sh(t *testing.T, wantFail bool, name string, args ...string) tgtd.ToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	res, err := tgtd.RunToolContext(ctx, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, res.Stdout, res.Stderr)
	}
	if failed := res.ExitCode != 0; failed != wantFail {
		t.Fatalf("%s %s: exit %d (want failure: %v)\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), res.ExitCode, wantFail, res.Stdout, res.Stderr)
	}
	return res
}

// waitFor polls cond every 20 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
