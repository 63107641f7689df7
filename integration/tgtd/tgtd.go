package tgtd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for a new tgtd to own its portal and
	// answer tgtadm.
	startTimeout = 5 * time.Second
	// commandTimeout bounds every tgtadm run.
	commandTimeout = 10 * time.Second
	// stopGrace is how long Stop waits for tgtd to exit after
	// "--op delete --mode system" before it kills the process group.
	stopGrace = 2 * time.Second
	// reapTimeout bounds the wait for the process after SIGKILL.
	reapTimeout = 10 * time.Second
	// maxStartAttempts is how many ports Start tries when another process
	// takes the chosen port between the probe and tgtd's bind.
	maxStartAttempts = 8
	// maxControl is the largest control number tgtd accepts with -C.
	maxControl = 32767
)

// ErrNotInstalled is returned (wrapped) when a required program is not found.
var ErrNotInstalled = errors.New("not installed: run scripts/install-deps.sh (or apt-get install tgt libiscsi-bin)")

// errPortInUse reports that tgtd could not bind its portal; Start retries.
var errPortInUse = errors.New("portal port already in use")

// bindFailureMarks are what tgtd logs when it cannot bind its portal. It does
// not exit then: it falls back to listening on every address on port 3260.
var bindFailureMarks = []string{"failed to create/bind to portal", "unable to bind server socket"}

// An Option configures Start.
type Option func(*config)

type config struct {
	host string
}

// WithHost makes the portal listen on host, an IP literal without brackets:
// "127.0.0.1" (the default) or "::1".
func WithHost(host string) Option { return func(c *config) { c.host = host } }

// IPv6 makes the portal listen on [::1].
func IPv6() Option { return WithHost("::1") }

// Instance is a running private tgtd. Its methods fail the test bound to it
// (the one given to Start, or the one given to For).
type Instance struct {
	tb testing.TB
	p  *process
}

// process is the state shared by an Instance and its For copies.
type process struct {
	host    string
	port    int
	control int
	dir     string
	sock    string // TGT_IPC_SOCKET; tgtd appends ".<control>"
	logPath string
	tgtadm  string
	pid     int

	done    chan struct{} // closed when Wait has returned
	waitErr error         // valid after done is closed

	mu      sync.Mutex
	stopped bool // Stop or Kill was called: an exit is expected
}

