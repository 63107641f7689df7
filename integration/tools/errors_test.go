package tools_test

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// silentPortal accepts connections and never answers; it stops at the end
// of the test.
func silentPortal(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

// refusedPortal returns an address where nothing listens.
func refusedPortal(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestErrors checks what a user sees when something is wrong: one line on
// standard error that says what, nothing on standard output, exit status
// 10, and the CHAP secret nowhere, with and without -d. Where libiscsi's
// tool ends by itself, its exit status must be 10 as well.
func TestErrors(t *testing.T) {
	inst := layout(t)
	addr := inst.Addr()
	silent := silentPortal(t)
	refused := refusedPortal(t)
	wrongEnv := []string{"LIBISCSI_CHAP_USERNAME=" + chapUser, "LIBISCSI_CHAP_PASSWORD=wrong-" + chapSecret}
	goodEnv := []string{"LIBISCSI_CHAP_USERNAME=" + chapUser, "LIBISCSI_CHAP_PASSWORD=" + chapSecret}
	cred := chapUser + "%" + chapSecret + "@"
	wrongCred := chapUser + "%wrong-" + chapSecret + "@"

	cases := []struct {
		name string
		tool string
		args []string
		env  []string
		want string // in the message
		// skipLibiscsi: libiscsi's tool does not end by itself (it
		// hangs on a silent portal) or differs on purpose.
		skipLibiscsi bool
		// stdout is what standard output may hold (iscsi-ls prints as
		// it goes, like libiscsi's).
		stdout string
	}{
		{name: "malformed URL with a password", tool: "iscsi-inq", args: []string{"iscsi://" + cred + addr}, want: "target"},
		{name: "malformed URL scheme", tool: "iscsi-readcapacity16", args: []string{"http://" + cred + addr + "/" + iqnDisks + "/1"}, want: "iscsi://"},
		{name: "malformed portal URL", tool: "iscsi-ls", args: []string{"iscsi://" + cred + "127.0.0.1:99999"}, want: "port"},
		{name: "missing URL", tool: "iscsi-inq", args: nil, want: "URL"},
		{name: "refused port", tool: "iscsi-ls", args: []string{"iscsi://" + cred + refused}, want: "connection refused"},
		{name: "refused port inq", tool: "iscsi-inq", args: []string{"iscsi://" + refused + "/" + iqnDisks + "/1"}, want: "connection refused"},
		{name: "silent portal", tool: "iscsi-inq", args: []string{"-t", "1s", "iscsi://" + cred + silent + "/" + iqnDisks + "/1"}, want: "no answer within 1s", skipLibiscsi: true},
		{name: "silent portal ls", tool: "iscsi-ls", args: []string{"--timeout=1s", "iscsi://" + silent}, want: "no answer within 1s", skipLibiscsi: true},
		{name: "wrong CHAP secret in URL", tool: "iscsi-inq", args: []string{"iscsi://" + wrongCred + addr + "/" + iqnCHAP + "/1"}, want: "authentication failed"},
		{name: "wrong CHAP secret in env", tool: "iscsi-readcapacity16", args: []string{inst.TargetURL(iqnCHAP, 1)}, env: wrongEnv, want: "authentication failed"},
		{name: "wrong CHAP secret ls -s", tool: "iscsi-ls", args: []string{"-s", "iscsi://" + wrongCred + addr}, want: "authentication failed", skipLibiscsi: true,
			stdout: "Target:" + iqnCHAP + " Portal:" + addr + ",1\n"},
		{name: "missing CHAP secret", tool: "iscsi-inq", args: []string{inst.TargetURL(iqnCHAP, 1)}, want: "requires CHAP"},
		{name: "unknown target", tool: "iscsi-inq", args: []string{inst.TargetURL(iqnDisks+"-nope", 1)}, env: goodEnv, want: "target not found"},
		{name: "unknown target rc16", tool: "iscsi-readcapacity16", args: []string{"iscsi://" + cred + addr + "/" + iqnDisks + "-nope/1"}, want: "target not found"},
		{name: "non-existent LUN", tool: "iscsi-inq", args: []string{inst.TargetURL(iqnDisks, 9)}, want: "LUN does not exist"},
		{name: "non-existent LUN rc16", tool: "iscsi-readcapacity16", args: []string{"iscsi://" + cred + addr + "/" + iqnCHAP + "/9"}, want: "LUN does not exist"},
		{name: "unsupported VPD page", tool: "iscsi-inq", args: []string{"-e", "1", "-c", "134", inst.TargetURL(iqnDisks, 1)}, want: "does not support this page"},
		{name: "page iscsi-inq cannot decode", tool: "iscsi-inq", args: []string{"-e", "1", "-c", "0x86", inst.TargetURL(iqnDisks, 1)}, want: "does not support this page", skipLibiscsi: true},
		{name: "READ CAPACITY of the controller", tool: "iscsi-readcapacity16", args: []string{inst.TargetURL(iqnDisks, 0)}, want: "INVALID COMMAND OPERATION CODE"},
		{name: "page code without EVPD", tool: "iscsi-inq", args: []string{"-c", "128", inst.TargetURL(iqnDisks, 1)}, want: "needs --evpd 1"},
		{name: "bad evpd", tool: "iscsi-inq", args: []string{"-e", "2", inst.TargetURL(iqnDisks, 1)}, want: "evpd", skipLibiscsi: true},
		{name: "bad timeout", tool: "iscsi-ls", args: []string{"-t", "0s", inst.PortalURL()}, want: "timeout", skipLibiscsi: true},
		{name: "unknown option", tool: "iscsi-readcapacity16", args: []string{"--bogus", inst.TargetURL(iqnDisks, 1)}, want: "unknown flag: --bogus", skipLibiscsi: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, debug := range []bool{false, true} {
				args := c.args
				if debug {
					args = append([]string{"-d"}, args...)
				}
				r := tgtd.RunTool(t, c.env, ours(c.tool), args...)
				assertNoSecret(t, r)
				if strings.Contains(r.Stderr+r.Stdout, "wrong-"+chapSecret) {
					t.Errorf("-d=%v: the wrong secret appears in the output: %s", debug, r.Stderr)
				}
				if r.ExitCode != 10 {
					t.Errorf("-d=%v: exit status %d, want 10; stderr: %s", debug, r.ExitCode, r.Stderr)
				}
				if r.Stdout != c.stdout {
					t.Errorf("-d=%v: standard output %q, want %q", debug, r.Stdout, c.stdout)
				}
				lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
				msg := lines[len(lines)-1]
				if c.args == nil {
					msg = lines[0] // then the usage follows
				} else if !debug && len(lines) != 1 {
					t.Errorf("stderr has %d lines, want one:\n%s", len(lines), r.Stderr)
				}
				if !strings.HasPrefix(msg, c.tool+": ") || !strings.Contains(msg, c.want) {
					t.Errorf("-d=%v: message %q, want %q in a line starting with %q", debug, msg, c.want, c.tool+": ")
				}
				if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic") {
					t.Errorf("-d=%v: stack trace on stderr:\n%s", debug, r.Stderr)
				}
				if debug && strings.Contains(msg, "level=") {
					t.Errorf("-d=%v: the last line is a log record, not the error: %q", debug, msg)
				}
			}
			if !c.skipLibiscsi {
				r := tgtd.RunTool(t, c.env, c.tool, c.args...)
				if r.ExitCode != 10 {
					t.Errorf("libiscsi's %s exited %d, want 10 as ours", c.tool, r.ExitCode)
				}
			}
		})
	}
}

