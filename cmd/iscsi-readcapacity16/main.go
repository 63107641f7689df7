// Command iscsi-readcapacity16 prints the READ CAPACITY(16) data of a LUN,
// line for line as libiscsi's iscsi-readcapacity16 prints it.
//
//	iscsi-readcapacity16 [-s] [-i initiator-name] [-d] [-t timeout] iscsi://host[:port]/target-iqn/lun
//
// See docs/TOOLS.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
)

const name = "iscsi-readcapacity16"

const usageText = "Usage: iscsi-readcapacity16 [-?] [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-s] [-t|--timeout=duration] <iscsi-url>\n"

const helpText = `Usage: iscsi-readcapacity16 [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name     Initiatorname to use
  -s, --size                        print target size only
  -d, --debug                       print a trace of the PDUs exchanged
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message
      --version                     Print the version and exit

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-readcapacity16", cli.DebugSwitch, helpText, usageText, stdout, stderr)
	var sizeOnly bool
	t.Flags.BoolVarP(&sizeOnly, "size", "s", false, "print the size only")
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
	data, err := cli.In(ctx, s, s.LUN(), scsi.ReadCapacity16(32), 32)
	var c scsi.Capacity16
	if err == nil {
		c, err = scsi.ParseReadCapacity16(data)
	}
	// Log out first, so that with -d the error is the last line.
	cli.Close(s)
	if err != nil {
		return t.Fail("", cli.CommandError(s.LUN(), "READ CAPACITY(16)", err))
	}
	w := t.Stdout
	// libiscsi multiplies in 64-bit unsigned arithmetic; so do we.
	total := uint64(c.BlockLength) * (c.ReturnedLBA + 1)
	if sizeOnly {
		fmt.Fprintf(w, "%d\n", total)
		return cli.ExitOK
	}
	fmt.Fprintf(w, "RETURNED LOGICAL BLOCK ADDRESS:%d\n", c.ReturnedLBA)
	fmt.Fprintf(w, "LOGICAL BLOCK LENGTH IN BYTES:%d\n", c.BlockLength)
	fmt.Fprintf(w, "P_TYPE:%d PROT_EN:%d\n", c.PType, b2i(c.ProtEn))
	fmt.Fprintf(w, "P_I_EXPONENT:%d LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:%d\n", c.PIExponent, c.LBPPBE)
	fmt.Fprintf(w, "LBPME:%d LBPRZ:%d\n", b2i(c.LBPME), b2i(c.LBPRZ))
	fmt.Fprintf(w, "LOWEST ALIGNED LOGICAL BLOCK ADDRESS:%d\n", c.LowestAlignedLBA)
	fmt.Fprintf(w, "Total size:%d\n", total)
	return cli.ExitOK
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
