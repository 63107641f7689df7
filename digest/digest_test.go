package digest

import (
	"bytes"
	"errors"
	"hash/crc32"
	"testing"
)

// read10PDU is the iSCSI Read(10) command PDU of RFC 3720 appendix B.4.
var read10PDU = []byte{
	0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
	0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
}

func fill(n int, f func(i int) byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = f(i)
	}
	return b
}

// vectors are the examples of RFC 3720 appendix B.4, with the digest as it
// goes on the wire.
var vectors = []struct {
	name string
	in   []byte
	crc  uint32
	wire []byte
}{
	{"32 zeros", make([]byte, 32), 0x8a9136aa, []byte{0xaa, 0x36, 0x91, 0x8a}},
	{"32 0xff", fill(32, func(int) byte { return 0xff }), 0x62a8ab43, []byte{0x43, 0xab, 0xa8, 0x62}},
	{"32 ascending", fill(32, func(i int) byte { return byte(i) }), 0x46dd794e, []byte{0x4e, 0x79, 0xdd, 0x46}},
	{"32 descending", fill(32, func(i int) byte { return byte(31 - i) }), 0x113fdb5c, []byte{0x5c, 0xdb, 0x3f, 0x11}},
	{"Read(10) PDU", read10PDU, 0xd9963a56, []byte{0x56, 0x3a, 0x96, 0xd9}},
	{"empty", nil, 0, []byte{0, 0, 0, 0}},
}

