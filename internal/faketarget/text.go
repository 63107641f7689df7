package faketarget

import (
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
)

// handleText answers a Text Request: SendTargets, the continuation of a long
// answer (TTT echoed), or keys the target does not negotiate after login.
func (p *Peer) handleText(h *pdu.BHS, m *pdu.TextRequest) error {
	t := p.t
	data := make([]byte, p.c.DataLen())
	if err := p.c.ReadData(data); err != nil {
		return err
	}
	if m.TTT != pdu.ReservedITT {
		if p.textRest == nil || m.TTT != p.textTTT || m.ITT != p.textITT {
			t.violate("Text Request ITT %#x: TTT %#x continues no Text Response", m.ITT, m.TTT)
			return p.Reject(pdu.RejectProtocolError, h)
		}
		if len(data) > 0 {
			t.violate("Text Request ITT %#x continuing a response carries %d bytes", m.ITT, len(data))
		}
		return p.sendText(m)
	}
	if p.textRest != nil {
		t.violate("Text Request ITT %#x starts a new exchange before the last response was fetched", m.ITT)
		p.textRest = nil
	}
	text, done, err := p.textRA.Add(data, m.Continue)
	if err != nil {
		t.violate("Text Request ITT %#x: %v", m.ITT, err)
		return p.Reject(pdu.RejectProtocolError, h)
	}
	if !done {
		// Ask for the rest of the initiator's text.
		return p.Reply(&pdu.TextResponse{ITT: m.ITT, LUN: m.LUN, TTT: p.newTextTTT()}, nil)
	}
	pairs, err := keys.Parse(text)
	if err != nil {
		t.violate("Text Request ITT %#x: %v", m.ITT, err)
		return p.Reject(pdu.RejectProtocolError, h)
	}
	if hook := t.cfg.Hooks.Text; hook != nil {
		req := *m
		switch hook(p, &req, pairs) {
		case Handled:
			return nil
		case Close:
			return ErrClosedByHook
		}
	}
	var out []byte
	for _, kv := range pairs {
		switch {
		case kv.Key == keys.KeySendTargets:
			out = p.appendSendTargets(out, kv.Value)
		default:
			if _, ok := keys.Lookup(kv.Key); ok {
				out = keys.AppendPairs(out, keys.Pair{Key: kv.Key, Value: keys.Reject})
			} else {
				out = keys.AppendPairs(out, keys.Pair{Key: kv.Key, Value: keys.NotUnderstood})
			}
		}
	}
	p.textRest, p.textITT = out, m.ITT
	return p.sendText(m)
}

func (p *Peer) newTextTTT() uint32 {
	ttt := p.nextTTT
	p.nextTTT++
	if p.nextTTT == pdu.ReservedITT {
		p.nextTTT = 1
	}
	p.textTTT = ttt
	return ttt
}

// sendText sends the next piece of p.textRest.
func (p *Peer) sendText(m *pdu.TextRequest) error {
	seg := int(p.params.InitiatorMaxRecvDataSegmentLength)
	if n := p.t.cfg.TextSegmentLength; n > 0 && n < seg {
		seg = n
	}
	piece := p.textRest
	rsp := &pdu.TextResponse{ITT: m.ITT, LUN: m.LUN, Final: true, TTT: pdu.ReservedITT}
	if len(piece) > seg {
		piece = piece[:seg]
		p.textRest = p.textRest[seg:]
		rsp.Final, rsp.Continue, rsp.TTT = false, true, p.newTextTTT()
	} else {
		p.textRest = nil
	}
	return p.Reply(rsp, piece)
}

// appendSendTargets answers SendTargets=value.
func (p *Peer) appendSendTargets(out []byte, value string) []byte {
	t := p.t
	entries := t.cfg.Discovery
	if entries == nil {
		addr := t.addr
		if addr == "" {
			addr = p.c.NetConn().LocalAddr().String()
		}
		entries = []DiscoveryEntry{{Name: t.cfg.Name, Addresses: []string{addr + "," + keys.FormatNumber(uint64(t.cfg.TargetPortalGroupTag))}}}
	}
	for _, e := range entries {
		switch {
		case value == "All" && p.params.Discovery:
		case value == "" && !p.params.Discovery && e.Name == t.cfg.Name:
		case value == e.Name:
		default:
			continue
		}
		out = keys.AppendPairs(out, keys.Pair{Key: keys.KeyTargetName, Value: e.Name})
		for _, a := range e.Addresses {
			out = keys.AppendPairs(out, keys.Pair{Key: keys.KeyTargetAddress, Value: a})
		}
	}
	return out
}
