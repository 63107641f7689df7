package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("k", 63)
	tests := []struct {
		name    string
		in      string
		want    []Pair
		errKey  string // key the error must name
		errOff  int
		wantErr bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "one", in: "HeaderDigest=None\x00", want: []Pair{{"HeaderDigest", "None"}}},
		{name: "two", in: "A=1\x00B=2\x00", want: []Pair{{"A", "1"}, {"B", "2"}}},
		{name: "empty value", in: "TargetAlias=\x00", want: []Pair{{"TargetAlias", ""}}},
		{name: "equals in value", in: "K=a=b\x00", want: []Pair{{"K", "a=b"}}},
		{name: "padding", in: "A=1\x00\x00\x00\x00", want: []Pair{{"A", "1"}}},
		{name: "only padding", in: "\x00\x00", want: nil},
		{name: "repeated keys kept", in: "TargetName=a\x00TargetAddress=x\x00TargetName=b\x00",
			want: []Pair{{"TargetName", "a"}, {"TargetAddress", "x"}, {"TargetName", "b"}}},
		{name: "all key chars", in: "aZ09.-+@_=v\x00", want: []Pair{{"aZ09.-+@_", "v"}}},
		{name: "public extension", in: "X#foo=v\x00", want: []Pair{{"X#foo", "v"}}},
		{name: "63 byte key", in: long + "=v\x00", want: []Pair{{long, "v"}}},
		{name: "8192 byte value", in: "K=" + strings.Repeat("v", 8192) + "\x00", want: []Pair{{"K", strings.Repeat("v", 8192)}}},
		{name: "utf-8 value", in: "TargetAlias=disque n°1\x00", want: []Pair{{"TargetAlias", "disque n°1"}}},

		{name: "no NUL", in: "A=1\x00B=2", wantErr: true, errKey: "B", errOff: 4},
		{name: "no equals", in: "A=1\x00Bogus\x00", wantErr: true, errOff: 4},
		{name: "no equals no NUL", in: "Bogus", wantErr: true, errOff: 0},
		{name: "empty key", in: "=v\x00", wantErr: true},
		{name: "empty pair in middle", in: "A=1\x00\x00B=2\x00", wantErr: true, errOff: 4},
		{name: "64 byte key", in: long + "k=v\x00", wantErr: true, errKey: long + "k"},
		{name: "space in key", in: "Bad Key=v\x00", wantErr: true, errKey: "Bad Key"},
		{name: "hash elsewhere", in: "AB#=v\x00", wantErr: true, errKey: "AB#"},
		{name: "8193 byte value", in: "Big=" + strings.Repeat("v", 8193) + "\x00", wantErr: true, errKey: "Big"},
		{name: "trailing garbage after padding", in: "A=1\x00\x00\x01", wantErr: true, errOff: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr {
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
					t.Fatalf("Parse error = %v, want *SyntaxError", err)
				}
				if se.Key != tt.errKey || (tt.errOff != 0 && se.Offset != tt.errOff) {
					t.Fatalf("error %v names key %q offset %d, want %q %d", err, se.Key, se.Offset, tt.errKey, tt.errOff)
				}
				if tt.errKey != "" && !strings.Contains(err.Error(), tt.errKey[:min(len(tt.errKey), 20)]) {
					t.Errorf("error text %q does not name the key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Parse mismatch (-want +got):\n%s", diff)
			}
			// Round trip: the encoding of the pairs is the input minus padding.
			enc := AppendPairs(nil, got...)
			if !bytes.Equal(enc, bytes.TrimRight([]byte(tt.in), "\x00")) && len(got) > 0 {
				if !bytes.HasPrefix([]byte(tt.in), enc) {
					t.Errorf("AppendPairs = %q, want prefix of %q", enc, tt.in)
				}
			}
			if EncodedLen(got...) != len(enc) {
				t.Errorf("EncodedLen = %d, want %d", EncodedLen(got...), len(enc))
			}
		})
	}
}

func TestParseErrorHidesValue(t *testing.T) {
	_, err := Parse([]byte("CHAP_R=0xdeadbeef"))
	if err == nil || strings.Contains(err.Error(), "deadbeef") {
		t.Fatalf("error %v must exist and not repeat the value", err)
	}
	_, err = Parse([]byte("sekrit-without-equals\x00"))
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("error %v must exist and not repeat text without '='", err)
	}
}

func TestAppendParseReusesSlice(t *testing.T) {
	buf := make([]Pair, 0, 4)
	got, err := AppendParse(buf, []byte("A=1\x00"))
	if err != nil || len(got) != 1 || &got[:1][0] != &buf[:1][0] {
		t.Fatalf("AppendParse did not append into the given slice: %v %v", got, err)
	}
}

func TestAppendPairs(t *testing.T) {
	pairs := []Pair{{"InitiatorName", "iqn.2024-01.io.example:host"}, {"SessionType", "Normal"}, {"X", ""}}
	want := "InitiatorName=iqn.2024-01.io.example:host\x00SessionType=Normal\x00X=\x00"
	got := AppendPairs([]byte("prefix"), pairs...)
	if string(got) != "prefix"+want {
		t.Fatalf("AppendPairs = %q", got)
	}
	// Idempotent: encoding again gives the same bytes.
	if again := AppendPairs([]byte("prefix"), pairs...); !bytes.Equal(again, got) {
		t.Fatalf("second encoding differs: %q", again)
	}
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendPairs(dst[:0], pairs...)
	})
	if allocs != 0 {
		t.Fatalf("AppendPairs allocated %v times with room in dst", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	data := AppendPairs(nil, DefaultOffer().pairs()...)
	buf := make([]Pair, 0, 32)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendParse(buf[:0], data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPairs(b *testing.B) {
	pairs := DefaultOffer().pairs()
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendPairs(dst[:0], pairs...)
	}
}
