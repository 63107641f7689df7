package faketarget

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
)

// Login status codes (class<<8 | detail, RFC 7143 §11.13.5).
const (
	StatusSuccess            = 0x0000
	StatusTargetMovedTemp    = 0x0101
	StatusTargetMovedPerm    = 0x0102
	StatusInitiatorError     = 0x0200
	StatusAuthFailure        = 0x0201
	StatusAuthorization      = 0x0202
	StatusNotFound           = 0x0203
	StatusUnsupportedVersion = 0x0205
	StatusMissingParameter   = 0x0207
	StatusSessionNotExist    = 0x020a
)

// LoginExchange is one Login Request and the response the target is about
// to send, handed to Hooks.Login. The hook may change Response and Reply
// (or set Raw) before the target sends them.
type LoginExchange struct {
	Peer *Peer
	// Request is the Login Request (the last PDU of a C-bit sequence).
	Request pdu.LoginRequest
	// Pairs are the request's pairs, reassembled.
	Pairs []keys.Pair
	// Response is the header to send; StatSN, ExpCmdSN and MaxCmdSN are
	// filled when it is sent. The target follows the stage change it
	// announces (Transit, NSG) and stops when StatusClass is not 0.
	Response pdu.LoginResponse
	// Reply are the pairs to send.
	Reply []keys.Pair
	// Raw, when non-nil, is sent as the data segment instead of Reply.
	Raw []byte
}

