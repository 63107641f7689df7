package chap

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeBinaryBound(t *testing.T) {
	if b, reason := decodeBinary("0x" + strings.Repeat("ab", MaxBinaryLength)); reason != "" || len(b) != MaxBinaryLength {
		t.Fatalf("%d bytes: %d bytes, %q", MaxBinaryLength, len(b), reason)
	}
	for _, s := range []string{"0x" + strings.Repeat("ab", MaxBinaryLength) + "a", "0b" + strings.Repeat("AAAA", 342), "0xzz", ""} {
		if _, reason := decodeBinary(s); reason == "" {
			t.Errorf("decodeBinary(%.20q) accepted", s)
		}
	}
	if _, err := parseChallenge("0x"); !errors.Is(err, ErrMalformed) {
		t.Errorf("parseChallenge(0x) = %v, want ErrMalformed", err)
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"255", 255, true}, {"007", 7, true}, {"0x1f", 31, true}, {"0XFF", 255, true},
		{"256", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"", 0, false}, {"1 ", 0, false},
		{"0x", 0, false}, {"1_0", 0, false}, {"99999999999999999999999", 0, false}, {"0x0x1", 0, false},
	}
	for _, tt := range tests {
		got, reason := parseNumber(tt.in, 255)
		if (reason == "") != tt.ok || got != tt.want {
			t.Errorf("parseNumber(%q) = %d, %q; want %d ok=%v", tt.in, got, reason, tt.want, tt.ok)
		}
	}
}
