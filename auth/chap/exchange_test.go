package chap

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/auth"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

const (
	initSecret   = "Zebra-Quokka-7731-initiator"
	targetSecret = "Narwhal-Okapi-5519-target"
)

func initConfig(mutual bool, algs ...Algorithm) Config {
	c := Config{Username: "iqn.2024-01.test:init", Secret: auth.NewSecret(initSecret), Algorithms: algs}
	if mutual {
		c.TargetUsername = "iqn.2024-01.test:target"
		c.TargetSecret = auth.NewSecret(targetSecret)
	}
	return c
}

func targetConfig(algs ...Algorithm) TargetConfig {
	return TargetConfig{
		Username: "iqn.2024-01.test:init", Secret: auth.NewSecret(initSecret),
		TargetUsername: "iqn.2024-01.test:target", TargetSecret: auth.NewSecret(targetSecret),
		Algorithms: algs,
	}
}

func get(t testing.TB, pairs []keys.Pair, key string) string {
	t.Helper()
	v, ok, err := lookup(pairs, key)
	if err != nil || !ok {
		t.Fatalf("%s not in %v (%v)", key, pairs, err)
	}
	return v
}

// exchange runs a whole CHAP exchange and returns the first error and the
// step it happened in.
func exchange(t testing.TB, ic Config, tc TargetConfig) (in *Initiator, r *Responder, step string, err error) {
	t.Helper()
	in, err = NewInitiator(ic)
	if err != nil {
		return nil, nil, "NewInitiator", err
	}
	r, err = NewResponder(tc)
	if err != nil {
		return in, nil, "NewResponder", err
	}
	c, err := r.Challenge(in.Start())
	if err != nil {
		return in, r, "Challenge", err
	}
	s, err := in.Respond(c)
	if err != nil {
		return in, r, "Respond", err
	}
	reply, err := r.Verify(s)
	if err != nil {
		return in, r, "target Verify", err
	}
	if err := in.Verify(reply); err != nil {
		return in, r, "initiator Verify", err
	}
	return in, r, "", nil
}

func TestExchange(t *testing.T) {
	for _, a := range allAlgorithms {
		for _, mutual := range []bool{false, true} {
			for _, enc := range []keys.Encoding{keys.Hex, keys.Base64} {
				t.Run(fmt.Sprintf("%v/mutual=%v/%v", a, mutual, enc), func(t *testing.T) {
					ic := initConfig(mutual, a)
					ic.Encoding = enc
					tc := targetConfig()
					tc.Encoding = enc
					in, err := NewInitiator(ic)
					if err != nil {
						t.Fatal(err)
					}
					r, err := NewResponder(tc)
					if err != nil {
						t.Fatal(err)
					}
					start := in.Start()
					if got := get(t, start, keyAlgorithm); got != fmt.Sprint(int(a)) {
						t.Fatalf("CHAP_A = %q", got)
					}
					c, err := r.Challenge(start)
					if err != nil {
						t.Fatal(err)
					}
					s, err := in.Respond(c)
					if err != nil {
						t.Fatal(err)
					}
					if in.Algorithm() != a || r.Algorithm() != a {
						t.Fatalf("algorithms %v, %v; want %v", in.Algorithm(), r.Algorithm(), a)
					}
					// Check CHAP_R independently of the package's hash code.
					id, _ := parseNumber(get(t, c, keyIdentifier), 255)
					want := reference(t, a, uint8(id), initSecret, r.IssuedChallenge())
					gotR, err := keys.DecodeBinary(get(t, s, keyResponse))
					if err != nil || !bytes.Equal(gotR, want) {
						t.Fatalf("CHAP_R = %x, %v; want %x", gotR, err, want)
					}
					if wantPrefix := keys.EncodeBinary(enc, nil); !strings.HasPrefix(get(t, s, keyResponse), wantPrefix) {
						t.Errorf("CHAP_R %q not in %v", get(t, s, keyResponse), enc)
					}
					if get(t, s, keyName) != ic.Username {
						t.Errorf("CHAP_N = %q", get(t, s, keyName))
					}
					_, hasC, _ := lookup(s, keyChallenge)
					if hasC != mutual {
						t.Fatalf("CHAP_C sent = %v, mutual = %v", hasC, mutual)
					}
					if !mutual && !in.Done() {
						t.Error("one-way initiator not done after Respond")
					}
					reply, err := r.Verify(s)
					if err != nil {
						t.Fatal(err)
					}
					if (reply != nil) != mutual {
						t.Fatalf("reply %v with mutual=%v", reply, mutual)
					}
					if mutual {
						if n := len(r.PeerChallenge()); n != 2*a.Size() {
							t.Errorf("our challenge is %d bytes, want %d", n, 2*a.Size())
						}
						if in.Done() {
							t.Error("mutual initiator done before Verify")
						}
					}
					if err := in.Verify(reply); err != nil {
						t.Fatal(err)
					}
					if !in.Done() || !r.Done() {
						t.Errorf("done: initiator %v, responder %v", in.Done(), r.Done())
					}
				})
			}
		}
	}
}

