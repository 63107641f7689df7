package conformance_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/conformance"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// iscsitestGaps are where our in-process target differs from the suite,
// each with the reason (docs/CONFORMANCE.md lists them).
var iscsitestGaps = map[string]string{
	"ALL.Inquiry.BlockLimits":            "iscsitest returns the SBC-3 Block Limits page but claims no version descriptors (no SBC-3)",
	"ALL.iSCSIcmdsn.iSCSICmdSnTooHigh":   "iscsitest answers commands outside the CmdSN window instead of ignoring them",
	"ALL.iSCSIcmdsn.iSCSICmdSnTooLow":    "iscsitest answers commands outside the CmdSN window instead of ignoring them",
	"ALL.iSCSIdatasn.iSCSIDataSnInvalid": "iscsitest does not check the DataSN of Data-Out PDUs",
	"ALL.iSCSIResiduals.Read10Invalid":   "iscsitest refuses a READ sent with the W bit and data (INVALID FIELD IN CDB), which libiscsi expects to succeed",
}

// The suite against our own in-process target, through the testing.T
// runner: what a Go target's author writes in their own test.
func TestIscsitest(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(8<<20, 512))
	defer srv.Close()
	conformance.TestTarget(t, srv.URL(), &conformance.Options{DataLoss: true, Skip: iscsitestGaps})
}

// iscsitest as a copy manager (WithExtendedCopy): the EXTENDED COPY tests
// run there, where tgtd has none. What iscsitest answers differently from
// what libiscsi's tests expect is waived, with the difference.
func TestIscsitestExtendedCopy(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(8<<20, 512), iscsitest.WithExtendedCopy())
	defer srv.Close()
	conformance.TestTarget(t, srv.URL(), &conformance.Options{
		DataLoss: true,
		Tests:    "ALL.ExtendedCopy,ALL.ReceiveCopyResults",
		Skip: map[string]string{

			"ALL.ExtendedCopy.ValidSegDescr":    "iscsitest answers a segment naming a missing CSCD descriptor, or past the end, with ILLEGAL REQUEST, not COPY ABORTED",
			"ALL.ReceiveCopyResults.CopyStatus": "iscsitest answers COPY STATUS of a list identifier never used with GOOD",
		},
	})
}

// iscsitest with WithSanitize: the SANITIZE tests sanitize its LUN and
// check the outcome.
func TestIscsitestSanitize(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(8<<20, 512), iscsitest.WithSanitize())
	defer srv.Close()
	conformance.TestTarget(t, srv.URL(), &conformance.Options{
		DataLoss:      true,
		AllowSanitize: true,
		Tests:         "ALL.Sanitize",
		Skip: map[string]string{
			"ALL.Sanitize.Reset": "iscsitest's SANITIZE is done when it answers: there is no SANITIZE in progress for the test to see (TestNewTestsCanFail scripts one)",
		},
	})
}

// countingDialer counts the connections the suite's sessions make.
type countingDialer struct {
	net.Dialer
	n atomic.Int32
}

func (d *countingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.n.Add(1)
	return d.Dialer.DialContext(ctx, network, address)
}

