// Command iscsi-rtpg prints the target port groups of a LUN (REPORT TARGET
// PORT GROUPS: ALUA states and relative target port IDs), line for line as
// libiscsi's iscsi-rtpg (newer than 1.19) prints them.
//
//	iscsi-rtpg [-i initiator-name] [-d] [-t timeout] iscsi://host[:port]/target-iqn/lun
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
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-rtpg"

const usageText = "Usage: iscsi-rtpg [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-t|--timeout=duration] <iscsi-url>\n"

const helpText = `Usage: iscsi-rtpg [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name     Initiatorname to use
  -d, --debug[=integer]             debug level (0=disabled)
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

// firstAlloc is libiscsi's first allocation length; a longer report is
// asked for once more in full.
const firstAlloc = 512

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// libiscsi's iscsi-rtpg logs in as iscsi-inq.
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq", cli.DebugLevel, helpText, usageText, stdout, stderr)
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	url, ok := t.OneURL(pos, "You must specify the URL")
	if !ok {
		return cli.ExitFailure
	}
	s, err := t.Connect(ctx, url)
	if err != nil {
		return t.Fail("", err)
	}
	d, err := rtpg(ctx, s)
	cli.Close(s)
	if err != nil {
		return t.Fail("", err)
	}
	printRTPG(t.Stdout, &d)
	return cli.ExitOK
}

const cmdName = "REPORT TARGET PORT GROUPS"

func rtpg(ctx context.Context, s *session.Session) (scsi.TargetPortGroups, error) {
	alloc := firstAlloc
	for try := 0; ; try++ {
		data, err := cli.In(ctx, s, s.LUN(), scsi.ReportTargetPortGroups(false, uint32(alloc)), alloc)
		if err != nil {
			if errors.Is(err, scsi.ErrInvalidOpcode) || errors.Is(err, scsi.ErrInvalidFieldInCDB) {
				return scsi.TargetPortGroups{}, fmt.Errorf("%s on LUN %v: the target does not report target port groups (no ALUA): %w", cmdName, s.LUN(), err)
			}
			return scsi.TargetPortGroups{}, cli.CommandError(s.LUN(), cmdName, err)
		}
		d, err := scsi.ParseTargetPortGroups(data)
		if err != nil {
			return scsi.TargetPortGroups{}, cli.CommandError(s.LUN(), cmdName, err)
		}
		if !d.Truncated || d.FullLength() <= int64(alloc) {
			return d, nil
		}
		if try == 1 || d.FullLength() > 1<<20 {
			return scsi.TargetPortGroups{}, fmt.Errorf("%s on LUN %v: the report of %d bytes did not fit in %d", cmdName, s.LUN(), d.FullLength(), alloc)
		}
		alloc = int(d.FullLength())
	}
}
