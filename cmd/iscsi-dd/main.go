// Command iscsi-dd copies a LUN to a file, a file to a LUN or a LUN to a
// LUN, with many commands in flight, skipping what is deallocated at the
// source and discarding runs of zeros at the destination.
//
//	iscsi-dd [-m max] [-b blocks] [-p] [--no-sparse] [--checksum md5|sha256]
//	         [-n|--ignore-errors] [--verify] [--resume OFFSET] [--base URL|FILE]
//	         [--zero-detect=false] [--no-flush] [-x|--xcopy]
//	         [--path URL]... [--src-path URL]... [--dst-path URL]... -s SRC -d DST
//
// SRC and DST are each an iscsi:// URL or a local path (libiscsi's example
// iscsi-dd takes only URLs, with the same -s, -d, -m, -b, -p, -i, -n, -x
// flags). The copy is package blockcopy's. See docs/TOOLS.md.
package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/iscsi-go/iscsi/blockcopy"
	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-dd"

const usageText = "Usage: iscsi-dd [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-m|--max=num] [-b|--blocks=num]\n" +
	"\t\t[-p|--progress] [--no-sparse] [--checksum=md5|sha256] [-n|--ignore-errors] [--verify] [--resume=offset] [--base=<iscsi-url|file>] [--zero-detect=false] [--no-flush] [-x|--xcopy] [--path|--src-path|--dst-path=<iscsi-url>]... -s|--src <iscsi-url|file> -d|--dst <iscsi-url|file>\n"