func TestAlgorithmChoice(t *testing.T) {
	tests := []struct {
		offer, accept []Algorithm
		wantOffer     string
		want          Algorithm
	}{
		{nil, nil, "5", MD5},
		{[]Algorithm{SHA256, MD5}, nil, "7,5", SHA256},
		{[]Algorithm{SHA256, MD5}, []Algorithm{MD5}, "7,5", MD5},
		{[]Algorithm{SHA3_256, SHA1, MD5}, []Algorithm{SHA1, MD5}, "8,6,5", SHA1},
	}
	for _, tt := range tests {
		in, err := NewInitiator(initConfig(true, tt.offer...))
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, in.Start(), keyAlgorithm); got != tt.wantOffer {
			t.Errorf("offer %v: CHAP_A=%q, want %q", tt.offer, got, tt.wantOffer)
		}
		in2, r, step, err := exchange(t, initConfig(true, tt.offer...), targetConfig(tt.accept...))
		if err != nil {
			t.Fatalf("offer %v accept %v: %s: %v", tt.offer, tt.accept, step, err)
		}
		if in2.Algorithm() != tt.want || r.Algorithm() != tt.want {
			t.Errorf("offer %v accept %v: chose %v/%v, want %v", tt.offer, tt.accept, in2.Algorithm(), r.Algorithm(), tt.want)
		}
	}
	// The responder skips values it does not understand.
	r, _ := NewResponder(targetConfig(MD5))
	if _, err := r.Challenge([]keys.Pair{{Key: keyAlgorithm, Value: "x,99,5"}}); err != nil || r.Algorithm() != MD5 {
		t.Errorf("responder on x,99,5: %v, %v", r.Algorithm(), err)
	}
	r, _ = NewResponder(targetConfig(MD5))
	if _, err := r.Challenge([]keys.Pair{{Key: keyAlgorithm, Value: "7,8"}}); !errors.Is(err, ErrNoCommonAlgorithm) {
		t.Errorf("responder with nothing in common: %v", err)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	tests := []struct {
		name     string
		ic       func(*Config)
		tc       func(*TargetConfig)
		wantStep string
		want     error
		wantKey  string
	}{
		{"initiator wrong secret", func(c *Config) { c.Secret = auth.NewSecret("wrong-secret-123") }, nil,
			"target Verify", ErrInitiatorAuthFailed, keyResponse},
		{"initiator wrong name", func(c *Config) { c.Username = "someone-else" }, nil,
			"target Verify", ErrInitiatorAuthFailed, keyName},
		{"target wrong secret", nil, func(c *TargetConfig) { c.TargetSecret = auth.NewSecret("wrong-secret-456") },
			"initiator Verify", ErrTargetAuthFailed, keyResponse},
		{"target wrong name", nil, func(c *TargetConfig) { c.TargetUsername = "impostor" },
			"initiator Verify", ErrTargetAuthFailed, keyName},
		{"target name knob", nil, func(c *TargetConfig) { c.Misbehave.Name = "impostor" },
			"initiator Verify", ErrTargetAuthFailed, keyName},
		{"target wrong response", nil, func(c *TargetConfig) { c.Misbehave.WrongResponse = true },
			"initiator Verify", ErrTargetAuthFailed, keyResponse},
		{"target does not answer", nil, func(c *TargetConfig) { c.Misbehave.OmitResponse = true },
			"initiator Verify", ErrTargetAuthFailed, keyName},
		{"target answers with the initiator's secret", nil, func(c *TargetConfig) {
			c.TargetSecret, c.Secret = auth.NewSecret(initSecret), auth.NewSecret(targetSecret)
		}, "target Verify", ErrInitiatorAuthFailed, keyResponse},
		{"target has no mutual account", nil, func(c *TargetConfig) { c.TargetUsername, c.TargetSecret = "", auth.Secret{} },
			"target Verify", ErrInitiatorAuthFailed, keyChallenge},
		{"target chooses SHA-256 not offered", nil, func(c *TargetConfig) { c.Misbehave.Algorithm = SHA256 },
			"Respond", ErrAlgorithmNotOffered, keyAlgorithm},
		{"target answers Reject", nil, func(c *TargetConfig) { c.Misbehave.RawAlgorithm = "Reject" },
			"Respond", ErrAlgorithmRejected, keyAlgorithm},
		{"target answers a list", nil, func(c *TargetConfig) { c.Misbehave.RawAlgorithm = "5,7" },
			"Respond", ErrProtocol, keyAlgorithm},
		{"target answers garbage algorithm", nil, func(c *TargetConfig) { c.Misbehave.RawAlgorithm = "five" },
			"Respond", ErrMalformed, keyAlgorithm},
		{"identifier 256", nil, func(c *TargetConfig) { c.Misbehave.RawIdentifier = "256" },
			"Respond", ErrMalformed, keyIdentifier},
		{"bad hex challenge", nil, func(c *TargetConfig) { c.Misbehave.RawChallenge = "0x12zz" },
			"Respond", ErrMalformed, keyChallenge},
		{"bad base64 challenge", nil, func(c *TargetConfig) { c.Misbehave.RawChallenge = "0b@@@@" },
			"Respond", ErrMalformed, keyChallenge},
		{"oversized challenge", nil, func(c *TargetConfig) { c.ChallengeLength = 0; c.Misbehave.Challenge = make([]byte, 1025) },
			"Respond", ErrMalformed, keyChallenge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic, tc := initConfig(true), targetConfig()
			if tt.ic != nil {
				tt.ic(&ic)
			}
			if tt.tc != nil {
				tt.tc(&tc)
			}
			in, _, step, err := exchange(t, ic, tc)
			if step != tt.wantStep || !errors.Is(err, tt.want) {
				t.Fatalf("failed at %q with %v; want %q with %v", step, err, tt.wantStep, tt.want)
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.wantKey {
				t.Fatalf("error %v names key %v, want %s", err, ke, tt.wantKey)
			}
			if in != nil && in.Done() {
				t.Error("initiator reports done after a failure")
			}
		})
	}
}

