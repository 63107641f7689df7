// Command iscsi-perf measures the speed of an iSCSI LUN and of this
// initiator: it keeps a number of READ (or WRITE) commands in flight and
// prints, once a second, the same progress line as libiscsi's iscsi-perf.
//
//	iscsi-perf [-i <initiator-name>] [-m <max_requests>] [-b blocks_per_request]
//	           [-t seconds] [-r|--random] [-R|--random-blocks] [-l|--logging]
//	           [-n|--ignore-errors] [--write | --mix=PCT] [--json] [--path URL]... <URL>
//
// The flags are libiscsi's. Beyond them it can write (--write) or mix reads
// and writes (--mix=PCT, PCT percent writes), ends cleanly after -t seconds
// (commands in flight are waited for, then the session logs out), and prints
// a summary with IOPS, throughput, latency percentiles and the CPU time this
// process used per I/O (user+system, from getrusage), as one JSON line with
// --json. It never writes unless --write or --mix is given.
//
// READs on one session land in one buffer that all commands share, as
// libiscsi's iscsi-perf reads into a buffer it frees after each callback:
// the data is not looked at, and 32 buffers of 128 KiB would fall out of
// the CPU's cache that one buffer stays in (a 128 KiB READ at QD32 cost
// 20% more CPU that way). --own-buffers gives each command its own, as an
// application whose reads go to different places has. WRITEs, --mix and
// --path always use a buffer per command.
//
// Each --path URL adds a path to the same LUN through another portal: the
// run then goes through package multipath (one session per path, failover
// when a path fails), and the summary gives each path's I/O count and the
// failovers seen.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/session"
)

// defaultInitiator is the initiator name when -i is not given.
const defaultInitiator = session.NamingAuthority + ":iscsi-perf"

// options are the parsed command line.
type options struct {
	initiator     string
	maxInFlight   int
	maxReconnects int // -x: -1 unbounded, 0 no recovery
	blocks        int
	runtime       int // seconds; 0 runs until interrupted
	random        bool
	randomBlocks  bool
	logging       bool
	ignoreErrors  bool
	write         bool
	mix           int // percent of writes; 0 with write=false means read only
	json          bool
	goroutines    bool
	netpoller     bool
	ownBuffers    bool
	stall         time.Duration
	cpuProfile    string
	memProfile    string
	url           string
	paths         []string // --path: more URLs of the same LUN
	version       bool     // --version: print the version, run nothing

	// maxIOs, when positive, stops the run after that many I/Os (tests).
	maxIOs uint64
}

// errUsage is a command line that cannot run; the message has been printed.
var errUsage = errors.New("usage")

const usageLine = "Usage: iscsi-perf [-i <initiator-name>] [-m <max_requests>] [-b blocks_per_request] [-t timeout] [-r|--random] [-R|--random-blocks] [-l|--logging] [-n|--ignore-errors] [--write|--mix=PCT] [--json] [--path URL]... [--version] <LUN>"

