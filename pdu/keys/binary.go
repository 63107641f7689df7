package keys

import (
	"encoding/base64"
	"fmt"
	"strconv"
)

// Encoding is how a binary value (CHAP_C, CHAP_R) is written in a key=value
// pair (RFC 7143 §6.1): hex ("0x…") or base64 ("0b…").
type Encoding int

// The two encodings of binary values. Hex is what libiscsi, open-iscsi and
// tgtd send; every implementation decodes both.
const (
	Hex Encoding = iota
	Base64
)

// String returns "hex" or "base64".
func (e Encoding) String() string {
	switch e {
	case Hex:
		return "hex"
	case Base64:
		return "base64"
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

const hexDigits = "0123456789abcdef"

// AppendBinary appends b encoded as a binary value: "0x" and lower-case hex
// digits, or "0b" and padded standard base64 (RFC 4648). An unknown encoding
// is treated as Hex.
func (e Encoding) AppendBinary(dst, b []byte) []byte {
	if e == Base64 {
		dst = append(dst, '0', 'b')
		return base64.StdEncoding.AppendEncode(dst, b)
	}
	dst = append(dst, '0', 'x')
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}

// EncodeBinary returns b encoded as a binary value in encoding e.
func EncodeBinary(e Encoding, b []byte) string { return string(e.AppendBinary(nil, b)) }

// DecodeBinary decodes a binary value: "0x" or "0X" followed by hex digits
// of either case, or "0b" or "0B" followed by base64 (padded, or unpadded
// when its length is not a multiple of 4). An odd number of hex digits
// reads as a number would (RFC 7143 §6.1): "0xabc" is the two bytes 0x0a
// 0xbc. An empty value is an error. Errors wrap ErrSyntax and do not repeat
// the value, which may be a CHAP response.
func DecodeBinary(s string) ([]byte, error) {
	b, reason := decodeBinary(s)
	if reason != "" {
		return nil, fmt.Errorf("%w: binary value: %s", ErrSyntax, reason)
	}
	return b, nil
}

// decodeBinary returns the decoded value or, on error, a reason in words.
func decodeBinary(s string) ([]byte, string) {
	if len(s) < 2 || s[0] != '0' {
		return nil, "want 0x (hex) or 0b (base64)"
	}
	body := s[2:]
	switch s[1] {
	case 'x', 'X':
		return decodeHex(body)
	case 'b', 'B':
		return decodeBase64(body)
	}
	return nil, "want 0x (hex) or 0b (base64)"
}

func decodeHex(body string) ([]byte, string) {
	if body == "" {
		return nil, "empty hex value"
	}
	n := (len(body) + 1) / 2
	out := make([]byte, n)
	// An odd count means an implied leading zero digit: decode right-aligned.
	j := len(body) - 2*n // 0 or -1
	for i := range out {
		var hi byte
		if j >= 0 {
			v, ok := hexVal(body[j])
			if !ok {
				return nil, "invalid hex digit " + strconv.QuoteRune(rune(body[j]))
			}
			hi = v
		}
		lo, ok := hexVal(body[j+1])
		if !ok {
			return nil, "invalid hex digit " + strconv.QuoteRune(rune(body[j+1]))
		}
		out[i] = hi<<4 | lo
		j += 2
	}
	return out, ""
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func decodeBase64(body string) ([]byte, string) {
	if body == "" {
		return nil, "empty base64 value"
	}
	enc := base64.StdEncoding.Strict()
	if len(body)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	out, err := enc.DecodeString(body)
	if err != nil || len(out) == 0 {
		return nil, "invalid base64"
	}
	return out, ""
}