func TestOneWayLargeChallenges(t *testing.T) {
	// tgtd issues 50-byte challenges; the RFC allows up to 1024.
	for _, n := range []int{1, 16, 50, 1024} {
		tc := targetConfig()
		tc.ChallengeLength = n
		if _, _, step, err := exchange(t, initConfig(false), tc); err != nil {
			t.Errorf("challenge of %d bytes: %s: %v", n, step, err)
		}
	}
}

func TestReflection(t *testing.T) {
	// Connection 1: the target learns the initiator's challenge.
	_, r1, _, err := exchange(t, initConfig(true), targetConfig())
	if err != nil {
		t.Fatal(err)
	}
	ours := r1.PeerChallenge()
	// Connection 2: the target hands it back for the initiator to answer.
	tc := targetConfig()
	tc.Misbehave.Challenge = ours
	_, _, step, err := exchange(t, initConfig(true), tc)
	if step != "Respond" || !errors.Is(err, ErrReflection) {
		t.Fatalf("reflected challenge: %s: %v; want ErrReflection at Respond", step, err)
	}

	// The responder refuses an initiator that sends back the target's challenge.
	r, _ := NewResponder(targetConfig())
	c, _ := r.Challenge([]keys.Pair{{Key: keyAlgorithm, Value: "5"}})
	id, _ := parseNumber(get(t, c, keyIdentifier), 255)
	resp := MD5.Response(nil, uint8(id), auth.NewSecret(initSecret), r.IssuedChallenge())
	_, err = r.Verify([]keys.Pair{
		{Key: keyName, Value: "iqn.2024-01.test:init"}, {Key: keyResponse, Value: keys.EncodeBinary(keys.Hex, resp)},
		{Key: keyIdentifier, Value: "1"}, {Key: keyChallenge, Value: get(t, c, keyChallenge)},
	})
	if !errors.Is(err, ErrReflection) {
		t.Fatalf("responder given its own challenge: %v", err)
	}
}

