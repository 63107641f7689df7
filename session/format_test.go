package session_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// TestSessionFormatWhileRunning: %v (and every other verb) of a live
// session prints its String, without reading what the session's
// goroutines write (run under -race: reads, writes and reconnects go on
// meanwhile).
func TestSessionFormatWhileRunning(t *testing.T) {
	var cmds atomic.Int32
	_, s := dial(t, faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		op := scsi.OpCode(c.CDB[0])
		if (op == scsi.OpWrite10 || op == scsi.OpWrite16) && cmds.Add(1) == 40 {
			c.Peer.Close() // a reconnect, to have the supervisor write too
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}, &session.Config{InitiatorAlias: "alias"})
	want := s.String()
	if !strings.HasPrefix(want, "iscsi session "+tgtName+" at ") || !strings.Contains(want, " LUN 1 ") ||
		!strings.Contains(want, s.ISID().String()) || !strings.HasSuffix(want, "(open)") {
		t.Fatalf("String = %q", want)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.WriteAt(buf, int64(w*4096)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 200 {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if got := fmt.Sprintf(verb, s); got != want {
				close(stop)
				wg.Wait()
				t.Fatalf("%s of a session = %q, want %q", verb, got, want)
			}
		}
	}
	close(stop)
	wg.Wait()
	s.Close()
	if got := fmt.Sprint(s); !strings.HasSuffix(got, "(closed)") {
		t.Fatalf("after Close: %q", got)
	}
	var none *session.Session
	if got := fmt.Sprint(none); got != "<nil>" {
		t.Fatalf("nil session: %q", got)
	}
}
