package chap

import (
	"bytes"
	"errors"
	"testing"

	"github.com/iscsi-go/iscsi/auth"
)

// FuzzDecodeBinary: the binary-value decoder never panics, never returns
// more than MaxBinaryLength bytes or an empty value, fails only with
// ErrMalformed, and what it decodes survives re-encoding in both encodings.
func FuzzDecodeBinary(f *testing.F) {
	for _, s := range []string{"0x00", "0xabc", "0XABCDEF", "0bAQID", "0bAQ==", "0bAQ", "0b", "0x", "", "0bAR==", "0x1g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBinary(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(b) == 0 || len(b) > MaxBinaryLength {
			t.Fatalf("decoded %d bytes", len(b))
		}
		if len(b) > len(s) {
			t.Fatalf("%d bytes from a %d-byte string", len(b), len(s))
		}
		for _, e := range []Encoding{Hex, Base64} {
			again, err := DecodeBinary(EncodeBinary(e, b))
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("%v round trip: %x, %v; want %x", e, again, err, b)
			}
		}
	})
}

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
		send, err := in.Respond([]Pair{{KeyAlgorithm, a}, {KeyIdentifier, i}, {KeyChallenge, c}})
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
		challenge, _ := DecodeBinary(c)
		want := reference(t, Algorithm(alg), uint8(id), initSecret, challenge)
		got, err := DecodeBinary(get(t, send, KeyResponse))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("CHAP_R = %x, %v; want %x", got, err, want)
		}
		ours, err := DecodeBinary(get(t, send, KeyChallenge))
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
		if _, err := in.Respond([]Pair{{KeyAlgorithm, "5"}, {KeyIdentifier, "1"}, {KeyChallenge, "0x0102"}}); err != nil {
			t.Fatal(err)
		}
		err := in.Verify([]Pair{{KeyName, n}, {KeyResponse, r}})
		right := MD5.Response(nil, 0x33, auth.NewSecret(targetSecret), bytes.Repeat([]byte{0x33}, 32))
		got, derr := DecodeBinary(r)
		isRight := n == ic.TargetUsername && derr == nil && bytes.Equal(got, right)
		if (err == nil) != isRight {
			t.Fatalf("Verify(%q, %q) = %v; right answer: %v", n, r, err, isRight)
		}
		if err != nil && !errors.Is(err, ErrTargetAuthFailed) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
