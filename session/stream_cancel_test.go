package session_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestStreamCancelIsOpError: a Reader or Writer whose context is cancelled
// while a command is in flight returns the *OpError its doc promises, with
// the byte offset the command started at, wrapping context.Canceled.
func TestStreamCancelIsOpError(t *testing.T) {
	held := make(chan struct{}, 64)
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		switch scsi.OpCode(c.CDB[0]) {
		case scsi.OpRead10, scsi.OpRead16, scsi.OpWrite10, scsi.OpWrite16:
			held <- struct{}{}
			return faketarget.Handled // never answered: only ABORT TASK ends it
		}
		return faketarget.Proceed
	}}}, nil)
	u := s.DefaultUnit()
	if _, err := u.Geometry(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		var oe *session.OpError
		if !errors.As(err, &oe) || !errors.Is(err, context.Canceled) || oe.Offset != 4096 {
			t.Fatalf("%s after cancel: %v (%T), want an *OpError at offset 4096 wrapping context.Canceled", what, err, err)
		}
	}

	ctx, cancel := context.WithCancel(ctxT(t))
	r := u.NewReader(ctx, 4096, 1<<20)
	go func() { <-held; cancel() }()
	_, err := r.Read(make([]byte, 512))
	check("Reader.Read", err)
	r.Close()

	ctx, cancel = context.WithCancel(ctxT(t))
	w := u.NewWriter(ctx, 4096)
	go func() { <-held; cancel() }()
	_, err = io.Copy(w, io.LimitReader(zeros{}, 1<<20))
	if err == nil {
		err = w.Flush()
	}
	check("Writer", err)
	w.Close()
	cancel()
}
