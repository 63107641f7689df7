// Package cli is what the command-line tools (iscsi-ls, iscsi-inq,
// iscsi-readcapacity16, iscsi-swp, iscsi-dd, …) share:
// POSIX flag parsing (github.com/spf13/pflag) with libiscsi's flag names,
// one-line error messages, libiscsi's exit status 10, the -d trace through
// log/slog, the -t login timeout, and the login-then-TEST-UNIT-READY
// sequence libiscsi's iscsi_full_connect_sync performs.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Exit statuses, as libiscsi's tools use them.
const (
	ExitOK      = 0
	ExitFailure = 10
)

// DefaultTimeout is the default of -t: it bounds connecting and logging in
// (and, for iscsi-ls, the whole discovery exchange).
const DefaultTimeout = session.DefaultLoginTimeout

// DebugKind says how a tool's -d flag takes its value.
type DebugKind int

// Kinds of -d.
const (
	// DebugSwitch: -d/--debug takes no value (iscsi-ls,
	// iscsi-readcapacity16).
	DebugSwitch DebugKind = iota
	// DebugLevel: -d/--debug takes an optional level: -d, -d N, -dN,
	// -d=N, --debug, --debug=N (iscsi-inq).
	DebugLevel
	// DebugLong: --debug only, for tools whose -d means something else
	// (libiscsi's iscsi-dd has -d/--dst).
	DebugLong
)

// Tool is one run of a command-line tool.
type Tool struct {
	Name   string // program name, e.g. "iscsi-inq"
	Flags  *pflag.FlagSet
	Stdout *bufio.Writer
	Stderr io.Writer

	// Set by the common flags.
	Initiator string
	Timeout   time.Duration
	Debug     int
	Netpoller bool // --netpoller: Go's netpoller, not session.BlockingDialer

	initiatorDefault string
	help, helpQ      bool
	usage            bool
	version          bool
	debugKind        DebugKind
	debugSwitch      bool
	helpText         string
	usageText        string
}

// New returns a Tool with the flags every tool has: -i/--initiator-name,
// -d/--debug, -t/--timeout, -?/-h/--help, -u/--usage and --version. initiator is the
// default initiator name (libiscsi's tools each have their own). helpText
// and usageText are printed on stderr for --help and --usage.
func New(name, initiator string, debug DebugKind, helpText, usageText string, stdout, stderr io.Writer) *Tool {
	t := &Tool{
		Name:             name,
		Flags:            pflag.NewFlagSet(name, pflag.ContinueOnError),
		Stdout:           bufio.NewWriter(stdout),
		Stderr:           stderr,
		initiatorDefault: initiator,
		debugKind:        debug,
		helpText:         helpText,
		usageText:        usageText,
	}
	f := t.Flags
	f.SetOutput(io.Discard)
	f.Usage = func() {}
	f.SortFlags = false
	f.StringVarP(&t.Initiator, "initiator-name", "i", initiator, "initiator name to use")
	f.DurationVarP(&t.Timeout, "timeout", "t", DefaultTimeout, "bound on connecting and logging in")
	f.BoolVarP(&t.help, "help", "h", false, "show the help message")
	f.BoolVarP(&t.helpQ, "help-q", "?", false, "show the help message")
	_ = f.MarkHidden("help-q")
	f.BoolVarP(&t.usage, "usage", "u", false, "show a brief usage message")
	// Long form only: libiscsi's tools have no --version, and -v/-V are
	// left free for whatever they may add.
	f.BoolVar(&t.version, "version", false, "print the version and exit")
	// Ours (libiscsi's tools have no such flag), long form only.
	f.BoolVar(&t.Netpoller, "netpoller", false, "connect through Go's netpoller (a net.Dialer) rather than the default session.BlockingDialer")
	switch debug {
	case DebugSwitch:
		f.BoolVarP(&t.debugSwitch, "debug", "d", false, "print a trace of the PDUs exchanged")
	case DebugLevel:
		f.IntVarP(&t.Debug, "debug", "d", 0, "debug level (0 = disabled)")
		f.Lookup("debug").NoOptDefVal = "1"
	case DebugLong:
		f.BoolVar(&t.debugSwitch, "debug", false, "print a trace of the PDUs exchanged")
	}
	return t
}

// ErrUsage is the error of a command line that cannot be run.
var ErrUsage = errors.New("usage")

// Parse parses args (without the program name). It returns the positional
// arguments, done=true when --help, --usage or --version was handled (exit
// ExitOK), or an error already printed (exit ExitFailure).
func (t *Tool) Parse(args []string) (positional []string, done bool, err error) {
	if t.debugKind == DebugLevel {
		args = joinDebugLevel(args)
	}
	if err := t.Flags.Parse(args); err != nil {
		t.Errorf("%v (see %s --help)", err, t.Name)
		return nil, false, ErrUsage
	}
	if t.debugSwitch {
		t.Debug = 1
	}
	if t.help || t.helpQ {
		io.WriteString(t.Stderr, t.helpText)
		return nil, true, nil
	}
	if t.usage {
		io.WriteString(t.Stderr, t.usageText)
		return nil, true, nil
	}
	if t.version {
		fmt.Fprintln(t.Stdout, Version(t.Name))
		return nil, true, nil
	}
	if t.Timeout <= 0 {
		t.Errorf("invalid timeout %v: it must be positive", t.Timeout)
		return nil, false, ErrUsage
	}
	return t.Flags.Args(), false, nil
}

