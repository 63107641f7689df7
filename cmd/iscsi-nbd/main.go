// Command iscsi-nbd serves the LUNs of an iSCSI target over the Network
// Block Device protocol, so that any NBD client (qemu-img, qemu-io,
// nbdcopy, nbdinfo, nbdfuse, nbd-client) reads and writes them through
// this initiator, with no kernel initiator and no root.
//
//	iscsi-nbd [--listen HOST:PORT | --unix PATH] [--read-only] [-i initiator-name] [-d] iscsi://host[:port]/target-iqn/lun
//
// Each disk LUN of the target is an export named by its number ("1",
// "2", …); the URL's LUN is also the default export "". One iSCSI session
// serves every client connection (exports advertise
// NBD_FLAG_CAN_MULTI_CONN). SIGINT or SIGTERM stops it: requests in
// flight are answered, then it logs out. See docs/TOOLS.md.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/nbd"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-nbd"

// DefaultListen is the address served without --listen or --unix: the
// IANA port of NBD, on loopback only.
const DefaultListen = "127.0.0.1:10809"

// shutdownTimeout bounds the wait for requests in flight at exit.
const shutdownTimeout = 30 * time.Second

const usageText = "Usage: iscsi-nbd [-?|--help] [--usage] [--version] [-i|--initiator-name=iqn-name]\n" +
	"\t\t[-l|--listen=host:port | -U|--unix=path] [-r|--read-only] [-d|--debug] <iscsi-url>\n"

const helpText = `Usage: iscsi-nbd [OPTION...] <iscsi-url>
Serve the LUNs of an iSCSI target to NBD clients (qemu, nbdcopy, nbdinfo, …).
Exports are named by LUN number; the URL's LUN is also the default export "".

  -l, --listen=host:port            TCP address to listen on (default ` + DefaultListen + `)
  -U, --unix=path                   listen on a Unix socket instead
  -r, --read-only                   refuse every write
  -i, --initiator-name=iqn-name     Initiatorname to use
  -d, --debug                       log every NBD connection and trace the PDUs
  -t, --timeout=duration            connect and login timeout (default 15s)
      --netpoller                   connect through Go's netpoller, not a blocking socket

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message
      --version                     Print the version

Examples:
  iscsi-nbd iscsi://127.0.0.1/iqn.2003-01.org.example:disk1/1 &
  nbdcopy nbd://127.0.0.1 disk.img                  # the default export
  qemu-img info nbd://127.0.0.1:10809/2             # LUN 2
  iscsi-nbd --unix /tmp/lun.sock iscsi://127.0.0.1/iqn.2003-01.org.example:disk1/1 &
  qemu-img convert -O qcow2 nbd:unix:/tmp/lun.sock disk.qcow2

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends (SIGINT, SIGTERM), the session ends for good,
// or the listener fails.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-nbd", cli.DebugSwitch, helpText, usageText, stdout, stderr)
	var listen, unixPath string
	var readOnly bool
	t.Flags.StringVarP(&listen, "listen", "l", DefaultListen, "TCP address to listen on")
	t.Flags.StringVarP(&unixPath, "unix", "U", "", "Unix socket to listen on")
	t.Flags.BoolVarP(&readOnly, "read-only", "r", false, "refuse writes")
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	if unixPath != "" && t.Flags.Changed("listen") {
		t.Errorf("--listen and --unix exclude each other")
		return cli.ExitFailure
	}
	url, ok := t.OneURL(pos, "You must specify the URL")
	if !ok {
		return cli.ExitFailure
	}
	s, err := t.Connect(ctx, url)
	if err != nil {
		return t.Fail("", err)
	}
	defer cli.Close(s)

	exports, def, err := exportsOf(ctx, s, stderr)
	if err != nil {
		return t.Fail("", err)
	}
	var l net.Listener
	where := ""
	if unixPath != "" {
		l, err = net.Listen("unix", unixPath)
		where = "nbd+unix:///?socket=" + unixPath
	} else {
		l, err = net.Listen("tcp", listen)
		if err == nil {
			where = "nbd://" + l.Addr().String()
		}
	}
	if err != nil {
		return t.Fail("", err)
	}
	level := slog.LevelWarn
	if t.Debug > 0 {
		level = slog.LevelDebug
	}
	srv := &nbd.Server{
		Exports:  exports,
		Default:  def,
		ReadOnly: readOnly,
		Logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("tool", name),
	}
	names := make([]string, len(exports))
	for i, e := range exports {
		names[i] = e.Name
	}
	ro := ""
	if readOnly {
		ro = ", read-only"
	}
	fmt.Fprintf(stderr, "%s: serving LUN %s of %s on %s (default export: LUN %s%s)\n",
		name, strings.Join(names, ", "), s.Target(), where, def, ro)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	code := cli.ExitOK
	select {
	case <-ctx.Done():
		fmt.Fprintf(stderr, "%s: stopping\n", name)
	case err := <-served:
		served <- err
		t.Errorf("%v", err)
		code = cli.ExitFailure
	case <-s.Done():
		t.Errorf("the iSCSI session ended: %v", s.Err())
		code = cli.ExitFailure
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Errorf("requests still in flight at exit: %v", err)
	}
	if err := <-served; err != nil && !errors.Is(err, nbd.ErrServerClosed) && code == cli.ExitOK {
		t.Errorf("%v", err)
		code = cli.ExitFailure
	}
	return code
}

// exportsOf returns the disk LUNs of the session's target as exports,
// named by number, and the name of the URL's LUN (always among them).
func exportsOf(ctx context.Context, s *session.Session, stderr io.Writer) ([]nbd.Export, string, error) {
	def := s.DefaultUnit()
	defName := s.LUN().String()
	if _, err := def.Geometry(ctx); err != nil {
		return nil, "", cli.CommandError(s.LUN(), "READ CAPACITY", err)
	}
	luns, err := s.ReportLUNs(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: REPORT LUNS failed (%v): serving LUN %s only\n", name, err, defName)
		luns = []scsi.LUN{s.LUN()}
	}
	var exports []nbd.Export
	for _, l := range luns {
		u := def
		if l != s.LUN() {
			a, err := l.Decode()
			if err != nil || a.MultiLevel || a.WellKnown || a.Number > 1<<14 {
				continue
			}
			if u, err = s.LogicalUnit(uint32(a.Number)); err != nil {
				continue
			}
			inq, err := u.Inquiry(ctx)
			if err != nil || inq.DeviceType != scsi.TypeDirectAccess || inq.Qualifier != 0 {
				continue // a controller (tgtd's LUN 0), a tape, …
			}
			if _, err := u.Geometry(ctx); err != nil {
				fmt.Fprintf(stderr, "%s: LUN %v left out: %v\n", name, l, err)
				continue
			}
		}
		exports = append(exports, nbd.Export{
			Name:        l.String(),
			Description: fmt.Sprintf("LUN %v of %s", l, s.Target()),
			Device:      u,
		})
	}
	if !containsName(exports, defName) {
		exports = append(exports, nbd.Export{Name: defName, Description: fmt.Sprintf("LUN %s of %s", defName, s.Target()), Device: def})
	}
	sortExports(exports)
	return exports, defName, nil
}

func containsName(exports []nbd.Export, n string) bool {
	for _, e := range exports {
		if e.Name == n {
			return true
		}
	}
	return false
}

// sortExports orders exports by LUN number.
func sortExports(e []nbd.Export) {
	num := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	slices.SortStableFunc(e, func(a, b nbd.Export) int { return cmp.Compare(num(a.Name), num(b.Name)) })
}
