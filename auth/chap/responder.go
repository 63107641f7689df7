package chap

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/iscsi-go/iscsi/auth"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

// TargetConfig configures a Responder, the target's side of CHAP, so that
// scripted test targets can play a CHAP target.
type TargetConfig struct {
	// Username and Secret are the initiator's account: the CHAP_N and
	// secret the initiator must prove.
	Username string
	Secret   auth.Secret

	// TargetUsername and TargetSecret are the target's own account, used
	// to answer an initiator that asks for mutual CHAP (tgtd's --outgoing
	// account). Both or neither.
	TargetUsername string
	TargetSecret   auth.Secret

	// Algorithms the responder accepts. It picks the first of the
	// initiator's offer that is in this list, as tgtd does. Nil accepts all four.
	Algorithms []Algorithm

	// ChallengeLength is the length of the challenge issued; 0 means twice
	// the digest size. tgtd issues 50 bytes.
	ChallengeLength int

	// Encoding of CHAP_C and CHAP_R values sent. Zero is keys.Hex.
	Encoding keys.Encoding

	// Rand is the source of identifiers and challenges. Nil is crypto/rand.
	Rand io.Reader

	// Misbehave makes the responder break the protocol, for tests.
	Misbehave Misbehavior
}

// Misbehavior lists the ways a Responder can misbehave, for testing an
// initiator. The zero value behaves.
type Misbehavior struct {
	// Algorithm, when non-zero, is answered as CHAP_A whatever was offered.
	Algorithm Algorithm
	// RawAlgorithm, RawIdentifier and RawChallenge, when non-empty, are sent
	// verbatim as CHAP_A, CHAP_I and CHAP_C.
	RawAlgorithm  string
	RawIdentifier string
	RawChallenge  string
	// Challenge, when non-nil, is issued instead of a random challenge:
	// pass a challenge the initiator issued to test reflection.
	Challenge []byte
	// WrongResponse corrupts the answer to the initiator's challenge.
	WrongResponse bool
	// Name, when non-empty, is sent as CHAP_N instead of TargetUsername.
	Name string
	// OmitResponse leaves the initiator's challenge unanswered.
	OmitResponse bool
	// AllowReflection answers the initiator's challenge even when it is
	// the challenge we issued.
	AllowReflection bool
}

func (c *TargetConfig) mutual() bool { return !c.TargetSecret.IsZero() || c.TargetUsername != "" }

// Validate reports what makes the configuration unusable; the error wraps
// ErrInvalidConfig and never shows a secret.
func (c *TargetConfig) Validate() error {
	if c.Username == "" || c.Secret.IsZero() {
		return configErr("initiator username and secret are required")
	}
	if c.mutual() {
		if c.TargetUsername == "" || c.TargetSecret.IsZero() {
			return configErr("target username and target secret go together")
		}
		if c.Secret.Equal(c.TargetSecret) {
			return configErr("initiator and target secrets are equal; mutual CHAP requires different secrets")
		}
	}
	if c.ChallengeLength < 0 || c.ChallengeLength > MaxBinaryLength {
		return configErr("challenge length out of range 1.." + strconv.Itoa(MaxBinaryLength))
	}
	return checkAlgorithms(c.Algorithms)
}

// String describes the configuration without its secrets.
func (c TargetConfig) String() string {
	return fmt.Sprintf("chap.TargetConfig{Username:%q Secret:%v TargetUsername:%q TargetSecret:%v}",
		c.Username, c.Secret, c.TargetUsername, c.TargetSecret)
}

// GoString describes the configuration without its secrets, for %#v.
func (c TargetConfig) GoString() string { return c.String() }

// Responder is the target's side of one CHAP exchange: Challenge, then
// Verify. It is not safe for concurrent use.
type Responder struct {
	cfg       TargetConfig
	rand      io.Reader
	state     state
	alg       Algorithm
	id        uint8
	challenge []byte
	peer      []byte // the initiator's challenge, for mutual CHAP
}

