// Command iscsi-test-cu is libiscsi's target conformance suite, a drop-in
// for libiscsi's iscsi-test-cu: the same flags, the same test names, the
// same lines on its output and the same exit status, on the tests of package
// conformance. --test also takes a regular expression, --junit writes JUnit
// XML, and a failure says which CDB, status, sense and clause.
//
//	iscsi-test-cu [-d] [-S] [-t FAMILY[.SUITE[.TEST]]|REGEXP] [-i name] [-I name] iscsi://host[:port]/target-iqn/lun [multipath-url]
//
// See docs/CONFORMANCE.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/spf13/pflag"

	"github.com/iscsi-go/iscsi/conformance"
)

const help = `Usage: iscsi-test-cu [-?|--help]    print this message and exit
or     iscsi-test-cu [OPTIONS] <iscsi-url> [multipath-iscsi-url]
Where OPTIONS are from:
  -i|--initiator-name=iqn-name     Initiatorname to use [` + conformance.DefaultInitiatorName + `]
  -I|--initiator-name-2=iqn-name   2nd Initiatorname to use [` + conformance.DefaultInitiatorName2 + `]
  -t|--test=test-name-reg-exp      Test(s) to run [ALL]: FAMILY[.SUITE[.TEST]] or a regular expression
  -l|--list                        List all tests and exit
  -d|--dataloss                    Allow destructive tests
  -S|--allow-sanitize              Allow sanitize-opcode tests
  -g|--ignore                      Error Action: Ignore test errors [DEFAULT]
                                   (a suite that cannot log in fails its tests, the run goes on)
  -f|--fail                        Error Action: FAIL if any tests fail (stop at such a suite)
  -A|--abort                       Error Action: ABORT if any tests fail (stop at such a suite)
  -s|--silent                      Test Mode: Silent
  -n|--normal                      Test Mode: Normal
  -v|--verbose                     Test Mode: Verbose [DEFAULT]
  -x|--xml                         Test Mode: XML
  -V|--Verbose-scsi                Enable verbose SCSI logging [default SILENT]
     --junit=FILE                  Also write the results as JUnit XML to FILE
     --command-timeout=DURATION    Fail a command the target does not answer within it [10s]

Where <iscsi-url> iSCSI URL format is: "iscsi://[<username>[%<password>]@]<host>[:<port>]/<target-iqn>/<lun>"

<host> is one of:
  "hostname"       e.g. iscsi.example
  "ipv4-address"   e.g. 10.1.1.27
  "ipv6-address"   e.g. [fce0::1]

and <test-name-reg-exp> is of the form: FAMILY[.SUITE[.TEST]] or a regular expression
`

