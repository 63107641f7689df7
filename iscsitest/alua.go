package iscsitest

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// Asymmetric logical unit access (ALUA, SPC-4 5.16): a Server made with
// WithPortGroup options has several target ports, each a portal of its own
// (a listener) in a target port group whose access state a test changes at
// any time with SetPortGroupState. The LUNs then report TPGS=01b (implicit
// ALUA) in their standard INQUIRY data, the relative target port and target
// port group of the port a command came through in VPD page 0x83, and the
// groups in REPORT TARGET PORT GROUPS. Through a port whose group is not
// active, commands other than the few SPC-4 lets through are refused with
// NOT READY, LOGICAL UNIT NOT ACCESSIBLE (ASC 04h, ASCQ 0Bh standby, 0Ch
// unavailable, 0Ah transitioning); after a change every connection gets a
// unit attention, ASYMMETRIC ACCESS STATE CHANGED (2Ah/06h), once per LUN.

// WithPortGroup adds target port group id, in access state state, with
// ports target ports: each one a portal (a listener of its own on the
// server's host) and an iSCSI target portal group whose tag is its
// relative target port identifier. Ports are numbered 1, 2, … across the
// groups in the order of the options; Addr and URL are those of port 1.
// The states a group can have are scsi.ALUAActiveOptimized,
// ALUAActiveNonOptimized, ALUAStandby, ALUAUnavailable and
// ALUATransitioning.
func WithPortGroup(id uint16, state scsi.ALUAState, ports int) Option {
	return func(c *config) {
		switch {
		case !validState(state):
			c.fail("port group %d: state %v is not one the server plays", id, state)
		case ports < 1 || ports > 255:
			c.fail("port group %d: %d ports, want 1 to 255", id, ports)
		default:
			for _, g := range c.groups {
				if g.id == id {
					c.fail("port group %d configured twice", id)
					return
				}
			}
			c.groups = append(c.groups, groupSpec{id, state, ports})
		}
	}
}

// WithExplicitALUA makes the port groups of WithPortGroup take explicit
// transitions as well: the LUNs report TPGS=11b and execute SET TARGET
// PORT GROUPS, whose descriptors put groups in the states they name
// (active/optimized, active/non-optimized, standby or unavailable; any
// other state, or a group the server does not have, fails the whole
// command with ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST). Every
// connection but the one the command came through then gets ASYMMETRIC
// ACCESS STATE CHANGED, as SetPortGroupState raises it (SPC-4 5.16.2.7).
func WithExplicitALUA() Option {
	return func(c *config) { c.explicit = true }
}

type groupSpec struct {
	id    uint16
	state scsi.ALUAState
	ports int
}

func validState(s scsi.ALUAState) bool {
	switch s {
	case scsi.ALUAActiveOptimized, scsi.ALUAActiveNonOptimized, scsi.ALUAStandby, scsi.ALUAUnavailable, scsi.ALUATransitioning:
		return true
	}
	return false
}

// Port is a target port of a Server with port groups.
type Port struct {
	// ID is the RELATIVE TARGET PORT IDENTIFIER (and the iSCSI target
	// portal group tag the port's logins report).
	ID uint16
	// Group is the target port group the port belongs to.
	Group uint16
	// Addr is the port's portal, "127.0.0.1:port".
	Addr string

	target string
}

// URL returns the iSCSI URL of LUN lun through the port.
func (p Port) URL(lun uint32) string {
	return "iscsi://" + p.Addr + "/" + p.target + "/" + strconv.FormatUint(uint64(lun), 10)
}

// PortStats counts the SCSI commands a port received.
type PortStats struct {
	Commands int // every SCSI command
	Reads    int // of them READ(10) and READ(16)
	Writes   int // of them WRITE(10) and WRITE(16)
	// Refused are the commands answered NOT READY because of the port
	// group's access state.
	Refused int
}

type port struct {
	id, group uint16
	addr      string

	commands, reads, writes, refused atomic.Int64
}

type alua struct {
	ports []*port

	mu     sync.Mutex
	groups []scsi.TargetPortGroup // the ports of each group in Ports
}

func newALUA(specs []groupSpec) *alua {
	a := &alua{}
	for _, g := range specs {
		tpg := scsi.TargetPortGroup{ID: g.id, State: g.state,
			TSup: true, USup: true, SSup: true, ANSup: true, AOSup: true}
		for range g.ports {
			pt := &port{id: uint16(len(a.ports) + 1), group: g.id}
			a.ports = append(a.ports, pt)
			tpg.Ports = append(tpg.Ports, pt.id)
		}
		tpg.PortCount = uint8(len(tpg.Ports))
		a.groups = append(a.groups, tpg)
	}
	return a
}

// portOf is faketarget.ALUA.Port.
func (a *alua) portOf(p *faketarget.Peer) (uint16, uint16) {
	if c, ok := p.Conn().NetConn().(*conn); ok && c.port != nil {
		return c.port.id, c.port.group
	}
	return 0, 0
}

