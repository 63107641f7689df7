//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/internal/lunfs"
	"github.com/iscsi-go/iscsi/iscsiurl"
)

const name = "iscsi-fuse"

const usageText = "Usage: iscsi-fuse [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-o ro]\n" +
	"\t\t[--allow-other] [--direct-io] [-d|--debug] [-t|--timeout=duration] <iscsi-url> <mountpoint>\n"

const helpText = `Usage: iscsi-fuse [OPTION...] <iscsi-url> <mountpoint>
Shows LUNs as files: a LUN URL as one file, lun<N>; a target URL as a file
per disk LUN; a portal URL as a directory per target. Stays in the
foreground; SIGINT, SIGTERM or fusermount3 -u unmount and log out.

  -i, --initiator-name=iqn-name     Initiatorname to use
  -o, --options=opt[,opt...]        mount options: ro, rw, allow_other, direct_io
      --read-only                   same as -o ro: every file is read-only
      --allow-other                 let other users use the mount (allow_other)
      --direct-io                   no page cache: reads and writes go to the LUN
                                    as the program makes them
  -d, --debug                       log every FUSE request and iSCSI PDU
  -t, --timeout=duration            connect and login timeout (default 15s)
      --netpoller                   connect through Go's netpoller, not a blocking socket

Help options:
  -?, --help                        Show this help message
      --usage                       Display brief usage message

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `
(or without /<lun> for a target, or without /<target-iqn>/<lun> for a portal)

` + cli.HostHelp

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, stopSignals func(), args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-fuse", cli.DebugSwitch, helpText, usageText, stdout, stderr)
	var mountOpts []string
	var o lunfs.Options
	t.Flags.StringSliceVarP(&mountOpts, "options", "o", nil, "mount options")
	t.Flags.BoolVar(&o.ReadOnly, "read-only", false, "read-only")
	t.Flags.BoolVar(&o.AllowOther, "allow-other", false, "allow other users")
	t.Flags.BoolVar(&o.DirectIO, "direct-io", false, "no page cache")
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	for _, opt := range mountOpts {
		switch strings.TrimSpace(opt) {
		case "ro":
			o.ReadOnly = true
		case "rw", "":
		case "allow_other":
			o.AllowOther = true
		case "direct_io":
			o.DirectIO = true
		default:
			t.Errorf("unknown mount option %q: ro, rw, allow_other and direct_io are known", opt)
			return cli.ExitFailure
		}
	}
	if len(pos) != 2 {
		t.Errorf("a URL and a mount point expected, got %d arguments", len(pos))
		io.WriteString(t.Stderr, usageText)
		return cli.ExitFailure
	}
	url, dir := pos[0], pos[1]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Errorf("%s is not a directory", dir)
		return cli.ExitFailure
	}
	level := slog.LevelInfo
	if t.Debug > 0 {
		level = slog.LevelDebug
		o.Debug = true
	}
	o.Logger = slog.New(slog.NewTextHandler(t.Stderr, &slog.HandlerOptions{Level: level}))
	o.FsName = cli.DisplayURL(url)
	if lunfs.Classify(url) != lunfs.KindLUN {
		// A target or portal URL: DisplayURL parses LUN URLs only.
		o.FsName = "iscsi"
	}

	cctx, cancel := context.WithTimeout(ctx, t.Timeout+cli.CommandTimeout)
	tree, err := lunfs.Connect(cctx, url, t.Config(), o.Logger)
	cancel()
	if err != nil {
		return t.Fail("", err)
	}
	defer closeTree(tree)
	srv, err := lunfs.Mount(dir, tree, o)
	if err != nil {
		return t.Fail("", err)
	}
	names := make([]string, len(tree.Files))
	for i, f := range tree.Files {
		names[i] = f.Name
		if f.Dir != "" {
			names[i] = f.Dir + "/" + f.Name
		}
	}
	slices.Sort(names)
	o.Logger.Info("iscsi-fuse: mounted", "dir", dir, "files", strings.Join(names, " "))

	unmounted := make(chan struct{})
	go func() {
		srv.Wait()
		close(unmounted)
	}()
	select {
	case <-unmounted:
		o.Logger.Info("iscsi-fuse: unmounted", "dir", dir)
		return cli.ExitOK
	case <-ctx.Done():
	}
	// A second signal ends the process at once.
	stopSignals()
	o.Logger.Info("iscsi-fuse: signal received; unmounting", "dir", dir)
	if err := srv.Unmount(); err != nil {
		o.Logger.Error("iscsi-fuse: unmount", "dir", dir, "err", err)
		return cli.ExitFailure
	}
	<-unmounted
	return cli.ExitOK
}

// closeTree logs out of the tree's sessions, bounded.
func closeTree(t *lunfs.Tree) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Close(ctx)
}