const helpText = `Usage: iscsi-dd [OPTION...] -s <source> -d <destination>
  -s, --src=URL|FILE                source: an iSCSI URL or a local file
  -d, --dst=URL|FILE                destination: an iSCSI URL or a local file
                                    (a regular file is truncated to the size of the source)
  -i, --initiator-name=iqn-name     Initiatorname to use
  -m, --max=num                     commands (goroutines) in flight (default 16)
  -b, --blocks=num                  blocks per I/O (default: 1 MiB worth)
  -p, --progress                    show progress even when stdout is not a terminal
      --no-sparse                   read and write every byte: do not skip
                                    deallocated extents nor discard zeros
      --checksum=md5|sha256         print the checksum of the data copied
                                    (holes hashed as zeros: md5sum/sha256sum of the image)
  -n, --ignore-errors               go on past unreadable ranges of the source:
                                    write zeros there and list them on stderr
      --verify                      read back what was written and compare
      --resume=offset               the destination holds the bytes before offset
                                    already (from a copy that stopped): copy the rest
      --base=URL|FILE               incremental: the destination holds this image;
                                    write only the chunks where the source differs
      --zero-detect[=false]         treat data chunks of zeros as holes (default on;
                                    off with --no-sparse)
      --no-flush                    do not flush the destination at the end
                                    (SYNCHRONIZE CACHE, fsync)
  -x, --xcopy                       LUN to LUN on one target: let the target copy
                                    (EXTENDED COPY); streams when it cannot
      --src-path=URL                another path to the source LUN (the same LUN through
                                    another portal); repeatable: the copy uses every path
                                    and goes on over the others when one fails
      --dst-path=URL                another path to the destination LUN; repeatable
      --path=URL                    --src-path or --dst-path, for whichever of them is a LUN
  -6, --16                          accepted for libiscsi's iscsi-dd: READ(16)/WRITE(16)
                                    are used wherever the LBA needs them
      --debug                       print a trace of the PDUs exchanged
  -t, --timeout=duration            connect and login timeout (default 15s)
      --netpoller                   connect through Go's netpoller, not a blocking socket

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout))
	stop()
	os.Exit(code)
}

// isTerminal: golang.org/x/term is not a dependency; a character device
// is what a terminal is.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-dd", cli.DebugLong, helpText, usageText, stdout, stderr)
	var (
		src, dst, base string
		maxFlight      int
		blocks         int64
		progress       bool
		noSparse       bool
		checksum       string
		use16          bool
		ignoreErrors   bool
		verify         bool
		resumeStr      string
		zeroDetect     bool
		noFlush        bool
		xcopy          bool
		paths          []string
		srcPaths       []string
		dstPaths       []string
	)
	f := t.Flags
	f.StringVarP(&src, "src", "s", "", "source URL or file")
	f.StringVarP(&dst, "dst", "d", "", "destination URL or file")
	f.IntVarP(&maxFlight, "max", "m", 16, "commands in flight")
	f.Int64VarP(&blocks, "blocks", "b", 0, "blocks per I/O")
	f.BoolVarP(&progress, "progress", "p", false, "show progress")
	f.BoolVar(&noSparse, "no-sparse", false, "copy every byte")
	f.StringVar(&checksum, "checksum", "", "md5 or sha256")
	f.BoolVarP(&use16, "16", "6", false, "ignored")
	f.BoolVarP(&ignoreErrors, "ignore-errors", "n", false, "go on past unreadable ranges")
	f.BoolVar(&verify, "verify", false, "read back and compare")
	f.StringVar(&resumeStr, "resume", "", "offset to resume from")
	f.StringVar(&base, "base", "", "image the destination holds")
	f.BoolVar(&zeroDetect, "zero-detect", true, "treat chunks of zeros as holes")
	f.BoolVar(&noFlush, "no-flush", false, "do not flush the destination")
	f.BoolVarP(&xcopy, "xcopy", "x", false, "offload to the target")
	f.StringArrayVar(&paths, "path", nil, "another path to the LUN (of -s or -d, whichever is one)")
	f.StringArrayVar(&srcPaths, "src-path", nil, "another path to the source LUN")
	f.StringArrayVar(&dstPaths, "dst-path", nil, "another path to the destination LUN")
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	// SRC and DST may also come as two arguments.
	if src == "" && dst == "" && len(pos) == 2 {
		src, dst, pos = pos[0], pos[1], nil
	}
	var resume int64
	if resumeStr != "" {
		resume, err = cli.ParseInt(resumeStr)
		if err != nil || resume < 0 {
			t.Errorf("invalid --resume %q: a byte offset", resumeStr)
			return cli.ExitFailure
		}
	}
	switch {
	case len(pos) > 0:
		t.Errorf("unexpected argument %q (the source and destination go with -s and -d)", describe(pos[0]))
		return cli.ExitFailure
	case src == "" || dst == "":
		t.Errorf("you must give a source (-s) and a destination (-d), each an iSCSI URL or a file")
		io.WriteString(t.Stderr, usageText)
		return cli.ExitFailure
	case maxFlight < 1 || maxFlight > 1024:
		t.Errorf("invalid --max %d: 1 to 1024 commands in flight", maxFlight)
		return cli.ExitFailure
	case blocks < 0 || blocks > 1<<20:
		t.Errorf("invalid --blocks %d: 1 to 1048576 blocks per I/O", blocks)
		return cli.ExitFailure
	case xcopy && (checksum != "" || verify || base != "" || ignoreErrors):
		t.Errorf("--xcopy cannot go with --checksum, --verify, --base or --ignore-errors: the data does not cross the network")
		return cli.ExitFailure
	}
	if len(paths) > 0 {
		switch {
		case isURL(src) && isURL(dst):
			t.Errorf("--path: both the source and the destination are LUNs: say which with --src-path or --dst-path")
			return cli.ExitFailure
		case isURL(src):
			srcPaths = append(paths, srcPaths...)
		case isURL(dst):
			dstPaths = append(paths, dstPaths...)
		default:
			t.Errorf("--path: neither the source nor the destination is a LUN")
			return cli.ExitFailure
		}
	}
	for _, c := range []struct {
		flag, arg string
		paths     []string
	}{{"--src-path", src, srcPaths}, {"--dst-path", dst, dstPaths}} {
		switch {
		case len(c.paths) == 0:
		case !isURL(c.arg):
			t.Errorf("%s: %s is not a LUN", c.flag, describe(c.arg))
			return cli.ExitFailure
		case xcopy:
			t.Errorf("--xcopy cannot go with %s: EXTENDED COPY goes through one session", c.flag)
			return cli.ExitFailure
		}
		for _, p := range c.paths {
			if !isURL(p) {
				t.Errorf("%s %s: not an iSCSI URL", c.flag, describe(p))
				return cli.ExitFailure
			}
		}
	}
	var sum hash.Hash
	switch strings.ToLower(checksum) {
	case "":
	case "md5":
		sum = md5.New()
	case "sha256":
		sum = sha256.New()
	default:
		t.Errorf("invalid --checksum %q: md5 or sha256", checksum)
		return cli.ExitFailure
	}

	in, err := openSource(ctx, t, src, srcPaths)
	if err != nil {
		return t.Fail("source "+describe(src), err)
	}
	defer in.Close()
	var baseEP *endpoint
	if base != "" {
		baseEP, err = openSource(ctx, t, base, nil)
		if err != nil {
			return t.Fail("base "+describe(base), err)
		}
		defer baseEP.Close()
	}
	out, err := openDestination(ctx, t, dst, dstPaths, in.size, resume > 0 || base != "", verify)
	if err != nil {
		return t.Fail("destination "+describe(dst), err)
	}
	defer out.Close()

	opts := &blockcopy.Options{
		Concurrency:  maxFlight,
		Dense:        noSparse,
		ZeroDetect:   zeroDetect && !noSparse && !xcopy,
		XCopy:        xcopy,
		Hash:         sum,
		Verify:       verify,
		Resume:       resume,
		IgnoreErrors: ignoreErrors,
		NoFlush:      noFlush,
		// The ranges go to stderr at the end, one line each.
		Logger: slog.New(slog.DiscardHandler),
	}
	if blocks > 0 {
		opts.ChunkSize = blocks * max(blockSize(ctx, in), blockSize(ctx, out), 512)
	}
	if baseEP != nil {
		opts.Base = baseEP.rw
	}
	if tty || progress {
		opts.Progress = func(p blockcopy.Progress) { drawProgress(t.Stdout, p, tty) }
	}
	res, err := blockcopy.Copy(ctx, out.rw.(io.WriterAt), in.rw, opts)
	for _, r := range res.Unreadable {
		t.Errorf("unreadable: %d bytes at offset %d of %s (zeros written instead)", r.Len, r.Off, describe(src))
	}
	if err != nil {
		if res.Completed > resume {
			t.Errorf("every byte before offset %d is copied: --resume %d goes on from there", res.Completed, res.Completed)
		}
		return t.Fail("", err)
	}
	if xcopy && res.NoOffload != "" {
		t.Errorf("EXTENDED COPY not used: %s; the data was streamed", res.NoOffload)
	}
	fmt.Fprintln(t.Stdout, summary(res, base != "", xcopy))
	printPaths(t.Stdout, "source", in)
	printPaths(t.Stdout, "destination", out)
	if sum != nil {
		fmt.Fprintf(t.Stdout, "%s %s\n", strings.ToLower(checksum), hex.EncodeToString(res.Sum))
	}
	return cli.ExitOK
}

// blockSize is the block length of a LUN endpoint, 1 for a file.
func blockSize(ctx context.Context, e *endpoint) int64 {
	switch u := e.rw.(type) {
	case *session.LogicalUnit:
		if g, err := u.Geometry(ctx); err == nil {
			return int64(g.BlockSize)
		}
	case *multipathLUN:
		return u.BlockSize()
	}
	return 1
}

// describe names an endpoint in an error message without a password.
func describe(arg string) string {
	if isURL(arg) {
		return cli.DisplayURL(arg)
	}
	return arg
}

// summary is the line printed at the end of a copy; with a base it says
// how much was equal to it, with xcopy how much the target copied.
func summary(res *blockcopy.Result, base, xcopy bool) string {
	secs := res.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(res.Bytes) / secs / 1e6
	}
	line := fmt.Sprintf("%d bytes copied in %.3f s, %.1f MB/s; %d bytes skipped (deallocated at the source), %d bytes discarded (zeros not written)",
		res.Bytes, secs, rate, res.Skipped, res.Zeroed)
	if base {
		line += fmt.Sprintf("; %d bytes unchanged (equal to the base)", res.Unchanged)
	}
	if xcopy {
		line += fmt.Sprintf("; %d bytes copied by the target (EXTENDED COPY)", res.Offloaded)
	}
	return line
}

// drawProgress redraws one line: done/total, percent, a bar, the rate. On
// a terminal the line is cleared with an escape sequence and erased at the
// end; elsewhere (-p) each update starts with a carriage return, as
// libiscsi's iscsi-dd does, and the last one ends the line.
func drawProgress(w io.Writer, p blockcopy.Progress, tty bool) {
	if p.Final {
		if tty {
			fmt.Fprint(w, "\r\033[K")
		} else {
			fmt.Fprint(w, "\n")
		}
		return
	}
	io.WriteString(w, progressLine(p))
	if tty {
		io.WriteString(w, "\033[K")
	}
	if f, ok := w.(interface{ Flush() error }); ok {
		f.Flush()
	}
}

func progressLine(p blockcopy.Progress) string {
	const width = 30
	frac := 1.0
	if p.Total > 0 {
		frac = min(float64(p.Done)/float64(p.Total), 1)
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	return fmt.Sprintf("\r%s / %s %3d%% [%s] %.1f MB/s", human(p.Done), human(p.Total), int(frac*100), bar, p.Rate/1e6)
}

// human formats a byte count with a binary unit.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	u := 0
	for v >= unit && u < 5 {
		v /= unit
		u++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[u-1])
}
