package keys

import "bytes"

// Limits of the text format (RFC 7143 §6.1).
const (
	// MaxKeyLen is the longest key name: 63 bytes.
	MaxKeyLen = 63
	// MaxValueLen is the longest value this codec accepts. RFC 7143 limits
	// most values to 255 bytes and asks every implementation to receive at
	// least 8192 bytes of key=value data; the per-key limits are checked by
	// the negotiation layer.
	MaxValueLen = 8192
)

// Pair is one key=value pair of a text or login data segment.
type Pair struct {
	Key   string
	Value string
}

// Len is the number of bytes Pair takes on the wire, NUL included.
func (p Pair) Len() int { return len(p.Key) + len(p.Value) + 2 }

// String returns "key=value" (a debugging aid: do not log pairs of the
// security stage, whose values may be CHAP responses).
func (p Pair) String() string { return p.Key + "=" + p.Value }

// Parse decodes a text data segment into its pairs, in order. See
// AppendParse.
func Parse(data []byte) ([]Pair, error) { return AppendParse(nil, data) }

// AppendParse decodes the key=value pairs of data, each terminated by a NUL
// byte, and appends them to dst. Zero bytes after the last pair's NUL
// (padding) are ignored. Repeated keys are kept in order. A malformed pair
// returns the pairs decoded before it and a *SyntaxError naming the key (or,
// without a readable key, the offset).
//
// The key and value of one pair share a single allocated string; data is not
// retained.
func AppendParse(dst []Pair, data []byte) ([]Pair, error) {
	off := 0
	for off < len(data) {
		rest := data[off:]
		if rest[0] == 0 {
			if allZero(rest) {
				return dst, nil
			}
			return dst, &SyntaxError{Offset: off, Reason: "empty pair (NUL without key=value)"}
		}
		end := bytes.IndexByte(rest, 0)
		pair := rest
		if end >= 0 {
			pair = rest[:end]
		}
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 {
			// Without '=' we cannot tell a key from a value: report the
			// offset only, so a stray value is never echoed.
			if end < 0 {
				return dst, &SyntaxError{Offset: off, Reason: "truncated pair: no '=' and no NUL terminator"}
			}
			return dst, &SyntaxError{Offset: off, Reason: "no '=' in pair"}
		}
		key := pair[:eq]
		if reason := checkKey(key); reason != "" {
			return dst, &SyntaxError{Key: shortKey(key), Offset: off, Reason: reason}
		}
		if len(pair)-eq-1 > MaxValueLen {
			return dst, &SyntaxError{Key: string(key), Offset: off, Reason: "value longer than 8192 bytes"}
		}
		if end < 0 {
			return dst, &SyntaxError{Key: string(key), Offset: off, Reason: "value not terminated by NUL"}
		}
		s := string(pair)
		dst = append(dst, Pair{Key: s[:eq], Value: s[eq+1:]})
		off += end + 1
	}
	return dst, nil
}

// AppendPairs appends the wire form of pairs to dst: "key=value\x00" each.
// It allocates nothing when dst has room and writes the same bytes every
// time it is called with the same pairs. It does not validate; use
// ValidKey for keys that come from a user.
func AppendPairs(dst []byte, pairs ...Pair) []byte {
	for _, p := range pairs {
		dst = append(dst, p.Key...)
		dst = append(dst, '=')
		dst = append(dst, p.Value...)
		dst = append(dst, 0)
	}
	return dst
}

// EncodedLen is the number of bytes AppendPairs writes for pairs.
func EncodedLen(pairs ...Pair) int {
	n := 0
	for _, p := range pairs {
		n += p.Len()
	}
	return n
}

// ValidKey reports whether key is a well-formed key name: 1 to 63 bytes of
// letters, digits, '.', '-', '+', '@' and '_' (RFC 7143 §6.1), and '#' as
// the second byte of the public extension forms "X#", "Y#" and "Z#".
func ValidKey(key string) bool { return checkKey([]byte(key)) == "" }

func checkKey(key []byte) string {
	switch {
	case len(key) == 0:
		return "empty key"
	case len(key) > MaxKeyLen:
		return "key longer than 63 bytes"
	}
	for i, c := range key {
		if keyChar(c) {
			continue
		}
		if c == '#' && i == 1 && (key[0] == 'X' || key[0] == 'Y' || key[0] == 'Z') {
			continue
		}
		return "key contains a character other than letters, digits, '.', '-', '+', '@', '_'"
	}
	return ""
}

func keyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '.' || c == '-' || c == '+' || c == '@' || c == '_'
}

// shortKey bounds how much of a bad key an error repeats.
func shortKey(key []byte) string {
	if len(key) > MaxKeyLen+1 {
		return string(key[:MaxKeyLen]) + "…"
	}
	return string(key)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
