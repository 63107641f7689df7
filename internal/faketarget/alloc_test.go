package faketarget

import (
	"testing"

	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

// ioCase is one steady-state I/O of the allocation test and benchmark.
type ioCase struct {
	name  string
	lun   uint32
	write bool
	size  int
}

var ioCases = []ioCase{
	{"read-ram-4k", 1, false, 4096},
	{"read-ram-256k", 1, false, 256 << 10},
	{"write-ram-4k", 1, true, 4096},
	{"write-ram-256k", 1, true, 256 << 10},
	{"read-null-4k", 2, false, 4096},
	{"read-null-256k", 2, false, 256 << 10},
	{"write-null-256k", 2, true, 256 << 10},
}

func ioTarget(tb testing.TB) *ini {
	tb.Helper()
	_, nc := Pipe(tb, Config{LUNs: []LUN{{Number: 1, Blocks: 4096}, {Number: 2, Blocks: 1 << 40, Null: true}}})
	i := newIni(tb, nc)
	offer := keys.DefaultOffer()
	offer.HeaderDigest, offer.DataDigest = []string{"None"}, []string{"None"}
	if err := i.login(loginOpts{offer: offer, offerSet: true}); err != nil {
		tb.Fatal(err)
	}
	return i
}

func (i *ini) run(c ioCase, buf []byte) error {
	var err error
	var st status
	blocks := uint32(c.size / 512)
	if c.write {
		st, err = i.do(wireLUN(c.lun), scsi.Write16(8, blocks, 0), nil, buf)
	} else {
		st, err = i.do(wireLUN(c.lun), scsi.Read16(8, blocks, 0), buf, nil)
	}
	if err == nil && st.status != scsi.StatusGood {
		i.tb.Fatalf("status %v", st.status)
	}
	return err
}

// TestZeroAllocs proves that a READ or WRITE costs no allocation in steady
// state, on either side (the test initiator allocates nothing either, and
// AllocsPerRun counts the whole process).
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, c := range ioCases {
		t.Run(c.name, func(t *testing.T) {
			i := ioTarget(t)
			buf := make([]byte, c.size)
			for range 3 { // warm up: buffers grow to their size once
				if err := i.run(c, buf); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(50, func() {
				if err := i.run(c, buf); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per command, want 0", allocs)
			}
		})
	}
}

func BenchmarkIO(b *testing.B) {
	for _, c := range ioCases {
		b.Run(c.name, func(b *testing.B) {
			i := ioTarget(b)
			buf := make([]byte, c.size)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			for b.Loop() {
				if err := i.run(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
