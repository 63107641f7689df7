package tools_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// Test credentials of the CHAP target. The secret must never appear in
// anything our tools print.
const (
	chapUser   = "alice"
	chapSecret = "Par1ty-S3cret-Value"
)

const (
	iqnDisks = "iqn.2026-11.com.github.iscsi-go:disks"
	iqnNull  = "iqn.2026-11.com.github.iscsi-go:null"
	iqnCHAP  = "iqn.2026-11.com.github.iscsi-go:chap"
)

// layout is the target of the parity tests: several targets; LUNs of 512
// and 4096-byte blocks; a 1536-byte LUN whose size is exactly 1024 bytes by
// libiscsi's reckoning (block length × last LBA), the edge of its size
// loop; a null LUN of 1 TiB; and a target that requires CHAP.
func layout(t *testing.T) *tgtd.Instance {
	inst := tgtd.Start(t)
	inst.Apply(
		tgtd.TargetSpec{TID: 1, IQN: iqnDisks, LUNs: []tgtd.LUNSpec{
			{Size: 1 << 30},
			{Size: 64 << 20, BlockSize: 4096},
			{Size: 1536},
		}},
		tgtd.TargetSpec{TID: 2, IQN: iqnNull, LUNs: []tgtd.LUNSpec{{Null: true}}},
		tgtd.TargetSpec{TID: 3, IQN: iqnCHAP, LUNs: []tgtd.LUNSpec{{Size: 1000000}}},
	)
	inst.NewAccount(chapUser, auth.NewSecret(chapSecret))
	inst.BindAccount(3, chapUser)
	return inst
}

// allowance is a deliberate difference from libiscsi's output.
type allowance struct {
	name   string
	reason string
	// applies says whether the allowance concerns a run of tool with args.
	applies func(tool string, args []string) bool
	// normalize rewrites libiscsi's and our stdout before they are
	// compared; nil leaves them alone.
	theirs, ours func(string) string
	// libiscsiArgs, when set, replaces the arguments given to libiscsi's
	// tool (to ask it the same question in the form it understands).
	libiscsiArgs func(args []string) []string
	// exit, when set, is the pair of exit statuses (libiscsi's, ours)
	// expected instead of equal ones.
	exit *[2]int
}

var binaryDesignator = regexp.MustCompile(`(?m)^(Code Set:\(1\) BINARY\n(?:[^\n]*\n){3})Designator:\[[^\n]*\]$`)

