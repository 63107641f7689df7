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
	"syscall"
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
	// signalTimeout bounds the wait for SIGSTOP or SIGCONT to take effect.
	signalTimeout = 2 * time.Second
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

// process is the state shared by an Instance and its For copies: the portal,
// directory and IPC socket, which outlive a restart, and the tgtd currently
// serving them.
type process struct {
	host     string
	port     int
	control  int
	dir      string
	sock     string // TGT_IPC_SOCKET; tgtd appends ".<control>"
	logPath  string
	tgtdPath string
	tgtadm   string

	mu      sync.Mutex
	d       *daemon    // the running tgtd, or the last one
	stopped bool       // Stop or Kill was called: an exit is expected
	paused  bool       // Pause was called and Resume not yet
	journal [][]string // tgtadm commands that changed the configuration, in order
}

// daemon is one run of tgtd. Restart replaces it.
type daemon struct {
	pid      int
	logStart int64         // size of the log when it started
	done     chan struct{} // closed when Wait has returned
	waitErr  error         // valid after done is closed
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
		control:  port % (maxControl + 1),
		dir:      dir,
		sock:     filepath.Join(dir, "ipc"),
		logPath:  filepath.Join(dir, "tgtd.log"),
		tgtdPath: tgtdPath,
		tgtadm:   tgtadmPath,
	}
	if err := p.spawn(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// spawn starts a tgtd on the process's portal and IPC socket, makes it the
// current daemon and waits until it is ready. On failure the new tgtd is
// killed and reaped.
func (p *process) spawn() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	var logStart int64
	if fi, err := logf.Stat(); err == nil {
		logStart = fi.Size()
	}
	cmd := exec.Command(p.tgtdPath, "-f", "-C", strconv.Itoa(p.control),
		"--iscsi", "portal="+net.JoinHostPort(p.host, strconv.Itoa(p.port)))
	cmd.Env = append(environWithout("TGT_IPC_SOCKET"), "TGT_IPC_SOCKET="+p.sock)
	cmd.Dir = p.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own session and process group (like setsid(1)), and SIGKILL when
	// the test binary dies before its cleanups run.
	cmd.SysProcAttr = newSessionAttr()
	err = cmd.Start()
	logf.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("starting %s: %w", p.tgtdPath, err)
	}
	d := &daemon{pid: cmd.Process.Pid, logStart: logStart, done: make(chan struct{})}
	go func() {
		d.waitErr = cmd.Wait()
		close(d.done)
	}()
	p.mu.Lock()
	p.d = d
	p.paused = false
	p.mu.Unlock()
	if err := p.waitReady(d); err != nil {
		d.killAndReap()
		return err
	}
	return nil
}

// current returns the running (or last) tgtd.
func (p *process) current() *daemon {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.d
}

