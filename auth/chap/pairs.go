package chap

import (
	"strconv"
	"strings"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

// MaxBinaryLength is the longest CHAP_C or CHAP_R, in bytes once decoded,
// that RFC 7143 §12.1.3 allows.
const MaxBinaryLength = 1024

// The CHAP keys of RFC 7143 §12.1.3, short names for keys.KeyCHAP*.
const (
	keyAlgorithm  = keys.KeyCHAPA
	keyIdentifier = keys.KeyCHAPI
	keyChallenge  = keys.KeyCHAPC
	keyName       = keys.KeyCHAPN
	keyResponse   = keys.KeyCHAPR
)

// lookup returns the value of key among pairs. A key present twice is a
// protocol error: which of the two counts would be a guess.
func lookup(pairs []keys.Pair, key string) (string, bool, error) {
	var v string
	found := false
	for _, p := range pairs {
		if p.Key != key {
			continue
		}
		if found {
			return "", false, keyErr(ErrProtocol, key, p.Value, "key sent twice")
		}
		v, found = p.Value, true
	}
	return v, found, nil
}

// require is lookup for a key that must be present.
func require(pairs []keys.Pair, key string) (string, error) {
	v, ok, err := lookup(pairs, key)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", keyErr(ErrProtocol, key, "", "missing")
	}
	return v, nil
}

// isRejectValue reports the special answers of RFC 7143 §6.2 that mean the
// peer did not accept what was offered.
func isRejectValue(v string) bool {
	return v == "Reject" || v == "NotUnderstood" || v == "Irrelevant"
}

// parseIdentifier parses CHAP_I: a number 0..255.
func parseIdentifier(v string) (uint8, error) {
	n, reason := parseNumber(v, 255)
	if reason != "" {
		return 0, keyErr(ErrMalformed, keyIdentifier, v, "identifier must be a number from 0 to 255: "+reason)
	}
	return uint8(n), nil
}

// decodeBinary decodes a CHAP_C or CHAP_R value (keys.DecodeBinary) of at
// most MaxBinaryLength bytes, or returns why not.
func decodeBinary(v string) ([]byte, string) {
	if len(v) > 2+2*MaxBinaryLength {
		return nil, "value longer than 1024 bytes"
	}
	b, err := keys.DecodeBinary(v)
	if err != nil {
		return nil, strings.TrimPrefix(err.Error(), keys.ErrSyntax.Error()+": ")
	}
	if len(b) > MaxBinaryLength {
		return nil, "value longer than 1024 bytes"
	}
	return b, ""
}

// parseNumber parses CHAP_I or CHAP_A: a decimal or 0x hex number no
// larger than max (keys.ParseNumber), or returns why not.
func parseNumber(v string, max uint64) (uint64, string) {
	n, err := keys.ParseNumber(v)
	if err != nil {
		return 0, strings.TrimPrefix(err.Error(), keys.ErrSyntax.Error()+": ")
	}
	if n > max {
		return 0, "number larger than " + strconv.FormatUint(max, 10)
	}
	return n, ""
}

// parseChallenge decodes CHAP_C.
func parseChallenge(v string) ([]byte, error) {
	c, reason := decodeBinary(v)
	if reason != "" {
		return nil, keyErr(ErrMalformed, keyChallenge, v, reason)
	}
	return c, nil
}