func hasArgs(args []string, want ...string) bool {
	for i := 0; i+len(want) <= len(args); i++ {
		if slices.Equal(args[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

var allowlist = []allowance{
	{
		name: "binary designators in hex",
		reason: "libiscsi 1.19 prints a BINARY designator of VPD page 0x83 with %s: its raw bytes up to " +
			"the first NUL (tgtd's NAA designators print as \"`\" and \"0\"). libiscsi 1.20 and later print " +
			"each byte in hex, \"[ 60 00 ...]\"; we do as they do. The other lines must match.",
		applies: func(tool string, args []string) bool {
			return tool == "iscsi-inq" && hasArgs(args, "-c", "131")
		},
		theirs: maskBinaryDesignators,
		ours:   maskBinaryDesignators,
	},
	{
		name: "-s login failure on stderr",
		reason: "libiscsi's iscsi-ls -s prints \"list_luns: iscsi_connect failed. ...\" on standard output " +
			"when it cannot log in to a target; an error belongs on standard error, where we print it.",
		applies: func(tool string, args []string) bool {
			return tool == "iscsi-ls" && slices.Contains(args, "-s")
		},
		theirs: func(s string) string {
			var out []string
			for _, l := range strings.SplitAfter(s, "\n") {
				if !strings.HasPrefix(l, "list_luns: iscsi_connect failed.") {
					out = append(out, l)
				}
			}
			return strings.Join(out, "")
		},
	},
	{
		name: "hexadecimal page codes",
		reason: "libiscsi 1.19 reads -c and -e with atoi, so \"-c 0x83\" asks for page 0; libiscsi 1.20 " +
			"and later, and we, read them as C's strtol(s, 0, 0) does (0x83 is 131). libiscsi is asked " +
			"with the decimal number instead.",
		applies: func(tool string, args []string) bool {
			return tool == "iscsi-inq" && slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "0x") })
		},
		libiscsiArgs: func(args []string) []string {
			out := slices.Clone(args)
			for i, a := range out {
				switch a {
				case "0x00":
					out[i] = "0"
				case "0x1":
					out[i] = "1"
				case "0x80":
					out[i] = "128"
				case "0x83":
					out[i] = "131"
				case "0xb0":
					out[i] = "176"
				}
			}
			return out
		},
		theirs: maskBinaryDesignators,
		ours:   maskBinaryDesignators,
	},
	{
		name: "iscsi-swp -s with a bad value",
		reason: "libiscsi's iscsi-swp ignores a --swp value other than on, ON, off, OFF: it prints the bit " +
			"and exits 0, so a typo passes for success. We say the value is invalid, print nothing on " +
			"standard output and exit 10.",
		applies: func(tool string, args []string) bool {
			return tool == "iscsi-swp" && slices.ContainsFunc(args, func(a string) bool { return a == "bogus" || a == "--swp=On" })
		},
		theirs: func(string) string { return "" },
		exit:   &[2]int{0, 10},
	},
	{
		name: "unknown option",
		reason: "libiscsi's iscsi-inq treats an unknown option as --help and exits 0, so a script with a " +
			"typo sees success and no output; libiscsi 1.19's iscsi-ls ignores it and runs. We say which " +
			"option is unknown, print nothing on standard output and exit 10.",
		applies: func(tool string, args []string) bool { return slices.Contains(args, "--no-such-option") },
		theirs:  func(string) string { return "" },
		exit:    &[2]int{0, 10},
	},
}

func maskBinaryDesignators(s string) string {
	return binaryDesignator.ReplaceAllString(s, "${1}Designator:<binary>")
}

type parityCase struct {
	tool string
	args []string
	env  []string
	// oursArgs, when set, are the arguments of our tool (the same
	// question about another LUN in the same state, for tools that
	// change a LUN).
	oursArgs []string
}

// compare runs libiscsi's tool and ours and fails t on any difference the
// allowlist does not explain.
func compare(t *testing.T, c parityCase) {
	t.Helper()
	theirArgs := c.args
	var allowed []allowance
	for _, a := range allowlist {
		if a.applies(c.tool, c.args) {
			allowed = append(allowed, a)
			if a.libiscsiArgs != nil {
				theirArgs = a.libiscsiArgs(theirArgs)
			}
		}
	}
	theirs := tgtd.RunTool(t, c.env, c.tool, theirArgs...)
	ourArgs := c.args
	if c.oursArgs != nil {
		ourArgs = c.oursArgs
	}
	mine := tgtd.RunTool(t, c.env, ours(c.tool), ourArgs...)
	assertNoSecret(t, mine)

	tOut, oOut := theirs.Stdout, mine.Stdout
	wantExit := [2]int{theirs.ExitCode, theirs.ExitCode}
	for _, a := range allowed {
		if a.theirs != nil {
			tOut = a.theirs(tOut)
		}
		if a.ours != nil {
			oOut = a.ours(oOut)
		}
		if a.exit != nil {
			wantExit = *a.exit
		}
	}
	if theirs.ExitCode != wantExit[0] {
		t.Errorf("libiscsi's %s exited %d, the allowlist expects %d", c.tool, theirs.ExitCode, wantExit[0])
	}
	if mine.ExitCode != wantExit[1] {
		t.Errorf("our %s exited %d, libiscsi's %d (stderr: %s)", c.tool, mine.ExitCode, theirs.ExitCode, mine.Stderr)
	}
	if diff := cmp.Diff(tOut, oOut); diff != "" {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = a.name
		}
		t.Errorf("stdout differs (-libiscsi +ours; allowances applied: %q):\n%s\nour stderr: %s", names, diff, mine.Stderr)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("libiscsi stderr: %s", theirs.Stderr)
	}
}

