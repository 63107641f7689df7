package pdu

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode feeds arbitrary bytes to the BHS decoder and the AHS parser:
// nothing may panic, and decode → encode → decode must give the same value.
func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		var b BHS
		m.Encode(&b)
		f.Add(b[:])
		f.Add(append(b[:], AppendCommandAHS(nil, CommandAHS{ExtendedCDB: []byte{1, 2, 3}, HasBidiReadLength: true})...))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 47))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < BHSLen {
			_, _, _ = NextAHS(in)
			return
		}
		b := (*BHS)(in[:BHSLen])
		_ = Limits{MaxDataSegmentLength: 8192, MaxAHSLength: MaxAHSLength}.Check(b)
		_ = b.WireLength(Digests{true, true})
		if b.Opcode() == OpSCSICommand {
			_, _ = ParseCommandAHS(in[BHSLen:])
		}
		var d Decoder
		m, err := d.Decode(b)
		if err != nil {
			if b.Opcode().Known() {
				t.Fatalf("known opcode %v failed: %v", b.Opcode(), err)
			}
			return
		}
		var b2 BHS
		m.Encode(&b2)
		m2 := New(b2.Opcode())
		if err := m2.Decode(&b2); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Fatalf("decode/encode/decode differs:\n%s", diff)
		}
		// Encoding again gives the same bytes (idempotent, reserved bits cleared).
		var b3 BHS
		m2.Encode(&b3)
		if b2 != b3 {
			t.Fatalf("encoding not stable")
		}
	})
}
