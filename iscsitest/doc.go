// Package iscsitest provides an in-process iSCSI target for tests, in the
// spirit of net/http/httptest: a Server listens on 127.0.0.1:0, serves RAM
// LUNs of any size and block size, and hands out the URL to dial.
//
//	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
//	defer srv.Close()
//	s, err := session.Dial(ctx, srv.URL(), nil)
//
// The server speaks the full-feature phase a disk needs (INQUIRY and its VPD
// pages, READ CAPACITY, REPORT LUNS, TEST UNIT READY, READ and WRITE 10/16
// with immediate data, unsolicited data and R2Ts, SYNCHRONIZE CACHE, task
// management, NOP, logout, SendTargets discovery; EXTENDED COPY with
// WithExtendedCopy), authenticates with CHAP
// (one-way or mutual) when asked, and negotiates header and data digests.
//
// # Port groups (ALUA)
//
// WithPortGroup gives the server several target ports, each a portal of
// its own, in target port groups whose asymmetric access state
// (active/optimized, active/non-optimized, standby, unavailable,
// transitioning) a test changes with SetPortGroupState (and whose PREF bit
// with SetPortGroupPreferred): the LUNs report
// them as an ALUA target does (REPORT TARGET PORT GROUPS, VPD page 0x83,
// TPGS in INQUIRY), refuse commands through a port that is not active with
// the sense SPC-4 names, and raise ASYMMETRIC ACCESS STATE CHANGED on every
// connection after a change. With WithExplicitALUA the LUNs also take
// SET TARGET PORT GROUPS (TPGS 11b). Ports and PortStats tell a test which
// port carried what.
//
// # Faults
//
// A test makes the server misbehave at any time, before or after the
// initiator has logged in:
//
//   - Inject adds a Fault: chosen SCSI commands (by opcode, see Opcode, or by
//     any predicate on the CDB) are answered with a chosen status and sense
//     data, never answered, answered late, or end the connection.
//   - DropAfter closes the connection that receives the n+1st PDU from now.
//   - SetDelay holds back everything the server sends by a duration (a delay
//     line: answers keep their order, and commands keep flowing).
//   - CloseClientConnections closes every connection at once.
//
// A Server is safe for concurrent use. Close stops every goroutine it
// started, so that tests checking for goroutine leaks (go.uber.org/goleak)
// pass once the initiator is closed as well.
package iscsitest
