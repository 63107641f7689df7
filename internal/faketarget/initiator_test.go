package faketarget

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// ini is a minimal hand-written initiator: one command at a time, enough
// to drive the target in its tests and benchmarks without allocating.
type ini struct {
	tb     testing.TB
	c      *conn.Conn
	dec    pdu.Decoder
	cmdSN  uint32
	expSN  uint32
	itt    uint32
	params keys.Params
	tpairs []keys.Pair // pairs of the last login response

	lastLogin pdu.LoginResponse

	cmd  pdu.SCSICommand
	dout pdu.DataOut
	nop  pdu.NOPOut

	// Bugs to plant, for violation tests.
	bugDataSN  bool // R2T sequences: DataSN starts at 1
	bugNoFinal bool // R2T sequences: no F bit on the last Data-Out

	r2ts  int // R2Ts received
	sense []byte
}

type loginOpts struct {
	name      string // initiator name
	target    string // "" means DefaultName; ignored for discovery
	discovery bool
	chap      *chap.Config
	offer     keys.Offer
	offerSet  bool
}

// loginError is a login refused by the target.
type loginError struct {
	status uint16
	pairs  []keys.Pair
}

func (e *loginError) Error() string { return fmt.Sprintf("login status %#04x", e.status) }

func newIni(tb testing.TB, nc net.Conn) *ini {
	return &ini{tb: tb, c: conn.New(nc), itt: 0x100, cmdSN: 7}
}

