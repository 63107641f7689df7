package session

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
	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
)

// loginSpec is what one login needs to know.
type loginSpec struct {
	cfg       *Config
	portal    string // host:port dialled
	target    string // "" for discovery
	discovery bool
	chap      *chap.Config // nil: no CHAP
	offer     keys.Offer
	isid      pdu.ISID
	tsih      uint16
	cid       uint16
	cmdSN     uint32 // initial CmdSN
}

// loginResult is the state the full-feature phase starts from.
type loginResult struct {
	params    keys.Params
	tsih      uint16
	cmdSN     uint32 // next CmdSN to use
	expStatSN uint32
	expCmdSN  uint32
	maxCmdSN  uint32
}

// redirectError is a login answered with status class 1.
type redirectError struct {
	address   string // TargetAddress as sent
	permanent bool
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("iscsi login: redirected to %s", e.address)
}

// loginStep is what the last Login Request carried, to explain a refusal.
type loginStep uint8

const (
	stepAuthMethod   loginStep = iota // the first request: AuthMethod offer
	stepCHAPA                         // CHAP_A offer
	stepCHAPResponse                  // our CHAP_N/CHAP_R
	stepOther
)

// maxLoginRounds bounds the PDU exchanges of one login stage, against a
// target that never sets the T bit.
const maxLoginRounds = 16

// loginConn runs the login phase on one connection. Login requests are
// immediate: they all carry the initial CmdSN.
type loginConn struct {
	spec      *loginSpec
	c         *conn.Conn
	itt       uint32
	csg       uint8
	step      loginStep
	chapOffer string // the CHAP_A value sent
	expStatSN uint32
	gotStatSN bool
	rsp       pdu.LoginResponse
	ra        keys.Reassembler
	data      []byte
	sent      []byte
	zeroISID  bool // the target answered ISID 0 (logged once)
}

