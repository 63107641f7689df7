// Package conformance is libiscsi's target conformance suite (test-tool,
// shipped as iscsi-test-cu) for Go: the same tests under the same names,
// checking the same things, runnable from a program (Run) or from a target
// author's own go test (Test), in the manner of testing/fstest.TestFS.
//
// Tests are named as libiscsi names them, FAMILY.SUITE.TEST: every test is in
// family ALL ("ALL.Read10.Simple"), and also in SCSI or iSCSI as libiscsi
// groups them ("SCSI.Read10.Simple", "iSCSI.iSCSIResiduals.Read10Residuals").
// Select picks tests by such a name or prefix, or by a regular expression.
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
// for the tests that need another I_T nexus (reservations). The iSCSI-level
// tests that need PDUs a correct initiator never sends (a CmdSN outside the
// window, a wrong DataSN) are not implemented yet and say so when skipped;
// see docs/CONFORMANCE.md for the list and for the parity with libiscsi 1.19.
package conformance
