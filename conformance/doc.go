// Package conformance is libiscsi's target conformance suite (test-tool,
// shipped as iscsi-test-cu) for Go: the same tests under the same names,
// checking the same things, runnable from a program (Run) or from a target
// author's own go test (TestTarget), in the manner of testing/fstest.TestFS.
//
// Tests are named as libiscsi names them, FAMILY.SUITE.TEST: every test is in
// family ALL ("ALL.Read10.Simple"), and also in SCSI or iSCSI as libiscsi
// groups them ("SCSI.Read10.Simple", "iSCSI.iSCSIResiduals.Read10Residuals").
// Select picks tests as libiscsi's --test does (a name or a prefix of one,
// with globs), or by a regular expression.
//
// Each test is a function of a *T, which has Error, Fatal and Skip as
// testing.T does. A failure says what was sent (the CDB), what came back (the
// status and the decoded sense) and which clause of SBC, SPC or RFC 7143 the
// test checks. Tests skip, as libiscsi's do, when the unit lacks what they
// need (an unimplemented command, a unit that is not thin provisioned) or
// when Options does not allow them (writes without DataLoss, SANITIZE without
// AllowSanitize, MultipathIO without a second URL).
//
// The suite logs in as libiscsi does: one session per suite under
// Options.InitiatorName, and a second session under Options.InitiatorName2
// for the tests that need another I_T nexus (reservations). Commands go
// through session.Session.Call without the block API's retries, so that a
// unit attention reaches the test as it reaches libiscsi's. The iSCSI-level
// tests that send what a correct initiator never does (a CmdSN outside the
// window, wrong DataSNs, a WRITE with an Expected Data Transfer Length of 0)
// use a bare connection built from package pdu inside this package, so
// that the session API has no hook that could send such PDUs.
//
// All 230 tests are implemented. docs/CONFORMANCE.md gives the parity with
// libiscsi 1.19 on tgtd (plain, thin, removable and read-only LUNs) and on
// istgt, and where and why a verdict differs.
package conformance
