package session_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
)

// TestWriteDigestsFromPieces: with data digests on, writes whose Data-Out
// segments and bursts cut the 4 KiB pieces summed at submit at odd places
// (segments of 5 KiB, bursts of 13 and 23 KiB) reach the target, which
// checks every digest, with the caller's bytes; and a warm session still
// allocates nothing per 128 KiB write.
func TestWriteDigestsFromPieces(t *testing.T) {
	_, s := dial(t, faketarget.Config{PreferCRC32C: true, MaxRecvDataSegmentLength: 5120,
		FirstBurstLength: 13312, MaxBurstLength: 23552,
		LUNs: []faketarget.LUN{{Number: 1, Blocks: 4096}}}, nil)
	ctx := context.Background()
	if p := s.Params(); !p.DataDigest || !p.HeaderDigest {
		t.Fatalf("digests not negotiated: %+v", p)
	}
	r := rand.New(rand.NewPCG(22, 5))
	for _, blocks := range []uint32{1, 7, 8, 9, 64, 255, 256, 300} {
		data := make([]byte, blocks*512)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		// Buffers of odd lengths: pieces straddle them.
		v := iovector.New(data[:len(data)/3], data[len(data)/3:])
		lba := uint64(r.IntN(4096 - int(blocks)))
		if _, err := s.Write(ctx, lba, blocks, v).Wait(); err != nil {
			t.Fatalf("write of %d blocks: %v", blocks, err)
		}
		got := make([]byte, len(data))
		if _, err := s.Read(ctx, lba, blocks, iovector.New(got)).Wait(); err != nil {
			t.Fatalf("read of %d blocks: %v", blocks, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d blocks at %d: read back differs", blocks, lba)
		}
	}
	v := iovector.New(make([]byte, 128<<10))
	write := func() {
		if _, err := s.Write(ctx, 0, 256, v).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 {
		write()
	}
	if raceEnabled {
		return // sync.Pool drops tasks under the race detector: counts are not a real build's
	}
	if n := testing.AllocsPerRun(200, write); n > 0 {
		t.Fatalf("a 128 KiB write with digests allocated %v times, want 0", n)
	}
}