// runOne runs one test against srv and returns its verdict and reason.
func runOne(t *testing.T, srv *iscsitest.Server, name string, cfg *session.Config) (conformance.Verdict, string) {
	t.Helper()
	rep, err := conformance.Run(t.Context(), srv.URL(), &conformance.Options{Tests: name, DataLoss: true, AllowSanitize: true, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%s: %d results, want 1", name, len(rep.Results))
	}
	return rep.Results[0].Verdict, rep.Results[0].Reason
}

// The EXTENDED COPY and SANITIZE tests pass against iscsitest doing what
// SPC and SBC say, and fail against one that answers a single command
// wrongly (an iscsitest fault): each of them can fail. Reservations and
// Reset need what iscsitest does not have (RESERVE (6), a SANITIZE that
// lasts): faults script it, so that they pass, and fail without it.
func TestNewTestsCanFail(t *testing.T) {
	notReady := iscsitest.Sense(scsi.SenseNotReady, 0x041b) // SANITIZE IN PROGRESS
	good := func(op scsi.OpCode) iscsitest.Fault {
		return iscsitest.Fault{Match: iscsitest.Opcode(op), Action: iscsitest.Respond, Status: scsi.StatusGood, Count: 1}
	}
	// A SANITIZE that stays in progress: the target never answers it, and
	// TEST UNIT READY, START STOP UNIT and READ (16) report it, until the
	// first TEST UNIT READY after the test has logged in again (the
	// sessions' dials are counted).
	sanitizing := func() ([]iscsitest.Fault, *session.Config) {
		d := &countingDialer{}
		var seen bool // these are touched by Match only, under the server's lock
		var dialsThen int32
		var after int
		inProgress := func(cdb []byte) bool {
			if !seen || cdb[0] != byte(scsi.OpTestUnitReady) {
				return false
			}
			if d.n.Load() == dialsThen {
				return true
			}
			after++
			return after == 1
		}
		return []iscsitest.Fault{
			{Match: func(cdb []byte) bool {
				if !seen && cdb[0] == byte(scsi.OpSanitize) {
					seen, dialsThen = true, d.n.Load()
				}
				return false
			}},
			{Match: iscsitest.Opcode(scsi.OpSanitize), Action: iscsitest.Ignore, Count: 1},
			{Match: inProgress, Action: iscsitest.Respond, Status: scsi.StatusCheckCondition, Sense: notReady},
			{Match: func(cdb []byte) bool {
				return seen && (cdb[0] == byte(scsi.OpStartStopUnit) || cdb[0] == byte(scsi.OpRead16))
			},
				Action: iscsitest.Respond, Status: scsi.StatusCheckCondition, Sense: notReady, Count: 2},
		}, &session.Config{Dialer: d}
	}
	resetFaults, resetCfg := sanitizing()
	xcopy := iscsitest.WithExtendedCopy()
	sanitize := iscsitest.WithSanitize()
	for _, tc := range []struct {
		test         string
		opt          iscsitest.Option
		pass, fail   []iscsitest.Fault
		passScripted bool
		cfg          *session.Config // of the passing run
	}{
		// EXTENDED COPY answered GOOD where the limits are exceeded, or
		// the descriptor type is unknown.
		{test: "ALL.ExtendedCopy.DescrLimits", opt: xcopy, fail: []iscsitest.Fault{good(scsi.OpExtendedCopy)}},
		{test: "ALL.ExtendedCopy.DescrType", opt: xcopy, fail: []iscsitest.Fault{good(scsi.OpExtendedCopy)}},
		// The first SANITIZE answered GOOD without being done.
		{test: "ALL.Sanitize.Overwrite", opt: sanitize, fail: []iscsitest.Fault{good(scsi.OpSanitize)}},
		{test: "ALL.Sanitize.BlockErase", opt: sanitize, fail: []iscsitest.Fault{good(scsi.OpSanitize)}},
		{test: "ALL.Sanitize.CryptoErase", opt: sanitize, fail: []iscsitest.Fault{good(scsi.OpSanitize)}},
		// MODE SELECT answered GOOD without setting SWP.
		{test: "ALL.Sanitize.Readonly", opt: sanitize, fail: []iscsitest.Fault{good(scsi.OpModeSelect6)}},
		// RESERVE (6) answered GOOD: SANITIZE conflicts (scripted), or
		// not.
		{test: "ALL.Sanitize.Reservations", opt: sanitize, passScripted: true,
			pass: []iscsitest.Fault{good(scsi.OpReserve6), {Match: iscsitest.Opcode(scsi.OpSanitize), Action: iscsitest.Respond, Status: scsi.StatusReservationConflict}},
			fail: []iscsitest.Fault{good(scsi.OpReserve6)}},
		// A SANITIZE in progress (scripted), or one done at once.
		{test: "ALL.Sanitize.Reset", opt: sanitize, passScripted: true, pass: resetFaults, cfg: resetCfg},
	} {
		t.Run(tc.test, func(t *testing.T) {
			for _, want := range []conformance.Verdict{conformance.Passed, conformance.Failed} {
				srv := iscsitest.NewServer(iscsitest.WithLUN(2<<20, 512), tc.opt)
				faults := tc.pass
				if want == conformance.Failed {
					faults = tc.fail
				}
				for _, f := range faults {
					srv.Inject(f)
				}
				cfg := tc.cfg
				if want == conformance.Failed {
					cfg = nil
				}
				v, why := runOne(t, srv, tc.test, cfg)
				srv.Close()
				t.Logf("%v: %.150s", v, why)
				if v != want {
					t.Errorf("%v, want %v (faults: %d, scripted pass %v): %s", v, want, len(faults), tc.passScripted, why)
				}
			}
		})
	}
}

// The iSCSI-level tests log in on a bare connection of their own: against
// a target that requires CHAP they authenticate with the suite's
// credentials, from the URL (one-way CHAP here), the LIBISCSI_CHAP_*
// variables (mutual CHAP here) or Options.Config, and run as they do
// without CHAP (Write10Residuals starts on the bare connection: it passes
// only if that logged in).
func TestIscsitestCHAP(t *testing.T) {
	const sel = "ALL.iSCSIcmdsn,ALL.iSCSIdatasn,ALL.iSCSIResiduals.Write10Residuals"
	want := map[string]conformance.Verdict{
		"ALL.iSCSIcmdsn.iSCSICmdSnTooHigh":    conformance.Failed, // iscsitestGaps: it answers outside the window
		"ALL.iSCSIcmdsn.iSCSICmdSnTooLow":     conformance.Failed,
		"ALL.iSCSIdatasn.iSCSIDataSnInvalid":  conformance.Failed, // iscsitestGaps: no DataSN check
		"ALL.iSCSIResiduals.Write10Residuals": conformance.Passed,
	}
	check := func(t *testing.T, url string, cfg *session.Config) {
		rep, err := conformance.Run(t.Context(), url, &conformance.Options{Tests: sel, DataLoss: true, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != len(want) {
			t.Fatalf("%d results, want %d", len(rep.Results), len(want))
		}
		for _, r := range rep.Results {
			if w := want[r.Test.FullName()]; r.Verdict != w {
				t.Errorf("%s: %v, want %v: %s", r.Test.FullName(), r.Verdict, w, r.Reason)
			}
			if strings.Contains(r.Reason, "log in on a bare connection") {
				t.Errorf("%s: %s", r.Test.FullName(), r.Reason)
			}
		}
	}
	t.Run("URL", func(t *testing.T) {
		srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithCHAP("suite", "suite-secret-1"))
		defer srv.Close()
		check(t, strings.Replace(srv.URL(), "iscsi://", "iscsi://suite%suite-secret-1@", 1), nil)
	})
	t.Run("environment", func(t *testing.T) {
		srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512),
			iscsitest.WithMutualCHAP("suite", "suite-secret-1", "target", "target-secret-1"))
		defer srv.Close()
		t.Setenv("LIBISCSI_CHAP_USERNAME", "suite")
		t.Setenv("LIBISCSI_CHAP_PASSWORD", "suite-secret-1")
		t.Setenv("LIBISCSI_CHAP_TARGET_USERNAME", "target")
		t.Setenv("LIBISCSI_CHAP_TARGET_PASSWORD", "target-secret-1")
		check(t, srv.URL(), nil)
	})
	t.Run("Config", func(t *testing.T) {
		srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithCHAP("suite", "suite-secret-1"))
		defer srv.Close()
		// Through Config.Dialer too: the URL names a port nobody listens
		// on, the dialer connects to the server (the bare connection
		// included).
		url := strings.Replace(srv.URL(), srv.Addr(), "127.0.0.1:1", 1)
		check(t, url, &session.Config{Username: "suite", Secret: auth.NewSecret("suite-secret-1"), Dialer: redirectDialer(srv.Addr())})
	})
}

