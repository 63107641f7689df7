package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeBinary(t *testing.T) {
	tests := []struct {
		in   string
		want []byte // nil: error
	}{
		{"0x00", []byte{0}},
		{"0x0A0b", []byte{0x0a, 0x0b}},
		{"0X0a0B", []byte{0x0a, 0x0b}},
		{"0xabc", []byte{0x0a, 0xbc}}, // odd: implied leading zero, as a number reads
		{"0x1", []byte{0x01}},
		{"0xfF", []byte{0xff}},
		{"0bAQID", []byte{1, 2, 3}},
		{"0BAQID", []byte{1, 2, 3}},
		{"0bAQ==", []byte{1}},
		{"0bAQ", []byte{1}}, // unpadded
		{"0bAQI=", []byte{1, 2}},
		{"0x" + strings.Repeat("ab", 1024), bytes.Repeat([]byte{0xab}, 1024)},
		{"", nil},
		{"0", nil},
		{"0x", nil},
		{"0b", nil},
		{"x12", nil},
		{"012", nil},
		{"0y12", nil},
		{"0x12 ", nil},
		{"0xg0", nil},
		{"0x-1", nil},
		{"0b!!!!", nil},
		{"0bAQ=", nil},  // wrong padding
		{"0bAR==", nil}, // non-zero trailing bits
		{"0b====", nil}, // padding only
		{"0bA", nil},    // one base64 digit is no byte
		{"0bAQ==AQ==", nil},
	}
	for _, tt := range tests {
		got, err := DecodeBinary(tt.in)
		if tt.want == nil {
			if err == nil || !errors.Is(err, ErrSyntax) {
				t.Errorf("DecodeBinary(%.20q) = %x, %v; want ErrSyntax", tt.in, got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("DecodeBinary(%.20q) = %x, %v; want %x", tt.in, got, err, tt.want)
		}
	}
}

func TestEncodeBinary(t *testing.T) {
	b := []byte{0x00, 0x0f, 0xa5, 0xff}
	if got := EncodeBinary(Hex, b); got != "0x000fa5ff" {
		t.Errorf("hex = %q", got)
	}
	if got := EncodeBinary(Base64, b); got != "0bAA+l/w==" {
		t.Errorf("base64 = %q", got)
	}
	for _, e := range []Encoding{Hex, Base64} {
		for n := 1; n < 70; n++ {
			in := make([]byte, n)
			for i := range in {
				in[i] = byte(i*37 + n)
			}
			out, err := DecodeBinary(EncodeBinary(e, in))
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("%v round trip of %d bytes: %x, %v", e, n, out, err)
			}
		}
	}
}
