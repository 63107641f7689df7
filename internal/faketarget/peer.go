package faketarget

import (
	"fmt"
	"net"
	"sync"

	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// Params are what a connection's login settled.
type Params struct {
	InitiatorName string
	TargetName    string
	Discovery     bool
	ISID          pdu.ISID
	TSIH          uint16
	CID           uint16

	HeaderDigest bool
	DataDigest   bool
	// InitiatorMaxRecvDataSegmentLength is the initiator's declaration:
	// the longest data segment the target sends.
	InitiatorMaxRecvDataSegmentLength uint32
	// TargetMaxRecvDataSegmentLength is ours: the longest the initiator
	// may send.
	TargetMaxRecvDataSegmentLength uint32
	FirstBurstLength               uint32
	MaxBurstLength                 uint32
	MaxOutstandingR2T              uint32
	ImmediateData                  bool
	InitialR2T                     bool
}

// Peer is the target's side of one connection. Hooks and Script functions
// use it to send PDUs by hand with the target's sequence numbers. Send,
// Reply, Stamp and the sequence number methods are safe for concurrent use;
// Recv is for Script mode only.
type Peer struct {
	t      *Target
	c      *conn.Conn
	params Params

	// Sequence numbers, guarded by snMu.
	snMu          sync.Mutex
	statSN        uint32
	expCmdSN      uint32
	pinned        bool
	pinnedMax     uint32
	maxAdvertised uint32

	// Writer state, guarded by wmu.
	wmu     sync.Mutex
	dataIn  pdu.DataIn
	rsp     pdu.SCSIResponse
	r2t     pdu.R2T
	nopIn   pdu.NOPIn
	vec     iovector.Vector
	zeros   []byte
	senseBf [2 + senseLen]byte

	// Reader state (the serving goroutine only).
	dec      pdu.Decoder
	scratch  []byte
	tmu      sync.Mutex
	tasks    []*task
	aborted  [32]uint32
	abortedN uint32
	free     []*task
	nextTTT  uint32
	uaDone   []bool
	textTTT  uint32
	textRest []byte
	textITT  uint32
	textRA   keys.Reassembler

	// Pings.
	pingMu   sync.Mutex
	pings    []uint32
	pingTTT  uint32
	stopPing chan struct{}
	pingWG   sync.WaitGroup

	closeOnce sync.Once
}

func newPeer(t *Target, nc net.Conn) *Peer {
	p := &Peer{t: t, c: conn.New(nc), statSN: t.cfg.InitialStatSN, nextTTT: 1, pingTTT: 0x10000000}
	p.uaDone = make([]bool, len(t.luns))
	p.scratch = make([]byte, 0, 4096)
	return p
}

// Target returns the Target the connection belongs to.
func (p *Peer) Target() *Target { return p.t }

// Conn returns the connection, for tests that need to frame PDUs
// themselves (digests are already set as negotiated).
func (p *Peer) Conn() *conn.Conn { return p.c }

// Params returns what the login negotiated.
func (p *Peer) Params() Params { return p.params }

// Close closes the connection.
func (p *Peer) Close() error { return p.c.Close() }

// StatSN returns the StatSN the next status will carry.
func (p *Peer) StatSN() uint32 {
	p.snMu.Lock()
	defer p.snMu.Unlock()
	return p.statSN
}

// NextStatSN returns the StatSN for a status PDU and advances it.
func (p *Peer) NextStatSN() uint32 {
	p.snMu.Lock()
	defer p.snMu.Unlock()
	sn := p.statSN
	p.statSN++
	return sn
}

// ExpCmdSN returns the CmdSN the target expects next.
func (p *Peer) ExpCmdSN() uint32 {
	p.snMu.Lock()
	defer p.snMu.Unlock()
	return p.expCmdSN
}

// MaxCmdSN returns the MaxCmdSN the target advertises now.
func (p *Peer) MaxCmdSN() uint32 {
	p.snMu.Lock()
	defer p.snMu.Unlock()
	return p.maxCmdSNLocked()
}

// SetMaxCmdSN pins the advertised MaxCmdSN to sn (ExpCmdSN-1 closes the
// command window) until AutoMaxCmdSN. Commands beyond the largest MaxCmdSN
// ever advertised are recorded as violations.
func (p *Peer) SetMaxCmdSN(sn uint32) {
	p.snMu.Lock()
	defer p.snMu.Unlock()
	p.pinned, p.pinnedMax = true, sn
}

// AutoMaxCmdSN returns to MaxCmdSN = ExpCmdSN + QueueDepth - 1.
func (p *Peer) AutoMaxCmdSN() {
	p.snMu.Lock()
	defer p.snMu.Unlock()
	p.pinned = false
}

func (p *Peer) maxCmdSNLocked() uint32 {
	if p.pinned {
		return p.pinnedMax
	}
	return p.expCmdSN + p.t.cfg.QueueDepth - 1
}

// window returns ExpCmdSN and MaxCmdSN for a PDU being sent.
func (p *Peer) windowLocked() (exp, max uint32) {
	exp, max = p.expCmdSN, p.maxCmdSNLocked()
	if pdu.SNGreater(max, p.maxAdvertised) {
		p.maxAdvertised = max
	}
	return exp, max
}

// Stamp fills the StatSN, ExpCmdSN and MaxCmdSN of a target PDU, advancing
// StatSN where RFC 7143 says the PDU carries a new one (SCSI Response,
// Data-In with S, responses, Reject, Async Message, NOP-In answering a
// NOP-Out); R2T, Data-In without S and NOP-In pings carry the current one.
func (p *Peer) Stamp(m pdu.Message) {
	p.snMu.Lock()
	defer p.snMu.Unlock()
	p.stampLocked(m)
}

func (p *Peer) stampLocked(m pdu.Message) {
	next := func() uint32 { sn := p.statSN; p.statSN++; return sn }
	switch m := m.(type) {
	case *pdu.SCSIResponse:
		m.StatSN = next()
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.DataIn:
		if m.HasStatus {
			m.StatSN = next()
		}
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.R2T:
		m.StatSN = p.statSN
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.NOPIn:
		if m.ITT != pdu.ReservedITT {
			m.StatSN = next()
		} else {
			m.StatSN = p.statSN
		}
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.TaskMgmtResponse:
		m.StatSN = next()
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.TextResponse:
		m.StatSN = next()
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.LogoutResponse:
		m.StatSN = next()
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.LoginResponse:
		m.StatSN = next()
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.Reject:
		m.StatSN = next()
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	case *pdu.AsyncMessage:
		m.StatSN = next()
		m.ExpCmdSN, m.MaxCmdSN = p.windowLocked()
	}
}

// Send sends m with data exactly as given: nothing is stamped (see Reply).
func (p *Peer) Send(m pdu.Message, data []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.c.WritePDU(m, nil, data)
}

// Reply stamps m (see Stamp) and sends it with data.
func (p *Peer) Reply(m pdu.Message, data []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.Stamp(m)
	return p.c.WritePDU(m, nil, data)
}

// WriteRaw writes b to the connection as it is: a torn PDU, a bad digest…
func (p *Peer) WriteRaw(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.c.NetConn().Write(b)
	return err
}

// Status sends a SCSI Response for itt with status and sense data (nil
// for none), stamped.
func (p *Peer) Status(itt uint32, status scsi.Status, sense []byte) error {
	rsp := &pdu.SCSIResponse{ITT: itt, Status: uint8(status), Response: pdu.RespCommandCompleted}
	var data []byte
	if len(sense) > 0 {
		data = make([]byte, 2+len(sense))
		data[0], data[1] = byte(len(sense)>>8), byte(len(sense))
		copy(data[2:], sense)
	}
	return p.Reply(rsp, data)
}

// Reject sends a Reject with reason about the PDU whose header is hdr.
func (p *Peer) Reject(reason uint8, hdr *pdu.BHS) error {
	return p.Reply(&pdu.Reject{Reason: reason}, hdr[:])
}

// Ping sends a NOP-In ping (ITT 0xffffffff, a fresh TTT) with data; the
// initiator must answer with a NOP-Out echoing TTT and data. It returns the
// TTT.
func (p *Peer) Ping(data []byte) (uint32, error) {
	p.pingMu.Lock()
	p.pingTTT++
	ttt := p.pingTTT
	p.pings = append(p.pings, ttt)
	p.pingMu.Unlock()
	err := p.Reply(&pdu.NOPIn{ITT: pdu.ReservedITT, TTT: ttt, LUN: 0}, data)
	return ttt, err
}

// pingAnswered checks a NOP-Out with ITT 0xffffffff against the pings sent.
func (p *Peer) pingAnswered(m *pdu.NOPOut) {
	if !m.Immediate {
		p.t.violate("NOP-Out answering ping TTT %#x without the Immediate bit", m.TTT)
	}
	p.pingMu.Lock()
	defer p.pingMu.Unlock()
	for i, ttt := range p.pings {
		if ttt == m.TTT {
			p.pings = append(p.pings[:i], p.pings[i+1:]...)
			return
		}
	}
	p.t.violate("NOP-Out with ITT 0xffffffff and TTT %#x answers no ping", m.TTT)
}

// OutstandingPings returns the TTTs of pings not answered yet.
func (p *Peer) OutstandingPings() []uint32 {
	p.pingMu.Lock()
	defer p.pingMu.Unlock()
	return append([]uint32(nil), p.pings...)
}

// Recv reads the next PDU in Script mode: its header, AHS and data segment
// (fresh copies). Commands are checked (CmdSN, ExpStatSN) and advance
// ExpCmdSN as in normal operation; a NOP-Out answering a ping is matched.
func (p *Peer) Recv() (hdr *pdu.BHS, ahs, data []byte, err error) {
	h, a, err := p.c.ReadHeader()
	if err != nil {
		return nil, nil, nil, err
	}
	hc := new(pdu.BHS)
	*hc = *h
	if len(a) > 0 {
		ahs = append([]byte(nil), a...)
	}
	data = make([]byte, p.c.DataLen())
	if err := p.c.ReadData(data); err != nil {
		return hc, ahs, data, err
	}
	p.checkIncoming(hc)
	return hc, ahs, data, nil
}

// checkIncoming applies the sequence number checks to any initiator PDU.
func (p *Peer) checkIncoming(h *pdu.BHS) {
	m, err := p.dec.Decode(h)
	if err != nil {
		p.t.violate("unknown opcode %#x", uint8(h.Opcode()))
		return
	}
	switch m := m.(type) {
	case *pdu.SCSICommand:
		p.checkCmd(h.Opcode(), m.Immediate, m.CmdSN, m.ExpStatSN)
	case *pdu.TaskMgmtRequest:
		p.checkCmd(h.Opcode(), m.Immediate, m.CmdSN, m.ExpStatSN)
	case *pdu.TextRequest:
		p.checkCmd(h.Opcode(), m.Immediate, m.CmdSN, m.ExpStatSN)
	case *pdu.LogoutRequest:
		p.checkCmd(h.Opcode(), m.Immediate, m.CmdSN, m.ExpStatSN)
	case *pdu.NOPOut:
		if m.ITT == pdu.ReservedITT {
			p.checkExpStatSN(h.Opcode(), m.ExpStatSN)
			p.pingAnswered(m)
		} else {
			p.checkCmd(h.Opcode(), m.Immediate, m.CmdSN, m.ExpStatSN)
		}
	case *pdu.DataOut:
		p.checkExpStatSN(h.Opcode(), m.ExpStatSN)
	case *pdu.SNACKRequest:
		p.checkExpStatSN(h.Opcode(), m.ExpStatSN)
	}
}

// checkCmd checks CmdSN order and window and ExpStatSN, and advances
// ExpCmdSN for non-immediate commands.
func (p *Peer) checkCmd(op pdu.Opcode, immediate bool, cmdSN, expStatSN uint32) {
	p.snMu.Lock()
	exp, advertised := p.expCmdSN, p.maxAdvertised
	if !immediate {
		p.expCmdSN = cmdSN + 1
	}
	p.snMu.Unlock()
	switch {
	case cmdSN != exp:
		p.t.violate("%v: CmdSN %d, want ExpCmdSN %d", op, cmdSN, exp)
	case !immediate && pdu.SNGreater(cmdSN, advertised):
		p.t.violate("%v: CmdSN %d beyond the MaxCmdSN %d advertised", op, cmdSN, advertised)
	}
	p.checkExpStatSN(op, expStatSN)
}

func (p *Peer) checkExpStatSN(op pdu.Opcode, expStatSN uint32) {
	p.snMu.Lock()
	next := p.statSN
	p.snMu.Unlock()
	if pdu.SNGreater(expStatSN, next) {
		p.t.violate("%v: ExpStatSN %d acknowledges a status not sent (next StatSN %d)", op, expStatSN, next)
	}
}

// close closes the connection and stops the pinger.
func (p *Peer) close() {
	p.closeOnce.Do(func() {
		p.c.Close()
		if p.stopPing != nil {
			close(p.stopPing)
		}
		p.pingWG.Wait()
	})
}

func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
