// Command iscsi-raw sends any SCSI command, given in hex, to a LUN: sg3_utils'
// sg_raw for an iscsi:// URL instead of a /dev/sg device, with sg_raw's
// flags, its lines and its exit statuses.
//
//	iscsi-raw [-r LEN] [-s LEN -i FILE] [-o FILE] [-b] [-t SECS] [-v] [--yes] iscsi://host[:port]/target-iqn/lun CDB0 CDB1 ...
//
// As sg_raw, it prints the SCSI status, the sense data decoded and the data
// received (a hex dump) on standard error, and the data in binary with -b or
// -o. A command that changes the medium (WRITE, WRITE SAME, UNMAP, SANITIZE,
// FORMAT UNIT, ...) is refused without --yes unless its data comes from a
// file (-i), so that a mistyped CDB read from a history does not overwrite a
// disk. See docs/TOOLS.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/spf13/pflag"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// sg3_utils' exit statuses (sg_lib.h).
const (
	catClean       = 0
	catSyntax      = 1
	catNotReady    = 2
	catMediumHard  = 3
	catIllegalReq  = 5
	catUnitAttn    = 6
	catDataProtect = 7
	catInvalidOp   = 9
	catCopyAborted = 10
	catAborted     = 11
	catMiscompare  = 14
	catFileError   = 15
	catInvalidPar  = 19
	catNoSense     = 20
	catRecovered   = 21
	catLBARange    = 22
	catResConflict = 24
	catCondMet     = 25
	catBusy        = 26
	catTSFull      = 27
	catACAActive   = 28
	catTaskAborted = 29
	catTimeout     = 33
	catTransport   = 35
	catProtection  = 40
	catOther       = 99
)