// parseArgs parses the command line (without the program name).
func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("iscsi-perf", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine)
		fs.PrintDefaults()
	}
	fs.StringVarP(&o.initiator, "initiator-name", "i", defaultInitiator, "initiator name")
	fs.IntVarP(&o.maxInFlight, "max", "m", 32, "commands in flight (queue depth)")
	fs.IntVarP(&o.blocks, "blocks", "b", 8, "blocks per request")
	fs.IntVarP(&o.runtime, "runtime", "t", 0, "seconds to run (0: until interrupted)")
	fs.BoolVarP(&o.random, "random", "r", false, "random LBAs instead of sequential")
	fs.BoolVarP(&o.randomBlocks, "random-blocks", "R", false, "random transfer sizes of 1 to -b blocks")
	fs.BoolVarP(&o.logging, "logging", "l", false, "one progress line per second instead of overwriting it")
	fs.BoolVarP(&o.ignoreErrors, "ignore-errors", "n", false, "count failed commands and go on")
	fs.BoolVar(&o.write, "write", false, "WRITE instead of READ (destroys the LUN's data)")
	fs.IntVar(&o.mix, "mix", 0, "percent of commands that are WRITEs, the rest READs (destroys the LUN's data)")
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON line on stdout (progress goes to stderr)")
	fs.BoolVar(&o.goroutines, "goroutines", false, "one goroutine per command in flight, each waiting with Future.Wait (default: callbacks, as libiscsi's event loop)")
	fs.DurationVar(&o.stall, "stall-timeout", 30*time.Second, "give up when no command completes for this long")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the I/O phase to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile (every allocation sampled) to this file")
	fs.IntVarP(&o.maxReconnects, "max-reconnects", "x", -1, "reconnect attempts after a lost connection (-1: until the replacement timeout, 0: none)")
	fs.BoolVar(&o.netpoller, "netpoller", false, "connect through Go's netpoller (a net.Dialer) rather than the default session.BlockingDialer")
	fs.BoolVar(&o.ownBuffers, "own-buffers", false, "give each command in flight a read buffer of its own (default for READs on one session: one shared buffer, as libiscsi's iscsi-perf)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringArrayVar(&o.paths, "path", nil, "another URL of the same LUN (through another portal); repeatable: the run uses every path (multipath)")
	_ = fs.MarkHidden("cpuprofile")
	_ = fs.MarkHidden("memprofile")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return o, errUsage
		}
		fmt.Fprintln(stderr, usageLine)
		return o, errUsage
	}
	if o.version {
		return o, nil
	}
	bad := func(format string, a ...any) (options, error) {
		fmt.Fprintf(stderr, "iscsi-perf: "+format+"\n", a...)
		fmt.Fprintln(stderr, usageLine)
		return o, errUsage
	}
	if fs.NArg() != 1 {
		return bad("want exactly one URL (%s), got %d arguments", iscsiurl.Syntax, fs.NArg())
	}
	o.url = fs.Arg(0)
	for _, p := range o.paths {
		if _, err := iscsiurl.Parse(p); err != nil {
			return bad("--path: %v", err)
		}
	}
	switch {
	case o.maxInFlight < 1 || o.maxInFlight > 4096:
		return bad("-m %d: the number of commands in flight must be 1..4096", o.maxInFlight)
	case o.blocks < 1:
		return bad("-b %d: blocks per request must be at least 1", o.blocks)
	case o.runtime < 0:
		return bad("-t %d: the run time must not be negative", o.runtime)
	case o.mix < 0 || o.mix > 100:
		return bad("--mix=%d: the write percentage must be 0..100", o.mix)
	case o.write && fs.Changed("mix"):
		return bad("--write and --mix exclude each other (--mix=100 is --write)")
	case o.stall <= 0:
		return bad("--stall-timeout must be positive")
	}
	if o.mix == 100 {
		o.write, o.mix = true, 0
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return 1
	}
	if o.version {
		fmt.Fprintln(stdout, cli.Version("iscsi-perf"))
		return 0
	}
	// First SIGINT or SIGTERM: stop issuing, drain, log out. Second: abort.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return perf(context.Background(), o, stdout, stderr, sigs)
}