// report is faketarget.ALUA.Groups.
func (a *alua) report() []scsi.TargetPortGroup {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]scsi.TargetPortGroup, len(a.groups))
	copy(out, a.groups)
	return out
}

func (a *alua) state(group uint16) scsi.ALUAState {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.groups {
		if g.ID == group {
			return g.State
		}
	}
	return scsi.ALUAActiveOptimized
}

// Ports returns the server's target ports (nil without WithPortGroup), in
// the order of their identifiers.
func (s *Server) Ports() []Port {
	if s.alua == nil {
		return nil
	}
	var out []Port
	for _, pt := range s.alua.ports {
		out = append(out, Port{ID: pt.id, Group: pt.group, Addr: pt.addr, target: s.tg.Name()})
	}
	return out
}

// PortStats returns the counters of the port with relative target port
// identifier id (zero for an unknown port).
func (s *Server) PortStats(id uint16) PortStats {
	if s.alua == nil || id == 0 || int(id) > len(s.alua.ports) {
		return PortStats{}
	}
	pt := s.alua.ports[id-1]
	return PortStats{Commands: int(pt.commands.Load()), Reads: int(pt.reads.Load()),
		Writes: int(pt.writes.Load()), Refused: int(pt.refused.Load())}
}

// SetPortGroupState puts target port group group in state state (one of
// the states WithPortGroup takes) and, when that is a change, makes every
// connection's next command to each LUN (other than INQUIRY and REPORT
// LUNS) end with the unit attention ASYMMETRIC ACCESS STATE CHANGED, as an
// implicit transition does (SPC-4 5.16.2.7). Commands already in progress
// finish in the old state. It panics for a group the server does not have
// or a state it does not play.
func (s *Server) SetPortGroupState(group uint16, state scsi.ALUAState) {
	if !validState(state) {
		panic(fmt.Sprintf("iscsitest: SetPortGroupState(%d, %v): not a state the server plays", group, state))
	}
	if s.alua == nil {
		panic("iscsitest: SetPortGroupState on a server without port groups")
	}
	if !s.setStates([]scsi.TargetPortGroupSet{{Group: group, State: state}}, nil) {
		panic(fmt.Sprintf("iscsitest: SetPortGroupState: no port group %d", group))
	}
}

// setTargetPortGroups is faketarget.ALUA.Set: SET TARGET PORT GROUPS
// received through p.
func (s *Server) setTargetPortGroups(p *faketarget.Peer, sets []scsi.TargetPortGroupSet) bool {
	for _, st := range sets {
		switch st.State {
		case scsi.ALUAActiveOptimized, scsi.ALUAActiveNonOptimized, scsi.ALUAStandby, scsi.ALUAUnavailable:
		default:
			return false
		}
	}
	from, _ := p.Conn().NetConn().(*conn)
	return s.setStates(sets, from)
}

// setStates puts the groups of sets in their states, all or none (false
// when a group is unknown), and, when that changed a state, arms the unit
// attention of a change on every connection but except.
func (s *Server) setStates(sets []scsi.TargetPortGroupSet, except *conn) bool {
	a := s.alua
	a.mu.Lock()
	idx := make([]int, len(sets))
	for k, st := range sets {
		idx[k] = -1
		for j := range a.groups {
			if a.groups[j].ID == st.Group {
				idx[k] = j
			}
		}
		if idx[k] < 0 {
			a.mu.Unlock()
			return false
		}
	}
	changed := false
	for k, st := range sets {
		changed = changed || a.groups[idx[k]].State != st.State
		a.groups[idx[k]].State = st.State
	}
	a.mu.Unlock()
	if !changed {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c == except {
			continue
		}
		c.uaMu.Lock()
		c.uaArmed, c.uaTaken = true, nil
		c.uaMu.Unlock()
	}
	return true
}

// SetPortGroupPreferred sets or clears the PREF bit of target port group
// group in REPORT TARGET PORT GROUPS: the group the target prefers among
// those in the same state (SPC-4 6.36). Unlike a change of state it raises
// no unit attention: an initiator sees it at its next read of the groups.
// It panics for a group the server does not have.
func (s *Server) SetPortGroupPreferred(group uint16, pref bool) {
	if s.alua == nil {
		panic("iscsitest: SetPortGroupPreferred on a server without port groups")
	}
	a := s.alua
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.groups {
		if a.groups[i].ID == group {
			a.groups[i].Pref = pref
			return
		}
	}
	panic(fmt.Sprintf("iscsitest: SetPortGroupPreferred: no port group %d", group))
}