// Get returns the value of key in the request's pairs.
func (x *LoginExchange) Get(key string) (string, bool) {
	for _, p := range x.Pairs {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Set replaces the first reply pair with key, or appends one.
func (x *LoginExchange) Set(key, value string) {
	for i := range x.Reply {
		if x.Reply[i].Key == key {
			x.Reply[i].Value = value
			return
		}
	}
	x.Reply = append(x.Reply, keys.Pair{Key: key, Value: value})
}

// Add appends a reply pair, even when key is already there.
func (x *LoginExchange) Add(key, value string) {
	x.Reply = append(x.Reply, keys.Pair{Key: key, Value: value})
}

// Delete removes every reply pair with key.
func (x *LoginExchange) Delete(key string) {
	out := x.Reply[:0]
	for _, p := range x.Reply {
		if p.Key != key {
			out = append(out, p)
		}
	}
	x.Reply = out
}

// Fail turns the response into a login failure with status (class<<8|detail).
func (x *LoginExchange) Fail(status uint16) {
	x.Response.StatusClass, x.Response.StatusDetail = uint8(status>>8), uint8(status)
	x.Response.Transit = false
	x.Reply = nil
}

type loginState struct {
	started     bool
	first       bool
	authDone    bool
	authMethod  string
	chap        *chap.Responder
	seen        map[string]bool
	declaredMRD bool
	declaredTPG bool
	fail        uint16
	// deferBind: the session type is read in the operational stage
	// (Quirks.SessionTypeOutsideSecurity); targetName is the first
	// request's TargetName.
	deferBind     bool
	targetName    string
	hasTargetName bool
	isid          pdu.ISID
	tsih          uint16
	cid           uint16
	itt           uint32
	cmdSN         uint32
}

// login runs the login phase; it returns nil when full feature phase
// starts.
func (p *Peer) login() error {
	t := p.t
	st := &loginState{first: true, seen: map[string]bool{}}
	p.params = Params{
		InitiatorMaxRecvDataSegmentLength: 8192,
		TargetMaxRecvDataSegmentLength:    t.cfg.MaxRecvDataSegmentLength,
		FirstBurstLength:                  65536,
		MaxBurstLength:                    262144,
		MaxOutstandingR2T:                 1,
		ImmediateData:                     true,
		InitialR2T:                        true,
	}
	var ra keys.Reassembler
	for {
		h, _, err := p.c.ReadHeader()
		if err != nil {
			return err
		}
		var req pdu.LoginRequest
		if err := req.Decode(h); err != nil {
			t.violate("login phase: %v instead of a Login Request", h.Opcode())
			return wrapf(ErrProtocol, "%v during login", h.Opcode())
		}
		data := make([]byte, p.c.DataLen())
		if err := p.c.ReadData(data); err != nil {
			return err
		}
		p.checkLoginHeader(st, &req)
		text, done, err := ra.Add(data, req.Continue)
		if err != nil {
			return p.loginFail(&req, StatusInitiatorError, err)
		}
		if !done {
			// Ask for the rest of the text: an empty response, same stages.
			rsp := p.loginResponse(st, &req)
			if err := p.sendLogin(&rsp, nil); err != nil {
				return err
			}
			continue
		}
		pairs, err := keys.Parse(text)
		if err != nil {
			t.violate("login: %v", err)
			return p.loginFail(&req, StatusInitiatorError, err)
		}
		x := &LoginExchange{Peer: p, Request: req, Pairs: pairs}
		x.Response = p.loginResponse(st, &req)
		p.answerLogin(st, x)
		verdict := Proceed
		if t.cfg.Hooks.Login != nil {
			verdict = t.cfg.Hooks.Login(x)
		}
		switch verdict {
		case Close:
			return ErrClosedByHook
		case Handled:
			continue
		}
		rsp := x.Response
		if rsp.Transit && rsp.NSG == pdu.StageFullFeature && rsp.StatusClass == pdu.LoginSuccess && rsp.TSIH == 0 &&
			!t.cfg.Quirks.ZeroTSIH {
			rsp.TSIH = st.tsih
		}
		if t.cfg.Quirks.ZeroISID {
			rsp.ISID = pdu.ISID{}
		}
		if t.cfg.Quirks.NoAuthMethod && req.CSG == pdu.StageSecurity {
			x.Delete(keys.KeyAuthMethod)
		}
		payload := x.Raw
		if payload == nil {
			payload = keys.AppendPairs(nil, x.Reply...)
		}
		if err := p.sendLogin(&rsp, payload); err != nil {
			return err
		}
		if rsp.StatusClass != pdu.LoginSuccess {
			return fmt.Errorf("%w: status %#04x", ErrLoginFailed, uint16(rsp.StatusClass)<<8|uint16(rsp.StatusDetail))
		}
		if rsp.Transit {
			if rsp.NSG == pdu.StageFullFeature {
				p.params.TSIH = rsp.TSIH
				p.enterFullFeature()
				return nil
			}
		}
	}
}

// checkLoginHeader records the session identity from the first request and
// checks that later ones keep it.
func (p *Peer) checkLoginHeader(st *loginState, req *pdu.LoginRequest) {
	t := p.t
	if !st.started {
		st.started = true
		st.isid, st.cid, st.itt, st.cmdSN = req.ISID, req.CID, req.ITT, req.CmdSN
		st.tsih = req.TSIH
		p.snMu.Lock()
		p.expCmdSN = req.CmdSN
		p.snMu.Unlock()
		if req.VersionMin > 0 {
			st.fail = StatusUnsupportedVersion
		}
		if req.TSIH != 0 && uint32(req.TSIH) > t.tsih.Load() {
			st.fail = StatusSessionNotExist
		}
		if req.TSIH == 0 {
			st.tsih = uint16(t.tsih.Add(1))
			if st.tsih == 0 {
				st.tsih = uint16(t.tsih.Add(1))
			}
		}
		p.params.ISID, p.params.CID = req.ISID, req.CID
		return
	}
	if req.ISID != st.isid || req.CID != st.cid {
		t.violate("login: ISID or CID changed during the login")
	}
	if req.ITT != st.itt {
		t.violate("login: ITT %#x changed during the login (was %#x)", req.ITT, st.itt)
	}
	if req.CmdSN != st.cmdSN {
		t.violate("login: CmdSN %d changed during the login (was %d)", req.CmdSN, st.cmdSN)
	}
	p.snMu.Lock()
	want := p.statSN
	p.snMu.Unlock()
	if req.ExpStatSN != want {
		t.violate("login: ExpStatSN %d, want %d", req.ExpStatSN, want)
	}
}

// loginResponse is the default response header to req: same stage, no
// transit.
func (p *Peer) loginResponse(st *loginState, req *pdu.LoginRequest) pdu.LoginResponse {
	tsih := req.TSIH
	return pdu.LoginResponse{
		CSG: req.CSG, NSG: req.CSG, ISID: req.ISID, TSIH: tsih, ITT: req.ITT,
	}
}

func (p *Peer) sendLogin(rsp *pdu.LoginResponse, data []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.Stamp(rsp)
	return p.c.WritePDU(rsp, nil, data)
}

func (p *Peer) loginFail(req *pdu.LoginRequest, status uint16, cause error) error {
	rsp := pdu.LoginResponse{CSG: req.CSG, NSG: req.NSG, ISID: req.ISID, ITT: req.ITT,
		StatusClass: uint8(status >> 8), StatusDetail: uint8(status)}
	if err := p.sendLogin(&rsp, nil); err != nil {
		return err
	}
	return fmt.Errorf("%w: status %#04x: %v", ErrLoginFailed, status, cause)
}

// answerLogin computes the normal answer to one (reassembled) request.
func (p *Peer) answerLogin(st *loginState, x *LoginExchange) {
	t := p.t
	req := &x.Request
	first := st.first
	st.first = false
	if st.fail != 0 {
		x.Fail(st.fail)
		return
	}
	if first {
		name, ok := x.Get(keys.KeyInitiatorName)
		if !ok {
			x.Fail(StatusMissingParameter)
			return
		}
		p.params.InitiatorName = name
		st.targetName, st.hasTargetName = x.Get(keys.KeyTargetName)
		if t.cfg.Quirks.SessionTypeOutsideSecurity && req.CSG == pdu.StageSecurity {
			// Like gotgt: the session is bound in the operational stage,
			// from what that stage's first request says.
			st.deferBind = true
		} else if !p.bindSession(st, x, x.Pairs) {
			return
		}
		if t.cfg.Allow != nil && !t.cfg.Allow(name) {
			x.Fail(StatusAuthorization)
			return
		}
		if r := t.cfg.Redirect; r != nil {
			x.Fail(StatusTargetMovedTemp)
			if r.Permanent {
				x.Fail(StatusTargetMovedPerm)
			}
			x.Reply = []keys.Pair{{Key: keys.KeyTargetAddress, Value: r.Address}}
			return
		}
	}
	rebind := false
	if st.deferBind && req.CSG == pdu.StageOperational {
		st.deferBind, rebind = false, true
		if !p.bindSession(st, x, x.Pairs) {
			return
		}
	}
	var secPairs []keys.Pair
	for _, kv := range x.Pairs {
		switch kv.Key {
		case keys.KeyInitiatorName, keys.KeySessionType, keys.KeyTargetName, keys.KeyInitiatorAlias:
			if !first && !(rebind && kv.Key != keys.KeyInitiatorAlias) {
				t.violate("login: %s declared after the first Login Request", kv.Key)
			}
			continue
		}
		if st.seen[kv.Key] && !strings.HasPrefix(kv.Key, "CHAP_") {
			t.violate("login: key %s sent twice", kv.Key)
			continue
		}
		st.seen[kv.Key] = true
		if keys.IsSecurityKey(kv.Key) {
			if req.CSG != pdu.StageSecurity {
				t.violate("login: security key %s in the operational stage", kv.Key)
				continue
			}
			if kv.Key == keys.KeyAuthMethod {
				if !p.negotiateAuthMethod(st, x, kv.Value) {
					return
				}
				continue
			}
			secPairs = append(secPairs, kv)
			continue
		}
		p.negotiateKey(x, kv)
	}
	if len(secPairs) > 0 {
		if !p.runCHAP(st, x, secPairs) {
			return
		}
	}
	// Declarations of our own.
	if first && !p.params.Discovery && !st.declaredTPG {
		st.declaredTPG = true
		x.Add(keys.KeyTargetPortalGroupTag, keys.FormatNumber(uint64(t.cfg.TargetPortalGroupTag)))
		if t.cfg.Alias != "" {
			x.Add(keys.KeyTargetAlias, t.cfg.Alias)
		}
	}
	// Stage transitions.
	if req.CSG == pdu.StageSecurity && !st.authDone && st.authMethod == "" && req.Transit {
		// The initiator skipped AuthMethod: fine only without CHAP.
		if t.cfg.CHAP != nil && !t.cfg.AllowNoAuth {
			x.Fail(StatusAuthFailure)
			return
		}
		st.authDone = true
	}
	if req.CSG != pdu.StageSecurity && !st.authDone {
		if t.cfg.CHAP != nil && !t.cfg.AllowNoAuth {
			x.Fail(StatusAuthFailure)
			return
		}
		st.authDone = true
	}
	if req.Transit && st.authDone {
		if req.NSG <= req.CSG || req.NSG == 2 {
			t.violate("login: transit from stage %d to stage %d", req.CSG, req.NSG)
		} else {
			x.Response.Transit = true
			x.Response.NSG = req.NSG
		}
	}
	if !st.declaredMRD && (req.CSG == pdu.StageOperational || x.Response.Transit && x.Response.NSG == pdu.StageFullFeature) {
		st.declaredMRD = true
		x.Add(keys.KeyMaxRecvDataSegmentLength, keys.FormatNumber(uint64(t.cfg.MaxRecvDataSegmentLength)))
	}
}

// bindSession reads the session type of pairs and, for a normal session,
// checks the target name (from pairs, or from the first request); false
// means the response now refuses the login.
func (p *Peer) bindSession(st *loginState, x *LoginExchange, pairs []keys.Pair) bool {
	stype := ""
	for _, kv := range pairs {
		switch kv.Key {
		case keys.KeySessionType:
			stype = kv.Value
		case keys.KeyTargetName:
			st.targetName, st.hasTargetName = kv.Value, true
		}
	}
	p.params.Discovery = stype == keys.SessionDiscovery
	if p.params.Discovery {
		return true
	}
	if !st.hasTargetName {
		x.Fail(StatusMissingParameter)
		return false
	}
	if st.targetName != p.t.cfg.Name {
		x.Fail(StatusNotFound)
		return false
	}
	p.params.TargetName = st.targetName
	return true
}

func (p *Peer) negotiateAuthMethod(st *loginState, x *LoginExchange, proposed string) bool {
	t := p.t
	ours := keys.None
	if t.cfg.CHAP != nil {
		ours = "CHAP"
		if t.cfg.AllowNoAuth {
			ours = "CHAP,None"
		}
	}
	r, _ := keys.Lookup(keys.KeyAuthMethod)
	answer, result, err := r.Respond(proposed, ours)
	if err != nil || answer == keys.Reject {
		x.Fail(StatusAuthFailure)
		x.Reply = []keys.Pair{{Key: keys.KeyAuthMethod, Value: keys.Reject}}
		return false
	}
	x.Add(keys.KeyAuthMethod, answer)
	st.authMethod = result
	if result == keys.None {
		st.authDone = true
	}
	return true
}

func (p *Peer) runCHAP(st *loginState, x *LoginExchange, pairs []keys.Pair) bool {
	t := p.t
	if st.authMethod != "CHAP" {
		t.violate("login: CHAP keys without AuthMethod=CHAP")
		x.Fail(StatusInitiatorError)
		return false
	}
	has := func(k string) bool {
		for _, kv := range pairs {
			if kv.Key == k {
				return true
			}
		}
		return false
	}
	var out []keys.Pair
	var err error
	switch {
	case st.chap == nil && has("CHAP_A"):
		st.chap, err = chap.NewResponder(*t.cfg.CHAP)
		if err == nil {
			out, err = st.chap.Challenge(pairs)
		}
	case st.chap != nil && has("CHAP_N"):
		out, err = st.chap.Verify(pairs)
		if err == nil {
			st.authDone = true
		}
	default:
		err = errors.New("unexpected CHAP keys")
	}
	if err != nil {
		t.violate("login: CHAP: %v", err)
		x.Fail(StatusAuthFailure)
		return false
	}
	for _, kv := range out {
		x.Add(kv.Key, kv.Value)
	}
	return true
}

// negotiateKey answers one operational key.
func (p *Peer) negotiateKey(x *LoginExchange, kv keys.Pair) {
	t := p.t
	rule, ok := keys.Lookup(kv.Key)
	if !ok {
		x.Add(kv.Key, keys.NotUnderstood)
		return
	}
	if rule.Senders == keys.TargetOnly {
		t.violate("login: initiator sent target-only key %s", kv.Key)
		x.Add(kv.Key, keys.Reject)
		return
	}
	if p.params.Discovery && rule.DiscoveryIrrelevant {
		x.Add(kv.Key, keys.Irrelevant)
		return
	}
	if kv.Key == keys.KeyMaxRecvDataSegmentLength {
		n, err := keys.ParseNumber(kv.Value)
		if err != nil || rule.Validate(kv.Value) != nil {
			t.violate("login: MaxRecvDataSegmentLength=%q", kv.Value)
			return
		}
		p.params.InitiatorMaxRecvDataSegmentLength = uint32(n)
		return
	}
	ours := p.ourValue(kv.Key)
	if (kv.Key == keys.KeyHeaderDigest || kv.Key == keys.KeyDataDigest) && t.cfg.PreferCRC32C &&
		strings.Contains(ours, keys.CRC32C) && listContains(kv.Value, keys.CRC32C) {
		ours = keys.CRC32C
	}
	answer, result, err := rule.Respond(kv.Value, ours)
	if err != nil {
		t.violate("login: %v", err)
		x.Add(kv.Key, keys.Reject)
		return
	}
	if answer != "" {
		x.Add(kv.Key, answer)
	}
	p.applyResult(kv.Key, result)
}

func listContains(list, v string) bool {
	for _, it := range strings.Split(list, ",") {
		if it == v {
			return true
		}
	}
	return false
}

func (p *Peer) ourValue(key string) string {
	c := &p.t.cfg
	switch key {
	case keys.KeyHeaderDigest:
		return c.HeaderDigest
	case keys.KeyDataDigest:
		return c.DataDigest
	case keys.KeyFirstBurstLength:
		return keys.FormatNumber(uint64(c.FirstBurstLength))
	case keys.KeyMaxBurstLength:
		return keys.FormatNumber(uint64(c.MaxBurstLength))
	case keys.KeyMaxOutstandingR2T:
		return keys.FormatNumber(uint64(c.MaxOutstandingR2T))
	case keys.KeyImmediateData:
		return keys.FormatBool(c.ImmediateData.Get(true))
	case keys.KeyInitialR2T:
		return keys.FormatBool(c.InitialR2T.Get(false))
	case keys.KeyMaxConnections:
		return "1"
	case keys.KeyErrorRecoveryLevel:
		return "0"
	case keys.KeyDefaultTime2Wait:
		return "2"
	case keys.KeyDefaultTime2Retain:
		return "20"
	}
	return "" // the RFC default
}

func (p *Peer) applyResult(key, v string) {
	n, _ := keys.ParseNumber(v)
	b, _ := keys.ParseBool(v)
	switch key {
	case keys.KeyHeaderDigest:
		p.params.HeaderDigest = v == keys.CRC32C
	case keys.KeyDataDigest:
		p.params.DataDigest = v == keys.CRC32C
	case keys.KeyFirstBurstLength:
		p.params.FirstBurstLength = uint32(n)
	case keys.KeyMaxBurstLength:
		p.params.MaxBurstLength = uint32(n)
	case keys.KeyMaxOutstandingR2T:
		p.params.MaxOutstandingR2T = uint32(n)
	case keys.KeyImmediateData:
		p.params.ImmediateData = b
	case keys.KeyInitialR2T:
		p.params.InitialR2T = b
	}
}

// enterFullFeature applies the negotiated digests and limits.
func (p *Peer) enterFullFeature() {
	if p.params.FirstBurstLength > p.params.MaxBurstLength {
		p.params.FirstBurstLength = p.params.MaxBurstLength
	}
	p.c.SetDigests(pdu.Digests{Header: p.params.HeaderDigest, Data: p.params.DataDigest})
	// Lengths are checked by the target itself, so that an initiator
	// sending too much is a recorded violation and not a dead connection.
	// Beyond 16 times the declaration, the connection is dropped.
	limit := min(16*int(p.params.TargetMaxRecvDataSegmentLength), pdu.MaxDataSegmentLength)
	p.c.SetLimits(pdu.Limits{MaxDataSegmentLength: limit, MaxAHSLength: pdu.MaxAHSLength})
}
