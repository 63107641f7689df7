package chap

import (
	"bytes"
	"errors"
	"testing"

	"github.com/iscsi-go/iscsi/auth"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

// FuzzInitiatorRespond feeds the target's second-step message (CHAP_A,
// CHAP_I, CHAP_C) to a mutual initiator offering every algorithm. It never
// panics, fails only with the package's sentinels, and when it succeeds its
// CHAP_R is the right answer, computed independently.
func FuzzInitiatorRespond(f *testing.F) {
	f.Add("5", "1", "0x0102030405060708")
	f.Add("7", "255", "0bAQIDBA==")
	f.Add("8", "0x10", "0xabc")
	f.Add("Reject", "1", "0x01")
	f.Add("5,7", "-1", "0x")
	f.Add("6", "256", "0b====")
	f.Fuzz(func(t *testing.T, a, i, c string) {
		ic := initConfig(true, SHA3_256, SHA256, SHA1, MD5)
		in, err := NewInitiator(ic)
		if err != nil {
			t.Fatal(err)
		}
		in.Start()
		send, err := in.Respond([]keys.Pair{{Key: keyAlgorithm, Value: a}, {Key: keyIdentifier, Value: i}, {Key: keyChallenge, Value: c}})
		if err != nil {
			for _, s := range []error{ErrMalformed, ErrProtocol, ErrAlgorithmNotOffered, ErrAlgorithmRejected, ErrReflection} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		alg, _ := parseNumber(a, 255)
		id, _ := parseNumber(i, 255)
		challenge, _ := keys.DecodeBinary(c)
		want := reference(t, Algorithm(alg), uint8(id), initSecret, challenge)
		got, err := keys.DecodeBinary(get(t, send, keyResponse))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("CHAP_R = %x, %v; want %x", got, err, want)
		}
		ours, err := keys.DecodeBinary(get(t, send, keyChallenge))
		if err != nil || bytes.Equal(ours, challenge) {
			t.Fatalf("our challenge %x (%v) equals theirs", ours, err)
		}
	})
}

// FuzzInitiatorVerify feeds the target's final CHAP_N and CHAP_R to a
// mutual initiator: no panic, and nothing but the right answer passes.
func FuzzInitiatorVerify(f *testing.F) {
	f.Add("iqn.2024-01.test:target", "0x00112233445566778899aabbccddeeff")
	f.Add("iqn.2024-01.test:target", "0bABEiM0RVZneImaq7zN3u/w==")
	f.Add("", "")
	f.Add("x", "0x")
	f.Fuzz(func(t *testing.T, n, r string) {
		ic := initConfig(true)
		ic.Rand = bytes.NewReader(bytes.Repeat([]byte{0x33}, 64))
		in, _ := NewInitiator(ic)
		in.Start()
		if _, err := in.Respond([]keys.Pair{{Key: keyAlgorithm, Value: "5"}, {Key: keyIdentifier, Value: "1"}, {Key: keyChallenge, Value: "0x0102"}}); err != nil {
			t.Fatal(err)
		}
		err := in.Verify([]keys.Pair{{Key: keyName, Value: n}, {Key: keyResponse, Value: r}})
		right := MD5.Response(nil, 0x33, auth.NewSecret(targetSecret), bytes.Repeat([]byte{0x33}, 32))
		got, derr := keys.DecodeBinary(r)
		isRight := n == ic.TargetUsername && derr == nil && bytes.Equal(got, right)
		if (err == nil) != isRight {
			t.Fatalf("Verify(%q, %q) = %v; right answer: %v", n, r, err, isRight)
		}
		if err != nil && !errors.Is(err, ErrTargetAuthFailed) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
