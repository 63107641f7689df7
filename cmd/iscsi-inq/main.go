// Command iscsi-inq prints the standard INQUIRY data or a VPD page of a
// LUN, line for line as libiscsi's iscsi-inq prints them.
//
//	iscsi-inq [-e 1 -c pagecode] [-i initiator-name] [-d] [-t timeout] iscsi://host[:port]/target-iqn/lun
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

const name = "iscsi-inq"

const usageText = "Usage: iscsi-inq [-?] [-?|--help] [--usage] [-i|--initiator-name=iqn-name]\n" +
	"\t\t[-e|--evpd=integer] [-c|--pagecode=integer] [-t|--timeout=duration] <iscsi-url>\n"

const helpText = `Usage: iscsi-inq [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name     Initiatorname to use
  -e, --evpd=integer                evpd
  -c, --pagecode=integer            page code
  -d, --debug[=integer]             debug level (0=disabled)
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message
      --version                     Print the version and exit

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

// firstAlloc is the allocation length of the first INQUIRY, as libiscsi's;
// a longer answer is asked for again in full.
const firstAlloc = 64

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-inq", cli.DebugLevel, helpText, usageText, stdout, stderr)
	var evpd, page int
	t.Flags.IntVarP(&evpd, "evpd", "e", 0, "1 to read a VPD page")
	t.Flags.IntVarP(&page, "pagecode", "c", 0, "VPD page code")
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	if evpd != 0 && evpd != 1 {
		t.Errorf("invalid --evpd %d: 0 for standard INQUIRY data, 1 for a VPD page", evpd)
		return cli.ExitFailure
	}
	if page < 0 || page > 0xff {
		t.Errorf("invalid --pagecode %d: a page code is 0 to 255 (0x00 to 0xff)", page)
		return cli.ExitFailure
	}
	if evpd == 0 && page != 0 {
		// libiscsi sends the page code with EVPD=0, which SPC forbids and
		// targets refuse (INVALID FIELD IN CDB); say so before connecting.
		t.Errorf("--pagecode 0x%02x needs --evpd 1 (a page code without EVPD is invalid)", page)
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
	if evpd == 0 {
		err = standard(ctx, t, s)
	} else {
		err = vpd(ctx, t, s, uint8(page))
	}
	// Log out first, so that with -d the error is the last line.
	cli.Close(s)
	if err != nil {
		return t.Fail("", err)
	}
	return cli.ExitOK
}

func standard(ctx context.Context, t *cli.Tool, s *session.Session) error {
	data, err := cli.In(ctx, s, s.LUN(), scsi.Inquiry(firstAlloc), firstAlloc)
	if err != nil {
		return cli.CommandError(s.LUN(), "INQUIRY", err)
	}
	q, err := scsi.ParseStandardInquiry(data)
	if err == nil && q.Truncated && q.FullLength() > len(data) {
		data, err = cli.In(ctx, s, s.LUN(), scsi.Inquiry(uint16(q.FullLength())), q.FullLength())
		if err != nil {
			return cli.CommandError(s.LUN(), "INQUIRY", err)
		}
		q, err = scsi.ParseStandardInquiry(data)
	}
	if err != nil {
		return cli.CommandError(s.LUN(), "INQUIRY", err)
	}
	printStandard(t.Stdout, &q)
	return nil
}

func vpd(ctx context.Context, t *cli.Tool, s *session.Session, page uint8) error {
	cmd := fmt.Sprintf("INQUIRY VPD page 0x%02x (%s)", page, scsi.PageName(page))
	data, err := cli.In(ctx, s, s.LUN(), scsi.InquiryVPD(page, firstAlloc), firstAlloc)
	if err == nil {
		var h scsi.VPDHeader
		h, _, err = scsi.ParseVPDHeader(data)
		if err == nil && h.Truncated && h.FullLength() > len(data) {
			n := h.FullLength()
			data, err = cli.In(ctx, s, s.LUN(), scsi.InquiryVPD(page, uint16(min(n, 0xffff))), n)
		}
	}
	if err != nil {
		if errors.Is(err, scsi.ErrInvalidFieldInCDB) {
			return fmt.Errorf("%s on LUN %v: the LUN does not support this page (%w); -e 1 -c 0 lists the pages it has", cmd, s.LUN(), err)
		}
		return cli.CommandError(s.LUN(), cmd, err)
	}
	ok, err := printPage(t.Stdout, page, data)
	if err != nil {
		return cli.CommandError(s.LUN(), cmd, err)
	}
	if !ok {
		names := make([]string, len(decodable))
		for i, p := range decodable {
			names[i] = fmt.Sprintf("0x%02x", p)
		}
		return fmt.Errorf("VPD page 0x%02x (%s) is not one iscsi-inq can decode (it decodes %s)", page, scsi.PageName(page), strings.Join(names, ", "))
	}
	return nil
}
