package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// rawConn is a bare iSCSI connection for the tests that send what a
// correct initiator never does: a CmdSN outside the command window, a wrong
// DataSN, a WRITE whose Expected Data Transfer Length is 0. It lives here,
// unexported, so that the session package needs no hook that could send
// such PDUs: it logs in with CHAP when the suite has credentials (as the
// sessions do) and no digests, offers
// InitialR2T=Yes and ImmediateData=No (every write waits for an R2T, as
// libiscsi's tests arrange), and runs one command at a time.
type rawConn struct {
	nc       net.Conn
	lun      uint64
	itt      uint32
	cmdSN    uint32
	expCmdSN uint32
	maxCmdSN uint32
	statSN   uint32
	maxSeg   int // the target's MaxRecvDataSegmentLength
}

var errNoReply = errors.New("no reply from the target")

// dialRaw logs in to the unit of url under the given initiator name, with
// CHAP when creds is set, connecting through dialer (nil: a net.Dialer),
// as the sessions do through Config.Dialer.
func dialRaw(url, initiator string, creds *chap.Config, dialer session.Dialer, timeout time.Duration) (*rawConn, error) {
	u, err := iscsiurl.Parser{}.Parse(url)
	if err != nil {
		return nil, err
	}
	lun, err := scsi.EncodeLUN(uint32(u.LUN))
	if err != nil {
		return nil, err
	}
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(u.Host, strconv.Itoa(u.Port)))
	if err != nil {
		return nil, err
	}
	c := &rawConn{nc: nc, lun: uint64(lun), maxSeg: 8192}
	if err := c.login(u.Target, initiator, creds, timeout); err != nil {
		nc.Close()
		return nil, fmt.Errorf("raw login: %w", err)
	}
	return c, nil
}

// rawCHAP returns the CHAP credentials the suite's sessions log in with,
// in the session package's order: the URL's, then Options.Config's, then
// LIBISCSI_CHAP_USERNAME and the other LIBISCSI_CHAP_* variables. Nil
// means no CHAP.
func rawCHAP(url string, cfg *session.Config) (*chap.Config, error) {
	u, err := iscsiurl.Parser{}.Parse(url)
	if err != nil {
		return nil, err
	}
	var algs []chap.Algorithm
	if cfg != nil {
		algs = cfg.CHAPAlgorithms
	}
	if u.Auth != nil {
		algs = u.Auth
	}
	c := &chap.Config{Algorithms: algs}
	switch {
	case u.User != "":
		c.Username, c.Secret, c.TargetUsername, c.TargetSecret = u.User, u.Password, u.TargetUser, u.TargetPassword
	case cfg != nil && cfg.Username != "":
		c.Username, c.Secret, c.TargetUsername, c.TargetSecret = cfg.Username, cfg.Secret, cfg.TargetUsername, cfg.TargetSecret
	default:
		e, err := iscsiurl.Parse(url) // the environment's
		if err != nil || e.User == "" {
			return nil, err
		}
		c.Username, c.Secret, c.TargetUsername, c.TargetSecret = e.User, e.Password, e.TargetUser, e.TargetPassword
	}
	return c, nil
}

func (c *rawConn) Close() error { return c.nc.Close() }

func (c *rawConn) send(m pdu.Message, data []byte) error {
	b := pdu.Append(nil, m, nil, data, pdu.Digests{})
	_, err := c.nc.Write(b)
	return err
}

// recv reads one PDU: its header and its data segment.
func (c *rawConn) recv(deadline time.Time) (*pdu.BHS, []byte, error) {
	_ = c.nc.SetReadDeadline(deadline)
	var h pdu.BHS
	if _, err := io.ReadFull(c.nc, h[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, nil, errNoReply
		}
		return nil, nil, err
	}
	n := h.TotalAHSLength() + pdu.Pad4(h.DataSegmentLength())
	if n > 1<<24 {
		return nil, nil, fmt.Errorf("data segment of %d bytes", n)
	}
	rest := make([]byte, n)
	if _, err := io.ReadFull(c.nc, rest); err != nil {
		return nil, nil, err
	}
	return &h, rest[h.TotalAHSLength() : h.TotalAHSLength()+h.DataSegmentLength()], nil
}

// loginStep sends one Login Request and reads its answer.
type loginStep struct {
	c        *rawConn
	isid     pdu.ISID
	deadline time.Time
}

