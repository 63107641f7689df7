package keys

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReassembler(t *testing.T) {
	type seg struct {
		data string
		cont bool
	}
	tests := []struct {
		name    string
		max     int
		segs    []seg
		want    []string // completed texts, in order
		errAt   int      // index of the segment that must fail, -1 for none
		pending bool
	}{
		{name: "single", segs: []seg{{"A=1\x00", false}}, want: []string{"A=1\x00"}, errAt: -1},
		{name: "pair split", segs: []seg{{"Target", true}, {"Alias=d", true}, {"isk\x00", false}},
			want: []string{"TargetAlias=disk\x00"}, errAt: -1},
		{name: "two sequences", segs: []seg{{"A=", true}, {"1\x00", false}, {"B=2\x00", false}},
			want: []string{"A=1\x00", "B=2\x00"}, errAt: -1},
		{name: "unfinished", segs: []seg{{"A=", true}}, errAt: -1, pending: true},
		{name: "exactly max", max: 8, segs: []seg{{"A=12", true}, {"34\x00\x00", false}},
			want: []string{"A=1234\x00\x00"}, errAt: -1},
		{name: "over max in continuation", max: 8, segs: []seg{{"A=12", true}, {"345\x00\x00", false}}, errAt: 1},
		{name: "single segment over max", max: 4, segs: []seg{{"A=12\x00", false}}, errAt: 0},
		{name: "recovers after error", max: 4, segs: []seg{{"AAAA", true}, {"B", false}, {"C=1", false}},
			want: []string{"C=1"}, errAt: 1},
		{name: "empty final segment", segs: []seg{{"A=1\x00", true}, {"", false}}, want: []string{"A=1\x00"}, errAt: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reassembler{Max: tt.max}
			var got []string
			for i, s := range tt.segs {
				out, done, err := r.Add([]byte(s.data), s.cont)
				if i == tt.errAt {
					if !errors.Is(err, ErrTooLarge) {
						t.Fatalf("segment %d: err = %v, want ErrTooLarge", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("segment %d: %v", i, err)
				}
				if done {
					got = append(got, string(out))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("texts (-want +got):\n%s", diff)
			}
			if r.Pending() != tt.pending {
				t.Fatalf("Pending = %v, want %v", r.Pending(), tt.pending)
			}
		})
	}
}

func TestReassemblerDefaultMax(t *testing.T) {
	var r Reassembler
	chunk := make([]byte, 1024)
	for i := 0; i < DefaultMaxText/len(chunk); i++ {
		if _, _, err := r.Add(chunk, true); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if _, _, err := r.Add([]byte{0}, false); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("byte past DefaultMaxText: err = %v", err)
	}
	if cap(r.buf) > DefaultMaxText*2 {
		t.Fatalf("buffer grew to %d", cap(r.buf))
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		text string
		max  int
		want []string
	}{
		{"", 4, []string{""}},
		{"abc", 4, []string{"abc"}},
		{"abcd", 4, []string{"abcd"}},
		{"abcde", 4, []string{"abcd", "e"}},
		{"abcdefgh", 4, []string{"abcd", "efgh"}},
		{"abcdefghi", 2, []string{"ab", "cd", "ef", "gh", "i"}},
		{"abc", 0, []string{"abc"}},
	}
	for _, tt := range tests {
		var got []string
		var conts []bool
		for seg, c := range Segments([]byte(tt.text), tt.max) {
			got = append(got, string(seg))
			conts = append(conts, c)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Segments(%q, %d) (-want +got):\n%s", tt.text, tt.max, diff)
		}
		for i, c := range conts {
			if c != (i < len(conts)-1) {
				t.Errorf("Segments(%q, %d): C bit of piece %d = %v", tt.text, tt.max, i, c)
			}
		}
		if s := Split([]byte(tt.text), tt.max); len(s) != len(tt.want) {
			t.Errorf("Split(%q, %d) has %d pieces, want %d", tt.text, tt.max, len(s), len(tt.want))
		}
	}
	// Splitting then reassembling gives the text back.
	text := []byte(strings.Repeat("TargetName=iqn.x\x00", 100))
	var r Reassembler
	var out []byte
	for seg, c := range Segments(text, 100) {
		got, done, err := r.Add(seg, c)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			out = got
		}
	}
	if string(out) != string(text) {
		t.Fatalf("reassembled text differs")
	}
	// Stopping early is allowed.
	for range Segments(text, 10) {
		break
	}
}