// NewResponder validates cfg and returns a Responder.
func NewResponder(cfg TargetConfig) (*Responder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Responder{cfg: cfg, rand: cfg.Rand, state: stateAwaitChallenge}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	return r, nil
}

// Challenge takes the initiator's first-step pairs (CHAP_A) and returns
// CHAP_A, CHAP_I and CHAP_C. With no acceptable algorithm it returns an
// error wrapping ErrNoCommonAlgorithm; a target then answers with login
// status 0x0201.
func (r *Responder) Challenge(received []keys.Pair) ([]keys.Pair, error) {
	if r.state != stateAwaitChallenge {
		return nil, r.fail(fmt.Errorf("chap: Challenge called in state %q: %w", r.state, ErrState))
	}
	send, err := r.issue(received)
	if err != nil {
		return nil, r.fail(err)
	}
	r.state = stateAwaitResponse
	return send, nil
}

func (r *Responder) issue(received []keys.Pair) ([]keys.Pair, error) {
	av, err := require(received, keyAlgorithm)
	if err != nil {
		return nil, err
	}
	alg, err := r.choose(av)
	if err != nil {
		return nil, err
	}
	if m := r.cfg.Misbehave.Algorithm; m != 0 {
		alg = m
	}
	r.alg = alg

	var idb [1]byte
	if _, err := io.ReadFull(r.rand, idb[:]); err != nil {
		return nil, fmt.Errorf("chap: reading random identifier: %w", err)
	}
	r.id = idb[0]
	if c := r.cfg.Misbehave.Challenge; c != nil {
		r.challenge = append([]byte(nil), c...)
	} else {
		n := r.cfg.ChallengeLength
		if n == 0 {
			n = challengeLength(alg)
			if n == 0 {
				n = 32
			}
		}
		r.challenge = make([]byte, n)
		if _, err := io.ReadFull(r.rand, r.challenge); err != nil {
			return nil, fmt.Errorf("chap: reading random challenge: %w", err)
		}
	}

	m := &r.cfg.Misbehave
	a := orRaw(m.RawAlgorithm, strconv.Itoa(int(alg)))
	i := orRaw(m.RawIdentifier, strconv.Itoa(int(r.id)))
	if m.RawIdentifier != "" {
		if n, reason := parseNumber(m.RawIdentifier, 255); reason == "" {
			r.id = uint8(n)
		}
	}
	c := orRaw(m.RawChallenge, keys.EncodeBinary(r.cfg.Encoding, r.challenge))
	return []keys.Pair{{Key: keyAlgorithm, Value: a}, {Key: keyIdentifier, Value: i}, {Key: keyChallenge, Value: c}}, nil
}

func orRaw(raw, normal string) string {
	if raw != "" {
		return raw
	}
	return normal
}

// choose picks the first algorithm of the initiator's offer that the
// responder accepts. Values it does not understand are skipped.
func (r *Responder) choose(offer string) (Algorithm, error) {
	if offer == "" {
		return 0, keyErr(ErrMalformed, keyAlgorithm, offer, "empty algorithm list")
	}
	accept := r.cfg.Algorithms
	if len(accept) == 0 {
		accept = []Algorithm{MD5, SHA1, SHA256, SHA3_256}
	}
	for v := range strings.SplitSeq(offer, ",") {
		n, reason := parseNumber(v, 255)
		if reason != "" {
			continue
		}
		for _, a := range accept {
			if Algorithm(n) == a {
				return a, nil
			}
		}
	}
	return 0, keyErr(ErrNoCommonAlgorithm, keyAlgorithm, offer, "responder accepts "+formatAlgorithms(accept))
}

// Verify takes the initiator's third-step pairs, checks CHAP_N and CHAP_R
// against the initiator's account (ErrInitiatorAuthFailed when wrong) and,
// if the initiator sent CHAP_I and CHAP_C, returns the answer: CHAP_N and
// CHAP_R for the target's account. It refuses an initiator challenge equal
// to the one we issued (ErrReflection).
func (r *Responder) Verify(received []keys.Pair) ([]keys.Pair, error) {
	if r.state != stateAwaitResponse {
		return nil, r.fail(fmt.Errorf("chap: Verify called in state %q: %w", r.state, ErrState))
	}
	send, err := r.verify(received)
	if err != nil {
		return nil, r.fail(err)
	}
	r.state = stateDone
	return send, nil
}