// login makes the target portal group tag of a port's logins its relative
// target port identifier, then runs next (if any).
func (s *Server) login(next func(*faketarget.LoginExchange) faketarget.Verdict) func(*faketarget.LoginExchange) faketarget.Verdict {
	if s.alua == nil {
		return next
	}
	return func(x *faketarget.LoginExchange) faketarget.Verdict {
		if c, ok := x.Peer.Conn().NetConn().(*conn); ok && c.port != nil {
			for _, p := range x.Reply {
				if p.Key == keys.KeyTargetPortalGroupTag {
					x.Set(keys.KeyTargetPortalGroupTag, keys.FormatNumber(uint64(c.port.id)))
				}
			}
		}
		if next != nil {
			return next(x)
		}
		return faketarget.Proceed
	}
}

// access counts a command on its port and refuses it, with c.Fail, when a
// unit attention is pending for its nexus or the port's group is not in a
// state that executes it. It reports whether it refused it.
func (s *Server) access(c *faketarget.Command) bool {
	nc, ok := c.Peer.Conn().NetConn().(*conn)
	if !ok || nc.port == nil {
		return false
	}
	pt := nc.port
	pt.commands.Add(1)
	op := scsi.OpCode(c.CDB[0])
	switch op {
	case scsi.OpRead10, scsi.OpRead16:
		pt.reads.Add(1)
	case scsi.OpWrite10, scsi.OpWrite16:
		pt.writes.Add(1)
	}
	if op != scsi.OpInquiry && op != scsi.OpReportLUNs && op != opRequestSense {
		nc.uaMu.Lock()
		ua := nc.uaArmed && !nc.uaTaken[c.Req.LUN]
		if ua {
			if nc.uaTaken == nil {
				nc.uaTaken = map[uint64]bool{}
			}
			nc.uaTaken[c.Req.LUN] = true
		}
		nc.uaMu.Unlock()
		if ua {
			c.Fail(scsi.StatusCheckCondition, Sense(scsi.SenseUnitAttention, scsi.ASCAsymmetricAccessChanged))
			return true
		}
	}
	var asc scsi.ASC
	switch st := s.alua.state(pt.group); {
	case st == scsi.ALUAStandby && !allowedStandby(c.CDB):
		asc = scsi.ASCNotReadyTargetPortStandby
	case st == scsi.ALUAUnavailable && !allowedUnavailable(c.CDB):
		asc = scsi.ASCNotReadyTargetPortUnavail
	case st == scsi.ALUATransitioning && !allowedTransitioning(c.CDB):
		asc = scsi.ASCNotReadyTargetPortTransit
	default:
		return false
	}
	pt.refused.Add(1)
	c.Fail(scsi.StatusCheckCondition, Sense(scsi.SenseNotReady, asc))
	return true
}

// Operation codes the state rules name that package scsi does not.
const (
	opRequestSense    = scsi.OpCode(0x03)
	opLogSelect       = scsi.OpCode(0x4c)
	opLogSense        = scsi.OpCode(0x4d)
	opModeSelect6     = scsi.OpCode(0x15)
	opModeSelect10    = scsi.OpCode(0x55)
	opModeSense6      = scsi.OpCode(0x1a)
	opModeSense10     = scsi.OpCode(0x5a)
	opReceiveDiag     = scsi.OpCode(0x1c)
	opSendDiag        = scsi.OpCode(0x1d)
	opReadBuffer      = scsi.OpCode(0x3c)
	opWriteBuffer     = scsi.OpCode(0x3b)
	opPRIn            = scsi.OpCode(0x5e)
	opPROut           = scsi.OpCode(0x5f)
	opMaintenanceOut  = scsi.OpCode(0xa4)
	saSetTargetPortGs = 0x0a
	bufferModeEcho    = 0x0a
)

// allowedTransitioning: SPC-4 5.16.2.6, the commands a port in transition
// executes.
func allowedTransitioning(cdb []byte) bool {
	switch op := scsi.OpCode(cdb[0]); op {
	case scsi.OpInquiry, scsi.OpReportLUNs, opRequestSense:
		return true
	case scsi.OpMaintenanceIn:
		return len(cdb) > 1 && cdb[1]&0x1f == scsi.ServiceActionReportTargetPortGroups
	}
	return false
}

// allowedUnavailable: SPC-4 5.16.2.4.5.
func allowedUnavailable(cdb []byte) bool {
	switch op := scsi.OpCode(cdb[0]); op {
	case opMaintenanceOut:
		return len(cdb) > 1 && cdb[1]&0x1f == saSetTargetPortGs
	case opReadBuffer, opWriteBuffer:
		return len(cdb) > 1 && cdb[1]&0x1f == bufferModeEcho
	}
	return allowedTransitioning(cdb)
}

// allowedStandby: SPC-4 5.16.2.4.4.
func allowedStandby(cdb []byte) bool {
	switch scsi.OpCode(cdb[0]) {
	case opLogSelect, opLogSense, opModeSelect6, opModeSelect10, opModeSense6, opModeSense10,
		opReceiveDiag, opSendDiag, opPRIn, opPROut:
		return true
	}
	return allowedUnavailable(cdb)
}