// scriptedReader returns its chunks in turn, then repeats the last one.
type scriptedReader struct{ chunks [][]byte }

func (s *scriptedReader) Read(p []byte) (int, error) {
	c := s.chunks[0]
	if len(s.chunks) > 1 {
		s.chunks = s.chunks[1:]
	}
	return copy(p, c), nil
}

func TestOurChallengeNeverEqualsTheirs(t *testing.T) {
	theirs := bytes.Repeat([]byte{0x42}, 32) // MD5: our challenges are 32 bytes too
	other := bytes.Repeat([]byte{0x17}, 32)
	target := []keys.Pair{{Key: keyAlgorithm, Value: "5"}, {Key: keyIdentifier, Value: "9"}, {Key: keyChallenge, Value: keys.EncodeBinary(keys.Hex, theirs)}}

	ic := initConfig(true)
	ic.Rand = &scriptedReader{[][]byte{{7}, theirs, other}}
	in, _ := NewInitiator(ic)
	in.Start()
	s, err := in.Respond(target)
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, keyChallenge); got != keys.EncodeBinary(keys.Hex, other) {
		t.Errorf("CHAP_C = %s; want the redrawn %x", got, other)
	}
	if got := get(t, s, keyIdentifier); got != "7" {
		t.Errorf("CHAP_I = %s, want 7", got)
	}

	// A random source stuck on their challenge is an error, not a reuse.
	ic.Rand = &scriptedReader{[][]byte{{7}, theirs}}
	in, _ = NewInitiator(ic)
	in.Start()
	if _, err := in.Respond(target); !errors.Is(err, ErrReflection) {
		t.Errorf("stuck random source: %v", err)
	}
	// A failing random source is reported.
	ic.Rand = strings.NewReader("")
	in, _ = NewInitiator(ic)
	in.Start()
	if _, err := in.Respond(target); err == nil {
		t.Error("empty random source: no error")
	}
}