// assertNoSecret fails t if the CHAP secret appears in r's output.
func assertNoSecret(t *testing.T, r tgtd.ToolResult) {
	t.Helper()
	if strings.Contains(r.Stdout+r.Stderr, chapSecret) {
		t.Errorf("the CHAP secret appears in the output:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	}
}

func TestParity(t *testing.T) {
	inst := layout(t)
	portal := inst.PortalURL()
	credPortal := "iscsi://" + chapUser + "%" + chapSecret + "@" + inst.Addr()
	env := []string{"LIBISCSI_CHAP_USERNAME=" + chapUser, "LIBISCSI_CHAP_PASSWORD=" + chapSecret}
	url := inst.TargetURL
	credURL := func(iqn string, lun int) string {
		return "iscsi://" + chapUser + "%" + chapSecret + "@" + inst.Addr() + "/" + iqn + "/" + itoa(lun)
	}

	cases := map[string]parityCase{
		"ls":                    {tool: "iscsi-ls", args: []string{portal}},
		"ls -U":                 {tool: "iscsi-ls", args: []string{"-U", portal}},
		"ls --url":              {tool: "iscsi-ls", args: []string{"--url", portal}},
		"ls -s no credentials":  {tool: "iscsi-ls", args: []string{"-s", portal}},
		"ls -s URL credentials": {tool: "iscsi-ls", args: []string{"-s", credPortal}},
		"ls -s env credentials": {tool: "iscsi-ls", args: []string{"-s", portal}, env: env},
		"ls -s -U":              {tool: "iscsi-ls", args: []string{"-s", "-U", credPortal}},
		"ls --show-luns -i":     {tool: "iscsi-ls", args: []string{"--show-luns", "-i", "iqn.2026-11.com.example:someone", portal}, env: env},
		"ls portal with path":   {tool: "iscsi-ls", args: []string{url(iqnDisks, 1)}},
		"ls unknown option":     {tool: "iscsi-ls", args: []string{"--no-such-option", portal}},

		"rc16 controller":      {tool: "iscsi-readcapacity16", args: []string{url(iqnDisks, 0)}},
		"rc16 URL credentials": {tool: "iscsi-readcapacity16", args: []string{credURL(iqnCHAP, 1)}},
		"rc16 env credentials": {tool: "iscsi-readcapacity16", args: []string{url(iqnCHAP, 1)}, env: env},
		"rc16 --size":          {tool: "iscsi-readcapacity16", args: []string{"--size", url(iqnNull, 1)}},

		"inq controller":          {tool: "iscsi-inq", args: []string{url(iqnDisks, 0)}},
		"inq URL credentials":     {tool: "iscsi-inq", args: []string{credURL(iqnCHAP, 1)}},
		"inq env credentials":     {tool: "iscsi-inq", args: []string{"-e", "1", "-c", "131", url(iqnCHAP, 1)}, env: env},
		"inq --evpd= --pagecode=": {tool: "iscsi-inq", args: []string{"--evpd=1", "--pagecode=128", url(iqnDisks, 1)}},
		"inq -e1 -c176":           {tool: "iscsi-inq", args: []string{"-e1", "-c176", url(iqnDisks, 1)}},
		"inq -c without -e":       {tool: "iscsi-inq", args: []string{"-c", "128", url(iqnDisks, 1)}},
		"inq -d":                  {tool: "iscsi-inq", args: []string{"-d", url(iqnDisks, 1)}},
		"inq hex page code":       {tool: "iscsi-inq", args: []string{"-e", "1", "-c", "0x83", url(iqnDisks, 2)}},
		"inq hex page code b0":    {tool: "iscsi-inq", args: []string{"-e", "0x1", "-c", "0xb0", url(iqnNull, 1)}},
		"inq VPD of controller":   {tool: "iscsi-inq", args: []string{"-e", "1", "-c", "0", url(iqnDisks, 0)}},
		"inq unknown option":      {tool: "iscsi-inq", args: []string{"--no-such-option", url(iqnDisks, 1)}},
	}
	// Every disk LUN: READ CAPACITY(16) plain and -s, standard INQUIRY and
	// every VPD page iscsi-inq decodes.
	for _, l := range []struct {
		iqn string
		lun int
	}{{iqnDisks, 1}, {iqnDisks, 2}, {iqnDisks, 3}, {iqnNull, 1}} {
		u := url(l.iqn, l.lun)
		short := strings.TrimPrefix(l.iqn, "iqn.2026-11.com.github.iscsi-go:") + "/" + itoa(l.lun)
		cases["rc16 "+short] = parityCase{tool: "iscsi-readcapacity16", args: []string{u}}
		cases["rc16 -s "+short] = parityCase{tool: "iscsi-readcapacity16", args: []string{"-s", u}}
		cases["inq "+short] = parityCase{tool: "iscsi-inq", args: []string{u}}
		for _, page := range []string{"0", "128", "131", "176", "177", "178"} {
			cases["inq -e 1 -c "+page+" "+short] = parityCase{tool: "iscsi-inq", args: []string{"-e", "1", "-c", page, u}}
		}
	}

	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) { compare(t, cases[n]) })
	}
}