// TestDebugTrace checks that -d prints a readable trace of the PDUs,
// CHAP login included, without the secret.
func TestDebugTrace(t *testing.T) {
	inst := layout(t)
	env := []string{"LIBISCSI_CHAP_USERNAME=" + chapUser, "LIBISCSI_CHAP_PASSWORD=" + chapSecret}
	for _, c := range []struct {
		tool string
		args []string
	}{
		{"iscsi-inq", []string{"-d", "iscsi://" + chapUser + "%" + chapSecret + "@" + inst.Addr() + "/" + iqnCHAP + "/1"}},
		{"iscsi-inq", []string{"--debug=2", inst.TargetURL(iqnCHAP, 1)}},
		{"iscsi-readcapacity16", []string{"-d", inst.TargetURL(iqnCHAP, 1)}},
		{"iscsi-ls", []string{"-d", "-s", inst.PortalURL()}},
	} {
		t.Run(c.tool+" "+strconv.Quote(c.args[0]), func(t *testing.T) {
			r := tgtd.RunTool(t, env, ours(c.tool), c.args...)
			assertNoSecret(t, r)
			if r.ExitCode != 0 {
				t.Fatalf("exit %d: %s", r.ExitCode, r.Stderr)
			}
			for _, want := range []string{"Login Request", "Login Response", "SCSI Command", "Logout Request"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("trace lacks %q:\n%s", want, r.Stderr)
				}
			}
			if r.Stdout == "" {
				t.Error("no output besides the trace")
			}
		})
	}
}