// login performs the whole login on c. ctx bounds it: when ctx ends, the
// connection's deadline is pulled in so that no read or write can hang.
func login(ctx context.Context, c *conn.Conn, spec *loginSpec) (*loginResult, error) {
	nc := c.NetConn()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if stop() {
			_ = nc.SetDeadline(time.Time{})
		}
	}()
	l := &loginConn{spec: spec, c: c, itt: 0, csg: pdu.StageSecurity}
	l.ra.Max = spec.cfg.MaxText
	res, err := l.run()
	switch {
	case err == nil:
	case isTimeout(err):
		// The connection's deadline is the context's: say which one ended.
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return nil, fmt.Errorf("no answer in time: %w (%w)", cause, err)
	case !l.gotStatSN && l.step == stepAuthMethod && spec.chap != nil && spec.chap.Mutual() && !spec.cfg.AllowNoAuth &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		// gotgt closes the connection when None is not offered.
		return nil, fmt.Errorf("the portal closed the connection at our first Login Request, which offered AuthMethod=CHAP "+
			"alone: a target without CHAP may do that (mutual CHAP is required; Config.AllowNoAuth accepts a target "+
			"that does not authenticate): %w", err)
	case !l.gotStatSN:
		// Not one Login Response came back.
		return nil, fmt.Errorf("no iSCSI answer from the portal (is it an iSCSI target?): %w", err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("the target closed the connection during login: %w", err)
	}
	return res, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (l *loginConn) run() (*loginResult, error) {
	spec := l.spec
	neg, err := keys.NewNegotiator(spec.offer)
	if err != nil {
		return nil, err
	}

	sessionType := keys.SessionNormal
	if spec.discovery {
		sessionType = keys.SessionDiscovery
	}
	first := []keys.Pair{{Key: keys.KeyInitiatorName, Value: spec.cfg.InitiatorName}}
	if spec.cfg.InitiatorAlias != "" {
		first = append(first, keys.Pair{Key: keys.KeyInitiatorAlias, Value: spec.cfg.InitiatorAlias})
	}
	first = append(first, keys.Pair{Key: keys.KeySessionType, Value: sessionType})
	if !spec.discovery {
		first = append(first, keys.Pair{Key: keys.KeyTargetName, Value: spec.target})
	}
	creds := spec.chap != nil
	if !creds && spec.discovery {
		// A discovery session with nothing to authenticate starts at
		// operational negotiation, as libiscsi does (RFC 7143 §6.3: the
		// security stage is optional): some targets (gotgt) read
		// SessionType only outside the security stage. A target that
		// wants CHAP refuses with status 0x0201, which LoginError explains
		// (NoCredentials).
		//
		// A normal session does not: tgtd reinstates a session with the
		// same ISID (ending the old session's connection and tasks) only
		// when a login leaves the security stage, and the reconnects and
		// Config.ISID rely on that fence (docs/RELIABILITY.md).
		l.csg = pdu.StageOperational
		l.step = stepOther
		return l.operational(neg, append(first, neg.Pairs()...))
	}

	// Security stage. One-way CHAP offers CHAP,None: the initiator loses
	// nothing when a target does not ask who it is. Mutual CHAP offers CHAP
	// alone (unless Config.AllowNoAuth): the target must prove itself.
	// Without credentials, None.
	allowNone := !creds || spec.cfg.AllowNoAuth || !spec.chap.Mutual()
	offered := chap.AuthMethodOffer(creds, allowNone)
	first = append(first, keys.Pair{Key: keys.KeyAuthMethod, Value: offered})

	l.step = stepAuthMethod
	pairs, err := l.exchange(first, false, pdu.StageOperational)
	if err != nil {
		return nil, err
	}
	l.step = stepOther
	var redeclare []keys.Pair
	answered, found, err := single(pairs, keys.KeyAuthMethod)
	if err != nil {
		return nil, err
	}
	if !found {
		// gotgt answers without the key. None was offered: a target that
		// says nothing does not ask for CHAP.
		if !allowNone {
			return nil, &chap.KeyError{Key: keys.KeyAuthMethod, Err: chap.ErrAuthMethodRejected,
				Reason: "the target answered no AuthMethod to our offer of " + offered + " (mutual CHAP is required; Config.AllowNoAuth accepts a target that does not authenticate)"}
		}
		spec.cfg.Logger.Debug("iscsi: the target answered no AuthMethod; taking it as None, which we offered",
			"portal", spec.portal, "target", spec.target)
		answered = keys.None
		// Such a target (gotgt) reads SessionType only in the operational
		// stage: declare it again there, as libiscsi does.
		redeclare = []keys.Pair{{Key: keys.KeySessionType, Value: sessionType}}
	}
	if err := chap.CheckAuthMethod(creds, allowNone, answered); err != nil {
		if errors.Is(err, chap.ErrDowngrade) {
			return nil, fmt.Errorf("%w (mutual CHAP is required; Config.AllowNoAuth accepts a target that does not authenticate)", err)
		}
		return nil, err
	}
	if answered != keys.CHAP && creds {
		spec.cfg.Logger.Info("iscsi: the target does not ask for CHAP; logging in without it",
			"portal", spec.portal, "target", spec.target, "mutual", spec.chap.Mutual())
	}
	reply, err := neg.Process(otherThanSecurity(pairs))
	if err != nil {
		return nil, wrapProto("Login Response", err)
	}
	if answered == keys.CHAP {
		if pairs, err = l.chap(spec.chap); err != nil {
			return nil, err
		}
		more, err := neg.Process(otherThanSecurity(pairs))
		if err != nil {
			return nil, wrapProto("Login Response", err)
		}
		reply = append(reply, more...)
	}
	// Until the target agrees to leave the security stage.
	for i := 0; l.csg == pdu.StageSecurity; i++ {
		if i == maxLoginRounds {
			return nil, protoErr("Login Response", "the target did not leave the security stage after %d exchanges", i)
		}
		if pairs, err = l.exchange(nil, true, pdu.StageOperational); err != nil {
			return nil, err
		}
		more, err := neg.Process(otherThanSecurity(pairs))
		if err != nil {
			return nil, wrapProto("Login Response", err)
		}
		reply = append(reply, more...)
	}

	return l.operational(neg, append(append(redeclare, neg.Pairs()...), reply...))
}

// operational runs the operational stage, sending send first, unless the
// target went straight to full feature; then it returns the result.
func (l *loginConn) operational(neg *keys.Negotiator, send []keys.Pair) (*loginResult, error) {
	spec := l.spec
	var pairs []keys.Pair
	var err error
	if l.csg == pdu.StageOperational {
		for i := 0; l.csg == pdu.StageOperational; i++ {
			if i == maxLoginRounds {
				return nil, protoErr("Login Response", "the target did not leave the operational stage after %d exchanges", i)
			}
			if pairs, err = l.exchange(send, true, pdu.StageFullFeature); err != nil {
				return nil, err
			}
			if send, err = neg.Process(pairs); err != nil {
				return nil, wrapProto("Login Response", err)
			}
		}
	}
	params, err := neg.Finish()
	if err != nil {
		return nil, wrapProto("Login Response", err)
	}
	return &loginResult{
		params:    params,
		tsih:      l.rsp.TSIH,
		cmdSN:     spec.cmdSN,
		expStatSN: l.expStatSN,
		expCmdSN:  l.rsp.ExpCmdSN,
		maxCmdSN:  l.rsp.MaxCmdSN,
	}, nil
}

// chap runs the CHAP exchange after the target chose AuthMethod=CHAP, and
// returns the pairs of the last response.
func (l *loginConn) chap(cfg *chap.Config) ([]keys.Pair, error) {
	in, err := chap.NewInitiator(*cfg)
	if err != nil {
		return nil, err
	}
	start := in.Start()
	for _, p := range start {
		if p.Key == keys.KeyCHAPA {
			l.chapOffer = p.Value
		}
	}
	l.step = stepCHAPA
	pairs, err := l.exchange(start, false, pdu.StageOperational)
	if err != nil {
		return nil, err
	}
	answer, err := in.Respond(pairs)
	if err != nil {
		return nil, err
	}
	l.step = stepCHAPResponse
	if pairs, err = l.exchange(answer, true, pdu.StageOperational); err != nil {
		return nil, err
	}
	l.step = stepOther
	if in.Mutual() {
		if err := in.Verify(pairs); err != nil {
			return nil, err
		}
	}
	return pairs, nil
}

// exchange sends pairs in one Login Request (several with the C bit if they
// do not fit one PDU), and returns the pairs of the target's answer,
// reassembled when the target used the C bit. transit asks to move to nsg.
func (l *loginConn) exchange(pairs []keys.Pair, transit bool, nsg uint8) ([]keys.Pair, error) {
	for _, p := range pairs {
		// A NUL would end the value early and let the rest be read as
		// keys of ours: Dial checks what it is given, this is the last
		// line.
		if strings.IndexByte(p.Value, 0) >= 0 || strings.IndexByte(p.Key, 0) >= 0 || strings.IndexByte(p.Key, '=') >= 0 {
			return nil, fmt.Errorf("iscsi: login key %s: %w: holds a NUL byte", strconv.Quote(p.Key), ErrInvalidKeyValue)
		}
	}
	l.tracePairs("send", pairs)
	l.sent = keys.AppendPairs(l.sent[:0], pairs...)
	segLen := 8192 // the RFC's default MaxRecvDataSegmentLength during login
	for seg, cont := range keys.Segments(l.sent, segLen) {
		if err := l.send(seg, transit && !cont, cont, nsg); err != nil {
			return nil, err
		}
		if cont {
			// The target acknowledges each continued PDU with an empty response.
			if _, err := l.receive(); err != nil {
				return nil, err
			}
			if l.rsp.Continue || len(l.data) != 0 {
				return nil, protoErr("Login Response", "answered a Login Request with the C bit with data")
			}
		}
	}
	for {
		cont, err := l.receive()
		if err != nil {
			return nil, err
		}
		text, done, err := l.ra.Add(l.data, cont)
		if err != nil {
			return nil, wrapProto("Login Response", err)
		}
		if done {
			if l.rsp.Transit {
				l.csg = l.rsp.NSG
			}
			out, err := keys.Parse(text)
			if err != nil {
				return nil, wrapProto("Login Response", err)
			}
			l.tracePairs("recv", out)
			return out, nil
		}
		// Ask for the rest with an empty request.
		if err := l.send(nil, false, false, nsg); err != nil {
			return nil, err
		}
	}
}

// tracePairs logs login keys when PDU tracing is on. CHAP challenges and
// responses are shown by length only: they are not secrets, but nothing a
// secret went into belongs in a log.
func (l *loginConn) tracePairs(dir string, pairs []keys.Pair) {
	if !l.spec.cfg.TracePDUs || len(pairs) == 0 {
		return
	}
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := p.Value
		if p.Key == keys.KeyCHAPR || p.Key == keys.KeyCHAPC {
			v = fmt.Sprintf("<%d chars>", len(v))
		}
		b.WriteString(p.Key + "=" + v)
	}
	l.spec.cfg.Logger.Debug("iscsi login keys", "dir", dir, "stage", l.csg, "keys", b.String())
}