// redirectDialer connects to its address whatever it is asked for.
type redirectDialer string

func (to redirectDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, string(to))
}

// A command the unit does not implement inside one of libiscsi's helper
// functions (here the checks after a SANITIZE) skips that helper only, as
// libiscsi's does: the test goes on, and a later wrong answer fails it.
func TestSkippedHelperGoesOn(t *testing.T) {
	notImplemented := func(op scsi.OpCode) iscsitest.Fault {
		return iscsitest.Fault{Match: iscsitest.Opcode(op), Action: iscsitest.Respond,
			Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseIllegalRequest, 0x2000)}
	}
	// GET LBA STATUS answered GOOD with no data: the check after a BLOCK
	// ERASE cannot read the mapping.
	emptyLBAStatus := iscsitest.Fault{Match: func(cdb []byte) bool {
		return cdb[0] == byte(scsi.OpServiceActionIn16) && cdb[1]&0x1f == byte(scsi.ServiceActionGetLBAStatus)
	}, Action: iscsitest.Respond, Status: scsi.StatusGood}
	for _, tc := range []struct {
		name, test string
		faults     []iscsitest.Fault
		want       conformance.Verdict
	}{
		{"no READ16", "ALL.Sanitize.BlockErase", []iscsitest.Fault{notImplemented(scsi.OpRead16)}, conformance.Skipped},
		{"no READ16, then a wrong GET LBA STATUS", "ALL.Sanitize.BlockErase",
			[]iscsitest.Fault{notImplemented(scsi.OpRead16), emptyLBAStatus}, conformance.Failed},
		{"no READ10", "ALL.Sanitize.CryptoErase", []iscsitest.Fault{notImplemented(scsi.OpRead10)}, conformance.Skipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := iscsitest.NewServer(iscsitest.WithLUN(2<<20, 512), iscsitest.WithSanitize())
			defer srv.Close()
			for _, f := range tc.faults {
				srv.Inject(f)
			}
			v, why := runOne(t, srv, tc.test, nil)
			if v != tc.want {
				t.Errorf("%v, want %v: %s", v, tc.want, why)
			}
		})
	}
}