// joinDebugLevel rewrites "-d N" and "-dN" into "-d=N" so that -d takes an
// optional value the way libiscsi's iscsi-inq takes it (1.19 has -d alone,
// later versions -d N) while "-d URL" keeps meaning level 1.
func joinDebugLevel(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case a == "-d" && i+1 < len(args) && isInt(args[i+1]):
			out = append(out, "-d="+args[i+1])
			i++
		case strings.HasPrefix(a, "-d") && len(a) > 2 && a[2] != '=' && isInt(a[2:]):
			out = append(out, "-d="+a[2:])
		default:
			out = append(out, a)
		}
	}
	return out
}

func isInt(s string) bool {
	_, err := strconv.ParseInt(s, 0, 32)
	return err == nil
}

// ParseInt parses a number as C's strtol with base 0 does for a whole
// argument: decimal, 0x hexadecimal or 0 octal.
func ParseInt(s string) (int64, error) { return strconv.ParseInt(s, 0, 64) }

// ByteRange parses the --offset and --length arguments of the tools that
// work on a byte range of a LUN: byte counts, 0 or more (length 0: to the
// end). A bad value is reported on stderr and ok is false.
func (t *Tool) ByteRange(offStr, lenStr string) (offset, length int64, ok bool) {
	offset, err := ParseInt(offStr)
	if err != nil || offset < 0 {
		t.Errorf("invalid --offset %q: a number of bytes, 0 or more", offStr)
		return 0, 0, false
	}
	length, err = ParseInt(lenStr)
	if err != nil || length < 0 {
		t.Errorf("invalid --length %q: a number of bytes, 0 or more (0: to the end)", lenStr)
		return 0, 0, false
	}
	return offset, length, true
}

// Errorf prints "name: message" as one line on stderr.
func (t *Tool) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " ")
	t.Stdout.Flush()
	fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, msg)
}

// Fail prints err as one line (see Describe) and returns ExitFailure.
func (t *Tool) Fail(what string, err error) int {
	if what != "" {
		t.Errorf("%s: %s", what, t.Describe(err))
	} else {
		t.Errorf("%s", t.Describe(err))
	}
	return ExitFailure
}

// Describe turns an error of the library into a message for a user: the
// library's own text, with a hint where the cause is a timeout.
func (t *Tool) Describe(err error) string {
	msg := err.Error()
	var le *session.LoginError
	switch {
	case errors.As(err, &le) && le.Class != 0:
		// The target refused the login: its status says why.
	case errors.Is(err, context.DeadlineExceeded):
		msg += fmt.Sprintf(" (no answer within %v; -t sets the limit)", t.Timeout)
	case errors.Is(err, context.Canceled):
		msg = "interrupted"
	case errors.Is(err, scsi.ErrLUNotSupported) && !strings.Contains(msg, "does not exist"):
		msg = "the LUN does not exist on this target (" + msg + ")"
	}
	return msg
}

// Config returns the session configuration of the flags: initiator name,
// login timeout, and with -d a logger that traces PDUs on stderr.
//
// AllowNoAuth stays off. One-way CHAP credentials still log in to a target
// that does not ask for CHAP, as libiscsi's tools do (iscsi-ls -s hands
// the discovery credentials to every target): the library offers
// CHAP,None for them and says so at Info. Mutual CHAP (target_user,
// target_password) is never downgraded: a target that cannot prove itself
// fails the login.
func (t *Tool) Config() *session.Config {
	c := &session.Config{
		InitiatorName: t.Initiator,
		LoginTimeout:  t.Timeout,
	}
	if t.Netpoller {
		c.Dialer = &net.Dialer{}
	}
	if t.Debug > 0 {
		h := slog.NewTextHandler(t.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug - 4})
		c.Logger = slog.New(h).With("tool", t.Name)
		c.TracePDUs = true
	}
	return c
}

// Context returns the context of a run: cancelled by SIGINT or SIGTERM.
func Context() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// OneURL checks that exactly one URL was given; otherwise it prints
// missing (libiscsi's message) and the usage, or a complaint about extra
// arguments, and returns false.
func (t *Tool) OneURL(args []string, missing string) (string, bool) {
	switch len(args) {
	case 0:
		t.Stdout.Flush()
		fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, missing)
		io.WriteString(t.Stderr, t.usageText)
		return "", false
	case 1:
		return args[0], true
	}
	t.Errorf("one URL expected, got %d arguments", len(args))
	return "", false
}

// HostHelp ends every tool's help text: the host forms of a URL and how to
// keep a password off the command line.
const HostHelp = `<host> is either of:
  "hostname"       iscsi.example
  "ipv4-address"   10.1.1.27
  "ipv6-address"   [fce0::1]

CHAP credentials: LIBISCSI_CHAP_USERNAME and LIBISCSI_CHAP_PASSWORD keep the
password out of the command line.
`

// DisplayURL returns rawURL for display: the credentials of the
// environment left out and every password dropped (the user name stays),
// e.g. "iscsi://alice@127.0.0.1:3260/iqn.x/1". A URL that does not parse is
// returned as "<unparsable URL>", never as given (it may hold a password).
func DisplayURL(rawURL string) string {
	u, err := iscsiurl.Parser{}.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	u.Password = auth.Secret{}
	u.TargetPassword = auth.Secret{}
	return u.String()
}