func TestMalformedTargetChallenge(t *testing.T) {
	ok := []keys.Pair{{Key: keyAlgorithm, Value: "5"}, {Key: keyIdentifier, Value: "1"}, {Key: keyChallenge, Value: "0x0102030405060708"}}
	with := func(key, value string) []keys.Pair {
		out := []keys.Pair{{Key: "TargetPortalGroupTag", Value: "1"}}
		for _, p := range ok {
			if p.Key == key {
				p.Value = value
			}
			out = append(out, p)
		}
		return out
	}
	without := func(key string) []keys.Pair {
		var out []keys.Pair
		for _, p := range ok {
			if p.Key != key {
				out = append(out, p)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		pairs []keys.Pair
		want  error
		key   string
	}{
		{"identifier negative", with(keyIdentifier, "-1"), ErrMalformed, keyIdentifier},
		{"identifier empty", with(keyIdentifier, ""), ErrMalformed, keyIdentifier},
		{"identifier words", with(keyIdentifier, "one"), ErrMalformed, keyIdentifier},
		{"identifier 256", with(keyIdentifier, "256"), ErrMalformed, keyIdentifier},
		{"challenge empty", with(keyChallenge, ""), ErrMalformed, keyChallenge},
		{"challenge no digits", with(keyChallenge, "0x"), ErrMalformed, keyChallenge},
		{"challenge no prefix", with(keyChallenge, "0102"), ErrMalformed, keyChallenge},
		{"challenge bad digit", with(keyChallenge, "0x01G2"), ErrMalformed, keyChallenge},
		{"challenge 1025 bytes", with(keyChallenge, "0x"+strings.Repeat("00", 1025)), ErrMalformed, keyChallenge},
		{"missing CHAP_A", without(keyAlgorithm), ErrProtocol, keyAlgorithm},
		{"missing CHAP_I", without(keyIdentifier), ErrProtocol, keyIdentifier},
		{"missing CHAP_C", without(keyChallenge), ErrProtocol, keyChallenge},
		{"CHAP_C twice", append(with(keyChallenge, "0x01"), keys.Pair{Key: keyChallenge, Value: "0x02"}), ErrProtocol, keyChallenge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := NewInitiator(initConfig(false))
			in.Start()
			_, err := in.Respond(tt.pairs)
			var ke *KeyError
			if !errors.Is(err, tt.want) || !errors.As(err, &ke) || ke.Key != tt.key {
				t.Fatalf("Respond = %v; want %v on %s", err, tt.want, tt.key)
			}
		})
	}
	// The odd-length and base64 forms are accepted.
	for _, c := range []string{"0xabc", "0XABCDEF", "0bAQIDBA==", "0BAQIDBA"} {
		in, _ := NewInitiator(initConfig(false))
		in.Start()
		if _, err := in.Respond(with(keyChallenge, c)); err != nil {
			t.Errorf("challenge %q: %v", c, err)
		}
	}
}

func TestTargetResponseChecks(t *testing.T) {
	setup := func(t *testing.T) (*Initiator, []keys.Pair) {
		in, _ := NewInitiator(initConfig(true, SHA256))
		r, _ := NewResponder(targetConfig())
		c, _ := r.Challenge(in.Start())
		s, err := in.Respond(c)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := r.Verify(s)
		if err != nil {
			t.Fatal(err)
		}
		return in, reply
	}
	replace := func(pairs []keys.Pair, key, value string) []keys.Pair {
		out := append([]keys.Pair(nil), pairs...)
		for i := range out {
			if out[i].Key == key {
				out[i].Value = value
			}
		}
		return out
	}
	_, good := setup(t)
	goodR, _ := keys.DecodeBinary(get(t, good, keyResponse))
	tests := []struct {
		name   string
		mutate func([]keys.Pair) []keys.Pair
		want   error
	}{
		{"truncated response", func(p []keys.Pair) []keys.Pair {
			return replace(p, keyResponse, keys.EncodeBinary(keys.Hex, goodR[:16]))
		}, ErrTargetAuthFailed},
		{"response too long", func(p []keys.Pair) []keys.Pair {
			return replace(p, keyResponse, keys.EncodeBinary(keys.Hex, append(append([]byte(nil), goodR...), 0)))
		}, ErrTargetAuthFailed},
		{"malformed response", func(p []keys.Pair) []keys.Pair { return replace(p, keyResponse, "0xnothex") }, ErrMalformed},
		{"name case differs", func(p []keys.Pair) []keys.Pair { return replace(p, keyName, "IQN.2024-01.test:target") }, ErrTargetAuthFailed},
		{"missing response", func(p []keys.Pair) []keys.Pair { return p[:1] }, ErrTargetAuthFailed},
		{"nothing", func([]keys.Pair) []keys.Pair { return nil }, ErrTargetAuthFailed},
		{"response twice", func(p []keys.Pair) []keys.Pair { return append(p, p[1]) }, ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, reply := setup(t)
			// The same response computed for another exchange must not pass either.
			if err := in.Verify(tt.mutate(reply)); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if in.Done() {
				t.Fatal("done after failed Verify")
			}
		})
	}
	// A response from another exchange (replay) fails.
	in, _ := setup(t)
	if err := in.Verify(good); !errors.Is(err, ErrTargetAuthFailed) {
		t.Errorf("replayed response: %v", err)
	}
}