func (l *loginStep) do(csg, nsg uint8, transit bool, pairs []keys.Pair) (*pdu.LoginResponse, []keys.Pair, error) {
	c := l.c
	data := keys.AppendPairs(nil, pairs...)
	req := &pdu.LoginRequest{Transit: transit, CSG: csg, NSG: nsg,
		DataSegmentLength: uint32(len(data)), ISID: l.isid, ITT: 0, CmdSN: c.cmdSN, ExpStatSN: c.statSN}
	if err := c.send(req, data); err != nil {
		return nil, nil, err
	}
	h, body, err := c.recv(l.deadline)
	if err != nil {
		return nil, nil, err
	}
	var resp pdu.LoginResponse
	if err := resp.Decode(h); err != nil {
		return nil, nil, err
	}
	if resp.StatusClass != 0 {
		return nil, nil, fmt.Errorf("login refused with status %#02x%02x", resp.StatusClass, resp.StatusDetail)
	}
	c.statSN, c.expCmdSN, c.maxCmdSN = resp.StatSN+1, resp.ExpCmdSN, resp.MaxCmdSN
	got, err := keys.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	return &resp, got, nil
}

func value(pairs []keys.Pair, key string) string {
	for _, p := range pairs {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// login logs in: with creds, a security stage that authenticates with
// CHAP (RFC 7143 12.1.3; mutual when creds name the target's account),
// then the operational stage.
func (c *rawConn) login(target, initiator string, creds *chap.Config, timeout time.Duration) error {
	l := &loginStep{c: c, isid: session.NewISID(), deadline: time.Now().Add(timeout)}
	names := []keys.Pair{{Key: "InitiatorName", Value: initiator}, {Key: "SessionType", Value: "Normal"}, {Key: "TargetName", Value: target}}
	var op []keys.Pair
	if creds == nil {
		op = names
	} else if err := l.security(names, creds); err != nil {
		return err
	}
	for _, kv := range []string{
		"HeaderDigest=None", "DataDigest=None", "InitialR2T=Yes", "ImmediateData=No",
		"MaxRecvDataSegmentLength=262144", "MaxBurstLength=262144", "FirstBurstLength=262144",
		"DefaultTime2Wait=0", "DefaultTime2Retain=0", "MaxOutstandingR2T=1", "ErrorRecoveryLevel=0",
		"DataPDUInOrder=Yes", "DataSequenceInOrder=Yes", "MaxConnections=1",
	} {
		k, v, _ := strings.Cut(kv, "=")
		op = append(op, keys.Pair{Key: k, Value: v})
	}
	for round := 0; round < 8; round++ {
		resp, got, err := l.do(pdu.StageOperational, pdu.StageFullFeature, true, op)
		if err != nil {
			return err
		}
		if v := value(got, "MaxRecvDataSegmentLength"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				c.maxSeg = n
			}
		}
		if resp.Transit && resp.NSG == pdu.StageFullFeature {
			c.cmdSN = resp.ExpCmdSN
			return nil
		}
		op = nil
	}
	return errors.New("login did not reach the full-feature phase")
}

// security is the security stage with CHAP: AuthMethod, CHAP_A, then
// CHAP_N and CHAP_R (and our challenge, for mutual CHAP), then on to the
// operational stage.
func (l *loginStep) security(names []keys.Pair, creds *chap.Config) error {
	offer := chap.AuthMethodOffer(true, !creds.Mutual())
	_, got, err := l.do(pdu.StageSecurity, pdu.StageOperational, false, append(names, keys.Pair{Key: "AuthMethod", Value: offer}))
	if err != nil {
		return err
	}
	method := value(got, "AuthMethod")
	if err := chap.CheckAuthMethod(true, !creds.Mutual(), method); err != nil {
		return err
	}
	var resp *pdu.LoginResponse
	if method == "CHAP" {
		in, err := chap.NewInitiator(*creds)
		if err != nil {
			return err
		}
		if _, got, err = l.do(pdu.StageSecurity, pdu.StageOperational, false, in.Start()); err != nil {
			return err
		}
		answer, err := in.Respond(got)
		if err != nil {
			return err
		}
		if resp, got, err = l.do(pdu.StageSecurity, pdu.StageOperational, true, answer); err != nil {
			return err
		}
		if err := in.Verify(got); err != nil {
			return err
		}
	}
	for round := 0; resp == nil || !resp.Transit; round++ {
		if round == 4 {
			return errors.New("the target did not leave the security stage")
		}
		if resp, _, err = l.do(pdu.StageSecurity, pdu.StageOperational, true, nil); err != nil {
			return err
		}
	}
	return nil
}

// rawResult is what a raw command came back with.
type rawResult struct {
	status    scsi.Status
	sense     *scsi.Sense
	overflow  bool
	underflow bool
	residual  int
}

// command sends one SCSI command with EDTL edtl (and the R/W bits given),
// CmdSN cmdSN, answers R2Ts with out in Data-Outs of at most seg bytes whose
// DataSNs fix renumbers, and waits for the status until timeout.
func (c *rawConn) command(cdb scsi.CDB, read, write bool, edtl int, cmdSN uint32, out []byte, seg int, fix func(sn uint32) uint32, timeout time.Duration) (rawResult, error) {
	c.itt++
	cmd := &pdu.SCSICommand{Final: true, Read: read, Write: write, Attr: pdu.AttrSimple, LUN: c.lun, ITT: c.itt,
		ExpectedDataTransferLength: uint32(edtl), CmdSN: cmdSN, ExpStatSN: c.statSN, CDB: cdb.Array()}
	if err := c.send(cmd, nil); err != nil {
		return rawResult{}, err
	}
	deadline := time.Now().Add(timeout)
	for {
		h, body, err := c.recv(deadline)
		if err != nil {
			return rawResult{}, err
		}
		switch h.Opcode() {
		case pdu.OpR2T:
			var r pdu.R2T
			if err := r.Decode(h); err != nil {
				return rawResult{}, err
			}
			c.expCmdSN, c.maxCmdSN = r.ExpCmdSN, r.MaxCmdSN
			off, end := int(r.BufferOffset), int(r.BufferOffset+r.DesiredDataTransferLength)
			if end > len(out) {
				end = len(out)
			}
			sn := uint32(0)
			for off < end {
				n := min(seg, end-off, c.maxSeg)
				do := &pdu.DataOut{Final: off+n == end, DataSegmentLength: uint32(n), LUN: c.lun, ITT: c.itt,
					TTT: r.TTT, ExpStatSN: c.statSN, DataSN: fix(sn), BufferOffset: uint32(off)}
				if err := c.send(do, out[off:off+n]); err != nil {
					return rawResult{}, err
				}
				off += n
				sn++
			}
		case pdu.OpSCSIResponse:
			var r pdu.SCSIResponse
			if err := r.Decode(h); err != nil {
				return rawResult{}, err
			}
			c.statSN, c.expCmdSN, c.maxCmdSN = r.StatSN+1, r.ExpCmdSN, r.MaxCmdSN
			res := rawResult{status: scsi.Status(r.Status), overflow: r.Overflow, underflow: r.Underflow}
			if r.Overflow || r.Underflow {
				res.residual = int(r.ResidualCount)
			}
			if len(body) >= 2 {
				n := int(body[0])<<8 | int(body[1])
				if n > 0 && 2+n <= len(body) {
					if s, err := scsi.ParseSense(body[2 : 2+n]); err == nil {
						res.sense = &s
					}
				}
			}
			return res, nil
		case pdu.OpDataIn:
			var d pdu.DataIn
			if err := d.Decode(h); err == nil && d.HasStatus {
				c.statSN, c.expCmdSN, c.maxCmdSN = d.StatSN+1, d.ExpCmdSN, d.MaxCmdSN
				res := rawResult{status: scsi.Status(d.Status), overflow: d.Overflow, underflow: d.Underflow}
				if d.Overflow || d.Underflow {
					res.residual = int(d.ResidualCount)
				}
				return res, nil
			}
		case pdu.OpNOPIn:
			var n pdu.NOPIn
			if err := n.Decode(h); err == nil && n.TTT != pdu.ReservedITT {
				_ = c.send(&pdu.NOPOut{Immediate: true, LUN: n.LUN, ITT: pdu.ReservedITT, TTT: n.TTT, CmdSN: c.cmdSN, ExpStatSN: c.statSN}, nil)
			}
		case pdu.OpReject:
			return rawResult{}, errors.New("the target rejected the PDU")
		}
		_ = body
	}
}

func same(sn uint32) uint32 { return sn }

// rawDial is dialRaw for a test, with the suite's CHAP credentials.
func (t *T) rawDial() *rawConn {
	creds, err := rawCHAP(t.dev.url, t.dev.opts.Config)
	if err != nil {
		t.Fatalf("CHAP credentials: %v", err)
	}
	var dialer session.Dialer
	if cfg := t.dev.opts.Config; cfg != nil {
		dialer = cfg.Dialer
	}
	c, err := dialRaw(t.dev.url, t.dev.opts.InitiatorName, creds, dialer, 10*time.Second)
	if err != nil {
		t.Fatalf("Failed to log in on a bare connection: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	// A new I_T nexus may start with a unit attention (POWER ON, RESET):
	// clear it as the session's login does, so that the command under
	// test meets none.
	for i := 0; i < 8; i++ {
		r, err := c.command(scsi.TestUnitReady(), false, false, 0, c.cmdSN, nil, 0, same, 10*time.Second)
		if err != nil {
			t.Fatalf("TEST UNIT READY on a bare connection: %v", err)
		}
		c.cmdSN++
		if r.sense == nil || r.sense.Key != scsi.SenseUnitAttention {
			break
		}
	}
	return c
}
