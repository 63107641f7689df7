package keys

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"8192", 8192, true}, {"0x2000", 8192, true}, {"0X2000", 8192, true},
		{"0xffFF", 65535, true}, {"007", 7, true}, {"18446744073709551615", 1<<64 - 1, true},
		{"", 0, false}, {"0x", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"1.5", 0, false},
		{" 1", 0, false}, {"0xg", 0, false}, {"12a", 0, false}, {"18446744073709551616", 0, false},
		{"0b1", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseNumber(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseNumber(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseNumber(%q) error %v does not wrap ErrSyntax", tt.in, err)
		}
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"Yes": true, "No": false} {
		got, err := ParseBool(in)
		if err != nil || got != want || FormatBool(got) != in {
			t.Errorf("ParseBool(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "yes", "NO", "true", "1", "Yes "} {
		if _, err := ParseBool(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseBool(%q) err = %v, want ErrSyntax", in, err)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("CRC32C,None")
	if err != nil || !cmp.Equal(got, []string{"CRC32C", "None"}) {
		t.Fatalf("ParseList = %v, %v", got, err)
	}
	for _, in := range []string{"", ",", "a,", ",a", "a,,b"} {
		if _, err := ParseList(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseList(%q) err = %v, want ErrSyntax", in, err)
		}
	}
}

func TestDecodeBinaryUpperCasePrefixes(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"0x00ff", []byte{0, 0xff}, true},
		{"0XABC", []byte{0x0a, 0xbc}, true},
		{"0bAP8=", []byte{0, 0xff}, true},
		{"0B3q2+7w==", []byte{0xde, 0xad, 0xbe, 0xef}, true},
		{"0x", nil, false}, {"ff", nil, false}, {"0xzz", nil, false}, {"0b!!", nil, false}, {"0q12", nil, false},
	}
	for _, tt := range tests {
		got, err := DecodeBinary(tt.in)
		if (err == nil) != tt.ok || !cmp.Equal(got, tt.want) {
			t.Errorf("DecodeBinary(%q) = %x, %v", tt.in, got, err)
		}
	}
	if s := EncodeBinary(Hex, []byte{1, 0xab}); s != "0x01ab" {
		t.Errorf("EncodeBinary(Hex) = %q", s)
	}
}