func TestStateMachine(t *testing.T) {
	in, _ := NewInitiator(initConfig(true))
	if _, err := in.Respond(nil); !errors.Is(err, ErrState) {
		t.Errorf("Respond before Start: %v", err)
	}
	// A failed exchange stays failed.
	if _, err := in.Respond(nil); !errors.Is(err, ErrState) {
		t.Errorf("Respond after failure: %v", err)
	}
	in, _ = NewInitiator(initConfig(true))
	if err := in.Verify(nil); !errors.Is(err, ErrState) {
		t.Errorf("Verify before Respond: %v", err)
	}
	if got := get(t, in.Start(), keyAlgorithm); got != "5" {
		t.Errorf("Start after failure still returns the offer, got %q", got)
	}

	// One-way: Verify accepts a final response without CHAP keys and
	// refuses an answer to a challenge never sent.
	in, _ = NewInitiator(initConfig(false))
	r, _ := NewResponder(targetConfig())
	c, _ := r.Challenge(in.Start())
	if _, err := in.Respond(c); err != nil {
		t.Fatal(err)
	}
	if err := in.Verify([]keys.Pair{{Key: "HeaderDigest", Value: "None"}}); err != nil || !in.Done() {
		t.Errorf("one-way Verify: %v, done=%v", err, in.Done())
	}
	if err := in.Verify([]keys.Pair{{Key: keyName, Value: "x"}, {Key: keyResponse, Value: "0x00"}}); !errors.Is(err, ErrProtocol) {
		t.Errorf("one-way Verify with unsolicited CHAP_R: %v", err)
	}

	r, _ = NewResponder(targetConfig())
	if _, err := r.Verify(nil); !errors.Is(err, ErrState) {
		t.Errorf("responder Verify before Challenge: %v", err)
	}
	r, _ = NewResponder(targetConfig())
	r.Challenge([]keys.Pair{{Key: keyAlgorithm, Value: "5"}})
	if _, err := r.Challenge([]keys.Pair{{Key: keyAlgorithm, Value: "5"}}); !errors.Is(err, ErrState) {
		t.Errorf("responder Challenge twice: %v", err)
	}
	for _, tt := range []struct {
		pairs []keys.Pair
		want  error
	}{
		{[]keys.Pair{}, ErrProtocol},
		{[]keys.Pair{{Key: keyAlgorithm, Value: ""}}, ErrMalformed},
	} {
		r, _ = NewResponder(targetConfig())
		if _, err := r.Challenge(tt.pairs); !errors.Is(err, tt.want) {
			t.Errorf("Challenge(%v) = %v, want %v", tt.pairs, err, tt.want)
		}
	}
	// The responder wants CHAP_I and CHAP_C together.
	for _, drop := range []string{keyIdentifier, keyChallenge} {
		in, _ := NewInitiator(initConfig(true))
		r, _ := NewResponder(targetConfig())
		c, _ := r.Challenge(in.Start())
		s, _ := in.Respond(c)
		var kept []keys.Pair
		for _, p := range s {
			if p.Key != drop {
				kept = append(kept, p)
			}
		}
		if _, err := r.Verify(kept); !errors.Is(err, ErrProtocol) {
			t.Errorf("without %s: %v", drop, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"one-way", func(c *Config) { c.TargetUsername, c.TargetSecret = "", auth.Secret{} }, true},
		{"mutual", func(*Config) {}, true},
		{"all algorithms", func(c *Config) { c.Algorithms = []Algorithm{SHA3_256, SHA256, SHA1, MD5} }, true},
		{"no username", func(c *Config) { c.Username = "" }, false},
		{"no secret", func(c *Config) { c.Secret = auth.Secret{} }, false},
		{"NUL in username", func(c *Config) { c.Username = "a\x00b" }, false},
		{"username too long", func(c *Config) { c.Username = strings.Repeat("u", 256) }, false},
		{"target secret without name", func(c *Config) { c.TargetUsername = "" }, false},
		{"target name without secret", func(c *Config) { c.TargetSecret = auth.Secret{} }, false},
		{"equal secrets", func(c *Config) { c.TargetSecret = auth.NewSecret(initSecret) }, false},
		{"unknown algorithm", func(c *Config) { c.Algorithms = []Algorithm{MD5, 9} }, false},
		{"repeated algorithm", func(c *Config) { c.Algorithms = []Algorithm{MD5, MD5} }, false},
		{"unknown encoding", func(c *Config) { c.Encoding = 7 }, false},
	}
	for _, tt := range tests {
		c := initConfig(true)
		tt.edit(&c)
		err := c.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v does not wrap ErrInvalidConfig", tt.name, err)
		}
		if _, nerr := NewInitiator(c); (nerr == nil) != tt.ok {
			t.Errorf("%s: NewInitiator = %v", tt.name, nerr)
		}
	}
	tc := targetConfig()
	tc.TargetSecret = auth.NewSecret(initSecret)
	if _, err := NewResponder(tc); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("responder with equal secrets: %v", err)
	}
	for _, n := range []int{-1, 1025} {
		tc := targetConfig()
		tc.ChallengeLength = n
		if _, err := NewResponder(tc); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("responder with challenge length %d: %v", n, err)
		}
	}
}

