package conformance

import "testing"

// The all-commands data of REPORT SUPPORTED OPERATION CODES comes from the
// target: parsing it never panics and never reads past it.
func FuzzParseAllCommands(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0x28, 0, 0, 0, 0, 0, 0, 10})
	f.Add([]byte{0, 0, 0, 20, 0x9e, 0, 0, 0x10, 0, 3, 0, 16, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x12})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, ok := parseAllCommands(b)
		if !ok && len(b) >= 4 {
			t.Fatalf("rejected %d bytes", len(b))
		}
		if len(ds)*8 > len(b) {
			t.Fatalf("%d descriptors from %d bytes", len(ds), len(b))
		}
	})
}
