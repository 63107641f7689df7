package cli

import (
	"bytes"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestJoinDebugLevel(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"-d", "URL"}, []string{"-d", "URL"}},
		{[]string{"-d", "2", "URL"}, []string{"-d=2", "URL"}},
		{[]string{"-d2", "URL"}, []string{"-d=2", "URL"}},
		{[]string{"-d=3", "URL"}, []string{"-d=3", "URL"}},
		{[]string{"-d", "0x2", "URL"}, []string{"-d=0x2", "URL"}},
		{[]string{"--", "-d", "2"}, []string{"--", "-d", "2"}},
		{[]string{"-e", "1", "-d"}, []string{"-e", "1", "-d"}},
	}
	for _, tt := range tests {
		if got := joinDebugLevel(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("joinDebugLevel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func newTool(kind DebugKind) (*Tool, *bytes.Buffer) {
	var stderr bytes.Buffer
	return New("tool", "iqn.default", kind, "HELP\n", "USAGE\n", &bytes.Buffer{}, &stderr), &stderr
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		kind      DebugKind
		args      []string
		pos       []string
		done      bool
		err       bool
		stderr    string // prefix
		initiator string
		debug     int
		timeout   time.Duration
		netpoller bool
	}{
		{name: "url", args: []string{"U"}, pos: []string{"U"}, initiator: "iqn.default", timeout: DefaultTimeout},
		{name: "short", args: []string{"-i", "iqn.x", "-d", "-t", "2s", "U"}, pos: []string{"U"}, initiator: "iqn.x", debug: 1, timeout: 2 * time.Second},
		{name: "long", args: []string{"--initiator-name=iqn.y", "--debug", "--timeout=1m", "U"}, pos: []string{"U"}, initiator: "iqn.y", debug: 1, timeout: time.Minute},
		{name: "flags after url", args: []string{"U", "-d"}, pos: []string{"U"}, initiator: "iqn.default", debug: 1, timeout: DefaultTimeout},
		{name: "-?", args: []string{"-?"}, done: true, stderr: "HELP"},
		{name: "-h", args: []string{"-h", "U"}, done: true, stderr: "HELP"},
		{name: "--help", args: []string{"--help"}, done: true, stderr: "HELP"},
		{name: "--usage", args: []string{"--usage"}, done: true, stderr: "USAGE"},
		{name: "-u", args: []string{"-u"}, done: true, stderr: "USAGE"},
		{name: "unknown", args: []string{"--bogus", "U"}, err: true, stderr: "tool: unknown flag: --bogus"},
		{name: "switch takes no value", args: []string{"--debug=2", "U"}, err: true, stderr: "tool: invalid argument"},
		{name: "bad timeout", args: []string{"-t", "0s", "U"}, err: true, stderr: "tool: invalid timeout"},
		{name: "level -d", kind: DebugLevel, args: []string{"-d", "U"}, pos: []string{"U"}, initiator: "iqn.default", debug: 1, timeout: DefaultTimeout},
		{name: "level -d 3", kind: DebugLevel, args: []string{"-d", "3", "U"}, pos: []string{"U"}, initiator: "iqn.default", debug: 3, timeout: DefaultTimeout},
		{name: "--netpoller", args: []string{"--netpoller", "U"}, pos: []string{"U"}, initiator: "iqn.default", timeout: DefaultTimeout, netpoller: true},
		{name: "level --debug=0", kind: DebugLevel, args: []string{"--debug=0", "U"}, pos: []string{"U"}, initiator: "iqn.default", timeout: DefaultTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool, stderr := newTool(tt.kind)
			pos, done, err := tool.Parse(tt.args)
			if (err != nil) != tt.err || done != tt.done {
				t.Fatalf("Parse(%q) = done %v, err %v; want done %v, error %v", tt.args, done, err, tt.done, tt.err)
			}
			if !strings.HasPrefix(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want prefix %q", stderr, tt.stderr)
			}
			if tt.err || tt.done {
				return
			}
			if !slices.Equal(pos, tt.pos) || tool.Initiator != tt.initiator || tool.Debug != tt.debug || tool.Timeout != tt.timeout {
				t.Errorf("got pos %q initiator %q debug %d timeout %v; want %q %q %d %v",
					pos, tool.Initiator, tool.Debug, tool.Timeout, tt.pos, tt.initiator, tt.debug, tt.timeout)
			}
			cfg := tool.Config()
			if cfg.InitiatorName != tt.initiator || cfg.LoginTimeout != tt.timeout || (cfg.Logger != nil) != (tt.debug > 0) || cfg.TracePDUs != (tt.debug > 0) {
				t.Errorf("Config() = %+v", cfg)
			}
			// --netpoller gives a net.Dialer; without it the session's
			// default (nil: session.BlockingDialer).
			if _, isNet := cfg.Dialer.(*net.Dialer); isNet != tt.netpoller || (!tt.netpoller && cfg.Dialer != nil) {
				t.Errorf("Config().Dialer = %T, want a *net.Dialer: %v", cfg.Dialer, tt.netpoller)
			}
		})
	}
}

func TestErrorfOneLine(t *testing.T) {
	tool, stderr := newTool(DebugSwitch)
	tool.Errorf("first\nsecond  third\n")
	if got, want := stderr.String(), "tool: first second third\n"; got != want {
		t.Errorf("Errorf wrote %q, want %q", got, want)
	}
}

func TestOneURL(t *testing.T) {
	tool, stderr := newTool(DebugSwitch)
	if _, ok := tool.OneURL(nil, "You must specify the URL"); ok || stderr.String() != "tool: You must specify the URL\nUSAGE\n" {
		t.Errorf("no URL: ok %v, stderr %q", ok, stderr)
	}
	stderr.Reset()
	if _, ok := tool.OneURL([]string{"a", "b"}, ""); ok || !strings.Contains(stderr.String(), "one URL expected, got 2") {
		t.Errorf("two URLs: ok %v, stderr %q", ok, stderr)
	}
	if u, ok := tool.OneURL([]string{"a"}, ""); !ok || u != "a" {
		t.Errorf("one URL: %q %v", u, ok)
	}
}

func TestDisplayURL(t *testing.T) {
	t.Setenv("LIBISCSI_CHAP_USERNAME", "envuser")
	t.Setenv("LIBISCSI_CHAP_PASSWORD", "envsecret")
	for in, want := range map[string]string{
		"iscsi://127.0.0.1/iqn.x:t/1":                                 "iscsi://127.0.0.1:3260/iqn.x:t/1",
		"iscsi://alice%s3cret@[::1]:3261/iqn.x:t/2":                   "iscsi://alice@[::1]:3261/iqn.x:t/2",
		"iscsi://a%b@h/iqn.x:t/0?target_user=t&target_password=tsecr": "iscsi://a@h:3260/iqn.x:t/0?target_user=t",
		"iscsi://alice%s3cret@":                                       "<unparsable URL>",
	} {
		if got := DisplayURL(in); got != want {
			t.Errorf("DisplayURL(%q) = %q, want %q", in, got, want)
		}
	}
}
