// Command iscsi-discard deallocates a byte range of a LUN with UNMAP, or
// with -z writes zeros over it with WRITE SAME(16), within the limits of
// the LUN's Block Limits VPD page. The flags are those of libiscsi's
// iscsi-discard (newer than 1.19); like it, it prints nothing on success.
//
//	iscsi-discard [-o offset] [-l length] [-z] [-i initiator-name] [-d] iscsi://host[:port]/target-iqn/lun
//
// See docs/TOOLS.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-discard"

const usageText = "Usage: iscsi-discard [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-o|--offset=bytes]\n" +
	"\t\t[-l|--length=bytes] [-z|--zeroout] [-t|--timeout=duration] <iscsi-url>\n"

const helpText = `Usage: iscsi-discard [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name     Initiatorname to use
  -o, --offset=bytes                Byte offset into the LUN from which to start
                                    discarding, a multiple of the block size (default 0)
  -l, --length=bytes                The number of bytes to discard, a multiple of the
                                    block size; past the end of the LUN it stops at the
                                    end (default: to the end)
  -z, --zeroout                     Zero-fill (WRITE SAME) rather than discard (UNMAP)
  -d, --debug[=integer]             debug level (0=disabled)
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-discard", cli.DebugLevel, helpText, usageText, stdout, stderr)
	var offStr, lenStr string
	var zeroout bool
	t.Flags.StringVarP(&offStr, "offset", "o", "0", "byte offset")
	t.Flags.StringVarP(&lenStr, "length", "l", "0", "bytes to discard")
	t.Flags.BoolVarP(&zeroout, "zeroout", "z", false, "write zeros instead")
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
	url, ok := t.OneURL(pos, "You must specify the URL")
	if !ok {
		return cli.ExitFailure
	}
	s, err := t.Connect(ctx, url)
	if err != nil {
		return t.Fail("", err)
	}
	err = discard(ctx, s, offset, length, zeroout)
	cli.Close(s)
	if err != nil {
		return t.Fail("", err)
	}
	return cli.ExitOK
}

// errNotSupported: the LUN has no UNMAP (or WRITE SAME).
var errNotSupported = errors.New("operation not supported")

// rangeError is an offset or length the LUN cannot take.
type rangeError struct{ msg string }

func (e *rangeError) Error() string { return e.msg }

func discard(ctx context.Context, s *session.Session, offset, length int64, zeroout bool) error {
	g, err := s.Geometry(ctx)
	if err != nil {
		return cli.CommandError(s.LUN(), "READ CAPACITY", err)
	}
	bs, size := int64(g.BlockSize), g.Size()
	if offset%bs != 0 {
		return &rangeError{fmt.Sprintf("offset %d is not a multiple of the block size (%d)", offset, bs)}
	}
	if offset > size {
		return &rangeError{fmt.Sprintf("offset %d is past the end of the LUN (%d bytes)", offset, size)}
	}
	if length == 0 || length > size-offset {
		length = size - offset
	}
	if length%bs != 0 {
		return &rangeError{fmt.Sprintf("length %d is not a multiple of the block size (%d)", length, bs)}
	}
	limits, err := blockLimits(ctx, s)
	if err != nil {
		return err
	}
	lba, end := uint64(offset/bs), uint64((offset+length)/bs)
	if zeroout {
		return writeZeros(ctx, s, lba, end, bs, limits)
	}
	if limits.MaxUnmapLBACount == 0 || limits.MaxUnmapDescriptorCount == 0 {
		return fmt.Errorf("UNMAP on LUN %v: %w (the Block Limits page gives a maximum UNMAP LBA count of 0)", s.LUN(), errNotSupported)
	}
	if lbpu, known := unmapSupported(ctx, s); known && !lbpu {
		return fmt.Errorf("UNMAP on LUN %v: %w (the Logical Block Provisioning page says LBPU=0)", s.LUN(), errNotSupported)
	}
	return cli.UnmapRange(ctx, s, s.LUN(), lba, end, limits.MaxUnmapLBACount, limits.MaxUnmapDescriptorCount)
}

// writeZeros writes zeros over [lba, end) with WRITE SAME(16), at most
// MAXIMUM WRITE SAME LENGTH blocks a command (no limit when 0).
func writeZeros(ctx context.Context, s *session.Session, lba, end uint64, bs int64, bl scsi.BlockLimits) error {
	perCmd := bl.MaxWriteSameLength
	if perCmd == 0 {
		perCmd = math.MaxUint64
	}
	zero := make([]byte, bs)
	for lba < end {
		k := min(end-lba, perCmd, math.MaxUint32)
		if err := execute(ctx, s, scsi.WriteSame16(lba, uint32(k), 0, 0), session.DirWrite, zero); err != nil {
			return cli.CommandError(s.LUN(), fmt.Sprintf("WRITE SAME(16) of %d blocks from LBA %d", k, lba), err)
		}
		lba += k
	}
	return nil
}

func execute(ctx context.Context, s *session.Session, cdb scsi.CDB, dir session.Direction, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	f := s.Execute(ctx, s.LUN(), cdb, dir, iovector.New(data))
	_, err := f.Wait()
	return err
}

// blockLimits reads VPD page 0xb0 (asking again for the full page when the
// first answer is cut short).
func blockLimits(ctx context.Context, s *session.Session) (scsi.BlockLimits, error) {
	const cmd = "INQUIRY VPD page 0xb0 (Block Limits)"
	data, err := cli.In(ctx, s, s.LUN(), scsi.InquiryVPD(scsi.VPDBlockLimits, 64), 64)
	if err == nil {
		var h scsi.VPDHeader
		if h, _, err = scsi.ParseVPDHeader(data); err == nil && h.Truncated && h.FullLength() > len(data) {
			n := min(h.FullLength(), 0xffff)
			data, err = cli.In(ctx, s, s.LUN(), scsi.InquiryVPD(scsi.VPDBlockLimits, uint16(n)), n)
		}
	}
	if err != nil {
		return scsi.BlockLimits{}, cli.CommandError(s.LUN(), cmd, err)
	}
	bl, err := scsi.ParseBlockLimits(data)
	if err != nil {
		return scsi.BlockLimits{}, cli.CommandError(s.LUN(), cmd, err)
	}
	return bl, nil
}

// unmapSupported reads LBPU from VPD page 0xb2; known is false when the
// LUN does not have the page.
func unmapSupported(ctx context.Context, s *session.Session) (lbpu, known bool) {
	data, err := cli.In(ctx, s, s.LUN(), scsi.InquiryVPD(scsi.VPDLogicalBlockProvisioning, 64), 64)
	if err != nil {
		return false, false
	}
	p, err := scsi.ParseLogicalBlockProvisioning(data)
	if err != nil {
		return false, false
	}
	return p.LBPU, true
}