func dialIni(tb testing.TB, t *Target) *ini {
	tb.Helper()
	nc, err := net.Dial("tcp", t.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return newIni(tb, nc)
}

// exchange sends one login request and reads the response.
func (i *ini) exchange(csg, nsg uint8, transit bool, pairs []keys.Pair) (*pdu.LoginResponse, []keys.Pair, error) {
	req := &pdu.LoginRequest{Transit: transit, CSG: csg, NSG: nsg, ISID: pdu.ISID{0x80, 1, 2, 3, 4, 5},
		ITT: 1, CID: 1, CmdSN: i.cmdSN, ExpStatSN: i.expSN}
	if err := i.c.WritePDU(req, nil, keys.AppendPairs(nil, pairs...)); err != nil {
		return nil, nil, err
	}
	h, _, err := i.c.ReadHeader()
	if err != nil {
		return nil, nil, err
	}
	var rsp pdu.LoginResponse
	if err := rsp.Decode(h); err != nil {
		return nil, nil, err
	}
	data := make([]byte, i.c.DataLen())
	if err := i.c.ReadData(data); err != nil {
		return nil, nil, err
	}
	i.expSN = rsp.StatSN + 1
	i.lastLogin = rsp
	got, err := keys.Parse(data)
	if err != nil {
		return nil, nil, err
	}
	i.tpairs = got
	if rsp.StatusClass != 0 {
		return &rsp, got, &loginError{status: uint16(rsp.StatusClass)<<8 | uint16(rsp.StatusDetail), pairs: got}
	}
	return &rsp, got, nil
}

func (i *ini) login(o loginOpts) error {
	if o.name == "" {
		o.name = "iqn.2024-01.test:initiator"
	}
	if o.target == "" {
		o.target = DefaultName
	}
	decl := keys.LoginDeclarations(o.name, "", o.target, o.discovery)
	method := "None"
	if o.chap != nil {
		method = "CHAP"
	}
	first := append(decl, keys.Pair{Key: keys.KeyAuthMethod, Value: method})
	var secStage []keys.Pair // declarations made in the security stage (TPGT)
	if o.chap == nil {
		_, got, err := i.exchange(0, 1, true, first)
		if err != nil {
			return err
		}
		secStage = got
	} else {
		_, got, err := i.exchange(0, 1, false, first)
		if err != nil {
			return err
		}
		secStage = got
		ci, err := chap.NewInitiator(*o.chap)
		if err != nil {
			return err
		}
		_, got, err = i.exchange(0, 1, false, ci.Start())
		if err != nil {
			return err
		}
		out, err := ci.Respond(got)
		if err != nil {
			return err
		}
		rsp, got, err := i.exchange(0, 1, true, out)
		if err != nil {
			return err
		}
		if err := ci.Verify(got); err != nil {
			return err
		}
		if !rsp.Transit || rsp.NSG != 1 {
			return errors.New("target did not move to the operational stage")
		}
	}
	offer := o.offer
	if !o.offerSet {
		offer = keys.DefaultOffer()
	}
	offer.Discovery = o.discovery
	neg, err := keys.NewNegotiator(offer)
	if err != nil {
		return err
	}
	if _, err := neg.Process(secStage); err != nil {
		return err
	}
	pairs := neg.Pairs()
	for {
		rsp, got, err := i.exchange(1, 3, true, pairs)
		if err != nil {
			return err
		}
		if pairs, err = neg.Process(got); err != nil {
			return err
		}
		if rsp.Transit && rsp.NSG == 3 {
			break
		}
	}
	if i.params, err = neg.Finish(); err != nil {
		return err
	}
	i.c.SetDigests(pdu.Digests{Header: i.params.HeaderDigest, Data: i.params.DataDigest})
	i.c.SetLimits(pdu.Limits{MaxDataSegmentLength: int(i.params.MaxRecvDataSegmentLength)})
	return nil
}

// status is the outcome of one command.
type status struct {
	status   scsi.Status
	residual uint32
	over     bool
	under    bool
}

// do runs one SCSI command: cdb, with in (filled by Data-In) or out (sent
// as immediate, unsolicited and solicited data).
func (i *ini) do(lun uint64, cdb scsi.CDB, in, out []byte) (status, error) {
	i.itt++
	i.cmd = pdu.SCSICommand{Final: true, Attr: pdu.AttrSimple, LUN: lun, ITT: i.itt, CmdSN: i.cmdSN, ExpStatSN: i.expSN, CDB: cdb.Array()}
	i.cmdSN++
	p := &i.params
	var imm, unsol int
	switch {
	case in != nil:
		i.cmd.Read = true
		i.cmd.ExpectedDataTransferLength = uint32(len(in))
	case out != nil:
		i.cmd.Write = true
		i.cmd.ExpectedDataTransferLength = uint32(len(out))
		first := min(len(out), int(p.FirstBurstLength))
		if p.ImmediateData {
			imm = min(first, int(p.TargetMaxRecvDataSegmentLength))
		}
		if !p.InitialR2T {
			unsol = first - imm
		}
		i.cmd.Final = unsol == 0
	}
	i.c.Queue(&i.cmd, nil, out[:imm])
	var sn uint32
	for off := imm; off < imm+unsol; {
		n := min(imm+unsol-off, int(p.TargetMaxRecvDataSegmentLength))
		i.dout = pdu.DataOut{Final: off+n == imm+unsol, LUN: lun, ITT: i.itt, TTT: pdu.ReservedITT,
			ExpStatSN: i.expSN, DataSN: sn, BufferOffset: uint32(off)}
		i.c.Queue(&i.dout, nil, out[off:off+n])
		sn++
		off += n
	}
	if err := i.c.Flush(); err != nil {
		return status{}, err
	}
	for {
		h, _, err := i.c.ReadHeader()
		if err != nil {
			return status{}, err
		}
		m, err := i.dec.Decode(h)
		if err != nil {
			return status{}, err
		}
		switch m := m.(type) {
		case *pdu.DataIn:
			n := uint32(i.c.DataLen())
			if m.ITT != i.itt || uint64(m.BufferOffset)+uint64(n) > uint64(len(in)) {
				return status{}, fmt.Errorf("bad Data-In ITT %#x offset %d len %d", m.ITT, m.BufferOffset, n)
			}
			if err := i.c.ReadData(in[m.BufferOffset : m.BufferOffset+n]); err != nil {
				return status{}, err
			}
			if m.HasStatus {
				i.expSN = m.StatSN + 1
				return status{status: scsi.Status(m.Status), residual: m.ResidualCount, over: m.Overflow, under: m.Underflow}, nil
			}
		case *pdu.SCSIResponse:
			n := i.c.DataLen()
			if cap(i.sense) < n {
				i.sense = make([]byte, n)
			}
			i.sense = i.sense[:n]
			if err := i.c.ReadData(i.sense); err != nil {
				return status{}, err
			}
			i.expSN = m.StatSN + 1
			return status{status: scsi.Status(m.Status), residual: m.ResidualCount, over: m.Overflow, under: m.Underflow}, nil
		case *pdu.R2T:
			i.r2ts++
			if err := i.answerR2T(m, out); err != nil {
				return status{}, err
			}
		case *pdu.NOPIn:
			if err := i.c.DiscardData(); err != nil {
				return status{}, err
			}
			if m.TTT != pdu.ReservedITT {
				i.nop = pdu.NOPOut{Immediate: true, ITT: pdu.ReservedITT, TTT: m.TTT, LUN: m.LUN, CmdSN: i.cmdSN, ExpStatSN: i.expSN}
				if err := i.c.WritePDU(&i.nop, nil, nil); err != nil {
					return status{}, err
				}
			}
		default:
			return status{}, fmt.Errorf("unexpected %v", h.Opcode())
		}
	}
}

func (i *ini) answerR2T(m *pdu.R2T, out []byte) error {
	end := m.BufferOffset + m.DesiredDataTransferLength
	if m.ITT != i.itt || uint64(end) > uint64(len(out)) {
		return fmt.Errorf("bad R2T ITT %#x [%d,%d)", m.ITT, m.BufferOffset, end)
	}
	var sn uint32
	if i.bugDataSN {
		sn = 1
	}
	for off := m.BufferOffset; off < end; {
		n := min(end-off, i.params.TargetMaxRecvDataSegmentLength)
		i.dout = pdu.DataOut{Final: off+n == end && !i.bugNoFinal, LUN: m.LUN, ITT: m.ITT, TTT: m.TTT,
			ExpStatSN: i.expSN, DataSN: sn, BufferOffset: off}
		i.c.Queue(&i.dout, nil, out[off:off+n])
		sn++
		off += n
	}
	return i.c.Flush()
}

// senseOf parses the sense of the last SCSI Response.
func (i *ini) senseOf() (scsi.Sense, error) {
	if len(i.sense) < 2 {
		return scsi.Sense{}, errors.New("no sense")
	}
	return scsi.ParseSense(i.sense[2:])
}

// simple sends a non-SCSI request and returns the next PDU's header and data.
func (i *ini) roundTrip(m pdu.Message, data []byte) (pdu.Message, []byte, error) {
	if err := i.c.WritePDU(m, nil, data); err != nil {
		return nil, nil, err
	}
	h, _, err := i.c.ReadHeader()
	if err != nil {
		return nil, nil, err
	}
	rsp, err := i.dec.Decode(h)
	if err != nil {
		return nil, nil, err
	}
	d := make([]byte, i.c.DataLen())
	if err := i.c.ReadData(d); err != nil {
		return nil, nil, err
	}
	return rsp, d, nil
}

func (i *ini) logout() error {
	i.itt++
	m, _, err := i.roundTrip(&pdu.LogoutRequest{Immediate: true, ITT: i.itt, CmdSN: i.cmdSN, ExpStatSN: i.expSN}, nil)
	if err != nil {
		return err
	}
	rsp, ok := m.(*pdu.LogoutResponse)
	if !ok || rsp.Response != pdu.LogoutSuccess {
		return fmt.Errorf("logout: %#v", m)
	}
	return nil
}
