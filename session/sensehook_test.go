package session_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

type senseRecorder struct {
	mu  sync.Mutex
	got []session.SenseEvent
}

func (r *senseRecorder) OnSense(ev session.SenseEvent) {
	ev.Sense = bytes.Clone(ev.Sense) // valid during the call only
	r.mu.Lock()
	r.got = append(r.got, ev)
	r.mu.Unlock()
}

// TestSenseHook: the unit attention that ReadAt answers by sending the
// READ again, which its caller never sees, reaches the sense hook.
func TestSenseHook(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1))
	defer srv.Close()
	rec := &senseRecorder{}
	ctx := context.Background()
	s, err := session.Dial(ctx, srv.URL(), &session.Config{Hooks: []session.Hook{rec}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	srv.SetPortGroupState(1, scsi.ALUAActiveNonOptimized)
	if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
		t.Fatalf("ReadAt after the state change: %v (the unit attention is retried)", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != 1 {
		t.Fatalf("sense hook told %d times, want once: %+v", len(rec.got), rec.got)
	}
	ev := rec.got[0]
	if ev.LUN != s.LUN() || ev.Parsed.Key != scsi.SenseUnitAttention || ev.Parsed.ASC != scsi.ASCAsymmetricAccessChanged || len(ev.Sense) < 14 || ev.Sense[12] != 0x2a {
		t.Fatalf("sense event %+v", ev)
	}
}
