// Command iscsi-pr reads and changes the persistent reservations of a LUN
// (PERSISTENT RESERVE IN and OUT), with the flags and output lines of
// libiscsi's iscsi-pr (newer than 1.19), which keeps them aligned with
// sg_persist.
//
//	iscsi-pr -i initiator-name [-k|-r|-c|-s] [-G|-R|-L|-C|-P|-X] [-K rk] [-S sark] [-T type] iscsi://host[:port]/target-iqn/lun
//
// A reservation belongs to an I_T nexus (initiator name and ISID); each run
// is a new session, so -i names who acts. See docs/TOOLS.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const name = "iscsi-pr"

const usageText = "Usage: iscsi-pr -i|--initiator-name=iqn-name [-k|-r|-c|-s|-G|-R|-L|-C|-P|-X]\n" +
	"\t\t[-K|--param-rk=RK] [-S|--param-sark=SARK] [-T|--prout-type=TYPE] <iscsi-url>\n"

const helpText = `Usage: iscsi-pr [OPTION...] <iscsi-url>
  -i, --initiator-name=iqn-name  Initiator name to use (required)
  -d, --debug                    Enable debug
  -t, --timeout=duration         connect and login timeout (default 15s)
  -?, --help                     Show this help message
  -K, --param-rk=RK              PR Out: parameter reservation key (RK is in hex)
  -S, --param-sark=SARK          PR Out: parameter service action reservation key (SARK is in hex)
  -T, --prout-type=TYPE          PR Out: type field
  -G, --register                 PR Out: Register
  -R, --reserve                  PR Out: Reserve, SARK only(register sark implicitly)
  -L, --release                  PR Out: Release, SARK only. This program releases TYPE 7 and TYPE 8 only
  -C, --clear                    PR Out: Clear, SARK only
  -P, --preempt                  PR Out: Preempt, use SARK to preempt reservation from RK
  -X, --preempt-remove           PR Out: Preempt, use SARK to preempt reservation from RK, then release SARK and remove SARK
  -k, --read-keys                PR In:  Read Keys
  -r, --read-reservation         PR In:  Read Reservation
  -c, --report-capabilities      PR In:  Report Capabilities
  -s, --read-full-status         PR In:  Read Full Status

iSCSI URL format : ` + `"` + iscsiurl.Syntax + `"` + `

` + cli.HostHelp + `
PR Out TYPE field value meanings:
  0:    obsolete (was 'read shared' in SPC)
  1:    write exclusive
  2:    obsolete (was 'read exclusive')
  3:    exclusive access
  4:    obsolete (was 'shared access')
  5:    write exclusive, registrants only
  6:    exclusive access, registrants only
  7:    write exclusive, all registrants
  8:    exclusive access, all registrants
`

