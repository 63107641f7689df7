package faketarget

import (
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
)

// TestPingInterval: the target pings on its own; the initiator answers
// three pings (one with a wrong TTT when bad is set) and logs out.
func TestPingInterval(t *testing.T) {
	for _, bad := range []bool{false, true} {
		name := "good answers"
		if bad {
			name = "wrong TTT"
		}
		t.Run(name, func(t *testing.T) {
			tg := Start(t, Config{PingInterval: time.Millisecond, Script: func(p *Peer) error {
				for {
					hdr, _, _, err := p.Recv()
					if err != nil {
						return err
					}
					if hdr.Opcode() == pdu.OpLogoutReq {
						return p.Reply(&pdu.LogoutResponse{ITT: hdr.ITT()}, nil)
					}
				}
			}})
			i := dialIni(t, tg)
			if err := i.login(loginOpts{}); err != nil {
				t.Fatal(err)
			}
			for n := 0; n < 3; {
				h, _, err := i.c.ReadHeader()
				if err != nil {
					t.Fatal(err)
				}
				var ping pdu.NOPIn
				if err := ping.Decode(h); err != nil || ping.ITT != pdu.ReservedITT || ping.TTT == pdu.ReservedITT {
					t.Fatalf("got %v %#v, want a NOP-In ping", h.Opcode(), ping)
				}
				if err := i.c.DiscardData(); err != nil {
					t.Fatal(err)
				}
				ttt := ping.TTT
				if bad {
					ttt ^= 0x5555
				}
				if err := i.c.WritePDU(&pdu.NOPOut{Immediate: true, ITT: pdu.ReservedITT, TTT: ttt, CmdSN: i.cmdSN, ExpStatSN: i.expSN}, nil, nil); err != nil {
					t.Fatal(err)
				}
				n++
			}
			if err := i.c.WritePDU(&pdu.LogoutRequest{Immediate: true, ITT: 1000, CmdSN: i.cmdSN, ExpStatSN: i.expSN}, nil, nil); err != nil {
				t.Fatal(err)
			}
			for { // skip pings until the Logout Response
				h, _, err := i.c.ReadHeader()
				if err != nil {
					t.Fatal(err)
				}
				if err := i.c.DiscardData(); err != nil {
					t.Fatal(err)
				}
				if h.Opcode() == pdu.OpLogoutResp {
					break
				}
			}
			if bad {
				wantViolation(t, tg, "answers no ping")
			} else {
				noViolations(t, tg)
			}
		})
	}
}