func (r *Responder) verify(received []keys.Pair) ([]keys.Pair, error) {
	nv, err := require(received, keyName)
	if err != nil {
		return nil, err
	}
	rv, err := require(received, keyResponse)
	if err != nil {
		return nil, err
	}
	if nv != r.cfg.Username {
		return nil, keyErr(ErrInitiatorAuthFailed, keyName, nv, "unknown user")
	}
	got, reason := decodeBinary(rv)
	if reason != "" {
		return nil, keyErr(ErrMalformed, keyResponse, rv, reason)
	}
	want := r.alg.Response(make([]byte, 0, 64), r.id, r.cfg.Secret, r.challenge)
	if len(want) == 0 || subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, keyErr(ErrInitiatorAuthFailed, keyResponse, rv, "wrong response")
	}

	iv, okI, err := lookup(received, keyIdentifier)
	if err != nil {
		return nil, err
	}
	cv, okC, err := lookup(received, keyChallenge)
	if err != nil {
		return nil, err
	}
	switch {
	case !okI && !okC:
		return nil, nil // one-way CHAP
	case !okI:
		return nil, keyErr(ErrProtocol, keyIdentifier, "", "missing: CHAP_C was sent without it")
	case !okC:
		return nil, keyErr(ErrProtocol, keyChallenge, "", "missing: CHAP_I was sent without it")
	}
	if !r.cfg.mutual() {
		return nil, keyErr(ErrInitiatorAuthFailed, keyChallenge, "", "mutual CHAP requested but the target has no credentials")
	}
	id, err := parseIdentifier(iv)
	if err != nil {
		return nil, err
	}
	c, err := parseChallenge(cv)
	if err != nil {
		return nil, err
	}
	r.peer = c
	if bytes.Equal(c, r.challenge) && !r.cfg.Misbehave.AllowReflection {
		return nil, keyErr(ErrReflection, keyChallenge, cv, "the initiator sent back the target's challenge")
	}
	m := &r.cfg.Misbehave
	if m.OmitResponse {
		return nil, nil
	}
	resp := r.alg.Response(make([]byte, 0, 64), id, r.cfg.TargetSecret, c)
	if m.WrongResponse && len(resp) > 0 {
		resp[0] ^= 0x01
	}
	return []keys.Pair{
		{Key: keyName, Value: orRaw(m.Name, r.cfg.TargetUsername)},
		{Key: keyResponse, Value: keys.EncodeBinary(r.cfg.Encoding, resp)},
	}, nil
}

func (r *Responder) fail(err error) error {
	r.state = stateFailed
	return err
}

// Done reports whether the initiator authenticated (and, if asked, the
// answer to its challenge was produced).
func (r *Responder) Done() bool { return r.state == stateDone }

// Algorithm returns the algorithm chosen; 0 before Challenge.
func (r *Responder) Algorithm() Algorithm { return r.alg }

// IssuedChallenge returns the challenge the responder sent; nil before Challenge.
func (r *Responder) IssuedChallenge() []byte { return r.challenge }

// PeerChallenge returns the initiator's challenge received by Verify, for
// mutual CHAP; a test can issue it on another connection to play a
// reflection attack.
func (r *Responder) PeerChallenge() []byte { return r.peer }

// String describes the exchange without secrets.
func (r *Responder) String() string { return r.describe() }

// Format prints String for every verb, for a Responder and a pointer to
// one alike, so that %#v cannot reach the unexported secrets.
func (r Responder) Format(f fmt.State, verb rune) { io.WriteString(f, r.describe()) }

func (r *Responder) describe() string {
	return fmt.Sprintf("chap.Responder{Username:%q Algorithm:%v State:%s}", r.cfg.Username, r.alg, r.state)
}
