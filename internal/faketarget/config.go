package faketarget

import (
	"time"

	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// Config describes a Target. The zero value (plus a Name) is a target with
// no LUN that logs anyone in without authentication.
type Config struct {
	// Name is the target's IQN, answered to TargetName and listed by
	// SendTargets. Empty means "iqn.2024-01.test.faketarget:target".
	Name string
	// Alias is declared as TargetAlias in normal sessions when set.
	Alias string
	// TargetPortalGroupTag is declared in the first Login Response of a
	// normal session. Zero means 1.
	TargetPortalGroupTag uint16

	// LUNs are the logical units, in REPORT LUNS order.
	LUNs []LUN

	// MaxRecvDataSegmentLength is declared to the initiator: the longest
	// data segment it may send us. Zero means 8192 (tgtd's default).
	MaxRecvDataSegmentLength uint32
	// FirstBurstLength and MaxBurstLength are our values of those keys.
	// Zero means 65536 and 262144.
	FirstBurstLength uint32
	MaxBurstLength   uint32
	// MaxOutstandingR2T is our value of that key. Zero means 1.
	MaxOutstandingR2T uint32
	// ImmediateData and InitialR2T are our values of those keys. Unset
	// means ImmediateData=Yes and InitialR2T=No (so that the initiator's
	// offer decides).
	ImmediateData keys.Opt[bool]
	InitialR2T    keys.Opt[bool]
	// HeaderDigest and DataDigest are the digests we support, as a list
	// ("None,CRC32C"). Empty means "None,CRC32C". Like tgtd we answer the
	// first value of the initiator's list that we support, unless
	// PreferCRC32C is set: then CRC32C wins whenever it was offered.
	HeaderDigest string
	DataDigest   string
	PreferCRC32C bool

	// QueueDepth is the command window: MaxCmdSN = ExpCmdSN+QueueDepth-1.
	// Zero means 32.
	QueueDepth uint32
	// InitialStatSN is the StatSN of the first Login Response.
	InitialStatSN uint32

	// CHAP, when set, makes the target offer CHAP with this account (and
	// its Misbehave knobs). AllowNoAuth accepts AuthMethod=None as well;
	// without it CHAP is required.
	CHAP        *chap.TargetConfig
	AllowNoAuth bool

	// Allow, when set, is asked about each initiator name; false refuses
	// the login with status 0x0202 (authorization failure).
	Allow func(initiatorName string) bool

	// Redirect, when set, answers every login with a redirection.
	Redirect *Redirect

	// Discovery is the SendTargets=All answer. Nil means this target with
	// the address the connection was accepted on.
	Discovery []DiscoveryEntry
	// TextSegmentLength, when positive, cuts Text Responses to at most this
	// many bytes (below the initiator's MaxRecvDataSegmentLength), to
	// exercise the C bit and the TTT continuation.
	TextSegmentLength int

	// SeparateStatus sends the status of a READ in a SCSI Response after
	// the Data-In PDUs instead of in the last Data-In (S bit).
	SeparateStatus bool
	// UnitAttention reports POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
	// (0x29/0x00) once per LUN on each new session, to the first command
	// other than INQUIRY and REPORT LUNS.
	UnitAttention bool
	// MaxTransferLength is reported in the Block Limits VPD page, in
	// blocks; zero means no limit.
	MaxTransferLength uint32

	// ExtendedCopy makes the target a copy manager: VPD page 0x8f, EXTENDED
	// COPY (LID1) between its LUNs (Identification CSCD descriptors with
	// their NAA designators, block to block segments) and RECEIVE COPY
	// RESULTS (operating parameters, copy status).
	ExtendedCopy bool
	// Sanitize makes the target run SANITIZE (OVERWRITE, BLOCK ERASE,
	// CRYPTO ERASE, EXIT FAILURE MODE) and what an initiator needs around
	// it: REPORT SUPPORTED OPERATION CODES, the Block Device
	// Characteristics page, and a thin provisioned unit (LBPME, the Logical
	// Block Provisioning page, GET LBA STATUS) that BLOCK ERASE
	// deallocates. See sanitize.go.
	Sanitize bool

	// ALUA, when set, makes the LUNs report asymmetric logical unit
	// access; see ALUA.
	ALUA *ALUA

	// PingInterval, when positive, makes the target send a NOP-In ping
	// (TTT set, ITT 0xffffffff) at this interval in full feature phase.
	PingInterval time.Duration

	// Quirks make the target misbehave during login as some real targets
	// do; see Quirks.
	Quirks Quirks

	// Hooks replace parts of the normal behaviour; see Hooks.
	Hooks Hooks

	// Script, when set, runs instead of the full feature phase after a
	// successful normal-session login: the test plays the target by hand
	// through the Peer. Serve closes the connection and returns Script's
	// error when it returns.
	Script func(p *Peer) error

	// OnViolation, when set, is called with each protocol violation
	// recorded (t.Errorf fits: it is safe from any goroutine).
	OnViolation func(v string)
}

// LUN is one logical unit.
type LUN struct {
	// Number is the logical unit number (0 to 16383).
	Number uint32
	// BlockSize is a power of two from 512 to 65536; zero means 512.
	BlockSize int
	// Blocks is the capacity in blocks.
	Blocks uint64
	// Null makes the LUN store nothing: reads return zeros, writes are
	// discarded, nothing is allocated for the capacity (tgtd's bstype null).
	Null bool
	// Data, for a RAM LUN, is its content (BlockSize*Blocks bytes); nil
	// allocates zeroed memory. The Target writes into it.
	Data []byte
}

// ALUA describes the target's ports and port groups (SPC-4 asymmetric
// logical unit access, implicit, and explicit with Set). With it the
// standard INQUIRY data has TPGS=01b (11b with Set), VPD page 0x83 adds the relative target port and target
// port group designators of the connection's port, and REPORT TARGET PORT
// GROUPS answers Groups. Refusing commands for a group's state is the
// caller's business (a Command hook).
type ALUA struct {
	// Port returns the relative target port identifier and the target
	// port group of the port the connection came in through.
	Port func(p *Peer) (relativeID, group uint16)
	// Groups returns the target port groups as REPORT TARGET PORT GROUPS
	// reports them, at the time of the command.
	Groups func() []scsi.TargetPortGroup
	// ImplicitTransitionTime is reported in the extended header, in
	// seconds.
	ImplicitTransitionTime uint8
	// Set, when not nil, makes the target take SET TARGET PORT GROUPS
	// (explicit transitions): it gets the descriptors of each, received
	// through p, and reports whether it applied them; false answers
	// ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST.
	Set func(p *Peer, sets []scsi.TargetPortGroupSet) bool
}

// Redirect answers logins with status 0x0101 (Temporary) or 0x0102
// (permanent) and TargetAddress.
type Redirect struct {
	Permanent bool
	// Address is the TargetAddress value: "host:port,tpgt".
	Address string
}

// DiscoveryEntry is one target of a SendTargets answer.
type DiscoveryEntry struct {
	Name string
	// Addresses are TargetAddress values ("127.0.0.1:3260,1").
	Addresses []string
}

// Verdict is what a hook decided.
type Verdict int

const (
	// Proceed lets the target do what it normally does.
	Proceed Verdict = iota
	// Handled means the hook answered (or chose never to answer). For a
	// SCSI command the task stays outstanding, so that ABORT TASK finds it,
	// until the hook calls Command.Done; Data-Out for it is discarded.
	Handled
	// Close closes the connection at once; Serve returns ErrClosedByHook.
	Close
)

// Hooks are called at points of the flow and may replace the normal
// behaviour. They run on the connection's serving goroutine, so a hook that
// blocks stops the target reading; a hook may start a goroutine that answers
// later through the Peer (whose Send is safe for concurrent use).
type Hooks struct {
	// Login is called with each Login Request and the response the target
	// is about to send; it may edit the response or drop it.
	Login func(x *LoginExchange) Verdict
	// Command is called when a SCSI Command (and its immediate data)
	// arrives, before the target acts on it.
	Command func(c *Command) Verdict
	// TaskMgmt is called with each Task Management Function Request.
	TaskMgmt func(p *Peer, req *pdu.TaskMgmtRequest) Verdict
	// Text is called with each Text Request and its reassembled pairs.
	Text func(p *Peer, req *pdu.TextRequest, pairs []keys.Pair) Verdict
	// Logout is called with the Logout Request.
	Logout func(p *Peer, req *pdu.LogoutRequest) Verdict
	// Received is called with the header of every PDU the initiator sends
	// in full feature phase, before the target checks or acts on it.
	// Handled drops the PDU (its data segment is read and discarded, no
	// sequence number is checked); Close closes the connection.
	Received func(p *Peer, h *pdu.BHS) Verdict
}

// Quirks are login deviations from RFC 7143 seen in real targets; each is
// off in the zero value. Gotgt (github.com/gostor/gotgt) has them all.
type Quirks struct {
	// ZeroISID: every Login Response carries ISID 0 instead of the
	// initiator's.
	ZeroISID bool
	// NoAuthMethod: security-stage responses carry no AuthMethod key (the
	// target still chooses what it would have chosen).
	NoAuthMethod bool
	// SessionTypeOutsideSecurity: SessionType in a security-stage request
	// is ignored, so that a discovery session that starts with a security
	// stage is taken for a normal one (and refused for its missing
	// TargetName).
	SessionTypeOutsideSecurity bool
	// ZeroTSIH: the final Login Response of a new session carries TSIH 0.
	ZeroTSIH bool
}

// Gotgt is every quirk of gotgt's login.
func Gotgt() Quirks {
	return Quirks{ZeroISID: true, NoAuthMethod: true, SessionTypeOutsideSecurity: true, ZeroTSIH: true}
}