// Start starts a private tgtd on a free port of 127.0.0.1 (or the host given
// with WithHost) and registers a cleanup that stops it. It fails the test when
// tgtd cannot be started; it never skips.
func Start(tb testing.TB, opts ...Option) *Instance {
	tb.Helper()
	cfg := config{host: "127.0.0.1"}
	for _, o := range opts {
		o(&cfg)
	}
	ip := net.ParseIP(cfg.host)
	if ip == nil {
		tb.Fatalf("tgtd: host %q is not an IP literal (want e.g. 127.0.0.1 or ::1)", cfg.host)
	}
	tgtdPath, err := lookTool("tgtd")
	if err != nil {
		tb.Fatalf("tgtd: %v", err)
	}
	tgtadmPath, err := lookTool("tgtadm")
	if err != nil {
		tb.Fatalf("tgtd: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < maxStartAttempts; attempt++ {
		port, err := freePort(cfg.host)
		if err != nil {
			tb.Fatalf("tgtd: cannot find a free port on %s: %v", cfg.host, err)
		}
		p, err := startOnce(cfg.host, port, tgtdPath, tgtadmPath)
		if err == nil {
			inst := &Instance{tb: tb, p: p}
			tb.Cleanup(inst.cleanup)
			return inst
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	tb.Fatalf("tgtd: cannot start a private instance on %s: %v", cfg.host, lastErr)
	return nil
}

// startOnce starts tgtd on host:port and waits until it owns the portal and
// answers tgtadm. On failure nothing is left running or on disk.
func startOnce(host string, port int, tgtdPath, tgtadmPath string) (*process, error) {
	dir, err := os.MkdirTemp(tempBase(), "tgtd-")
	if err != nil {
		return nil, err
	}
	p := &process{
		host: host,
		port: port,
		// The IPC socket ("<sock>.<control>") lives in a private
		// directory, so the control number cannot collide with another
		// instance's; derive it from the port anyway so it differs
		// between instances. tgtd accepts -C 0..32767 only.
		control: port % (maxControl + 1),
		dir:     dir,
		sock:    filepath.Join(dir, "ipc"),
		logPath: filepath.Join(dir, "tgtd.log"),
		tgtadm:  tgtadmPath,
		done:    make(chan struct{}),
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(tgtdPath, "-f", "-C", strconv.Itoa(p.control),
		"--iscsi", "portal="+net.JoinHostPort(host, strconv.Itoa(port)))
	cmd.Env = append(environWithout("TGT_IPC_SOCKET"), "TGT_IPC_SOCKET="+p.sock)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own session and process group (like setsid(1)), and SIGKILL when
	// the test binary dies before its cleanups run.
	cmd.SysProcAttr = newSessionAttr()
	err = cmd.Start()
	logf.Close() // the child holds its own descriptor
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", tgtdPath, err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(); err != nil {
		p.killAndReap()
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// waitReady polls until tgtd owns a listening socket on its port and answers
// tgtadm, or fails: exit, bind failure, or startTimeout.
func (p *process) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("tgtd exited during start-up (%v); log:\n%s", p.waitErr, p.logTail(2048))
		default:
		}
		log := p.readLog()
		for _, m := range bindFailureMarks {
			if strings.Contains(log, m) {
				return fmt.Errorf("%w: %s (tgtd log: %q)", errPortInUse, net.JoinHostPort(p.host, strconv.Itoa(p.port)), m)
			}
		}
		if listenerOwnedBy(p.pid, p.port) {
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			_, err := p.run(ctx, "--op", "show", "--mode", "system")
			cancel()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tgtd did not own %s and answer tgtadm within %v; log:\n%s",
				net.JoinHostPort(p.host, strconv.Itoa(p.port)), startTimeout, p.logTail(2048))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killAndReap sends SIGKILL to the process group unless tgtd has already
// exited, then waits for it. It reports whether the process was reaped.
func (p *process) killAndReap() bool {
	select {
	case <-p.done:
		return true
	default:
	}
	// Negative pid: the whole process group (tgtd is its leader).
	_ = killGroup(p.pid)
	select {
	case <-p.done:
		return true
	case <-time.After(reapTimeout):
		return false
	}
}

func (p *process) markStopped() (already bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	already = p.stopped
	p.stopped = true
	return already
}

// cleanup is registered by Start.
func (i *Instance) cleanup() {
	p := i.p
	p.mu.Lock()
	expected := p.stopped
	p.mu.Unlock()
	select {
	case <-p.done:
		if !expected {
			i.tb.Errorf("tgtd (pid %d, %s) exited before cleanup: %v; log:\n%s", p.pid, i.Addr(), p.waitErr, p.logTail(4096))
		}
	default:
	}
	if i.tb.Failed() {
		i.tb.Logf("tgtd (pid %d, %s) log %s, last lines:\n%s", p.pid, i.Addr(), p.logPath, p.logTail(4096))
	}
	i.Stop()
	os.RemoveAll(p.dir)
}

// Stop stops tgtd: it deletes every target (--force) and the system through
// tgtadm, waits a short grace, then kills the process group with SIGKILL and
// waits for the process. It is idempotent; the cleanup registered by Start
// calls it.
func (i *Instance) Stop() {
	p := i.p
	if p.markStopped() {
		<-p.done
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if out, err := p.run(ctx, "--op", "show", "--mode", "target"); err == nil {
		for _, tid := range parseTIDs(out) {
			p.run(ctx, "--op", "delete", "--mode", "target", "--tid", strconv.Itoa(tid), "--force")
		}
	}
	p.run(ctx, "--op", "delete", "--mode", "system")
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	if !p.killAndReap() {
		i.tb.Errorf("tgtd (pid %d) still not reaped %v after SIGKILL", p.pid, reapTimeout)
	}
}

// Kill kills tgtd with SIGKILL at once, as a crash would, and waits for it.
// Later Stop calls and the cleanup do nothing more.
func (i *Instance) Kill() {
	i.p.markStopped()
	if !i.p.killAndReap() {
		i.tb.Errorf("tgtd (pid %d) still not reaped %v after SIGKILL", i.p.pid, reapTimeout)
	}
}

// Exited reports whether the tgtd process has exited and been reaped.
func (i *Instance) Exited() bool {
	select {
	case <-i.p.done:
		return true
	default:
		return false
	}
}

// For returns a view of the same tgtd whose helpers fail tb instead of the
// test that started it; use it from subtests.
func (i *Instance) For(tb testing.TB) *Instance { return &Instance{tb: tb, p: i.p} }

// Host returns the portal's IP literal, without brackets.
func (i *Instance) Host() string { return i.p.host }

// Port returns the portal's TCP port.
func (i *Instance) Port() int { return i.p.port }

// Addr returns the portal as host:port, with brackets for IPv6.
func (i *Instance) Addr() string { return net.JoinHostPort(i.p.host, strconv.Itoa(i.p.port)) }

// PortalURL returns "iscsi://host:port" (brackets for IPv6), without target.
func (i *Instance) PortalURL() string { return "iscsi://" + i.Addr() }

// TargetURL returns "iscsi://host:port/iqn/lun".
func (i *Instance) TargetURL(iqn string, lun int) string {
	return i.PortalURL() + "/" + iqn + "/" + strconv.Itoa(lun)
}

// Pid returns tgtd's process id (also its process group id).
func (i *Instance) Pid() int { return i.p.pid }

// Control returns the control number given to tgtd and tgtadm with -C.
func (i *Instance) Control() int { return i.p.control }

// Dir returns the instance's private directory (IPC socket, log, backing
// files). It is removed after the instance stops.
func (i *Instance) Dir() string { return i.p.dir }

// LogPath returns the file that holds tgtd's stdout and stderr.
func (i *Instance) LogPath() string { return i.p.logPath }

// Log returns tgtd's output so far.
func (i *Instance) Log() string { return i.p.readLog() }

func (p *process) readLog() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// logTail returns at most n bytes from the end of the log, from a line start.
func (p *process) logTail(n int) string {
	s := p.readLog()
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if j := strings.IndexByte(s, '\n'); j >= 0 {
		s = s[j+1:]
	}
	return "...\n" + s
}

// run runs tgtadm -C N --lld iscsi args under ctx and returns its combined
// output; the error says which command failed (passwords redacted).
func (p *process) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-C", strconv.Itoa(p.control), "--lld", "iscsi"}, args...)
	cmd := exec.CommandContext(ctx, p.tgtadm, full...)
	cmd.Env = append(environWithout("TGT_IPC_SOCKET"), "TGT_IPC_SOCKET="+p.sock)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return out.String(), fmt.Errorf("tgtadm %s: %w: %s", strings.Join(redactArgs(full), " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// lookTool finds name in PATH, then in /usr/sbin and /sbin (tgtd and tgtadm
// live there and PATH of unprivileged users often lacks them).
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, ErrNotInstalled)
}

// freePort returns a port that was free on host a moment ago.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port, nil
}

// tempBase returns a directory for instance directories whose paths stay well
// below the 108-byte limit of a unix socket path.
func tempBase() string {
	if d := os.TempDir(); len(d) <= 64 {
		return d
	}
	return "/tmp"
}

// environWithout returns os.Environ() without the named variables.
func environWithout(names ...string) []string {
	env := os.Environ()
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// parseTIDs returns the target ids in "tgtadm --op show --mode target"
// output, which has lines "Target 1: iqn...".
func parseTIDs(show string) []int {
	var tids []int
	for _, line := range strings.Split(show, "\n") {
		rest, ok := strings.CutPrefix(line, "Target ")
		if !ok {
			continue
		}
		num, _, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if tid, err := strconv.Atoi(num); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

// redactArgs replaces the value after --password with "<redacted>" and the
// password in iscsi://user%password@ URLs.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for k, a := range args {
		if k > 0 && args[k-1] == "--password" {
			out[k] = "<redacted>"
			continue
		}
		out[k] = redactURL(a)
	}
	return out
}

// redactURL hides the password of an iscsi:// URL and target_password=
// query values; other strings are returned unchanged.
func redactURL(s string) string {
	rest, ok := strings.CutPrefix(s, "iscsi://")
	if !ok {
		return s
	}
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		if slash := strings.IndexByte(rest, '/'); slash < 0 || at < slash {
			if pct := strings.IndexByte(rest[:at], '%'); pct >= 0 {
				rest = rest[:pct] + "%<redacted>" + rest[at:]
			}
		}
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for k, kv := range params {
			if key, _, ok := strings.Cut(kv, "="); ok && strings.Contains(strings.ToLower(key), "password") {
				params[k] = key + "=<redacted>"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return "iscsi://" + rest
}
