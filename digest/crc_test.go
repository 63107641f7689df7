package digest

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// castagnoliTable is hash/crc32's own Castagnoli table, the reference the
// tests compare both implementations with.
var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// implementations returns the implementations this machine can run: always
// hash/crc32 alone ("generic"), and the AVX-512 kernel for long buffers
// where the CPU has it.
func implementations() []string {
	if hasAVX512 {
		return []string{"generic", "avx512"}
	}
	return []string{"generic"}
}

// use selects the implementation for the rest of the test (tests in this
// package do not run in parallel) and restores the default after it.
func use(t testing.TB, impl string) {
	t.Helper()
	old := useAVX512
	t.Cleanup(func() { useAVX512 = old })
	useAVX512 = impl == "avx512"
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestDefaultImplementation: the package uses the AVX-512 kernel by default
// exactly when the CPU can run it.
func TestDefaultImplementation(t *testing.T) {
	t.Logf("implementations tested on this CPU: %v", implementations())
	if useAVX512 != hasAVX512 {
		t.Fatalf("useAVX512 = %v, but hasAVX512 = %v", useAVX512, hasAVX512)
	}
}

// TestCRCEveryLength: Checksum and Update equal hash/crc32 for every length
// from 0 to 4096, at several alignments, from random initial CRCs.
func TestCRCEveryLength(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 55))
	buf := randomBytes(r, 4096+64)
	for _, impl := range implementations() {
		t.Run(impl, func(t *testing.T) {
			use(t, impl)
			for n := 0; n <= 4096; n++ {
				for _, off := range []int{0, 1, 3, 8, 15, 33} {
					p := buf[off : off+n]
					if got, want := Checksum(p), crc32.Checksum(p, castagnoliTable); got != want {
						t.Fatalf("Checksum of %d bytes at offset %d = %#08x, hash/crc32 %#08x", n, off, got, want)
					}
					init := r.Uint32()
					if got, want := Update(init, p), crc32.Update(init, castagnoliTable, p); got != want {
						t.Fatalf("Update(%#08x) of %d bytes at offset %d = %#08x, hash/crc32 %#08x", init, n, off, got, want)
					}
				}
			}
		})
	}
}

// TestCRCLarge: random buffers up to 1 MiB at random offsets, from random
// initial CRCs.
func TestCRCLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 22))
	buf := randomBytes(r, 1<<20+64)
	for _, impl := range implementations() {
		t.Run(impl, func(t *testing.T) {
			use(t, impl)
			lens := []int{1 << 20, 128 << 10, 64<<10 + 15, 8192, 4097}
			for range 100 {
				lens = append(lens, r.IntN(1<<20+1))
			}
			for _, n := range lens {
				off := r.IntN(64)
				p := buf[off : off+n]
				init := r.Uint32()
				if got, want := Update(init, p), crc32.Update(init, castagnoliTable, p); got != want {
					t.Fatalf("Update(%#08x) of %d bytes at offset %d = %#08x, hash/crc32 %#08x", init, n, off, got, want)
				}
			}
		})
	}
}

// TestCRCSplits: Update over a buffer cut into random pieces (short and
// long, so that pieces on both sides of the AVX-512 threshold alternate)
// equals the checksum of the whole.
func TestCRCSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	buf := randomBytes(r, 300<<10)
	for _, impl := range implementations() {
		t.Run(impl, func(t *testing.T) {
			use(t, impl)
			for range 50 {
				n := r.IntN(len(buf) + 1)
				want := crc32.Checksum(buf[:n], castagnoliTable)
				var crc uint32
				for off := 0; off < n; {
					k := r.IntN(600)
					if r.IntN(4) == 0 {
						k = r.IntN(20 << 10)
					}
					k = min(k, n-off)
					crc = Update(crc, buf[off:off+k])
					off += k
				}
				if crc != want {
					t.Fatalf("Update over random pieces of %d bytes = %#08x, hash/crc32 %#08x", n, crc, want)
				}
			}
		})
	}
}

// TestCRCVectors: the RFC 3720 examples and UpdatePadding hold on every
// implementation, including a long all-zero buffer summed piecewise.
func TestCRCVectors(t *testing.T) {
	zero := make([]byte, 64<<10)
	for _, impl := range implementations() {
		t.Run(impl, func(t *testing.T) {
			use(t, impl)
			for _, v := range vectors {
				if got := Checksum(v.in); got != v.crc {
					t.Errorf("%s: Checksum = %#08x, want %#08x", v.name, got, v.crc)
				}
			}
			want := crc32.Checksum(zero, castagnoliTable)
			crc := Update(Update(0, zero[:1000]), zero[1000:])
			if crc != want {
				t.Errorf("64 KiB of zeros in two pieces = %#08x, hash/crc32 %#08x", crc, want)
			}
			if got := UpdatePadding(Update(0, zero[:1001]), 1001); got != crc32.Checksum(zero[:1004], castagnoliTable) {
				t.Errorf("1001 zeros padded = %#08x, want the checksum of 1004 zeros", got)
			}
		})
	}
}

// BenchmarkImplementations compares the implementations on this machine:
// go test ./digest -run '^$' -bench Implementations, then benchstat -col /impl.
func BenchmarkImplementations(b *testing.B) {
	for _, impl := range implementations() {
		for _, size := range []struct {
			name string
			n    int
		}{{"512B", 512}, {"4KiB", 4 << 10}, {"8KiB", 8 << 10}, {"64KiB", 64 << 10}, {"128KiB", 128 << 10}, {"1MiB", 1 << 20}} {
			buf := fill(size.n, func(i int) byte { return byte(i * 7) })
			b.Run("impl="+impl+"/size="+size.name, func(b *testing.B) {
				use(b, impl)
				b.SetBytes(int64(size.n))
				var crc uint32
				for b.Loop() {
					crc = Update(crc, buf)
				}
			})
		}
	}
}
