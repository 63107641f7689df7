// Command iscsi-md5sum prints the MD5 checksum of a LUN (or of a byte range
// of it) in md5sum's format, "<hex>  <url>", the URL without its password.
// It keeps many READs in flight and hashes the data in order (package
// blockcopy), deallocated extents of a thin LUN as zeros without reading
// them.
//
//	iscsi-md5sum [-o offset] [-l length] [-m max] [-i initiator-name] [-d] iscsi://host[:port]/target-iqn/lun
//
// The flags are those of libiscsi's iscsi-md5sum (newer than 1.19). See
// docs/TOOLS.md.
package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/iscsi-go/iscsi/blockcopy"
	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-md5sum"

const usageText = "Usage: iscsi-md5sum [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-o|--offset=bytes]\n" +
	"\t\t[-l|--length=bytes] [-m|--max=num] [-t|--timeout=duration] <iscsi-url>\n"

const helpText = `Usage: iscsi-md5sum [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name     Initiatorname to use
  -o, --offset=bytes                Byte offset into the LUN from which to start
                                    calculating (default 0)
  -l, --length=bytes                The number of bytes to calculate; past the end
                                    of the LUN it stops at the end (default: to the end)
  -m, --max=num                     READs in flight (default 16)
  -d, --debug[=integer]             debug level (0=disabled)
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

// chunk is the size of each READ handed to the session (which splits it to
// the LUN's maximum transfer length).
const chunk = 1 << 20

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-md5sum", cli.DebugLevel, helpText, usageText, stdout, stderr)
	var offStr, lenStr string
	var inFlight int
	t.Flags.StringVarP(&offStr, "offset", "o", "0", "byte offset")
	t.Flags.StringVarP(&lenStr, "length", "l", "0", "bytes to hash")
	t.Flags.IntVarP(&inFlight, "max", "m", 16, "READs in flight")
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	offset, length, ok := t.ByteRange(offStr, lenStr)
	if !ok {
		return cli.ExitFailure
	}
	if inFlight < 1 || inFlight > 1024 {
		t.Errorf("invalid --max %d: 1 to 1024 READs in flight", inFlight)
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
	sum, err := checksum(ctx, s, offset, length, inFlight)
	cli.Close(s)
	if err != nil {
		return t.Fail("", err)
	}
	fmt.Fprintf(t.Stdout, "%s  %s\n", hex.EncodeToString(sum), cli.DisplayURL(url))
	return cli.ExitOK
}

// checksum hashes [offset, offset+length) of the LUN (to its end when
// length is 0 or reaches past it) with up to inFlight READs of 1 MiB at
// once, in order, and returns the MD5. It is blockcopy.Copy to
// blockcopy.Discard: on a thin LUN (LBPRZ) deallocated extents are not
// read but hashed as zeros, as iscsi-dd --checksum does.
func checksum(ctx context.Context, s *session.Session, offset, length int64, inFlight int) ([]byte, error) {
	g, err := s.Geometry(ctx)
	if err != nil {
		return nil, cli.CommandError(s.LUN(), "READ CAPACITY", err)
	}
	size := g.Size()
	if offset > size {
		return nil, fmt.Errorf("offset %d is past the end of the LUN (%d bytes)", offset, size)
	}
	if length == 0 || length > size-offset {
		length = size - offset
	}
	h := md5.New()
	if length == 0 {
		return h.Sum(nil), nil
	}
	res, err := blockcopy.Copy(ctx, blockcopy.Discard, s.DefaultUnit(), &blockcopy.Options{
		Concurrency: inFlight, ChunkSize: chunk, SourceOffset: offset, Size: length, Hash: h,
	})
	if err != nil {
		return nil, cli.CommandError(s.LUN(), fmt.Sprintf("READ at offset %d", offset+res.Completed), err)
	}
	return res.Sum, nil
}
