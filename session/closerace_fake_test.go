package session_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// closeRaceRounds is how many sessions TestCloseRacesRecovery closes at a
// random point of their recovery: a few hundred in CI (seconds), more with
// ISCSI_CLOSE_RACE_ROUNDS=5000 (scripts/recovery-soak.sh).
func closeRaceRounds() int {
	if n, err := strconv.Atoi(os.Getenv("ISCSI_CLOSE_RACE_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 50
	}
	return 300
}

// TestCloseRacesRecovery: Close at a random point of a recovery, with
// commands in flight and more being issued, never completes a command
// without its answer: each one ends with the target's answer (the right
// bytes) or an error (issue 17 item 14: a READ CAPACITY(16) returned no
// error and 32 bytes of zeros).
func TestCloseRacesRecovery(t *testing.T) {
	rounds := closeRaceRounds()
	var cuts atomic.Int32
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		// Every 7th READ on a connection cuts it: recoveries keep coming.
		if isRead(c.CDB) && cuts.Add(1)%7 == 0 {
			c.Peer.Close()
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	data := pattern(64*512, 5)
	cfg.LUNs = []faketarget.LUN{{Number: 1, Blocks: 64, Data: data}}
	cfg.Name = tgtName
	scfg := quickRecovery(&cfg, &session.Config{SkipTestUnitReady: true, NOPInterval: -1})
	tg := faketarget.Start(t, cfg)
	var bad atomic.Int32
	for round := range rounds {
		s, err := session.Dial(ctxT(t), url(tg, ""), scfg)
		if err != nil {
			t.Fatal(err)
		}
		const workers = 4
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if !closeRaceCommand(t, s, data, w, i, &bad) {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(rand.N(3000)) * time.Microsecond)
		s.Close()
		wg.Wait()
		if bad.Load() > 0 {
			t.Fatalf("round %d: %d commands completed without their answer", round, bad.Load())
		}
	}
}

// closeRaceCommand runs one command of worker w and checks its outcome; it
// returns false once the session has ended.
func closeRaceCommand(t *testing.T, s *session.Session, data []byte, w, i int, bad *atomic.Int32) bool {
	ctx := context.Background()
	if (w+i)%2 == 0 {
		buf := make([]byte, 32)
		res, err := s.Call(ctx, s.LUN(), scsi.ReadCapacity16(32), session.DirRead, iovector.New(buf))
		if err != nil {
			return !errors.Is(err, session.ErrSessionClosed)
		}
		if n := res.Transferred(); n < 12 || binary.BigEndian.Uint32(buf[8:12]) != 512 || binary.BigEndian.Uint64(buf) != 63 {
			t.Errorf("READ CAPACITY(16): no error, %d bytes %x (status %v)", n, buf[:12], res.Status)
			bad.Add(1)
		}
		return true
	}
	lba := uint64((w*7 + i) % 64)
	buf := make([]byte, 512)
	if _, err := s.Read(ctx, lba, 1, iovector.New(buf)).Wait(); err != nil {
		return !errors.Is(err, session.ErrSessionClosed)
	}
	if string(buf) != string(data[lba*512:lba*512+512]) {
		t.Errorf("READ of LBA %d: no error, other bytes", lba)
		bad.Add(1)
	}
	return true
}
