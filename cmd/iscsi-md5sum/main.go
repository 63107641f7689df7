// Command iscsi-md5sum prints the MD5 checksum of a LUN (or of a byte range
// of it) in md5sum's format, "<hex>  <url>", the URL without its password.
// It keeps many READs in flight and hashes the data in order.
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
	"hash"
	"io"
	"os"

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

// checksum reads [offset, offset+length) of the LUN (to its end when length
// is 0 or reaches past it) with up to inFlight READs at once, and returns
// the MD5 of the bytes in order.
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
	if err := hashRange(ctx, s, h, offset, offset+length, inFlight); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// slot is one READ in flight: its buffer, and when done its outcome.
type slot struct {
	buf  []byte
	off  int64
	n    int
	err  error
	done chan struct{}
}

// hashRange hashes [start, end) of s into h: READs of chunk bytes run in
// parallel (at most inFlight), and their data goes into h in order.
func hashRange(ctx context.Context, s *session.Session, h hash.Hash, start, end int64, inFlight int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *slot, inFlight)
	for range inFlight {
		free <- &slot{buf: make([]byte, chunk)}
	}
	order := make(chan *slot, inFlight)
	go func() {
		defer close(order)
		for off := start; off < end; off += chunk {
			var sl *slot
			select {
			case sl = <-free:
			case <-ctx.Done():
				return
			}
			sl.off, sl.n, sl.err = off, int(min(chunk, end-off)), nil
			sl.done = make(chan struct{})
			go func() {
				defer close(sl.done)
				rctx, rcancel := context.WithTimeout(ctx, cli.CommandTimeout)
				defer rcancel()
				n, err := s.ReadAtContext(rctx, sl.buf[:sl.n], sl.off)
				if err == nil && n < sl.n {
					err = io.ErrUnexpectedEOF
				}
				sl.err = err
			}()
			order <- sl
		}
	}()
	var firstErr error
	for sl := range order {
		<-sl.done
		if firstErr == nil && sl.err != nil {
			firstErr = cli.CommandError(s.LUN(), fmt.Sprintf("READ of %d bytes at offset %d", sl.n, sl.off), sl.err)
			cancel()
		}
		if firstErr == nil {
			h.Write(sl.buf[:sl.n])
		}
		free <- sl
	}
	return firstErr
}