func main() {
	ctx, stop := cli.Context()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// operation is one of the flags that choose what to do.
type operation struct {
	short, long string
	in          bool
	inSA        scsi.PRInAction
	outSA       scsi.PROutAction
	remove      bool // -X: preempt, then release and unregister
	set         bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := cli.New(name, "", cli.DebugSwitch, helpText, usageText, stdout, stderr)
	var rkStr, sarkStr, typeStr string
	f := t.Flags
	f.StringVarP(&rkStr, "param-rk", "K", "0", "reservation key (hex)")
	f.StringVarP(&sarkStr, "param-sark", "S", "0", "service action reservation key (hex)")
	f.StringVarP(&typeStr, "prout-type", "T", "0", "PR type")
	ops := []*operation{
		{short: "G", long: "register", outSA: scsi.PRRegister},
		{short: "R", long: "reserve", outSA: scsi.PRReserve},
		{short: "L", long: "release", outSA: scsi.PRRelease},
		{short: "C", long: "clear", outSA: scsi.PRClear},
		{short: "P", long: "preempt", outSA: scsi.PRPreempt},
		{short: "X", long: "preempt-remove", outSA: scsi.PRPreempt, remove: true},
		{short: "k", long: "read-keys", in: true, inSA: scsi.PRReadKeys},
		{short: "r", long: "read-reservation", in: true, inSA: scsi.PRReadReservation},
		{short: "c", long: "report-capabilities", in: true, inSA: scsi.PRReportCapabilities},
		{short: "s", long: "read-full-status", in: true, inSA: scsi.PRReadFullStatus},
	}
	for _, o := range ops {
		f.BoolVarP(&o.set, o.long, o.short, false, o.long)
	}
	defer t.Stdout.Flush()
	pos, done, err := t.Parse(args)
	if err != nil {
		return cli.ExitFailure
	}
	if done {
		return cli.ExitOK
	}
	var op *operation
	n := 0
	for _, o := range ops {
		if o.set {
			op, n = o, n+1
		}
	}
	if n != 1 {
		t.Errorf("You must specify one Persistent Reservation operation (one of -G -R -L -C -P -X -k -r -c -s; see %s --help)", name)
		return cli.ExitFailure
	}
	if t.Initiator == "" {
		t.Errorf("You must specify initiator by -i/--initiator-name (a reservation belongs to an initiator)")
		return cli.ExitFailure
	}
	rk, err := parseKey(rkStr)
	if err != nil {
		t.Errorf("bad argument to '--param-rk' %q: a key in hex, e.g. 0x123abc", rkStr)
		return cli.ExitFailure
	}
	sark, err := parseKey(sarkStr)
	if err != nil {
		t.Errorf("bad argument to '--param-sark' %q: a key in hex, e.g. 0x123abc", sarkStr)
		return cli.ExitFailure
	}
	typ, err := cli.ParseInt(typeStr)
	if err != nil || typ < 0 || typ > 15 {
		t.Errorf("bad argument to '--prout-type' %q: 0 to 15 (see %s --help)", typeStr, name)
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
	if op.in {
		err = prIn(ctx, t.Stdout, s, op.inSA)
	} else {
		err = prOut(ctx, s, op.outSA, scsi.PRType(typ), rk, sark, op.remove)
	}
	cli.Close(s)
	if err != nil {
		return t.Fail("", err)
	}
	return cli.ExitOK
}

// parseKey reads a key in hex, with or without 0x, as sscanf("%x") does.
func parseKey(s string) (uint64, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	return strconv.ParseUint(s, 16, 64)
}

// prInAlloc is libiscsi's first allocation length; a longer answer is
// asked for again in full.
const prInAlloc = 1024

func prIn(ctx context.Context, w io.Writer, s *session.Session, sa scsi.PRInAction) error {
	cmd := "PERSISTENT RESERVE IN (" + inName(sa) + ")"
	data, err := cli.In(ctx, s, s.LUN(), scsi.PersistentReserveIn(sa, prInAlloc), prInAlloc)
	if err == nil && len(data) >= 8 && sa != scsi.PRReportCapabilities {
		// READ KEYS, READ RESERVATION and READ FULL STATUS announce
		// their length in bytes 4-7.
		full := int64(uint32(data[4])<<24|uint32(data[5])<<16|uint32(data[6])<<8|uint32(data[7])) + 8
		if full > int64(len(data)) && len(data) == prInAlloc {
			n := int(min(full, 0xffff))
			data, err = cli.In(ctx, s, s.LUN(), scsi.PersistentReserveIn(sa, uint16(n)), n)
		}
	}
	if err != nil {
		return cli.CommandError(s.LUN(), cmd, err)
	}
	switch sa {
	case scsi.PRReadKeys:
		k, err := scsi.ParsePRKeys(data)
		if err != nil {
			return cli.CommandError(s.LUN(), cmd, err)
		}
		printKeys(w, &k)
	case scsi.PRReadReservation:
		r, err := scsi.ParsePRReservation(data)
		if err != nil {
			return cli.CommandError(s.LUN(), cmd, err)
		}
		printReservation(w, &r)
	case scsi.PRReportCapabilities:
		c, err := scsi.ParsePRCapabilities(data)
		if err != nil {
			return cli.CommandError(s.LUN(), cmd, err)
		}
		printCapabilities(w, &c)
	case scsi.PRReadFullStatus:
		fs, err := scsi.ParsePRFullStatus(data)
		if err != nil {
			return cli.CommandError(s.LUN(), cmd, err)
		}
		printFullStatus(w, &fs)
	}
	return nil
}

func inName(sa scsi.PRInAction) string {
	switch sa {
	case scsi.PRReadKeys:
		return "READ KEYS"
	case scsi.PRReadReservation:
		return "READ RESERVATION"
	case scsi.PRReportCapabilities:
		return "REPORT CAPABILITIES"
	}
	return "READ FULL STATUS"
}

// outName is libiscsi's name of a PR OUT service action.
func outName(sa scsi.PROutAction) string {
	switch sa {
	case scsi.PRRegister:
		return "register"
	case scsi.PRReserve:
		return "reserve"
	case scsi.PRRelease:
		return "release"
	case scsi.PRClear:
		return "clear"
	case scsi.PRPreempt:
		return "preempt"
	case scsi.PRPreemptAndAbort:
		return "preempt-and-abort"
	case scsi.PRRegisterAndIgnore:
		return "register-and-ignore-existing-key"
	case scsi.PRRegisterAndMove:
		return "register-and-move"
	}
	return "Unknown SA"
}

// prOutError is a failed PERSISTENT RESERVE OUT, named as libiscsi names
// it: "PR OUT command [reserve] failed".
type prOutError struct {
	sa  scsi.PROutAction
	err error
}

func (e *prOutError) Error() string {
	return fmt.Sprintf("PR OUT command [%s] failed: %v", outName(e.sa), e.err)
}

func (e *prOutError) Unwrap() error { return e.err }

func prOutCommand(ctx context.Context, s *session.Session, sa scsi.PROutAction, typ scsi.PRType, rk, sark uint64) error {
	params := scsi.AppendPROutParameters(make([]byte, 0, scsi.PROutParametersLen), scsi.PROutParameters{Key: rk, ServiceActionKey: sark})
	// TYPE is meaningful for RESERVE, RELEASE and the PREEMPTs only.
	switch sa {
	case scsi.PRRegister, scsi.PRClear, scsi.PRRegisterAndIgnore:
		typ = 0
	}
	ctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	f := s.Execute(ctx, s.LUN(), scsi.PersistentReserveOut(sa, typ, uint32(len(params))), session.DirWrite, iovector.New(params))
	if _, err := f.Wait(); err != nil {
		return &prOutError{sa: sa, err: err}
	}
	return nil
}

// prOut does what libiscsi's iscsi-pr does: register SARK for this I_T
// nexus first, then the operation with SARK as our key, and where the
// operation fails (or after -L, -X) unregister SARK again.
func prOut(ctx context.Context, s *session.Session, sa scsi.PROutAction, typ scsi.PRType, rk, sark uint64, remove bool) error {
	if err := prOutCommand(ctx, s, scsi.PRRegister, typ, 0, sark); err != nil || sa == scsi.PRRegister {
		return err
	}
	unregister := func(cause error) error {
		if err := prOutCommand(ctx, s, scsi.PRRegister, typ, sark, 0); err != nil {
			return errors.Join(cause, err)
		}
		return cause
	}
	switch sa {
	case scsi.PRClear:
		return prOutCommand(ctx, s, scsi.PRClear, typ, sark, sark)
	case scsi.PRReserve:
		if err := prOutCommand(ctx, s, scsi.PRReserve, typ, sark, sark); err != nil {
			return unregister(err)
		}
		return nil
	case scsi.PRPreempt:
		if err := prOutCommand(ctx, s, scsi.PRPreempt, typ, sark, rk); err != nil {
			return unregister(err)
		}
		if !remove {
			return nil
		}
	}
	// RELEASE, and the end of -X.
	err := prOutCommand(ctx, s, scsi.PRRelease, typ, sark, sark)
	return unregister(err)
}
