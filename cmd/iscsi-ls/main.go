// Command iscsi-ls lists the targets of an iSCSI portal and, with -s, the
// LUNs of each target, line for line as libiscsi's iscsi-ls prints them.
//
//	iscsi-ls [-s] [-U] [-i initiator-name] [-d] [-t timeout] iscsi://[user[%password]@]host[:port]
//
// See docs/TOOLS.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-ls"

const usageText = "Usage: iscsi-ls [-?|--help] [-d|--debug] [--usage] [-i|--initiator-name=iqn-name]\n" +
	"\t\t[-s|--show-luns] [-U|--url] [-t|--timeout=duration] <iscsi-portal-url>\n"

const helpText = `Usage: iscsi-ls [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name     Initiatorname to use
  -d, --debug                       Print debug information
  -s, --show-luns                   Show the luns for each target
  -U, --url                         Output targets in URL format
                                    (does not work with -s)
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message
      --version                     Print the version and exit

iSCSI Portal URL format : ` + `"` + iscsiurl.PortalSyntax + `"` + `

` + cli.HostHelp

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-ls", cli.DebugSwitch, helpText, usageText, stdout, stderr)
	var showLUNs, urls bool
	t.Flags.BoolVarP(&showLUNs, "show-luns", "s", false, "show the LUNs of each target")
	t.Flags.BoolVarP(&urls, "url", "U", false, "print targets as URLs")
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	raw, ok := t.OneURL(pos, "You must specify iscsi target portal.")
	if !ok {
		return cli.ExitFailure
	}
	u, err := iscsiurl.Parser{LookupEnv: os.LookupEnv}.ParsePortal(raw)
	if err != nil {
		return t.Fail("", err)
	}
	cfg := t.Config()

	dctx, cancel := context.WithTimeout(ctx, t.Timeout)
	targets, err := session.DiscoverURL(dctx, u, cfg)
	cancel()
	if err != nil {
		return t.Fail("discovery", err)
	}

	// libiscsi builds its lists of targets and of each target's portals
	// by prepending, so iscsi-ls prints both in the reverse of the order
	// SendTargets gave them. Scripts may depend on it: so do we.
	w := t.Stdout
	for i := len(targets) - 1; i >= 0; i-- {
		tg := targets[i]
		for j := len(tg.Portals) - 1; j >= 0; j-- {
			p := tg.Portals[j]
			if urls && !showLUNs {
				fmt.Fprintf(w, "iscsi://%s/%s/0\n", addressWithoutTPGT(p.Address), tg.Name)
			} else {
				fmt.Fprintf(w, "Target:%s Portal:%s\n", tg.Name, p.Address)
			}
			if !showLUNs {
				continue
			}
			if strings.HasPrefix(strings.ToLower(p.Address), "[fe80:") {
				t.Errorf("skipping link-local address %s", p.Address)
				continue
			}
			if err := listLUNs(ctx, t, cfg, u, tg.Name, p); err != nil {
				return t.Fail("", err)
			}
		}
	}
	return cli.ExitOK
}

// addressWithoutTPGT cuts a TargetAddress at its last comma, as libiscsi
// does for -U.
func addressWithoutTPGT(a string) string {
	if i := strings.LastIndexByte(a, ','); i >= 0 {
		return a[:i]
	}
	return a
}

// listLUNs logs in to target at portal with the credentials of the portal
// URL, and prints a line per LUN of its REPORT LUNS.
func listLUNs(ctx context.Context, t *cli.Tool, cfg *session.Config, portalURL *iscsiurl.URL, target string, p session.DiscoveredPortal) error {
	u := *portalURL
	u.Host, u.Port, u.Target, u.LUN = p.Host, p.Port, target, 0
	s, err := session.DialURL(ctx, &u, cfg)
	if err != nil {
		return err
	}
	// Log out before the error is printed, so that with -d it is the
	// last line.
	err = reportLUNs(ctx, t, s)
	cli.Close(s)
	return err
}

// reportLUNs prints a line per LUN of the target's REPORT LUNS.
func reportLUNs(ctx context.Context, t *cli.Tool, s *session.Session) error {
	ctl := s.LUN()

	// All targets can answer 16 bytes; some fail a larger first request.
	data, err := cli.In(ctx, s, ctl, scsi.ReportLUNs(scsi.ReportAllLUNs, 16), 16)
	if err != nil {
		return cli.CommandError(ctl, "REPORT LUNS", err)
	}
	list, err := scsi.ParseReportLUNs(data)
	if err == nil && list.Truncated {
		n := list.FullLength()
		if n > 1<<24 {
			return cli.CommandError(ctl, "REPORT LUNS", fmt.Errorf("LUN list of %d bytes is implausibly long", n))
		}
		data, err = cli.In(ctx, s, ctl, scsi.ReportLUNs(scsi.ReportAllLUNs, uint32(n)), int(n))
		if err != nil {
			return cli.CommandError(ctl, "REPORT LUNS", err)
		}
		list, err = scsi.ParseReportLUNs(data)
	}
	if err != nil {
		return cli.CommandError(ctl, "REPORT LUNS", err)
	}
	for _, l := range list.LUNs {
		if err := showLUN(ctx, t, s, l); err != nil {
			return err
		}
	}
	return nil
}

// showLUN prints "Lun:<n> Type:<type>" and, for a disk, its size.
func showLUN(ctx context.Context, t *cli.Tool, s *session.Session, lun scsi.LUN) error {
	noMedia := false
	if err := cli.TestUnitReady(ctx, s, lun); err != nil {
		if !errors.Is(err, scsi.ErrNotReady) || !errors.Is(err, scsi.ErrMediumNotPresent) {
			return cli.CommandError(lun, "TEST UNIT READY", err)
		}
		noMedia = true // most likely a CD-ROM drive without a disc
	}
	data, err := cli.In(ctx, s, lun, scsi.Inquiry(64), 64)
	if err != nil {
		return cli.CommandError(lun, "INQUIRY", err)
	}
	inq, err := scsi.ParseStandardInquiry(data)
	if err != nil {
		return cli.CommandError(lun, "INQUIRY", err)
	}
	var size int64
	var unit byte
	disk := inq.DeviceType == scsi.TypeDirectAccess
	if disk {
		data, err := cli.In(ctx, s, lun, scsi.ReadCapacity10(), 8)
		if err != nil {
			return cli.CommandError(lun, "READ CAPACITY(10)", err)
		}
		c, err := scsi.ParseReadCapacity10(data)
		if err != nil {
			return cli.CommandError(lun, "READ CAPACITY(10)", err)
		}
		size, unit = lunSize(c.BlockLength, c.ReturnedLBA)
	}
	w := t.Stdout
	fmt.Fprintf(w, "Lun:%-4d Type:%v", lunNumber(lun), inq.DeviceType)
	if disk {
		fmt.Fprintf(w, " (Size:%d%c)", size, unit)
	}
	if noMedia {
		io.WriteString(w, " (No media loaded)")
	}
	io.WriteString(w, "\n")
	return nil
}
