// Package faketarget is an in-process, scriptable iSCSI target for the
// initiator's unit tests and benchmarks. It plays the corner cases the real
// target (tgtd) hides, checks the initiator's side of the protocol, and
// serves READ and WRITE without allocating, so that a benchmark measures
// the initiator.
//
// It is built only from the project's own packages: pdu and conn frame the
// PDUs, pdu/keys answers the login keys (Rule.Respond), auth/chap plays the
// CHAP target (with its Misbehavior knobs), scsi names opcodes and sense
// codes.
//
// # What it does
//
// A Target is made from a Config: its name, LUNs (RAM or null backing,
// blocks of 512 to 65536 bytes), the keys it declares and answers, CHAP, an ACL, a
// redirection, the SendTargets answer. Start (or StartIPv6, StartOn) listens
// on loopback and serves every connection until the test ends; Pipe serves
// one end of a net.Pipe; Serve serves any net.Conn.
//
// In full feature phase it answers TEST UNIT READY, INQUIRY (standard, VPD
// 0x00 0x80 0x83 0xb0), READ CAPACITY(10/16), REPORT LUNS, READ(10/16),
// WRITE(10/16) (immediate data, unsolicited Data-Out, then R2Ts of at most
// MaxBurstLength, MaxOutstandingR2T at a time), SYNCHRONIZE CACHE(10/16);
// Data-In is cut to the initiator's MaxRecvDataSegmentLength with the status
// in the last one or, with SeparateStatus, in a SCSI Response; residuals are
// reported. Errors are CHECK CONDITION with fixed sense: LBA out of range,
// invalid opcode, LUN not supported, and optionally a UNIT ATTENTION once
// per LUN and session. NOP-Out is echoed, ABORT TASK and the LUN-wide TMFs
// act on the tasks in progress, Logout is answered and ends Serve.
//
// # What it checks
//
// Everything the initiator sends is checked and each breach is recorded as
// a violation, readable with Target.Violations (or reported at once through
// Config.OnViolation): CmdSN order and window, ExpStatSN, immediate data
// against ImmediateData and FirstBurstLength, every data segment against our
// MaxRecvDataSegmentLength, Data-Out DataSN (restarting at 0 for each R2T
// and for the unsolicited sequence), BufferOffset continuity, TTT echo, the F
// bit at the end of each sequence, bursts within FirstBurstLength and the
// R2T's length, ABORT TASK's Immediate bit, LUN and RefCmdSN, ping answers.
// A test ends with
//
//	if v := tg.Violations(); len(v) > 0 { t.Errorf("%q", v) }
//
// # Hooks
//
// Hooks replace parts of the normal behaviour. A hook returns Proceed (do
// the normal thing), Handled (the hook answered, or chose not to) or Close.
// Hooks.Login sees each Login Request with the response about to be sent and
// may rewrite it; Hooks.Command sees each SCSI Command before the target
// acts; Hooks.TaskMgmt, Hooks.Text and Hooks.Logout likewise; Hooks.Received
// sees the header of every PDU of the full feature phase first, and may drop
// it or close the connection. Through the
// Peer a hook sends any PDU, stamped with the target's sequence numbers
// (Peer.Reply) or exactly as given (Peer.Send, Peer.WriteRaw).
//
// A test of an initiator that must fail a READ whose Data-In lies about its
// offset:
//
//	tg := faketarget.Start(t, faketarget.Config{
//		LUNs: []faketarget.LUN{{Number: 1, Blocks: 1024}},
//		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
//			data, _ := c.Data() // what the READ would return
//			defer c.Done()
//			c.Peer.Reply(&pdu.DataIn{Final: true, HasStatus: true, ITT: c.ITT(),
//				TTT: pdu.ReservedITT, BufferOffset: 1 << 20}, data)
//			return faketarget.Handled
//		}},
//	})
//	// Then, with the initiator under test:
//	// dial "iscsi://"+tg.Addr()+"/"+tg.Name()+"/1" and read block 0:
//	// the read must fail with a protocol error, not panic.
//
// A command withheld (Handled without an answer) stays in progress: an
// ABORT TASK for it gets FUNCTION COMPLETE, and a second one TASK DOES NOT
// EXIST. A login answer the initiator never offered:
//
//	Hooks: faketarget.Hooks{Login: func(x *faketarget.LoginExchange) faketarget.Verdict {
//		if x.Request.CSG == pdu.StageOperational {
//			x.Set("HeaderDigest", "CRC32C") // offered: None
//		}
//		return faketarget.Proceed
//	}}
//
// # Script mode
//
// With Config.Script, the target logs the initiator in normally and then
// hands the connection to the test, which plays the target by hand:
//
//	Script: func(p *faketarget.Peer) error {
//		hdr, _, _, err := p.Recv() // a SCSI Command
//		if err != nil {
//			return err
//		}
//		p.SetMaxCmdSN(p.ExpCmdSN() - 1) // close the command window
//		if err := p.Status(hdr.ITT(), scsi.StatusBusy, nil); err != nil {
//			return err
//		}
//		<-time.After(10 * time.Millisecond) // the window stays closed a while
//		p.AutoMaxCmdSN() // open it again with the next PDU
//		_, err = p.Ping(nil)
//		return err
//	}
//
// Recv still checks CmdSN and ExpStatSN and matches ping answers. When the
// script returns, the connection is closed.
//
// # Concurrency
//
// Hooks run on the connection's serving goroutine: a hook that blocks stops
// the target from reading. Peer.Send, Reply, Stamp, Status, Reject, Ping and
// the sequence number methods are safe from any goroutine, so a hook may
// answer later from a goroutine of its own (it must finish before the test
// ends). A Command must not be used after Done.
package faketarget
