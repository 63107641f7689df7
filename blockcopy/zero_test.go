package blockcopy

import "testing"

func TestAllZero(t *testing.T) {
	b := make([]byte, 3<<20+5)
	if !allZero(b) || !allZero(nil) {
		t.Fatal("zeros not seen as zeros")
	}
	for _, i := range []int{0, 7, 1 << 20, 3<<20 + 4} {
		b[i] = 1
		if allZero(b) {
			t.Errorf("a 1 at %d not seen", i)
		}
		b[i] = 0
	}
}

func TestFirstDiff(t *testing.T) {
	a, b := make([]byte, 100), make([]byte, 100)
	if firstDiff(a, b) != -1 || firstDiff(a, nil) != -1 {
		t.Fatal("equal buffers differ")
	}
	a[42] = 1
	if firstDiff(a, b) != 42 || firstDiff(a, nil) != 42 {
		t.Errorf("firstDiff = %d, %d; want 42", firstDiff(a, b), firstDiff(a, nil))
	}
}

func BenchmarkAllZero(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		allZero(buf)
	}
}
