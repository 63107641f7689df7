package faketarget

import (
	"net"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
)

// Serve serves one connection until logout, error or close: the login,
// then full feature phase (or Config.Script). It closes nc before returning.
// The error is nil after a logout, ErrLoginFailed when the login was
// refused, and otherwise what ended the connection.
func (t *Target) Serve(nc net.Conn) error {
	p := newPeer(t, nc)
	defer p.close()
	if err := p.login(); err != nil {
		return err
	}
	if t.cfg.PingInterval > 0 {
		p.startPinger(t.cfg.PingInterval)
	}
	if t.cfg.Script != nil && !p.params.Discovery {
		return t.cfg.Script(p)
	}
	return p.fullFeature()
}

func (p *Peer) startPinger(every time.Duration) {
	p.stopPing = make(chan struct{})
	p.pingWG.Add(1)
	go func() {
		defer p.pingWG.Done()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-p.stopPing:
				return
			case <-tk.C:
				if _, err := p.Ping(nil); err != nil {
					return
				}
			}
		}
	}()
}

// fullFeature is the full feature phase loop.
func (p *Peer) fullFeature() error {
	for {
		if p.c.ReadBuffered() < pdu.BHSLen {
			// About to wait for input: send the answers held back.
			p.wmu.Lock()
			err := p.c.Flush()
			p.wmu.Unlock()
			if err != nil {
				return err
			}
		}
		h, ahs, err := p.c.ReadHeader()
		if err != nil {
			return err
		}
		if hook := p.t.cfg.Hooks.Received; hook != nil {
			switch hook(p, h) {
			case Handled:
				if err := p.c.DiscardData(); err != nil {
					return err
				}
				continue
			case Close:
				return ErrClosedByHook
			}
		}
		m, err := p.dec.Decode(h)
		if err != nil || h.Opcode().FromTarget() {
			p.t.violate("full feature phase: opcode %#x from the initiator", uint8(h.Opcode()))
			if err := p.c.DiscardData(); err != nil {
				return err
			}
			if err := p.Reject(pdu.RejectProtocolError, h); err != nil {
				return err
			}
			continue
		}
		if n := h.DataSegmentLength(); n > int(p.params.TargetMaxRecvDataSegmentLength) {
			p.t.violate("%v ITT %#x: data segment of %d bytes exceeds our MaxRecvDataSegmentLength %d",
				h.Opcode(), h.ITT(), n, p.params.TargetMaxRecvDataSegmentLength)
		}
		p.checkIncoming(h)
		switch m := m.(type) {
		case *pdu.SCSICommand:
			err = p.handleCommand(h, ahs, m)
		case *pdu.DataOut:
			err = p.handleDataOut(m)
		case *pdu.NOPOut:
			err = p.handleNOPOut(m)
		case *pdu.TaskMgmtRequest:
			err = p.handleTMF(h, m)
		case *pdu.TextRequest:
			err = p.handleText(h, m)
		case *pdu.LogoutRequest:
			return p.handleLogout(m)
		case *pdu.SNACKRequest:
			p.t.violate("SNACK with ErrorRecoveryLevel=0")
			if err = p.c.DiscardData(); err == nil {
				err = p.Reject(pdu.RejectCommandNotSupported, h)
			}
		default:
			p.t.violate("%v during full feature phase", h.Opcode())
			if err = p.c.DiscardData(); err == nil {
				err = p.Reject(pdu.RejectProtocolError, h)
			}
		}
		if err != nil {
			return err
		}
	}
}

func (p *Peer) handleNOPOut(m *pdu.NOPOut) error {
	if m.ITT == pdu.ReservedITT {
		// The answer to our ping (checked by checkIncoming).
		return p.c.DiscardData()
	}
	if m.TTT != pdu.ReservedITT {
		p.t.violate("NOP-Out ITT %#x: TTT %#x, want 0xffffffff", m.ITT, m.TTT)
	}
	n := p.c.DataLen()
	if cap(p.scratch) < n {
		p.scratch = make([]byte, 0, n)
	}
	data := p.scratch[:n]
	if err := p.c.ReadData(data); err != nil {
		return err
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.nopIn = pdu.NOPIn{ITT: m.ITT, TTT: pdu.ReservedITT, LUN: m.LUN}
	p.Stamp(&p.nopIn)
	return p.c.WritePDU(&p.nopIn, nil, data)
}

func (p *Peer) handleLogout(m *pdu.LogoutRequest) error {
	if err := p.c.DiscardData(); err != nil {
		return err
	}
	if h := p.t.cfg.Hooks.Logout; h != nil {
		switch h(p, m) {
		case Handled:
			return nil
		case Close:
			return ErrClosedByHook
		}
	}
	rsp := &pdu.LogoutResponse{ITT: m.ITT, Response: pdu.LogoutSuccess}
	if m.ReasonCode != pdu.LogoutCloseSession && m.ReasonCode != pdu.LogoutCloseConnection {
		rsp.Response = pdu.LogoutRecoveryNotSupported
	}
	return p.Reply(rsp, nil)
}
