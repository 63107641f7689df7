package faketarget

import (
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// Command is a SCSI Command as a hook sees it.
type Command struct {
	// Peer is the connection the command came on.
	Peer *Peer
	// Header is the command's BHS.
	Header pdu.BHS
	// Req is the decoded command.
	Req pdu.SCSICommand
	// CDB is the whole CDB (the 16 bytes of the BHS and any extended CDB).
	CDB []byte
	// ImmediateData is the immediate data, valid during the hook call only.
	ImmediateData []byte

	t *task
}

// ITT returns the command's Initiator Task Tag.
func (c *Command) ITT() uint32 { return c.Req.ITT }

// Done forgets the task: ABORT TASK will then answer TASK DOES NOT EXIST.
// Call it when a hook has answered the command. Safe from any goroutine.
func (c *Command) Done() { c.Peer.removeTask(c.t) }

// Respond sends a SCSI Response with status and sense (nil for none) and
// forgets the task.
func (c *Command) Respond(status scsi.Status, sense []byte) error {
	c.Done()
	return c.Peer.Status(c.Req.ITT, status, sense)
}

// Fail makes the command end with status and sense (nil for none) instead
// of its normal outcome, for a hook that then returns Proceed: the target
// still runs the data transfer (a WRITE's data is asked for with R2Ts as
// usual, and discarded), sends no READ data, and sends the status when the
// transfer is over. Unlike Respond, nothing arrives after the status. Call
// it during the hook only.
func (c *Command) Fail(status scsi.Status, sense []byte) {
	c.t.fail = &result{status: status, sense: append([]byte{}, sense...)}
}

// Reject sends a Reject with reason about the command and forgets the task.
func (c *Command) Reject(reason uint8) error {
	c.Done()
	return c.Peer.Reject(reason, &c.Header)
}

// Data returns a copy of the data the command would normally return (the
// blocks a READ asks for, the INQUIRY data…), and the status it would end
// with, so that a hook can send it in its own way. For commands that return
// no data it returns nil.
func (c *Command) Data() ([]byte, scsi.Status) {
	p := c.Peer
	r := p.execute(c.t, make([]byte, 0, 4096), false)
	var out []byte
	if r.zero > 0 {
		out = make([]byte, r.zero)
	} else if len(r.data) > 0 {
		if r.lun != nil {
			r.lun.mu.RLock()
		}
		out = append([]byte(nil), r.data...)
		if r.lun != nil {
			r.lun.mu.RUnlock()
		}
	}
	return out, r.status
}

// task is one SCSI command in progress on a connection.
type task struct {
	cmd    Command
	lun    *lun
	lunIdx int
	hooked bool
	fail   *result // set by Command.Fail

	// Write state.
	write      bool
	edtl       uint32
	xfer       uint64 // bytes the CDB transfers
	need       uint32 // bytes to R2T for: min(edtl, xfer)
	dst        []byte // where the data goes, nil to discard
	res        result // the outcome to report once the data is in
	unsolDone  bool
	unsolNext  uint32
	unsolLimit uint32
	unsolSN    uint32
	nextR2T    uint32
	r2tSN      uint32
	r2ts       []r2tSeq
	// withParams, when set, runs the command once its parameter list
	// (which went to dst) is in: EXTENDED COPY, SANITIZE, MODE SELECT.
	withParams func(param []byte) result
}

// r2tSeq is one outstanding R2T and the Data-Out sequence answering it.
type r2tSeq struct {
	ttt, off, end, next, dataSN uint32
}

func (p *Peer) newTask() *task {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	var tk *task
	if n := len(p.free); n > 0 {
		tk = p.free[n-1]
		p.free = p.free[:n-1]
		r2ts := tk.r2ts[:0]
		*tk = task{r2ts: r2ts}
	} else {
		tk = &task{}
	}
	p.tasks = append(p.tasks, tk)
	return tk
}

func (p *Peer) removeTask(tk *task) {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	for i, x := range p.tasks {
		if x == tk {
			last := len(p.tasks) - 1
			p.tasks[i] = p.tasks[last]
			p.tasks[last] = nil
			p.tasks = p.tasks[:last]
			p.free = append(p.free, tk)
			return
		}
	}
}

func (p *Peer) findTask(itt uint32) *task {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	for _, x := range p.tasks {
		if x.cmd.Req.ITT == itt {
			return x
		}
	}
	return nil
}
