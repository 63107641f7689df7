package session_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// cmdLog records the SCSI commands a fake target saw: opcode, task
// attribute and the connection they came on.
type cmdLog struct {
	mu   sync.Mutex
	cmds []seenCmd
}

type seenCmd struct {
	op   byte
	attr uint8
	peer *faketarget.Peer
}

func (l *cmdLog) add(c *faketarget.Command) {
	l.mu.Lock()
	l.cmds = append(l.cmds, seenCmd{op: c.CDB[0], attr: c.Req.Attr, peer: c.Peer})
	l.mu.Unlock()
}

func (l *cmdLog) ordered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.cmds {
		if c.attr == pdu.AttrOrdered {
			n++
		}
	}
	return n
}

// TestRecoveryBarrierBeforeReplay: a WRITE in flight when the connection
// is lost may still be executing on the target; on the new connection the
// first command to its LUN is an ORDERED TEST UNIT READY (which the
// target starts only once every older task has ended), and the WRITE is
// sent again only after it.
func TestRecoveryBarrierBeforeReplay(t *testing.T) {
	var log cmdLog
	var dropped atomic.Bool
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		log.add(c)
		if c.CDB[0] == 0x2a && dropped.CompareAndSwap(false, true) {
			c.Peer.Close() // lost with the WRITE executing
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	ctx := ctxT(t)
	data := pattern(2048, 7)
	if _, err := s.WriteAtContext(ctx, data, 0); err != nil {
		t.Fatalf("write across a lost connection: %v", err)
	}
	log.mu.Lock()
	var first *faketarget.Peer
	barrier, replay := -1, -1
	for i, c := range log.cmds {
		if c.op == 0x2a && first == nil {
			first = c.peer
			continue
		}
		if first == nil || c.peer == first {
			continue
		}
		switch {
		case c.op == 0x00 && c.attr == pdu.AttrOrdered && barrier < 0:
			barrier = i
		case c.op == 0x2a && replay < 0:
			replay = i
		}
	}
	log.mu.Unlock()
	if barrier < 0 || replay < 0 || barrier > replay {
		t.Fatalf("on the new connection: ORDERED TEST UNIT READY at %d, the WRITE again at %d; want the barrier first (log %+v)", barrier, replay, log.cmds)
	}
	if st := s.Stats(); st.Barriers != 1 || st.Replayed != 1 {
		t.Fatalf("stats: %d barriers, %d replayed; want 1 and 1", st.Barriers, st.Replayed)
	}
	got := make([]byte, len(data))
	if _, err := s.ReadAtContext(ctx, got, 0); err != nil || string(got) != string(data) {
		t.Fatalf("read back: %v, equal %v", err, string(got) == string(data))
	}
}

// TestRecoveryNoBarrierForReads: a connection lost with only a READ in
// flight needs no barrier: nothing of it can land.
func TestRecoveryNoBarrierForReads(t *testing.T) {
	var log cmdLog
	var dropped atomic.Bool
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		log.add(c)
		if c.CDB[0] == 0x28 && dropped.CompareAndSwap(false, true) {
			c.Peer.Close()
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	_, s := dial(t, cfg, nil)
	if _, err := s.ReadAtContext(ctxT(t), make([]byte, 512), 0); err != nil {
		t.Fatalf("read across a lost connection: %v", err)
	}
	if n, b := log.ordered(), s.Stats().Barriers; n != 0 || b != 0 {
		t.Fatalf("%d ORDERED commands, %d barriers after losing a READ; want none", n, b)
	}
}

// TestDialWithISIDSendsBarrier: Dial with Config.ISID (the fence for a
// closed session) sends an ORDERED TEST UNIT READY to the URL's LUN, even
// with SkipTestUnitReady; a Dial without it sends none. Barrier on a
// LogicalUnit does the same on demand.
func TestDialWithISIDSendsBarrier(t *testing.T) {
	var log cmdLog
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		log.add(c)
		return faketarget.Proceed
	}}}
	tg, s := dial(t, cfg, nil)
	if n := log.ordered(); n != 0 {
		t.Fatalf("a Dial without ISID sent %d ORDERED commands", n)
	}
	s2, err := session.Dial(ctxT(t), url(tg, ""), &session.Config{ISID: session.NewISID(), SkipTestUnitReady: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n := log.ordered(); n != 1 {
		t.Fatalf("a Dial with ISID sent %d ORDERED commands; want 1", n)
	}
	u, err := s.LogicalUnit(uint32(s.LUN()))
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Barrier(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := log.ordered(); n != 2 {
		t.Fatalf("after Barrier: %d ORDERED commands; want 2", n)
	}
}

// TestBarrierBusy: a barrier answered BUSY or TASK SET FULL did not run, so
// it is sent again until it runs; one the target keeps refusing ends with
// the Dial's bound (LoginTimeout), as a clear error, not a hang.
func TestBarrierBusy(t *testing.T) {
	var refusals atomic.Int32
	var log cmdLog
	cfg := faketarget.Config{Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
		log.add(c)
		if c.Req.Attr == pdu.AttrOrdered && refusals.Add(1) <= 2 {
			status := scsi.StatusBusy
			if refusals.Load() == 2 {
				status = scsi.StatusTaskSetFull
			}
			_ = c.Respond(status, nil)
			return faketarget.Handled
		}
		return faketarget.Proceed
	}}}
	tg, _ := dial(t, cfg, nil)
	s2, err := session.Dial(ctxT(t), url(tg, ""), &session.Config{ISID: session.NewISID()})
	if err != nil {
		t.Fatalf("Dial through a BUSY and a TASK SET FULL barrier: %v", err)
	}
	s2.Close()
	if n := log.ordered(); n != 3 {
		t.Fatalf("%d ORDERED commands; want 3 (two refused, one run)", n)
	}

	refusals.Store(-1 << 30) // refuse every barrier from now on
	start := time.Now()
	_, err = session.Dial(ctxT(t), url(tg, ""), &session.Config{ISID: session.NewISID(), LoginTimeout: 500 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !scsi.IsRetryable(err) {
		t.Fatalf("Dial against a target that refuses every barrier: %v; want the deadline and the refusal", err)
	}
	t.Logf("gave up after %v: %v", time.Since(start).Round(time.Millisecond), err)
}
