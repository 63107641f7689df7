package faketarget

import (
	"github.com/iscsi-go/iscsi/pdu"
)

// handleTMF answers a Task Management Function Request.
func (p *Peer) handleTMF(h *pdu.BHS, m *pdu.TaskMgmtRequest) error {
	t := p.t
	if p.c.DataLen() > 0 {
		t.violate("Task Management Request ITT %#x with a data segment", m.ITT)
	}
	if err := p.c.DiscardData(); err != nil {
		return err
	}
	req := *m
	if hook := t.cfg.Hooks.TaskMgmt; hook != nil {
		switch hook(p, &req) {
		case Handled:
			return nil
		case Close:
			return ErrClosedByHook
		}
	}
	resp := uint8(pdu.TMRFunctionComplete)
	switch req.Function {
	case pdu.TMFAbortTask:
		if !req.Immediate {
			t.violate("ABORT TASK ITT %#x without the Immediate bit", req.ITT)
		}
		tk := p.findTask(req.ReferencedTaskTag)
		if tk == nil {
			resp = pdu.TMRTaskDoesNotExist
			break
		}
		if req.RefCmdSN != tk.cmd.Req.CmdSN {
			t.violate("ABORT TASK ITT %#x: RefCmdSN %d, the task's CmdSN is %d", req.ITT, req.RefCmdSN, tk.cmd.Req.CmdSN)
		}
		if req.LUN != tk.cmd.Req.LUN {
			t.violate("ABORT TASK ITT %#x: LUN %#x, the task's LUN is %#x", req.ITT, req.LUN, tk.cmd.Req.LUN)
		}
		p.abort(tk)
	case pdu.TMFAbortTaskSet, pdu.TMFClearTaskSet, pdu.TMFLogicalUnitReset:
		if t.findLUN(req.LUN) == nil {
			resp = pdu.TMRLUNDoesNotExist
			break
		}
		p.abortWhere(func(tk *task) bool { return tk.cmd.Req.LUN == req.LUN })
	case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
		p.abortWhere(func(*task) bool { return true })
	default:
		resp = pdu.TMRFunctionNotSupported
	}
	return p.Reply(&pdu.TaskMgmtResponse{ITT: req.ITT, Response: resp}, nil)
}

// abort forgets a task and remembers its ITT, so that Data-Out still in
// flight for it is discarded quietly.
func (p *Peer) abort(tk *task) {
	p.tmu.Lock()
	p.aborted[p.abortedN%uint32(len(p.aborted))] = tk.cmd.Req.ITT
	p.abortedN++
	p.tmu.Unlock()
	p.removeTask(tk)
}

func (p *Peer) abortWhere(match func(*task) bool) {
	p.tmu.Lock()
	var victims []*task
	for _, tk := range p.tasks {
		if match(tk) {
			victims = append(victims, tk)
		}
	}
	p.tmu.Unlock()
	for _, tk := range victims {
		p.abort(tk)
	}
}

func (p *Peer) recentlyAborted(itt uint32) bool {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	for i := range min(int(p.abortedN), len(p.aborted)) {
		if p.aborted[i] == itt {
			return true
		}
	}
	return false
}
