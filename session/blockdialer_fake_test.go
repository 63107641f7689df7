package session_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// TestBlockingDialer: a session over BlockingDialer's connections moves
// the caller's bytes both ways at queue depth 1 and 16, with futures and
// callbacks; an idle session (whose reader, blocked in read(2), is woken
// by a read deadline to give its buffer back, and which pings) still
// works; a command with a short context returns; Close ends everything
// (goleak).
func TestBlockingDialer(t *testing.T) {
	_, s := dial(t, faketarget.Config{LUNs: disk(8192)}, &session.Config{Dialer: &session.BlockingDialer{}, NOPInterval: 200 * time.Millisecond})
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(3, 4))
	check := func(lba uint64, blocks uint32) {
		t.Helper()
		data := make([]byte, blocks*512)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if _, err := s.Write(ctx, lba, blocks, iovector.New(data)).Wait(); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(data))
		if _, err := s.Read(ctx, lba, blocks, iovector.New(got)).Wait(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d blocks at %d read back differ", blocks, lba)
		}
	}
	for i := range 8 {
		check(uint64(i*300), uint32(1+i*37))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8192)
			for range 20 {
				if _, err := s.Read(ctx, uint64(g*16), 16, iovector.New(buf)).Wait(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan error, 1)
	buf := make([]byte, 4096)
	s.ReadFunc(ctx, 0, 8, iovector.New(buf), func(_ session.Result, err error) { done <- err })
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Idle for a few keepalive intervals: the reader, blocked in read(2),
	// is woken to give its buffer back, and pings go out and come back.
	time.Sleep(time.Second)
	check(5, 9)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	// A TEST UNIT READY the target answers at once; the ended context
	// must not leave the caller waiting either way.
	if err := s.DefaultUnit().TestUnitReady(short); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDefaultDialerIsBlocking: a Config without a Dialer gets a
// BlockingDialer (a blocking socket outside the netpoller on Linux).
func TestDefaultDialerIsBlocking(t *testing.T) {
	if _, ok := session.DefaultDialer().(*session.BlockingDialer); !ok {
		t.Fatalf("the default Dialer is %T, want *session.BlockingDialer", session.DefaultDialer())
	}
}
