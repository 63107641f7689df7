// Command iscsi-swp shows, sets or clears the software write protect bit
// (SWP) of a LUN's control mode page, line for line as libiscsi's iscsi-swp
// does: MODE SENSE(10) of page 0x0a, "SWP:n", then with -s on|off "Turning
// SWP ON|OFF" and MODE SELECT(10) of the page with SWP changed.
//
//	iscsi-swp [-s on|off] [-i initiator-name] [-d] [-t timeout] iscsi://host[:port]/target-iqn/lun
//
// See docs/TOOLS.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-swp"

const usageText = "Usage: iscsi-swp [-?] [-?|--help] [--usage] [-i|--initiator-name=iqn-name]\n" +
	"\t\t[-s|--swp {on|off}] <iscsi-url>\n"

const helpText = `Usage: iscsi-swp [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name     Initiatorname to use
  -s, --swp={on|off}                Turn software write protect on/off
  -d, --debug[=integer]             debug level (0=disabled)
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

// senseAlloc is libiscsi's allocation length for MODE SENSE(10).
const senseAlloc = 255

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-swp", cli.DebugLevel, helpText, usageText, stdout, stderr)
	var swpArg string
	t.Flags.StringVarP(&swpArg, "swp", "s", "", "on or off")
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	var set, on bool
	switch swpArg {
	case "":
	case "on", "ON":
		set, on = true, true
	case "off", "OFF":
		set, on = true, false
	default:
		// libiscsi ignores a value it does not know and only shows the
		// bit; a typo should not pass for success.
		t.Errorf("invalid --swp %q: on or off (ON, OFF)", swpArg)
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
	code := swp(ctx, t, s, set, on)
	cli.Close(s)
	return code
}

// swp does what libiscsi's iscsi-swp does after login. Its messages on
// standard output are libiscsi's; failures of the transport go to standard
// error in our format.
func swp(ctx context.Context, t *cli.Tool, s *session.Session, set, on bool) int {
	w := t.Stdout
	data, err := cli.In(ctx, s, s.LUN(), scsi.ModeSense10(false, true, scsi.PageCurrent, scsi.ModePageControl, 0, senseAlloc), senseAlloc)
	if err != nil {
		return scsiFailure(t, "MODE_SENSE10", err)
	}
	ms, err := scsi.ParseModeSense10(data)
	if err != nil {
		fmt.Fprintf(w, "failed to unmarshall mode sense datain blob\n")
		return cli.ExitFailure
	}
	page, ok := ms.Page(scsi.ModePageControl, 0)
	if !ok || len(page.Data) < 3 {
		fmt.Fprintf(w, "failed to read control mode page\n")
		return cli.ExitFailure
	}
	const swpBit = 0x08 // byte 4 of the page, byte 2 after its header
	fmt.Fprintf(w, "SWP:%d\n", b2i(page.Data[2]&swpBit != 0))
	if !set {
		return cli.ExitOK
	}
	if on {
		fmt.Fprintf(w, "Turning SWP ON\n")
	} else {
		fmt.Fprintf(w, "Turning SWP OFF\n")
	}
	// The page goes back as the target sent it, with SWP changed and PS
	// cleared (reserved in MODE SELECT).
	d := append([]byte(nil), page.Data...)
	if on {
		d[2] |= swpBit
	} else {
		d[2] &^= swpBit
	}
	sel := scsi.ModePage{Code: page.Code, Subpage: page.Subpage, SPF: page.SPF, Data: d}
	params, err := scsi.AppendModeSelect10(nil, &scsi.ModeParameters{Pages: []scsi.ModePage{sel}})
	if err != nil {
		t.Errorf("MODE SELECT(10) on LUN %v: %v", s.LUN(), err)
		return cli.ExitFailure
	}
	cctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	f := s.Execute(cctx, s.LUN(), scsi.ModeSelect10(true, false, uint16(len(params))), session.DirWrite, iovector.New(params))
	if _, err := f.Wait(); err != nil {
		return scsiFailure(t, "MODE_SELECT10", err)
	}
	return cli.ExitOK
}

// scsiFailure reports a failed command: a SCSI status as libiscsi's tool
// prints it ("MODE_SENSE10 failed: SENSE KEY:...", on standard output),
// anything else on standard error.
func scsiFailure(t *cli.Tool, cmd string, err error) int {
	var se *scsi.StatusError
	if errors.As(err, &se) {
		fmt.Fprintf(t.Stdout, "%s failed: %s\n", cmd, libiscsiStatus(se))
		return cli.ExitFailure
	}
	return t.Fail(cmd, err)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