func (l *loginConn) send(data []byte, transit, cont bool, nsg uint8) error {
	if !transit {
		nsg = 0
	}
	req := pdu.LoginRequest{
		Transit:   transit,
		Continue:  cont,
		CSG:       l.csg,
		NSG:       nsg,
		ISID:      l.spec.isid,
		TSIH:      l.spec.tsih,
		ITT:       l.itt,
		CID:       l.spec.cid,
		CmdSN:     l.spec.cmdSN,
		ExpStatSN: l.expStatSN,
	}
	return l.c.WritePDU(&req, nil, data)
}

// receive reads one Login Response into l.rsp and l.data, checks it, and
// returns its C bit.
func (l *loginConn) receive() (bool, error) {
	h, _, err := l.c.ReadHeader()
	if err != nil {
		return false, err
	}
	if h.Opcode() != pdu.OpLoginResp {
		_ = l.c.DiscardData()
		if h.Opcode() == pdu.OpReject {
			return false, protoErr("Login", "the target sent a Reject during login")
		}
		return false, protoErr("Login", "unexpected %v during login", h.Opcode())
	}
	if err := l.rsp.Decode(h); err != nil {
		return false, err
	}
	if cap(l.data) < int(l.rsp.DataSegmentLength) {
		l.data = make([]byte, l.rsp.DataSegmentLength)
	}
	l.data = l.data[:l.rsp.DataSegmentLength]
	if err := l.c.ReadData(l.data); err != nil {
		return false, err
	}
	r := &l.rsp
	if l.gotStatSN && r.StatSN != l.expStatSN && r.StatusClass == pdu.LoginSuccess {
		return false, protoErr("Login Response", "StatSN %d, expected %d", r.StatSN, l.expStatSN)
	}
	l.expStatSN, l.gotStatSN = r.StatSN+1, true
	switch r.StatusClass {
	case pdu.LoginSuccess:
	case pdu.LoginRedirect:
		pairs, _ := keys.Parse(l.data)
		addr, ok, _ := single(pairs, keys.KeyTargetAddress)
		if !ok || addr == "" {
			return false, protoErr("Login Response", "redirection (status 0x%02x%02x) without a TargetAddress", r.StatusClass, r.StatusDetail)
		}
		return false, &redirectError{address: addr, permanent: r.StatusDetail == 2}
	default:
		return false, l.refused(r.StatusClass, r.StatusDetail)
	}
	if r.ITT != l.itt {
		return false, protoErr("Login Response", "ITT %#x, we sent %#x", r.ITT, l.itt)
	}
	if r.VersionActive != 0 {
		return false, protoErr("Login Response", "VersionActive %d, we speak 0", r.VersionActive)
	}
	if r.ISID != l.spec.isid {
		if r.ISID != (pdu.ISID{}) {
			return false, protoErr("Login Response", "ISID %v, we sent %v", r.ISID, l.spec.isid)
		}
		// gotgt answers ISID 0; the connection is ours all the same.
		if !l.zeroISID {
			l.zeroISID = true
			l.spec.cfg.Logger.Debug("iscsi: the target answers ISID 0 in its Login Responses; accepted",
				"portal", l.spec.portal, "isid", l.spec.isid)
		}
	}
	if r.CSG != l.csg {
		return false, protoErr("Login Response", "CSG %d, we are in stage %d", r.CSG, l.csg)
	}
	if r.Transit && r.Continue {
		return false, protoErr("Login Response", "both T and C bits set")
	}
	if r.Transit {
		if r.NSG <= r.CSG || r.NSG == 2 {
			return false, protoErr("Login Response", "transit from stage %d to stage %d", r.CSG, r.NSG)
		}
		if r.NSG == pdu.StageFullFeature && l.spec.tsih == 0 && r.TSIH == 0 {
			// RFC 7143 wants a TSIH here; gotgt sends 0. The session works;
			// only reinstatement by TSIH is lost: recovery logs in as a new
			// session (with the same ISID) and checks the LUNs' identity.
			l.spec.cfg.Logger.Debug("iscsi: the target's final Login Response has TSIH 0; accepted",
				"portal", l.spec.portal, "target", l.spec.target)
		}
	}
	return r.Continue, nil
}

