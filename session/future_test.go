package session_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestCopiedFutureNeverStealsACompletion is the bug of a copied Future: a
// copy waited for after the original's task was recycled took another
// command's completion, and that command then waited forever.
func TestCopiedFutureNeverStealsACompletion(t *testing.T) {
	tg, s := dial(t, faketarget.Config{}, nil)
	ctx := context.Background() // no deadline: a stolen completion would hang
	want := pattern(1024, 7)
	if _, err := s.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		buf, buf2 := make([]byte, 512), make([]byte, 512)
		f := s.Read(ctx, 0, 1, iovector.New(buf))
		g := f // a copy before first use
		if _, err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		h := s.Read(ctx, 1, 1, iovector.New(buf2)) // may reuse the recycled task
		if _, err := f.Wait(); !errors.Is(err, session.ErrFutureReused) {
			t.Fatalf("Wait on a copy after the original's Wait: %v, want ErrFutureReused", err)
		}
		select {
		case <-f.Done():
		default:
			t.Fatal("Done of a consumed Future is not closed")
		}
		done := make(chan error, 1)
		go func() { _, err := h.Wait(); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the unrelated command never completed: its completion was stolen")
		}
		if !bytes.Equal(buf, want[:512]) || !bytes.Equal(buf2, want[512:]) {
			t.Fatal("wrong bytes")
		}
		if _, err := h.Wait(); !errors.Is(err, session.ErrFutureReused) {
			t.Fatalf("second Wait: %v", err)
		}
	}
	var zero session.Future
	if _, err := zero.Wait(); !errors.Is(err, session.ErrFutureReused) {
		t.Fatalf("zero Future: %v", err)
	}
	noViolations(t, tg)
}

// TestFutureReadsWell: the forms a user writes first compile and work: a
// Wait chained on the call, Call for any CDB, Transferred for the residual,
// and a failed Wait that does not report GOOD.
func TestFutureReadsWell(t *testing.T) {
	_, s := dial(t, faketarget.Config{}, nil)
	ctx := ctxT(t)
	buf := make([]byte, 4096)
	v := iovector.New(buf)
	if _, err := s.Read(ctx, 0, 8, v).Wait(); err != nil {
		t.Fatal(err)
	}
	cdb := scsi.Inquiry(255)
	inq := make([]byte, 255)
	res, err := s.Call(ctx, s.LUN(), cdb, session.DirRead, iovector.New(inq))
	if err != nil {
		t.Fatal(err)
	}
	if res.Expected != 255 || res.Transferred() >= 255 || res.Transferred() < 36 || !res.Underflow {
		t.Fatalf("INQUIRY result %+v: Transferred %d", res, res.Transferred())
	}
	if _, err := scsi.ParseStandardInquiry(inq[:res.Transferred()]); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	res, err = s.Read(cctx, 0, 8, v).Wait()
	if !errors.Is(err, context.Canceled) || res.Status == scsi.StatusGood {
		t.Fatalf("cancelled Read: %+v, %v", res, err)
	}
	// An error of the data path says which command, LUN and block.
	_, err = s.Read(ctx, 1<<40, 1, iovector.New(make([]byte, 512))).Wait()
	var oe *session.OpError
	var se *scsi.StatusError
	if !errors.As(err, &oe) || oe.LBA != 1<<40 || oe.LUN != s.LUN() || !errors.As(err, &se) {
		t.Fatalf("read past the end: %v", err)
	}
}
