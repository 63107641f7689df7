package session_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
)

// TestStreamingReadsWithAShortAnswer: many 128 KiB reads in flight at once,
// each read from the socket straight into its buffer, one of them answered
// by a bare CHECK CONDITION between the others' large Data-In PDUs: it
// fails, every other read returns its bytes, and nothing hangs. Several
// rounds, as the timing of the short answer against the others' data
// varies.
func TestStreamingReadsWithAShortAnswer(t *testing.T) {
	streamingReads(t, 4096, 256) // 2 MiB in 16 reads of 128 KiB
}

// TestManySmallReadsWithAShortAnswer: the same with 64 reads of 4 KiB in
// flight at once, which the reader expects to come several together (the
// blocking socket naps before it reads, conn.ExpectBytes).
func TestManySmallReadsWithAShortAnswer(t *testing.T) {
	streamingReads(t, 512, 8) // 256 KiB in 64 reads of 4 KiB
}

// streamingReads reads blocks of 512 bytes in reads of per blocks, all at
// once, in 5 rounds; the sixth read is answered MEDIUM ERROR.
func streamingReads(t *testing.T, blocks, per int) {
	failLBA := uint64(5 * per)
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		if !isRead(c.CDB) || lbaOf(c.CDB) != failLBA {
			return faketarget.Proceed
		}
		_ = c.Respond(scsi.StatusCheckCondition, faketarget.FixedSense(scsi.SenseMediumError, 0x1100))
		return faketarget.Handled
	}}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	data := pattern(blocks*512, 3)
	if _, err := s.WriteAtContext(ctx, data, 0); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		errs := make([]error, blocks/per)
		got := make([]byte, len(data))
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				off := i * per * 512
				_, errs[i] = s.ReadAtContext(ctx, got[off:off+per*512], int64(off))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			off := i * per * 512
			if uint64(i*per) == failLBA {
				var se *scsi.StatusError
				if !errors.As(err, &se) || se.Sense == nil || se.Sense.Key != scsi.SenseMediumError {
					t.Fatalf("round %d: the read answered MEDIUM ERROR returned %v", round, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("round %d: read %d: %v", round, i, err)
			}
			if !bytes.Equal(got[off:off+per*512], data[off:off+per*512]) {
				t.Fatalf("round %d: read %d: bytes differ", round, i)
			}
		}
	}
}
