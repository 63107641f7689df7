package scsi

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var xcopySample = ExtendedCopyParameters{
	NoListID: true,
	CSCDs: []CSCDIdentification{
		{CodeSet: CodeSetBinary, Type: DesignatorNAA, Designator: []byte{0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, BlockLength: 512},
		{CodeSet: CodeSetBinary, Type: DesignatorNAA, Designator: []byte{0x30, 0xfa, 0x4e, 0, 0, 0, 0, 2}, BlockLength: 4096},
	},
	Segments: []BlockSegment{
		{Source: 0, Destination: 1, Blocks: 2048, SourceLBA: 1 << 40, DestinationLBA: 7},
		{Source: 1, Destination: 0, DC: true, Blocks: 0xffff, SourceLBA: 3, DestinationLBA: 0},
	},
}

func TestExtendedCopyParameters(t *testing.T) {
	b, err := AppendExtendedCopyParameters(nil, &xcopySample)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 16+2*32+2*28 || b[1] != 0x18 || b[3] != 64 || b[11] != 56 || b[16] != 0xe4 || b[16+64] != 0x02 {
		t.Fatalf("encoding % x", b)
	}
	// The second CSCD's block length, the first segment's source LBA.
	if !bytes.Equal(b[16+32+29:16+64], []byte{0, 0x10, 0}) || !bytes.Equal(b[16+64+12:16+64+20], []byte{0, 0, 1, 0, 0, 0, 0, 0}) {
		t.Fatalf("encoding % x", b)
	}
	p, err := ParseExtendedCopyParameters(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(xcopySample, p); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	for _, bad := range [][]byte{b[:15], b[:len(b)-1], append(bytes.Clone(b[:16]), 1)} {
		if _, err := ParseExtendedCopyParameters(bad); !errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes: %v", len(bad), err)
		}
	}
	long := xcopySample
	long.CSCDs = []CSCDIdentification{{Designator: make([]byte, 21)}}
	if _, err := AppendExtendedCopyParameters(nil, &long); !errors.Is(err, ErrFieldRange) {
		t.Errorf("21-byte designator: %v", err)
	}
}

func FuzzParseExtendedCopyParameters(f *testing.F) {
	b, _ := AppendExtendedCopyParameters(nil, &xcopySample)
	addSeeds(f, b, b[:40], b[:16])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseExtendedCopyParameters(b)
		if err != nil {
			if !errors.Is(err, ErrShortData) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		enc, err := AppendExtendedCopyParameters(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseExtendedCopyParameters(enc)
		if err != nil {
			t.Fatalf("re-encoded list: %v", err)
		}
		if d := cmp.Diff(p, q); d != "" {
			t.Fatalf("re-encoding differs (-first +second):\n%s", d)
		}
	})
}
