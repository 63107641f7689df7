package chap

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/iscsi-go/iscsi/auth"
)

// reference computes H(id ‖ secret ‖ challenge) straight from the standard
// library, independently of Algorithm.New and Algorithm.Response.
func reference(t testing.TB, a Algorithm, id uint8, secret string, challenge []byte) []byte {
	t.Helper()
	msg := append(append([]byte{id}, secret...), challenge...)
	switch a {
	case MD5:
		s := md5.Sum(msg)
		return s[:]
	case SHA1:
		s := sha1.Sum(msg)
		return s[:]
	case SHA256:
		s := sha256.Sum256(msg)
		return s[:]
	case SHA3_256:
		s := sha3.Sum256(msg)
		return s[:]
	}
	t.Fatalf("no reference for %v", a)
	return nil
}

var allAlgorithms = []Algorithm{MD5, SHA1, SHA256, SHA3_256}

func TestResponseFixedVectors(t *testing.T) {
	// Computed outside Go (Python hashlib) over 0x2a ‖ "abcdefghijkl" ‖ 00112233…eeff.
	challenge, _ := hex.DecodeString("00112233445566778899aabbccddeeff")
	tests := []struct {
		a    Algorithm
		want string
	}{
		{MD5, "84ec6c0693f64b32dd71278521f58b3b"},
		{SHA1, "97779b489bfeabbd23ec299980053d7a6f1431df"},
		{SHA256, "141b20464b3b321d1cfcd1f410ad64b050db91ba9f9a362c898319a8cf882d58"},
		{SHA3_256, "502e5c257af814d9215783c291d1370cc3ec7cc4e54e5f8b83a9f24ef12a5870"},
	}
	for _, tt := range tests {
		t.Run(tt.a.String(), func(t *testing.T) {
			got := hex.EncodeToString(tt.a.Response(nil, 0x2a, auth.NewSecret("abcdefghijkl"), challenge))
			if got != tt.want {
				t.Errorf("Response = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestResponseMatchesReference(t *testing.T) {
	secrets := []string{"x", "abcdefghijkl", "a much longer secret of forty-some bytes!!"}
	challenges := [][]byte{{0}, bytes.Repeat([]byte{0xff}, 16), bytes.Repeat([]byte{0x5a}, 1024)}
	for _, a := range allAlgorithms {
		for _, id := range []uint8{0, 1, 127, 255} {
			for _, s := range secrets {
				for _, c := range challenges {
					got := a.Response(nil, id, auth.NewSecret(s), c)
					want := reference(t, a, id, s, c)
					if !bytes.Equal(got, want) {
						t.Fatalf("%v id=%d: got %x, want %x", a, id, got, want)
					}
					if len(got) != a.Size() {
						t.Fatalf("%v: len %d, Size %d", a, len(got), a.Size())
					}
				}
			}
		}
	}
	if got := Algorithm(9).Response([]byte("keep"), 1, auth.NewSecret("s"), []byte{1}); string(got) != "keep" {
		t.Errorf("unknown algorithm changed dst: %q", got)
	}
}

func TestAlgorithmNamesAndParse(t *testing.T) {
	tests := []struct {
		in   string
		want Algorithm
		ok   bool
	}{
		{"5", MD5, true}, {"md5", MD5, true}, {"MD5", MD5, true},
		{"6", SHA1, true}, {"sha1", SHA1, true}, {"SHA-1", SHA1, true},
		{"7", SHA256, true}, {"sha-256", SHA256, true}, {"sha256", SHA256, true},
		{"8", SHA3_256, true}, {"sha3-256", SHA3_256, true},
		{"", 0, false}, {"4", 0, false}, {"9", 0, false}, {"sha512", 0, false}, {"0x5", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseAlgorithm(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseAlgorithm(%q) error %v does not wrap ErrInvalidConfig", tt.in, err)
		}
	}
	names := map[Algorithm]string{MD5: "MD5", SHA1: "SHA-1", SHA256: "SHA-256", SHA3_256: "SHA3-256", 9: "Algorithm(9)"}
	for a, n := range names {
		if a.String() != n {
			t.Errorf("%d.String() = %q, want %q", int(a), a.String(), n)
		}
	}
	for _, a := range []Algorithm{0, 4, 9, -1} {
		if a.Valid() || a.Size() != 0 || a.New() != nil {
			t.Errorf("%v should be invalid with no size or hash", a)
		}
	}
}