// refused is the error of a login the target refused with a status of
// class 2 or 3. It says what the refusal means given what we had just sent:
// tgtd, for one, refuses AuthMethod=CHAP with 0x0201 when it has no CHAP
// account, and a CHAP_A offer it cannot meet with 0x0200.
func (l *loginConn) refused(class, detail uint8) *LoginError {
	e := &LoginError{Class: class, Detail: detail, Target: l.spec.target, Portal: l.spec.portal,
		NoCredentials: l.spec.chap == nil}
	switch st := e.Status(); {
	case l.step == stepAuthMethod && l.spec.chap != nil && st == 0x0201:
		reason := "the target refused CHAP before any credentials were sent: it has no CHAP account for this target"
		if l.spec.chap.Mutual() && !l.spec.cfg.AllowNoAuth {
			reason += " (mutual CHAP is required, so None was not offered; Config.AllowNoAuth accepts a target that does not authenticate)"
		}
		e.Err = &chap.KeyError{Key: keys.KeyAuthMethod, Err: chap.ErrAuthMethodRejected, Reason: reason}
	case l.step == stepCHAPA && (st == 0x0200 || st == 0x0201):
		e.Err = &chap.KeyError{Key: keys.KeyCHAPA, Err: chap.ErrAlgorithmRejected,
			Reason: "the target refused the CHAP algorithms offered (" + algorithmNames(l.chapOffer) + "): it speaks none of them"}
	}
	return e
}

// algorithmNames spells a CHAP_A list ("7,5") as names ("SHA-256, MD5").
func algorithmNames(offer string) string {
	var names []string
	for v := range strings.SplitSeq(offer, ",") {
		if a, err := chap.ParseAlgorithm(v); err == nil {
			names = append(names, a.String())
		} else {
			names = append(names, v)
		}
	}
	return strings.Join(names, ", ")
}

// single returns the value of key among pairs; a key sent twice is an error.
func single(pairs []keys.Pair, key string) (string, bool, error) {
	v, found := "", false
	for _, p := range pairs {
		if p.Key == key {
			if found {
				return "", false, protoErr("Login Response", "key %s sent twice", key)
			}
			v, found = p.Value, true
		}
	}
	return v, found, nil
}

// otherThanSecurity drops the keys of the security stage (AuthMethod, CHAP_*).
func otherThanSecurity(pairs []keys.Pair) []keys.Pair {
	out := pairs[:0:0]
	for _, p := range pairs {
		if p.Key == keys.KeyAuthMethod || strings.HasPrefix(p.Key, "CHAP_") {
			continue
		}
		out = append(out, p)
	}
	return out
}