// Exit statuses, libiscsi's: 0 all passed, 1 a test failed, 10 a usage
// error, 255 (its -1) the suite could not start.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 10
	exitNoStart = 255
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	init1, init2, test, junit    string
	list, dataloss, sanitize     bool
	ignore, fail, abort          bool
	silent, normal, verbose, xml bool
	verboseSCSI, showHelp        bool
	cmdTimeout                   time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := pflag.NewFlagSet("iscsi-test-cu", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVarP(&o.init1, "initiator-name", "i", conformance.DefaultInitiatorName, "")
	fs.StringVarP(&o.init2, "initiator-name-2", "I", conformance.DefaultInitiatorName2, "")
	fs.StringVarP(&o.test, "test", "t", "ALL", "")
	fs.BoolVarP(&o.list, "list", "l", false, "")
	fs.BoolVarP(&o.dataloss, "dataloss", "d", false, "")
	fs.BoolVarP(&o.sanitize, "allow-sanitize", "S", false, "")
	fs.BoolVarP(&o.ignore, "ignore", "g", false, "")
	fs.BoolVarP(&o.fail, "fail", "f", false, "")
	fs.BoolVarP(&o.abort, "abort", "A", false, "")
	fs.BoolVarP(&o.silent, "silent", "s", false, "")
	fs.BoolVarP(&o.normal, "normal", "n", false, "")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "")
	fs.BoolVarP(&o.xml, "xml", "x", false, "")
	fs.BoolVarP(&o.verboseSCSI, "Verbose-scsi", "V", false, "")
	fs.BoolVarP(&o.showHelp, "help", "?", false, "")
	fs.StringVar(&o.junit, "junit", "", "")
	fs.DurationVar(&o.cmdTimeout, "command-timeout", conformance.DefaultCommandTimeout, "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "iscsi-test-cu: %v\n", err)
		fmt.Fprint(stderr, help)
		return exitUsage
	}
	if *version {
		fmt.Fprintln(stdout, cli.Version("iscsi-test-cu"))
		return exitOK
	}
	if o.showHelp {
		fmt.Fprint(stdout, help)
		return exitOK
	}
	if o.list {
		listTests(stdout)
		return exitOK
	}
	pos := fs.Args()
	if len(pos) == 0 || !strings.HasPrefix(pos[0], "iscsi://") {
		fmt.Fprintln(stderr, "You must specify an iSCSI URL")
		fmt.Fprint(stderr, help)
		return exitUsage
	}
	if len(pos) > 2 {
		fmt.Fprintln(stderr, "Too many URLs: give the iSCSI URL and at most one multipath URL")
		return exitUsage
	}
	opts := &conformance.Options{
		Tests:          o.test,
		InitiatorName:  o.init1,
		InitiatorName2: o.init2,
		DataLoss:       o.dataloss,
		AllowSanitize:  o.sanitize,
		CommandTimeout: o.cmdTimeout,
	}
	if o.test == "" {
		opts.Tests = "ALL"
	}
	if len(pos) == 2 {
		opts.MultipathURL = pos[1]
	}
	if _, err := conformance.Select(opts.Tests); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	mode := modeVerbose
	switch {
	case o.silent:
		mode = modeSilent
	case o.normal:
		mode = modeNormal
	}
	p := &printer{w: stdout, mode: mode, verboseSCSI: o.verboseSCSI}
	opts.Progress = p.event
	// CUnit's error actions concern a suite whose set-up fails (here: its
	// login): -g runs the other suites, -f and -A stop there.
	opts.StopOnSetupError = o.fail || o.abort
	p.header()
	start := time.Now()
	rep, err := conformance.Run(ctx, pos[0], opts)
	if err != nil && (rep == nil || len(rep.Results) == 0) {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitNoStart
	}
	if err != nil {
		// A suite could not log in: the run stopped there.
		fmt.Fprintf(stderr, "%v\n", err)
	}
	p.summary(rep, time.Since(start))
	if o.junit != "" {
		if err := writeJUnit(o.junit, rep); err != nil {
			fmt.Fprintf(stderr, "iscsi-test-cu: %v\n", err)
			return exitFailed
		}
	}
	if o.xml {
		if err := writeCUnitXML(".", rep); err != nil {
			fmt.Fprintf(stderr, "iscsi-test-cu: %v\n", err)
			return exitFailed
		}
	}
	if rep.Count(conformance.Failed) > 0 || err != nil {
		return exitFailed
	}
	return exitOK
}

// listTests prints every name as libiscsi's --list does: each family, its
// suites and their tests (LINUX, libiscsi's sg family, is not ours).
func listTests(w io.Writer) {
	all := conformance.Tests()
	for _, fam := range []string{conformance.FamilyAll, conformance.FamilySCSI, conformance.FamilyISCSI} {
		fmt.Fprintln(w, fam)
		last := ""
		for _, tc := range all {
			in := fam == conformance.FamilyAll
			for _, f := range tc.Families {
				in = in || f == fam
			}
			if !in {
				continue
			}
			if tc.Suite != last {
				fmt.Fprintf(w, "%s.%s\n", fam, tc.Suite)
				last = tc.Suite
			}
			fmt.Fprintf(w, "%s.%s.%s\n", fam, tc.Suite, tc.Name)
		}
	}
}