// waitReady polls until d owns a listening socket on the port and answers
// tgtadm, or fails: exit, bind failure, or startTimeout.
func (p *process) waitReady(d *daemon) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-d.done:
			return fmt.Errorf("tgtd exited during start-up (%v); log:\n%s", d.waitErr, p.logTail(2048))
		default:
		}
		log := p.readLogFrom(d.logStart)
		for _, m := range bindFailureMarks {
			if strings.Contains(log, m) {
				return fmt.Errorf("%w: %s (tgtd log: %q)", errPortInUse, net.JoinHostPort(p.host, strconv.Itoa(p.port)), m)
			}
		}
		if listenerOwnedBy(d.pid, p.port) {
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
// SIGKILL also ends a tgtd stopped with SIGSTOP.
func (d *daemon) killAndReap() bool {
	select {
	case <-d.done:
		return true
	default:
	}
	// Negative pid: the whole process group (tgtd is its leader).
	_ = killGroup(d.pid)
	select {
	case <-d.done:
		return true
	case <-time.After(reapTimeout):
		return false
	}
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
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
	expected, d := p.stopped, p.d
	p.mu.Unlock()
	if d.exited() && !expected {
		i.tb.Errorf("tgtd (pid %d, %s) exited before cleanup: %v; log:\n%s", d.pid, i.Addr(), d.waitErr, p.logTail(4096))
	}
	if i.tb.Failed() {
		i.tb.Logf("tgtd (pid %d, %s) log %s, last lines:\n%s", d.pid, i.Addr(), p.logPath, p.logTail(4096))
	}
	i.Stop()
	os.RemoveAll(p.dir)
}

// Stop stops tgtd: it resumes it if paused, deletes every target (--force)
// and the system through tgtadm, waits a short grace, then kills the process
// group with SIGKILL and waits for the process. It is idempotent; the cleanup
// registered by Start calls it. Restart starts tgtd again.
func (i *Instance) Stop() {
	p := i.p
	d := p.current()
	if p.markStopped() {
		<-d.done
		return
	}
	if d.exited() {
		return
	}
	// A paused tgtd would not answer tgtadm: continue it (no test failure
	// if that fails; SIGKILL follows the grace anyway).
	p.mu.Lock()
	if p.paused {
		_ = signalGroup(d.pid, sigCont)
		p.paused = false
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if out, err := p.run(ctx, "--op", "show", "--mode", "target"); err == nil {
		for _, tid := range parseTIDs(out) {
			p.run(ctx, "--op", "delete", "--mode", "target", "--tid", strconv.Itoa(tid), "--force")
		}
	}
	p.run(ctx, "--op", "delete", "--mode", "system")
	select {
	case <-d.done:
		return
	case <-time.After(stopGrace):
	}
	if !d.killAndReap() {
		i.tb.Errorf("tgtd (pid %d) still not reaped %v after SIGKILL", d.pid, reapTimeout)
	}
}

// Kill kills tgtd with SIGKILL at once, as a crash would, and waits for it.
// Later Stop calls and the cleanup do nothing more, until Restart.
func (i *Instance) Kill() {
	i.p.markStopped()
	d := i.p.current()
	if !d.killAndReap() {
		i.tb.Errorf("tgtd (pid %d) still not reaped %v after SIGKILL", d.pid, reapTimeout)
	}
	i.p.mu.Lock()
	i.p.paused = false
	i.p.mu.Unlock()
}

// Restart brings tgtd back as after a crash and a reboot of the target: it
// kills the running tgtd with SIGKILL (if Kill or Stop has not ended it
// already), starts a new one on the same portal, IPC socket and directory,
// and replays every tgtadm command that changed the configuration (targets,
// LUNs with their backing files, ACLs, accounts, parameters), in order. The
// LUNs keep their serial numbers and designators (tgtd derives them from the
// target and LUN numbers) and their data (the backing files are untouched).
// Sessions of the old tgtd are gone: initiators see their connections reset
// or closed and must log in again. Restart fails the test if the port cannot
// be bound again or a replayed command fails.
func (i *Instance) Restart() {
	i.tb.Helper()
	p := i.p
	if d := p.current(); !d.killAndReap() {
		i.tb.Fatalf("tgtd (pid %d) still not reaped %v after SIGKILL", d.pid, reapTimeout)
	}
	var err error
	for attempt := 0; attempt < maxStartAttempts; attempt++ {
		if err = p.spawn(); !errors.Is(err, errPortInUse) {
			break
		}
		// Something else holds the port for a moment (a connection
		// being torn down, a probe of another test): wait and retry.
		time.Sleep(50 * time.Millisecond * time.Duration(attempt+1))
	}
	if err != nil {
		i.tb.Fatalf("tgtd: restarting on %s: %v", i.Addr(), err)
	}
	p.mu.Lock()
	journal := append([][]string(nil), p.journal...)
	p.stopped = false
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout*time.Duration(1+len(journal)/8))
	defer cancel()
	for _, args := range journal {
		if _, err := p.run(ctx, args...); err != nil {
			i.tb.Fatalf("tgtd: replaying the configuration after a restart on %s: %v", i.Addr(), err)
		}
	}
}

// Pause stops tgtd with SIGSTOP: its sockets stay open and the kernel keeps
// accepting connections and buffering data for it, but it reads, answers and
// closes nothing, like a hung target. tgtadm cannot reach it either (Tgtadm
// would wait for its 10 s timeout). Resume undoes it; Stop, Kill, Restart and
// the cleanup resume or kill a paused tgtd themselves.
func (i *Instance) Pause() {
	i.tb.Helper()
	i.signal(sigStop, true)
}

// Resume continues a tgtd stopped by Pause (SIGCONT). It does nothing when
// tgtd is not paused.
func (i *Instance) Resume() {
	i.tb.Helper()
	i.p.mu.Lock()
	paused := i.p.paused
	i.p.mu.Unlock()
	if paused {
		i.signal(sigCont, false)
	}
}

// Paused reports whether tgtd is stopped by Pause.
func (i *Instance) Paused() bool {
	i.p.mu.Lock()
	defer i.p.mu.Unlock()
	return i.p.paused
}

func (i *Instance) signal(sig syscall.Signal, paused bool) {
	i.tb.Helper()
	p := i.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.d.exited() {
		i.tb.Fatalf("tgtd (pid %d, %s): %v: tgtd has exited", p.d.pid, i.Addr(), sig)
	}
	if err := signalGroup(p.d.pid, sig); err != nil {
		i.tb.Fatalf("tgtd (pid %d, %s): %v: %v", p.d.pid, i.Addr(), sig, err)
	}
	p.paused = paused
	// Signals are delivered asynchronously: wait (bounded) until the
	// kernel shows the process stopped or running, so that the caller's
	// next step meets the state it asked for.
	deadline := time.Now().Add(signalTimeout)
	for {
		st, err := procState(p.d.pid)
		if err != nil || (st == "T") == paused {
			return
		}
		if time.Now().After(deadline) {
			i.tb.Fatalf("tgtd (pid %d, %s): still in state %q %v after %v", p.d.pid, i.Addr(), st, signalTimeout, sig)
		}
		time.Sleep(time.Millisecond)
	}
}

// procState returns the state letter of /proc/PID/stat ("R", "S", "T", ...).
func procState(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	return parseProcState(string(b))
}

// parseProcState extracts the state from /proc/PID/stat text, "pid (comm)
// S ...", where comm may hold spaces and parentheses: the state follows the
// last ')'.
func parseProcState(stat string) (string, error) {
	k := strings.LastIndexByte(stat, ')')
	if k < 0 || k+3 > len(stat) || stat[k+1] != ' ' {
		return "", fmt.Errorf("tgtd: cannot parse /proc stat %q", stat)
	}
	return stat[k+2 : k+3], nil
}

// Exited reports whether the current tgtd process has exited and been
// reaped.
func (i *Instance) Exited() bool { return i.p.current().exited() }

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

// Pid returns the process id (also the process group id) of the current
// tgtd; it changes with Restart.
func (i *Instance) Pid() int { return i.p.current().pid }

// Control returns the control number given to tgtd and tgtadm with -C.
func (i *Instance) Control() int { return i.p.control }

// Dir returns the instance's private directory (IPC socket, log, backing
// files). It is removed after the instance stops.
func (i *Instance) Dir() string { return i.p.dir }

// LogPath returns the file that holds tgtd's stdout and stderr.
func (i *Instance) LogPath() string { return i.p.logPath }

// Log returns tgtd's output so far.
func (i *Instance) Log() string { return i.p.readLog() }

func (p *process) readLog() string { return p.readLogFrom(0) }

// readLogFrom returns the log from byte offset off on (a restarted tgtd
// appends to the same log).
func (p *process) readLogFrom(off int64) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
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
