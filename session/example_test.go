package session_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// A LUN as an io.ReaderAt and io.WriterAt. Credentials can also come from
// LIBISCSI_CHAP_USERNAME and LIBISCSI_CHAP_PASSWORD, so that they do not
// show in ps.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, "iscsi://user%secret@192.0.2.10:3260/iqn.2003-01.org.example:disk1/1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 1000)
	if _, err := s.ReadAt(buf, 12345); err != nil { // any offset and length
		log.Fatal(err)
	}
	if _, err := s.WriteAt(buf, 1<<20); err != nil {
		log.Fatal(err)
	}
	if err := s.Logout(ctx); err != nil {
		log.Fatal(err)
	}
}

// Commands as futures filling your own buffers: no allocation per command.
// Cancelling the context aborts the command on the target.
func ExampleSession_Read() {
	ctx := context.Background()
	s, err := session.Dial(ctx, "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	g, err := s.Geometry(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// Four reads in flight at once, each of 16 blocks into two buffers of
	// the caller (a scatter-gather vector).
	futures := make([]session.Future, 4)
	for i := range futures {
		a := make([]byte, 8*int(g.BlockSize))
		b := make([]byte, 8*int(g.BlockSize))
		futures[i] = s.Read(ctx, uint64(i)*16, 16, iovector.New(a, b))
	}
	for i := range futures {
		if _, err := futures[i].Wait(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("read 64 blocks")
}

func ExampleDiscover() {
	targets, err := session.Discover(context.Background(), "iscsi://192.0.2.10", nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range targets {
		for _, p := range t.Portals {
			fmt.Printf("Target:%s Portal:%s\n", t.Name, p.Address)
		}
	}
}

// latency is a hook: it implements session.CommandHook, so the session
// calls it with every SCSI command that ends.
type latency struct {
	mu    sync.Mutex
	worst map[scsi.OpCode]time.Duration
}

func (l *latency) OnCommandDone(ev session.CommandEvent) {
	// On the session's reader goroutine: quick, and no call back into the
	// session.
	l.mu.Lock()
	if ev.Latency > l.worst[ev.Op] {
		l.worst[ev.Op] = ev.Latency
	}
	l.mu.Unlock()
	if o := ev.Outcome(); o != "ok" {
		log.Printf("%v at LBA %d of LUN %v: %s (%v)", ev.Op, ev.LBA, ev.LUN, o, ev.Err)
	}
}

// Hooks see what the session does, for metrics and tracing: a hook
// implements any of CommandHook, PDUHook, ConnStateHook and LoginHook.
// contrib/iscsiprom and contrib/iscsiotel are ready-made ones.
func ExampleCommandHook() {
	l := &latency{worst: make(map[scsi.OpCode]time.Duration)}
	ctx := context.Background()
	s, err := session.Dial(ctx, "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1",
		&session.Config{Hooks: []session.Hook{l}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadAt(make([]byte, 1<<20), 0); err != nil {
		log.Fatal(err)
	}
	l.mu.Lock()
	fmt.Println("slowest READ(10):", l.worst[scsi.OpRead10])
	l.mu.Unlock()
	// Counters that need no hook.
	st := s.Stats()
	fmt.Println(st.Commands, "commands,", st.BytesRead, "bytes read,", st.WindowStalls, "window stalls")
}

// connLog is a ConnStateHook and a LoginHook: it reports the recovery.
type connLog struct{}

func (connLog) OnConnState(ev session.StateChange) {
	log.Printf("connection to %s: %v (attempt %d, err %v)", ev.Portal, ev.State, ev.Attempt, ev.Err)
}

func (connLog) OnLogin(ev session.LoginEvent) {
	log.Printf("login to %s: %s in %v (reconnect %v)", ev.Portal, ev.Outcome(), ev.Duration, ev.Reconnect)
}

// A hook may implement several hook interfaces; one Config may carry
// several hooks, called in order.
func ExampleConnStateHook() {
	s, err := session.Dial(context.Background(), "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1",
		&session.Config{Hooks: []session.Hook{connLog{}}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}

// pduCounter is a PDUHook: it sees every PDU header (never the data).
type pduCounter struct{ sent, received atomic.Uint64 }

func (c *pduCounter) OnPDU(sent bool, h *pdu.BHS) {
	if sent {
		c.sent.Add(1)
	} else {
		c.received.Add(1)
	}
}

func ExamplePDUHook() {
	var c pduCounter
	s, err := session.Dial(context.Background(), "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1",
		&session.Config{Hooks: []session.Hook{&c}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(c.sent.Load(), "PDUs sent,", c.received.Load(), "received")
}
