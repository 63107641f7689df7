package chap

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/iscsi-go/iscsi/auth"
)

// Algorithm is a CHAP hash algorithm, numbered as IANA assigns them for the
// PPP CHAP Algorithm field and iSCSI's CHAP_A key.
type Algorithm int

// The algorithms this package speaks. MD5 is the one every implementation
// must support (RFC 7143 §12.1.3).
const (
	MD5      Algorithm = 5
	SHA1     Algorithm = 6
	SHA256   Algorithm = 7
	SHA3_256 Algorithm = 8
)

// Valid reports whether a is one of the algorithms this package implements.
func (a Algorithm) Valid() bool { return a >= MD5 && a <= SHA3_256 }

// String returns the algorithm's name, such as "SHA-256".
func (a Algorithm) String() string {
	switch a {
	case MD5:
		return "MD5"
	case SHA1:
		return "SHA-1"
	case SHA256:
		return "SHA-256"
	case SHA3_256:
		return "SHA3-256"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// Size returns the digest size in bytes, which is the length of a CHAP_R
// value; 0 for an unknown algorithm.
func (a Algorithm) Size() int {
	switch a {
	case MD5:
		return md5.Size
	case SHA1:
		return sha1.Size
	case SHA256, SHA3_256:
		return 32
	}
	return 0
}

// New returns a new hash for the algorithm; nil for an unknown algorithm.
func (a Algorithm) New() hash.Hash {
	switch a {
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA3_256:
		return sha3.New256()
	}
	return nil
}

// Response computes the CHAP response H(id ‖ secret ‖ challenge) of RFC 1994
// §4.1 and appends it to dst. It returns dst unchanged for an unknown
// algorithm.
func (a Algorithm) Response(dst []byte, id uint8, secret auth.Secret, challenge []byte) []byte {
	h := a.New()
	if h == nil {
		return dst
	}
	h.Write([]byte{id})
	h.Write([]byte(secret.Reveal()))
	h.Write(challenge)
	return h.Sum(dst)
}

// ParseAlgorithm parses an algorithm given by IANA number ("5", "7") or by
// name, case-insensitively: "md5", "sha1" or "sha-1", "sha256" or "sha-256",
// "sha3-256" (the names libiscsi takes in its ?auth= URL argument).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(s) {
	case "md5", "5":
		return MD5, nil
	case "sha1", "sha-1", "6":
		return SHA1, nil
	case "sha256", "sha-256", "7":
		return SHA256, nil
	case "sha3-256", "sha3_256", "sha3256", "8":
		return SHA3_256, nil
	}
	return 0, fmt.Errorf("chap: unknown algorithm %q (want md5, sha1, sha-256 or sha3-256): %w", truncate(s), ErrInvalidConfig)
}

// formatAlgorithms renders a CHAP_A list such as "7,5".
func formatAlgorithms(as []Algorithm) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(a)))
	}
	return b.String()
}
