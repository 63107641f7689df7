package chap

// Pair is one key=value pair of a Login Request or Response data segment.
type Pair struct {
	Key   string
	Value string
}

// The CHAP keys of RFC 7143 §12.1.3.
const (
	KeyAlgorithm  = "CHAP_A"
	KeyIdentifier = "CHAP_I"
	KeyChallenge  = "CHAP_C"
	KeyName       = "CHAP_N"
	KeyResponse   = "CHAP_R"
)

// lookup returns the value of key among pairs. A key present twice is a
// protocol error: which of the two counts would be a guess.
func lookup(pairs []Pair, key string) (string, bool, error) {
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
func require(pairs []Pair, key string) (string, error) {
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
		return 0, keyErr(ErrMalformed, KeyIdentifier, v, "identifier must be a number from 0 to 255: "+reason)
	}
	return uint8(n), nil
}

// parseChallenge decodes CHAP_C.
func parseChallenge(v string) ([]byte, error) {
	c, reason := decodeBinary(v)
	if reason != "" {
		return nil, keyErr(ErrMalformed, KeyChallenge, v, reason)
	}
	return c, nil
}