func TestCheckAuthMethod(t *testing.T) {
	tests := []struct {
		chap, allowNone bool
		answered        string
		want            error
	}{
		{true, false, "CHAP", nil},
		{true, true, "CHAP", nil},
		{true, true, "None", nil},
		{false, false, "None", nil},
		{true, false, "None", ErrDowngrade},
		{false, false, "CHAP", ErrCredentialsRequired},
		{true, false, "Reject", ErrAuthMethodRejected},
		{true, true, "NotUnderstood", ErrAuthMethodRejected},
		{true, false, "SRP", ErrAuthMethodRejected},
		{true, true, "CHAP,None", ErrAuthMethodRejected},
		{true, false, "", ErrAuthMethodRejected},
		{true, false, "chap", ErrAuthMethodRejected},
	}
	for _, tt := range tests {
		err := CheckAuthMethod(tt.chap, tt.allowNone, tt.answered)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("CheckAuthMethod(%v, %v, %q) = %v, want %v", tt.chap, tt.allowNone, tt.answered, err, tt.want)
		}
	}
	offers := map[[2]bool]string{{true, false}: "CHAP", {true, true}: "CHAP,None", {false, false}: "None", {false, true}: "None"}
	for k, want := range offers {
		if got := AuthMethodOffer(k[0], k[1]); got != want {
			t.Errorf("AuthMethodOffer(%v, %v) = %q, want %q", k[0], k[1], got, want)
		}
	}
}

// TestSecretsNeverShown formats every value and every error this package
// produces with distinctive secrets, and looks for them.
func TestSecretsNeverShown(t *testing.T) {
	var texts []string
	add := func(v any) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
			texts = append(texts, fmt.Sprintf(verb, v))
		}
	}
	ic := initConfig(true, SHA256, MD5)
	tc := targetConfig()
	add(ic)
	add(&ic)
	add(tc)
	add(&tc)
	in, r, _, err := exchange(t, ic, tc)
	if err != nil {
		t.Fatal(err)
	}
	add(in)
	add(*in)
	add(r)
	add(*r)

	// Every failure path of the exchange.
	edits := []func(*Config, *TargetConfig){
		func(c *Config, _ *TargetConfig) { c.Secret = auth.NewSecret(targetSecret) },
		func(c *Config, _ *TargetConfig) { c.TargetSecret = auth.NewSecret(initSecret) },
		func(c *Config, _ *TargetConfig) { c.Username = "" },
		func(c *Config, _ *TargetConfig) { c.Secret = auth.NewSecret("Zebra-Quokka-7731-wrong") },
		func(_ *Config, t *TargetConfig) { t.TargetSecret = auth.NewSecret("Narwhal-Okapi-5519-wrong") },
		func(_ *Config, t *TargetConfig) { t.Misbehave.WrongResponse = true },
		func(_ *Config, t *TargetConfig) { t.Misbehave.Name = "x" },
		func(_ *Config, t *TargetConfig) { t.Misbehave.RawChallenge = "0xzz" },
		func(_ *Config, t *TargetConfig) { t.Misbehave.Algorithm = SHA1 },
		func(_ *Config, t *TargetConfig) { t.Misbehave.OmitResponse = true },
		func(_ *Config, t *TargetConfig) { t.Secret = auth.NewSecret(targetSecret) },
	}
	for _, edit := range edits {
		ic, tc := initConfig(true, SHA256, MD5), targetConfig()
		edit(&ic, &tc)
		in, r, _, err := exchange(t, ic, tc)
		if err == nil {
			t.Fatalf("edit %d did not fail", len(texts))
		}
		add(err)
		add(ic)
		add(tc)
		if in != nil {
			add(in)
		}
		if r != nil {
			add(r)
		}
	}
	for _, text := range texts {
		for _, s := range []string{initSecret, targetSecret, "Zebra-Quokka", "Narwhal-Okapi"} {
			for _, form := range []string{s, fmt.Sprintf("%x", s), fmt.Sprintf("%X", s)} {
				if strings.Contains(text, form) {
					t.Fatalf("secret shown: %q", text)
				}
			}
		}
	}
}
