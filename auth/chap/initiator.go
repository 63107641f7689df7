package chap

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"strings"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

type state uint8

const (
	stateStart          state = iota // nothing sent yet
	stateAwaitChallenge              // CHAP_A sent; waiting for CHAP_A, CHAP_I, CHAP_C
	stateAwaitResponse               // our answer and challenge sent; waiting for CHAP_N, CHAP_R
	stateDone                        // authenticated as far as this side can tell
	stateFailed                      // an error ended the exchange
)

func (s state) String() string {
	switch s {
	case stateStart:
		return "start"
	case stateAwaitChallenge:
		return "awaiting challenge"
	case stateAwaitResponse:
		return "awaiting target response"
	case stateDone:
		return "done"
	case stateFailed:
		return "failed"
	}
	return "unknown"
}

// challengeLength is the length of the challenges we issue: twice the
// digest size (32 bytes for MD5, 64 for SHA-256), as libiscsi does. tgtd
// accepts up to 1024 bytes, the RFC 7143 limit; the Linux target up to 2048.
func challengeLength(a Algorithm) int { return 2 * a.Size() }

// maxRegenerate bounds how often we draw a new challenge that happens to
// equal the peer's (only a broken Rand makes that happen twice).
const maxRegenerate = 8

// Initiator is the initiator's side of one CHAP exchange: Start, Respond,
// then Verify for mutual CHAP. It is not safe for concurrent use; it is used
// once, for one login.
type Initiator struct {
	cfg   Config
	rand  io.Reader
	state state
	alg   Algorithm

	// Our challenge to the target, for mutual CHAP.
	id        uint8
	challenge []byte
}

// NewInitiator validates cfg and returns an Initiator ready to Start.
func NewInitiator(cfg Config) (*Initiator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Algorithms = append([]Algorithm(nil), cfg.offer()...)
	in := &Initiator{cfg: cfg, rand: cfg.Rand}
	if in.rand == nil {
		in.rand = rand.Reader
	}
	return in, nil
}

// Start returns the first step's pairs: CHAP_A with the offered algorithms
// in order of preference, e.g. "CHAP_A=7,5". Calling it again returns the
// same offer and changes nothing.
func (in *Initiator) Start() []keys.Pair {
	if in.state == stateStart {
		in.state = stateAwaitChallenge
	}
	return []keys.Pair{{Key: keyAlgorithm, Value: formatAlgorithms(in.cfg.Algorithms)}}
}

// Respond takes the target's second-step pairs (CHAP_A, CHAP_I, CHAP_C;
// other keys are ignored) and returns the third step's: CHAP_N and CHAP_R,
// and for mutual CHAP our own CHAP_I and CHAP_C. It checks that the target
// chose an algorithm we offered, that the identifier and challenge are well
// formed (a challenge of 1 to 1024 bytes), and that the challenge is not one
// we issued (ErrReflection).
func (in *Initiator) Respond(received []keys.Pair) ([]keys.Pair, error) {
	if in.state != stateAwaitChallenge {
		return nil, in.fail(fmt.Errorf("chap: Respond called in state %q: %w", in.state, ErrState))
	}
	send, err := in.respond(received)
	if err != nil {
		return nil, in.fail(err)
	}
	return send, nil
}

func (in *Initiator) respond(received []keys.Pair) ([]keys.Pair, error) {
	av, err := require(received, keyAlgorithm)
	if err != nil {
		return nil, err
	}
	alg, err := in.chosenAlgorithm(av)
	if err != nil {
		return nil, err
	}
	iv, err := require(received, keyIdentifier)
	if err != nil {
		return nil, err
	}
	id, err := parseIdentifier(iv)
	if err != nil {
		return nil, err
	}
	cv, err := require(received, keyChallenge)
	if err != nil {
		return nil, err
	}
	c, err := parseChallenge(cv)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(c, in.challenge) || issued.contains(c) {
		return nil, keyErr(ErrReflection, keyChallenge, cv, "the target sent a challenge this initiator issued")
	}
	in.alg = alg

	enc := in.cfg.Encoding
	r := alg.Response(make([]byte, 0, 64), id, in.cfg.Secret, c)
	send := []keys.Pair{
		{Key: keyName, Value: in.cfg.Username},
		{Key: keyResponse, Value: keys.EncodeBinary(enc, r)},
	}
	if !in.cfg.Mutual() {
		in.state = stateDone
		return send, nil
	}
	if err := in.newChallenge(c); err != nil {
		return nil, err
	}
	send = append(send,
		keys.Pair{Key: keyIdentifier, Value: fmt.Sprint(in.id)},
		keys.Pair{Key: keyChallenge, Value: keys.EncodeBinary(enc, in.challenge)},
	)
	in.state = stateAwaitResponse
	return send, nil
}