const usage = `Usage: iscsi-raw [OPTION]* ISCSI-URL CDB0 CDB1 ...

Options:
  --binary|-b            Dump data in binary form, even when writing to
                         stdout
  --help|-h              Show this message and exit
  --infile=IFILE|-i IFILE    Read data to send from IFILE (default:
                             stdin)
  --initiator-name=IQN   Initiator name to log in with
  --nosense|-n           Don't display sense information
  --outfile=OFILE|-o OFILE    Write binary data to OFILE (def: hexdump
                              to stderr)
  --request=RLEN|-r RLEN    Request up to RLEN bytes of data (data-in)
  --send=SLEN|-s SLEN    Send SLEN bytes of data (data-out)
  --skip=KLEN|-k KLEN    Skip the first KLEN bytes when reading
                         data to send (default: 0)
  --timeout=SECS|-t SECS    Timeout in seconds (default: 20)
  --verbose|-v           Increase verbosity
  --yes                  Send a command that changes the medium with data
                         not read from a file (or with none)

Between 6 and 16 command bytes (two hex digits each) can be specified
and will be sent to the LUN. Lengths RLEN, SLEN and KLEN are decimal by
default (k, m, g suffixes multiply by 1024s; 0x prefix for hex).

iSCSI URL format: iscsi://[<username>[%<password>]@]<host>[:<port>]/<target-iqn>/<lun>

Simple example: Perform INQUIRY on LUN 1:
  iscsi-raw -r 1k iscsi://127.0.0.1/iqn.2024-01.test:disk/1 12 00 00 00 60 00
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	request, send, skip   string
	infile, outfile, name string
	binary, noSense, help bool
	yes                   bool
	timeout               int
	verbose               int
}

// parseLen reads sg3_utils' numbers: decimal, 0x hex, and k/m/g suffixes.
func parseLen(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	mul := 1
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mul, s = 1024, s[:len(s)-1]
	case "m":
		mul, s = 1024*1024, s[:len(s)-1]
	case "g":
		mul, s = 1024*1024*1024, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 0, 32)
	if err != nil || n < 0 || n*int64(mul) > 1<<30 {
		return 0, fmt.Errorf("bad length %q", s)
	}
	return int(n) * mul, nil
}

// medium lists the operation codes that change what the medium holds.
var medium = map[byte]string{
	0x04: "FORMAT UNIT", 0x0a: "WRITE(6)", 0x2a: "WRITE(10)", 0x2e: "WRITE AND VERIFY(10)",
	0x3b: "WRITE BUFFER", 0x41: "WRITE SAME(10)", 0x42: "UNMAP", 0x48: "SANITIZE",
	0x83: "EXTENDED COPY", 0x89: "COMPARE AND WRITE", 0x8a: "WRITE(16)", 0x8b: "ORWRITE(16)",
	0x8e: "WRITE AND VERIFY(16)", 0x93: "WRITE SAME(16)", 0x9c: "WRITE ATOMIC(16)",
	0xaa: "WRITE(12)", 0xae: "WRITE AND VERIFY(12)",
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := pflag.NewFlagSet("iscsi-raw", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVarP(&o.binary, "binary", "b", false, "")
	fs.BoolVarP(&o.help, "help", "h", false, "")
	fs.StringVarP(&o.infile, "infile", "i", "", "")
	fs.StringVar(&o.name, "initiator-name", "", "")
	fs.BoolVarP(&o.noSense, "nosense", "n", false, "")
	fs.StringVarP(&o.outfile, "outfile", "o", "", "")
	fs.StringVarP(&o.request, "request", "r", "", "")
	fs.StringVarP(&o.send, "send", "s", "", "")
	fs.StringVarP(&o.skip, "skip", "k", "", "")
	fs.IntVarP(&o.timeout, "timeout", "t", 20, "")
	fs.CountVarP(&o.verbose, "verbose", "v", "")
	fs.BoolVar(&o.yes, "yes", false, "")
	fs.BoolP("readonly", "R", false, "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%v\n\n%s", err, usage)
		return catSyntax
	}
	if *version {
		fmt.Fprintln(stdout, cli.Version("iscsi-raw"))
		return catClean
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return catClean
	}
	pos := fs.Args()
	if len(pos) == 0 || !strings.HasPrefix(pos[0], "iscsi://") {
		fmt.Fprintf(stderr, "No iSCSI URL given\n\n%s", usage)
		return catSyntax
	}
	var cdbBytes []byte
	for _, h := range pos[1:] {
		v, err := strconv.ParseUint(h, 16, 8)
		if err != nil || len(h) > 2 {
			fmt.Fprintf(stderr, "Invalid command byte '%s'\n", h)
			return catSyntax
		}
		cdbBytes = append(cdbBytes, byte(v))
	}
	if len(cdbBytes) < 6 || len(cdbBytes) > scsi.MaxCDBLen {
		fmt.Fprintf(stderr, "CDB length %d not supported: give 6 to %d command bytes\n", len(cdbBytes), scsi.MaxCDBLen)
		return catSyntax
	}
	rlen, err1 := parseLen(o.request)
	slen, err2 := parseLen(o.send)
	klen, err3 := parseLen(o.skip)
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintln(stderr, err)
		return catSyntax
	}
	if rlen > 0 && slen > 0 {
		fmt.Fprintln(stderr, "Bidirectional commands are not supported over iSCSI by this tool: give -r or -s, not both")
		return catSyntax
	}
	if slen == 0 && o.infile != "" {
		fmt.Fprintln(stderr, "Give the length of the data to send with --send")
		return catSyntax
	}
	if name, ok := medium[cdbBytes[0]]; ok && !o.yes && o.infile == "" {
		fmt.Fprintf(stderr, "%s changes what the LUN holds: give the data with --infile, or add --yes\n", name)
		return catContradict
	}
	cdb, err := scsi.NewCDB(cdbBytes)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return catSyntax
	}
	var out []byte
	if slen > 0 {
		if out, err = readData(o.infile, stdin, klen, slen); err != nil {
			fmt.Fprintln(stderr, err)
			return catFileError
		}
	}
	if o.verbose > 0 {
		fmt.Fprintf(stderr, "    cdb to send: %s\n", hexBytes(cdbBytes))
	}

	cfg := &session.Config{InitiatorName: o.name, CommandTimeout: time.Duration(o.timeout) * time.Second}
	if o.name == "" {
		cfg.InitiatorName = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-raw"
	}
	lctx, cancel := context.WithTimeout(ctx, session.DefaultLoginTimeout)
	s, err := session.Dial(lctx, pos[0], cfg)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "iscsi-raw: %v\n", err)
		return catFileError
	}
	defer func() {
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Logout(lctx)
		cancel()
		_ = s.Close()
	}()

	dir := session.DirNone
	var v *iovector.Vector
	var in []byte
	switch {
	case rlen > 0:
		in = make([]byte, rlen)
		dir, v = session.DirRead, iovector.New(in)
	case slen > 0:
		dir, v = session.DirWrite, iovector.New(out)
	}
	cctx, ccancel := context.WithTimeout(ctx, time.Duration(o.timeout)*time.Second)
	res, err := s.Call(cctx, s.LUN(), cdb, dir, v)
	ccancel()
	status := res.Status
	var sense *scsi.Sense
	var se *scsi.StatusError
	if errors.As(err, &se) {
		status, sense = se.Status, se.Sense
	} else if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintln(stderr, "do_scsi_pt: timeout")
			return catTimeout
		}
		fmt.Fprintf(stderr, ">>> transport error: %v\n", err)
		return catTransport
	}
	ret := category(status, sense)
	fmt.Fprintf(stderr, "SCSI Status: %s \n\n", statusName(status))
	if status == scsi.StatusCheckCondition && !o.noSense {
		if sense == nil {
			fmt.Fprintln(stderr, ">>> Strange: status is CHECK CONDITION but no Sense Information")
		} else {
			fmt.Fprintf(stderr, "Sense Information:\n%s\n", senseText(sense))
		}
	}
	if rlen > 0 {
		n := res.Transferred()
		switch {
		case ret != catClean && ret != catRecovered && ret != catNoSense:
			fmt.Fprintf(stderr, "Error %d occurred, no data received\n", ret)
		case n == 0:
			fmt.Fprintln(stderr, "No data received")
		case o.outfile == "" && !o.binary:
			fmt.Fprintf(stderr, "Received %d bytes of data:\n", n)
			hexDump(stderr, in[:n])
		default:
			dst := "stdout"
			if o.outfile != "" && o.outfile != "-" {
				dst = o.outfile
			}
			fmt.Fprintf(stderr, "Writing %d bytes of data to %s\n", n, dst)
			if err := writeData(o.outfile, stdout, in[:n]); err != nil {
				fmt.Fprintln(stderr, err)
				if ret == catClean {
					ret = catFileError
				}
			}
		}
	}
	return ret
}

const catContradict = 31

func readData(file string, stdin io.Reader, skip, n int) ([]byte, error) {
	r := stdin
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, r, int64(skip)); err != nil {
			return nil, fmt.Errorf("skipping %d bytes of the data to send: %w", skip, err)
		}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading %d bytes of data to send: %w", n, err)
	}
	return b, nil
}

func writeData(file string, stdout io.Writer, b []byte) error {
	if file == "" || file == "-" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

func hexBytes(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// hexDump writes b as sg3_utils' dStrHex does: the offset, 16 bytes in hex
// with a gap after the eighth, their ASCII from column 60.
func hexDump(w io.Writer, b []byte) {
	for off := 0; off < len(b); off += 16 {
		line := []byte(strings.Repeat(" ", 80))
		copy(line[1:], fmt.Sprintf("%02x", off))
		end := min(off+16, len(b))
		for i := off; i < end; i++ {
			k := i - off
			pos := 8 + 3*k
			if k >= 8 {
				pos++
			}
			copy(line[pos:], fmt.Sprintf("%02x", b[i]))
			c := b[i]
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			line[60+k] = c
		}
		n := 76
		if end-off < 16 {
			n = 60 + end - off
		}
		fmt.Fprintf(w, "%s\n", line[:n])
	}
}

var statusNames = map[scsi.Status]string{
	0x00: "Good", 0x02: "Check Condition", 0x04: "Condition Met", 0x08: "Busy",
	0x10: "Intermediate (obsolete)", 0x14: "Intermediate-Condition Met (obsolete)",
	0x18: "Reservation Conflict", 0x22: "Command terminated (obsolete)", 0x28: "Task Set Full",
	0x30: "ACA Active", 0x40: "Task Aborted",
}

func statusName(s scsi.Status) string {
	if n, ok := statusNames[s&0x7e]; ok {
		return n
	}
	return fmt.Sprintf("Unknown status [0x%x]", uint8(s&0x7e))
}

// category is sg3_utils' sg_err_category_sense and status mapping: the exit
// status.
func category(s scsi.Status, sense *scsi.Sense) int {
	switch s {
	case scsi.StatusGood:
		return catClean
	case scsi.StatusConditionMet:
		return catCondMet
	case scsi.StatusBusy:
		return catBusy
	case scsi.StatusReservationConflict:
		return catResConflict
	case scsi.StatusTaskSetFull:
		return catTSFull
	case scsi.StatusACAActive:
		return catACAActive
	case scsi.StatusTaskAborted:
		return catTaskAborted
	case scsi.StatusCheckCondition:
	default:
		return catOther
	}
	if sense == nil {
		return catOther
	}
	asc, ascq := sense.ASC.Code(), sense.ASC.Qualifier()
	switch sense.Key {
	case 0x0:
		return catNoSense
	case 0x1:
		return catRecovered
	case 0x2:
		return catNotReady
	case 0x3, 0x4, 0x8:
		return catMediumHard
	case 0x5:
		switch {
		case asc == 0x20 && ascq == 0:
			return catInvalidOp
		case asc == 0x21 && ascq == 0:
			return catLBARange
		case asc == 0x26 && ascq == 0:
			return catInvalidPar
		}
		return catIllegalReq
	case 0x6:
		return catUnitAttn
	case 0x7:
		return catDataProtect
	case 0xa:
		return catCopyAborted
	case 0xb:
		if asc == 0x10 {
			return catProtection
		}
		return catAborted
	case 0xe:
		return catMiscompare
	}
	return catSense
}

const catSense = 98

var senseKeys = [16]string{"No Sense", "Recovered Error", "Not Ready", "Medium Error", "Hardware Error",
	"Illegal Request", "Unit Attention", "Data Protect", "Blank Check", "Vendor specific(9)",
	"Copy Aborted", "Aborted Command", "Equal", "Volume Overflow", "Miscompare", "Completed"}

// ascText holds sg3_utils' wording of the additional sense codes an iSCSI
// disk answers most; others print as numbers.
var ascText = map[scsi.ASC]string{
	0x0000: "No additional sense information",
	0x0401: "Logical unit is in process of becoming ready",
	0x0402: "Logical unit not ready, initializing command required",
	0x0411: "Logical unit not ready, notify (enable spinup) required",
	0x041b: "Logical unit not ready, sanitize in progress",
	0x0c00: "Write error",
	0x1100: "Unrecovered read error",
	0x1a00: "Parameter list length error",
	0x1d00: "Miscompare during verify operation",
	0x2000: "Invalid command operation code",
	0x2100: "Logical block address out of range",
	0x2400: "Invalid field in cdb",
	0x2500: "Logical unit not supported",
	0x2600: "Invalid field in parameter list",
	0x2700: "Write protected",
	0x2701: "Hardware write protected",
	0x2702: "Logical unit software write protected",
	0x2800: "Not ready to ready change, medium may have changed",
	0x2900: "Power on, reset, or bus device reset occurred",
	0x2a01: "Mode parameters changed",
	0x2a03: "Reservations preempted",
	0x2a04: "Reservations released",
	0x2a05: "Registrations preempted",
	0x2a09: "Capacity data has changed",
	0x3a00: "Medium not present",
	0x3a01: "Medium not present - tray closed",
	0x3a02: "Medium not present - tray open",
	0x3f0e: "Reported luns data has changed",
	0x5302: "Medium removal prevented",
}

// senseText is sg3_utils' sg_print_sense in its short form.
func senseText(s *scsi.Sense) string {
	format := "Fixed format"
	if s.DescriptorFormat() {
		format = "Descriptor format"
	}
	when := "current"
	if !s.Current() {
		when = "deferred"
	}
	text, ok := ascText[s.ASC]
	if !ok {
		text = fmt.Sprintf("ASC=%x ASCQ=%x (hex)", s.ASC.Code(), s.ASC.Qualifier())
	}
	out := fmt.Sprintf("%s, %s; Sense key: %s\nAdditional sense: %s\n", format, when, senseKeys[s.Key&0xf], text)
	if s.InformationValid {
		out += fmt.Sprintf("  Info fld=0x%x [%d]\n", s.Information, s.Information)
	}
	if _, field, bit, bitOK, ok := s.FieldPointer(); ok && s.Key == scsi.SenseIllegalRequest {
		cdb, _, _, _, _ := s.FieldPointer()
		where := "parameter data"
		if cdb {
			where = "cdb"
		}
		if bitOK {
			out += fmt.Sprintf("  Sense Key Specific: Error in %s: byte %d bit %d\n", where, field, bit)
		} else {
			out += fmt.Sprintf("  Sense Key Specific: Error in %s: byte %d\n", where, field)
		}
	}
	return out
}
