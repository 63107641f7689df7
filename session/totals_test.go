package session_test

import (
	"context"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/session"
)

// TestTotals: the sum over sessions keeps the counts of a session that
// ended, and counts the open ones.
func TestTotals(t *testing.T) {
	var tot session.Totals
	if sum, open := tot.Stats(); open != 0 || sum != (session.Stats{}) {
		t.Fatalf("zero Totals: %+v, %d open", sum, open)
	}
	_, a := dial(t, faketarget.Config{}, nil)
	_, b := dial(t, faketarget.Config{}, nil)
	tot.Track(a)
	tot.Track(b)
	for _, s := range []*session.Session{a, b, a} {
		if _, err := s.ReadAt(make([]byte, 512), 0); err != nil {
			t.Fatal(err)
		}
	}
	want := a.Stats().Add(b.Stats())
	if sum, open := tot.Stats(); open != 2 || sum != want || sum.BytesRead < 3*512 {
		t.Fatalf("Totals %+v, %d open; want %+v, 2", sum, open, want)
	}
	a.Close()
	<-a.Done()
	if sum, open := tot.Stats(); open != 1 || sum != want {
		t.Fatalf("after one session ended: %+v, %d open", sum, open)
	}
	if err := b.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sum, open := tot.Stats(); open != 0 || sum.BytesRead != want.BytesRead || sum.Commands < want.Commands {
		t.Fatalf("after both ended: %+v, %d open", sum, open)
	}
}