// chosenAlgorithm checks the target's CHAP_A answer against our offer.
func (in *Initiator) chosenAlgorithm(v string) (Algorithm, error) {
	if isRejectValue(v) {
		return 0, keyErr(ErrAlgorithmRejected, keyAlgorithm, v, "target accepts none of "+formatAlgorithms(in.cfg.Algorithms))
	}
	if strings.IndexByte(v, ',') >= 0 {
		return 0, keyErr(ErrProtocol, keyAlgorithm, v, "target must choose one algorithm, not a list")
	}
	n, reason := parseNumber(v, 255)
	if reason != "" {
		return 0, keyErr(ErrMalformed, keyAlgorithm, v, reason)
	}
	for _, a := range in.cfg.Algorithms {
		if Algorithm(n) == a {
			return a, nil
		}
	}
	return 0, keyErr(ErrAlgorithmNotOffered, keyAlgorithm, v, "offered "+formatAlgorithms(in.cfg.Algorithms))
}

// newChallenge draws our identifier and challenge, never equal to the
// target's challenge (RFC 7143 §9.2.1: a challenge must not be reused for
// the other direction).
func (in *Initiator) newChallenge(theirs []byte) error {
	var idb [1]byte
	if _, err := io.ReadFull(in.rand, idb[:]); err != nil {
		return fmt.Errorf("chap: reading random identifier: %w", err)
	}
	in.id = idb[0]
	c := make([]byte, challengeLength(in.alg))
	for range maxRegenerate {
		if _, err := io.ReadFull(in.rand, c); err != nil {
			return fmt.Errorf("chap: reading random challenge: %w", err)
		}
		if !bytes.Equal(c, theirs) {
			in.challenge = c
			issued.add(c)
			return nil
		}
	}
	return fmt.Errorf("chap: random source keeps returning the target's challenge: %w", ErrReflection)
}

// Verify takes the target's final security pairs and, for mutual CHAP,
// checks that the target answered our challenge as TargetUsername with
// TargetSecret (constant-time comparison). Any failure, including a target
// that did not answer, wraps ErrTargetAuthFailed or ErrMalformed; the
// session must then close the connection (RFC 7143 §12.1.3). Without mutual
// CHAP, Verify accepts pairs with no CHAP_N or CHAP_R.
func (in *Initiator) Verify(received []keys.Pair) error {
	switch {
	case in.state == stateDone && !in.cfg.Mutual():
		for _, k := range []string{keyName, keyResponse} {
			if v, ok, _ := lookup(received, k); ok {
				return in.fail(keyErr(ErrProtocol, k, v, "target answered a challenge that was not sent"))
			}
		}
		return nil
	case in.state != stateAwaitResponse:
		return in.fail(fmt.Errorf("chap: Verify called in state %q: %w", in.state, ErrState))
	}
	if err := in.verify(received); err != nil {
		return in.fail(err)
	}
	in.state = stateDone
	return nil
}

func (in *Initiator) verify(received []keys.Pair) error {
	nv, okN, err := lookup(received, keyName)
	if err != nil {
		return err
	}
	rv, okR, err := lookup(received, keyResponse)
	if err != nil {
		return err
	}
	if !okN || !okR {
		key := keyName
		if okN {
			key = keyResponse
		}
		return keyErr(ErrTargetAuthFailed, key, "", "missing: the target did not answer our challenge")
	}
	if nv != in.cfg.TargetUsername {
		return keyErr(ErrTargetAuthFailed, keyName, nv, fmt.Sprintf("target name is not %q", in.cfg.TargetUsername))
	}
	r, reason := decodeBinary(rv)
	if reason != "" {
		return keyErr(ErrMalformed, keyResponse, rv, reason)
	}
	if len(r) != in.alg.Size() {
		return keyErr(ErrTargetAuthFailed, keyResponse, rv, fmt.Sprintf("response is %d bytes, %s needs %d", len(r), in.alg, in.alg.Size()))
	}
	want := in.alg.Response(make([]byte, 0, 64), in.id, in.cfg.TargetSecret, in.challenge)
	if subtle.ConstantTimeCompare(r, want) != 1 {
		return keyErr(ErrTargetAuthFailed, keyResponse, rv, "wrong response to our challenge")
	}
	return nil
}

func (in *Initiator) fail(err error) error {
	in.state = stateFailed
	return err
}

// Done reports whether the exchange finished successfully: after Respond
// for one-way CHAP, after Verify for mutual CHAP.
func (in *Initiator) Done() bool { return in.state == stateDone }

// Mutual reports whether this exchange authenticates the target too, so
// that the session must pass the target's final pairs to Verify.
func (in *Initiator) Mutual() bool { return in.cfg.Mutual() }

// Algorithm returns the algorithm the target chose; 0 before Respond.
func (in *Initiator) Algorithm() Algorithm { return in.alg }

// String describes the exchange without secrets.
func (in *Initiator) String() string { return in.describe() }

// Format prints String for every verb, for an Initiator and a pointer to
// one alike: fmt would otherwise print the unexported configuration,
// secrets included, for %#v.
func (in Initiator) Format(f fmt.State, verb rune) { io.WriteString(f, in.describe()) }

func (in *Initiator) describe() string {
	return fmt.Sprintf("chap.Initiator{Username:%q Mutual:%v Algorithm:%v State:%s}",
		in.cfg.Username, in.cfg.Mutual(), in.alg, in.state)
}