// perf logs in, runs the load and prints the results.
func perf(ctx context.Context, o options, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	// Human-readable lines go to stdout like libiscsi's, or to stderr when
	// stdout carries the JSON summary.
	out := stdout
	if o.json {
		out = stderr
	}
	u, err := iscsiurl.Parse(o.url)
	if err != nil {
		fmt.Fprintf(stderr, "iscsi-perf: %v\n", err)
		return 10
	}
	if o.memProfile != "" {
		runtime.MemProfileRate = 1
	}
	cfg := &session.Config{InitiatorName: o.initiator}
	if o.netpoller {
		cfg.Dialer = &net.Dialer{}
	}
	switch {
	case o.maxReconnects == 0:
		cfg.DisableRecovery = true
	case o.maxReconnects > 0:
		cfg.MaxReconnects = o.maxReconnects
	}
	mu := new(sync.Mutex) // the path changes are printed from the Device's goroutines
	out, stderr = lockedWriter{mu, out}, lockedWriter{mu, stderr}
	lun, err := dialLUN(ctx, o, u, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "Login Failed. %v\n", err)
		return 10
	}
	defer lun.Close()
	if len(o.paths) > 0 {
		fmt.Fprintf(out, "connected to %s and %d more path(s)\n", u, len(o.paths))
	} else {
		fmt.Fprintf(out, "connected to %s\n", u)
	}

	gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	g, err := lun.Geometry(gctx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "iscsi-perf: reading the capacity failed: %v\n", err)
		return 10
	}
	if uint64(o.blocks)*uint64(g.BlockSize) > uint64(g.MaxTransfer) {
		fmt.Fprintf(stderr, "iscsi-perf: -b %d blocks of %d bytes is more than the largest transfer of this LUN (%d bytes)\n",
			o.blocks, g.BlockSize, g.MaxTransfer)
		return 10
	}
	if g.Blocks == 0 {
		fmt.Fprintln(stderr, "iscsi-perf: the LUN has no blocks")
		return 10
	}
	printBanner(out, o, g)

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "iscsi-perf: %v\n", err)
			return 10
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "iscsi-perf: %v\n", err)
			return 10
		}
	}
	r := newRunner(lun, g, o, out, stderr)
	sum, runErr := r.run(ctx, sigs)
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		if err := writeAllocs(o.memProfile); err != nil {
			fmt.Fprintf(stderr, "iscsi-perf: %v\n", err)
		}
	}

	lun.sum(sum)
	if runErr != nil {
		fmt.Fprintf(stderr, "\niscsi-perf: %v\n", runErr)
		fmt.Fprint(out, "\nABORTED!\n")
		return 1
	}
	fmt.Fprint(out, "\n\nfinished.\n")
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	lerr := lun.Logout(lctx)
	cancel()
	if lerr != nil {
		fmt.Fprintf(stderr, "iscsi-perf: logout: %v\n", lerr)
	}
	if o.json {
		b, err := json.Marshal(sum)
		if err != nil {
			fmt.Fprintf(stderr, "iscsi-perf: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		sum.print(stdout)
	}
	if sum.Errors > 0 {
		return 1
	}
	return 0
}

// lun is what a run goes through: one session, or a multipath Device.
type lun interface {
	issuer
	io.Closer
	Geometry(ctx context.Context) (session.Geometry, error)
	Logout(ctx context.Context) error
	sum(*summary) // adds its counters to the summary
}

type oneSession struct{ *session.Session }

func (s oneSession) sum(sum *summary) { sum.Reconnects = s.Stats().Reconnects }

type multiPath struct{ *multipath.Device }

func (d multiPath) sum(sum *summary) {
	st := d.Stats()
	sum.Failovers = st.Failovers
	for i, p := range st.Paths {
		sum.Reconnects += p.Session.Reconnects
		sum.Paths = append(sum.Paths, pathSummary{
			Path: i, Portal: p.Portal, State: p.State.String(), Commands: p.Commands, Errors: p.Errors,
			Failovers: p.Failovers, Fenced: p.Fenced, Reconnects: p.Session.Reconnects,
		})
	}
}

// dialLUN logs in to the URL, or with --path to every path of the LUN
// through package multipath; path changes are printed on stderr.
func dialLUN(ctx context.Context, o options, u *iscsiurl.URL, cfg *session.Config, stderr io.Writer) (lun, error) {
	if len(o.paths) == 0 {
		s, err := session.DialURL(ctx, u, cfg)
		if err != nil {
			return nil, err
		}
		return oneSession{s}, nil
	}
	d, err := multipath.Dial(ctx, append([]string{o.url}, o.paths...), &multipath.Config{
		Session: cfg,
		OnPathChange: func(c multipath.PathChange) {
			if c.Err != nil {
				fmt.Fprintf(stderr, "\npath %d (%s): %v: %v\n", c.Path, c.Portal, c.State, c.Err)
			} else {
				fmt.Fprintf(stderr, "\npath %d (%s): %v\n", c.Path, c.Portal, c.State)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return multiPath{d}, nil
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// modeName is READ, WRITE or READ/WRITE (N% WRITE).
func modeName(o options) string {
	switch {
	case o.write:
		return "WRITE"
	case o.mix > 0:
		return fmt.Sprintf("READ/WRITE (%d%% WRITE)", o.mix)
	}
	return "READ"
}

// printBanner prints libiscsi's lines before the run.
func printBanner(w io.Writer, o options, g session.Geometry) {
	fmt.Fprintf(w, "capacity is %d blocks or %d byte (%d MB)\n", g.Blocks, g.Size(), g.Size()>>20)
	pattern := "SEQUENTIAL"
	if o.random {
		pattern = "RANDOM"
	}
	fmt.Fprintf(w, "performing %s %s with %d parallel requests\n", pattern, modeName(o), o.maxInFlight)
	if o.randomBlocks {
		fmt.Fprintf(w, "RANDOM transfer size of 1 - %d blocks (%d - %d byte)\n", o.blocks, g.BlockSize, uint64(o.blocks)*uint64(g.BlockSize))
	} else {
		fmt.Fprintf(w, "FIXED transfer size of %d blocks (%d byte)\n", o.blocks, uint64(o.blocks)*uint64(g.BlockSize))
	}
	if o.runtime > 0 {
		fmt.Fprintf(w, "will run for %d seconds.\n", o.runtime)
	} else {
		fmt.Fprintln(w, "infinite runtime - press CTRL-C to abort.")
	}
	fmt.Fprintln(w)
}