// TestParityEmptyPortal: a portal with no target prints nothing, like
// libiscsi's.
func TestParityEmptyPortal(t *testing.T) {
	inst := tgtd.Start(t)
	for _, args := range [][]string{{inst.PortalURL()}, {"-s", inst.PortalURL()}, {"-U", inst.PortalURL()}} {
		compare(t, parityCase{tool: "iscsi-ls", args: args})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestParityIPv6: the same lines on an IPv6 portal ([::1]), where the
// portal and the -U URLs carry brackets.
func TestParityIPv6(t *testing.T) {
	inst := tgtd.Start(t, tgtd.IPv6())
	const iqn = "iqn.2026-11.test:parity-v6"
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 8 << 20}, {Size: 4 << 20, BlockSize: 4096}}})
	for _, c := range []parityCase{
		{tool: "iscsi-ls", args: []string{inst.PortalURL()}},
		{tool: "iscsi-ls", args: []string{"-s", inst.PortalURL()}},
		{tool: "iscsi-ls", args: []string{"-U", inst.PortalURL()}},
		{tool: "iscsi-inq", args: []string{inst.TargetURL(iqn, 1)}},
		{tool: "iscsi-inq", args: []string{"-e", "1", "-c", "128", inst.TargetURL(iqn, 2)}},
		{tool: "iscsi-readcapacity16", args: []string{inst.TargetURL(iqn, 2)}},
		{tool: "iscsi-readcapacity16", args: []string{"-s", inst.TargetURL(iqn, 1)}},
	} {
		t.Run(c.tool+" "+strings.Join(c.args[:len(c.args)-1], " "), func(t *testing.T) { compare(t, c) })
	}
}

const iqnSWP = "iqn.2026-11.com.github.iscsi-go:swp"

// TestParitySWP runs libiscsi's iscsi-swp and ours through the same steps,
// each on its own LUN (the steps change the LUN), and compares standard
// output and exit status at every step; then the cases that change nothing.
func TestParitySWP(t *testing.T) {
	inst := tgtd.Start(t)
	inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqnSWP, LUNs: []tgtd.LUNSpec{
		{Size: 4 << 20}, {Size: 4 << 20}, // libiscsi's, ours
		{Size: 4 << 20, BlockSize: 4096}, {Size: 4 << 20, BlockSize: 4096},
	}})
	url := func(lun int) string { return inst.TargetURL(iqnSWP, lun) }
	steps := [][]string{
		{}, {"-s", "on"}, {}, {"--swp=off"}, {}, {"-s", "ON"}, {"-s", "ON"}, {"--swp", "OFF"}, {"-d"}, {"-i", "iqn.2026-11.com.example:someone", "-s", "on"}, {"-s", "off"},
	}
	for _, pair := range [][2]int{{1, 2}, {3, 4}} {
		for i, st := range steps {
			name := strings.Join(append([]string{"lun", itoa(pair[0])}, st...), " ")
			ok := t.Run(itoa(i)+" "+name, func(t *testing.T) {
				compare(t, parityCase{
					tool:     "iscsi-swp",
					args:     append(append([]string(nil), st...), url(pair[0])),
					oursArgs: append(append([]string(nil), st...), url(pair[1])),
				})
			})
			if !ok {
				break // the LUNs are no longer in the same state
			}
		}
	}
	for name, args := range map[string][]string{
		"controller":         {url(0)},
		"controller -s on":   {"-s", "on", url(0)},
		"missing LUN":        {url(9)},
		"missing LUN -s off": {"-s", "off", url(9)},
		"no URL":             {},
		"bad -s value":       {"-s", "bogus", url(1)},
		"help":               {"--help"},
		"usage":              {"--usage"},
		"unknown option":     {"--no-such-option", url(1)},
	} {
		t.Run(name, func(t *testing.T) { compare(t, parityCase{tool: "iscsi-swp", args: args}) })
	}
}
