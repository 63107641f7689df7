// Command iscsi-dd copies a LUN to a file, a file to a LUN or a LUN to a
// LUN, with many commands in flight, skipping what is deallocated at the
// source and discarding runs of zeros at the destination.
//
//	iscsi-dd [-m max] [-b blocks] [-p] [--no-sparse] [--checksum md5|sha256] -s SRC -d DST
//
// SRC and DST are each an iscsi:// URL or a local path (libiscsi's example
// iscsi-dd takes only URLs, with the same -s, -d, -m, -b, -p, -i flags).
// See docs/TOOLS.md.
package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iscsiurl"
)

const name = "iscsi-dd"

const usageText = "Usage: iscsi-dd [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-m|--max=num] [-b|--blocks=num]\n" +
	"\t\t[-p|--progress] [--no-sparse] [--no-flush] [--checksum=md5|sha256] -s|--src <iscsi-url|file> -d|--dst <iscsi-url|file>\n"

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
      --no-flush                    do not send SYNCHRONIZE CACHE to a destination LUN
                                    at the end (by default the copy succeeds only once
                                    the target says the data left its write cache)
      --checksum=md5|sha256         print the checksum of the data copied
  -6, --16                          accepted for libiscsi's iscsi-dd: READ(16)/WRITE(16)
                                    are used wherever the LBA needs them
      --debug                       print a trace of the PDUs exchanged
  -t, --timeout=duration            connect and login timeout (default 15s)

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp

const defaultChunk = 1 << 20

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
		src, dst  string
		maxFlight int
		blocks    int64
		progress  bool
		noSparse  bool
		noFlush   bool
		checksum  string
		use16     bool
	)
	f := t.Flags
	f.StringVarP(&src, "src", "s", "", "source URL or file")
	f.StringVarP(&dst, "dst", "d", "", "destination URL or file")
	f.IntVarP(&maxFlight, "max", "m", 16, "commands in flight")
	f.Int64VarP(&blocks, "blocks", "b", 0, "blocks per I/O")
	f.BoolVarP(&progress, "progress", "p", false, "show progress")
	f.BoolVar(&noSparse, "no-sparse", false, "copy every byte")
	f.BoolVar(&noFlush, "no-flush", false, "no SYNCHRONIZE CACHE at the end")
	f.StringVar(&checksum, "checksum", "", "md5 or sha256")
	f.BoolVarP(&use16, "16", "6", false, "ignored")
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

	in, err := openSource(ctx, t, src, !noSparse)
	if err != nil {
		return t.Fail("source "+describe(src), err)
	}
	defer in.Close()
	out, err := openDestination(ctx, t, dst, in.Size(), !noSparse)
	if err != nil {
		return t.Fail("destination "+describe(dst), err)
	}
	defer out.Close()

	align := lcm(in.BlockSize(), out.BlockSize())
	chunk := int64(defaultChunk)
	if blocks > 0 {
		chunk = blocks * max(in.BlockSize(), out.BlockSize(), 512)
	}
	chunk = max(alignUp(chunk, align), align)
	c := &copier{
		src: in, dst: out, size: in.Size(), chunk: chunk,
		workers: maxFlight, sparse: !noSparse, sum: sum,
	}
	if tty || progress {
		c.progress = func(st stats, final bool) { drawProgress(t.Stdout, st, c.size, final, tty) }
	}
	st, err := c.run(ctx)
	if err != nil {
		return t.Fail("", err)
	}
	if f, ok := out.(flusher); ok && !noFlush {
		// Success means the data is on the target's stable storage, not
		// in its write cache.
		if err := f.Flush(ctx); err != nil {
			return t.Fail("destination "+out.Name(), err)
		}
	}
	fmt.Fprintln(t.Stdout, summary(st))
	if sum != nil {
		fmt.Fprintf(t.Stdout, "%s %s\n", strings.ToLower(checksum), hex.EncodeToString(sum.Sum(nil)))
	}
	return cli.ExitOK
}

// describe names an endpoint in an error message without a password.
func describe(arg string) string {
	if isURL(arg) {
		return cli.DisplayURL(arg)
	}
	return arg
}

func openSource(ctx context.Context, t *cli.Tool, arg string, sparse bool) (endpoint, error) {
	if isURL(arg) {
		return openLUN(ctx, t, arg, sparse)
	}
	return openFileSource(arg)
}

func openDestination(ctx context.Context, t *cli.Tool, arg string, size int64, sparse bool) (endpoint, error) {
	if !isURL(arg) {
		return openFileDestination(arg, size, sparse)
	}
	e, err := openLUN(ctx, t, arg, sparse)
	if err != nil {
		return nil, err
	}
	if e.Size() < size {
		e.Close()
		return nil, &sizeError{dst: e.Name(), have: e.Size(), need: size}
	}
	return e, nil
}

// summary is the line printed at the end of a copy.
func summary(st stats) string {
	secs := st.elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(st.done) / secs / 1e6
	}
	return fmt.Sprintf("%d bytes copied in %.3f s, %.1f MB/s; %d bytes skipped (deallocated at the source), %d bytes discarded (zeros not written)",
		st.done, secs, rate, st.skipped, st.discarded)
}

// drawProgress redraws one line: done/total, percent, a bar, the rate. On
// a terminal the line is cleared with an escape sequence and erased at the
// end; elsewhere (-p) each update starts with a carriage return, as
// libiscsi's iscsi-dd does, and the last one ends the line.
func drawProgress(w io.Writer, st stats, total int64, final, tty bool) {
	if final {
		if tty {
			fmt.Fprint(w, "\r\033[K")
		} else {
			fmt.Fprint(w, "\n")
		}
		return
	}
	io.WriteString(w, progressLine(st, total))
	if tty {
		io.WriteString(w, "\033[K")
	}
	if f, ok := w.(interface{ Flush() error }); ok {
		f.Flush()
	}
}

func progressLine(st stats, total int64) string {
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = min(float64(st.done)/float64(total), 1)
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	rate := 0.0
	if s := st.elapsed.Seconds(); s > 0 {
		rate = float64(st.done) / s / 1e6
	}
	return fmt.Sprintf("\r%s / %s %3d%% [%s] %.1f MB/s", human(st.done), human(total), int(frac*100), bar, rate)
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