// bitwise is a reference CRC32C, one bit at a time, independent of hash/crc32.
func bitwise(crc uint32, b []byte) uint32 {
	crc = ^crc
	for _, c := range b {
		crc ^= uint32(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x82f63b78
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			if got := Checksum(v.in); got != v.crc {
				t.Errorf("Checksum = %#08x, want %#08x", got, v.crc)
			}
			if got := Update(0, v.in); got != v.crc {
				t.Errorf("Update(0) = %#08x, want %#08x", got, v.crc)
			}
			if got := bitwise(0, v.in); got != v.crc {
				t.Errorf("reference = %#08x, want %#08x", got, v.crc)
			}
			wire := Append([]byte{0xee}, Checksum(v.in))
			if !bytes.Equal(wire[1:], v.wire) || wire[0] != 0xee {
				t.Errorf("Append = % x, want ee % x", wire, v.wire)
			}
			var put [Size]byte
			Put(put[:], v.crc)
			if !bytes.Equal(put[:], v.wire) {
				t.Errorf("Put = % x, want % x", put, v.wire)
			}
			if got := Get(v.wire); got != v.crc {
				t.Errorf("Get = %#08x, want %#08x", got, v.crc)
			}
			if err := Verify(v.wire, v.crc); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// TestUpdateSplit checks that summing a buffer in pieces, at every split
// point, gives the checksum of the whole.
func TestUpdateSplit(t *testing.T) {
	b := fill(300, func(i int) byte { return byte(i*7 + i>>3) })
	want := Checksum(b)
	for i := 0; i <= len(b); i++ {
		for _, j := range []int{i, (i + len(b)) / 2, len(b)} {
			got := Update(Update(Update(0, b[:i]), b[i:j]), b[j:])
			if got != want {
				t.Fatalf("split at %d,%d: %#08x, want %#08x", i, j, got, want)
			}
		}
	}
}

func TestUpdatePadding(t *testing.T) {
	tests := []struct {
		segLen int
		pad    int
	}{{0, 0}, {1, 3}, {2, 2}, {3, 1}, {4, 0}, {5, 3}, {8191, 1}, {8192, 0}}
	for _, tt := range tests {
		seg := fill(tt.segLen, func(i int) byte { return byte(i) })
		want := Checksum(append(append([]byte(nil), seg...), make([]byte, tt.pad)...))
		if got := UpdatePadding(Checksum(seg), tt.segLen); got != want {
			t.Errorf("segment %d: %#08x, want %#08x (pad %d)", tt.segLen, got, want, tt.pad)
		}
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name     string
		wire     []byte
		computed uint32
		want     error
	}{
		{"match", []byte{0x56, 0x3a, 0x96, 0xd9}, 0xd9963a56, nil},
		{"match with trailing bytes", []byte{0x56, 0x3a, 0x96, 0xd9, 1}, 0xd9963a56, nil},
		{"byte order swapped", []byte{0xd9, 0x96, 0x3a, 0x56}, 0xd9963a56, ErrMismatch},
		{"one bit", []byte{0x57, 0x3a, 0x96, 0xd9}, 0xd9963a56, ErrMismatch},
		{"zero digest", []byte{0, 0, 0, 0}, 0xd9963a56, ErrMismatch},
		{"short", []byte{0x56, 0x3a, 0x96}, 0xd9963a56, ErrShort},
		{"nil", nil, 0, ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.wire, tt.computed)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			var me *MismatchError
			if tt.want == ErrMismatch {
				if !errors.As(err, &me) || me.Computed != tt.computed || me.Received != Get(tt.wire) {
					t.Fatalf("MismatchError = %+v", me)
				}
			}
		})
	}
}

func TestMismatchErrorMessage(t *testing.T) {
	err := Verify([]byte{0xd9, 0x96, 0x3a, 0x56}, 0xd9963a56)
	const want = "digest: CRC32C mismatch: computed 0xd9963a56, received 0x563a96d9"
	if err == nil || err.Error() != want {
		t.Fatalf("Error() = %v, want %q", err, want)
	}
}

func TestZeroAllocs(t *testing.T) {
	buf := make([]byte, 0, 16)
	wire := []byte{0x56, 0x3a, 0x96, 0xd9}
	var sink uint32
	n := testing.AllocsPerRun(100, func() {
		crc := Update(0, read10PDU)
		crc = UpdatePadding(crc, 45)
		sink ^= Checksum(read10PDU) ^ crc ^ Get(Append(buf[:0], crc))
		if Verify(wire, 0xd9963a56) != nil {
			panic("verify")
		}
	})
	if n != 0 {
		t.Errorf("allocs per run = %v, want 0", n)
	}
	_ = sink
}

// FuzzUpdate checks Checksum and a split Update against hash/crc32 on every
// implementation this CPU has (see implementations), and against the
// bitwise reference, and the wire form round trip, for any input.
func FuzzUpdate(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.in, uint8(len(v.in)/2))
	}
	f.Add(fill(5000, func(i int) byte { return byte(i * 31) }), uint8(200))
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		whole := crc32.Checksum(b, castagnoliTable)
		for _, impl := range implementations() {
			useAVX512 = impl == "avx512"
			got, i := Checksum(b), min(int(split), len(b))
			// A split the other way too: a long head and a short tail.
			j := len(b) - i
			got1, got2 := Update(Update(0, b[:i]), b[i:]), Update(Update(0, b[:j]), b[j:])
			useAVX512 = hasAVX512
			if got != whole || got1 != whole || got2 != whole {
				t.Fatalf("%s on %d bytes: Checksum %#08x, split at %d %#08x, at %d %#08x; hash/crc32 %#08x",
					impl, len(b), got, i, got1, j, got2, whole)
			}
		}
		// The bitwise reference is slow; longer inputs add nothing but
		// time, most of all when the fuzzer minimizes them.
		b = b[:min(len(b), 4096)]
		want := bitwise(0, b)
		if got := Checksum(b); got != want {
			t.Fatalf("Checksum = %#08x, reference %#08x", got, want)
		}
		i := min(int(split), len(b))
		if got := Update(Update(0, b[:i]), b[i:]); got != want {
			t.Fatalf("split at %d = %#08x, reference %#08x", i, got, want)
		}
		if got := Get(Append(nil, want)); got != want {
			t.Fatalf("wire round trip = %#08x, want %#08x", got, want)
		}
		if len(b) < Size {
			if err := Verify(b, want); !errors.Is(err, ErrShort) {
				t.Fatalf("Verify of %d bytes = %v, want ErrShort", len(b), err)
			}
		} else if err := Verify(b, Get(b)); err != nil {
			t.Fatalf("Verify of its own bytes: %v", err)
		}
	})
}

func BenchmarkChecksum(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"48B", 48}, {"512B", 512}, {"4KiB", 4 << 10}, {"8KiB", 8 << 10}, {"128KiB", 128 << 10}, {"256KiB", 256 << 10}} {
		buf := fill(size.n, func(i int) byte { return byte(i) })
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			var sink uint32
			for b.Loop() {
				sink ^= Checksum(buf)
			}
			_ = sink
		})
	}
}
