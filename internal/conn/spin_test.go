//go:build linux

package conn

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
)

// spinOnce runs c's RawConn.Read function once on its socket, as the
// netpoller would, and reports what it returned.
func spinOnce(t *testing.T, c *Conn, p []byte, want spinMode) bool {
	t.Helper()
	sr := &c.sr
	sr.p, sr.n, sr.err, sr.spun, sr.want = p, 0, nil, false, want
	var ok bool
	if err := sr.rc.Control(func(fd uintptr) { ok = c.spinRead(fd) }); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestSpinAdapts: a spin that finds the socket empty halves the budget,
// down to no spin at all; without spinning the reader parks at once, and
// tries again with the shortest spin after spinRetry parks. A header wait
// spins only if SpinWhile says so, and asks only when the socket is empty.
// Data and the end of the stream end a spin.
func TestSpinAdapts(t *testing.T) {
	oldMax, oldMin := spinMax, spinMin
	t.Cleanup(func() { spinMax, spinMin = oldMax, oldMin })
	spinMax, spinMin = 4000, 2000
	a, b := tcpPair(t)
	if a.sr.rc == nil {
		t.Fatal("no raw socket on a TCP connection")
	}
	sr := &a.sr
	sr.budget = spinMax
	p := make([]byte, 64)

	asked := 0
	a.SpinWhile(func() bool { asked++; return false })
	if spinOnce(t, a, p, spinAsk) || asked != 1 || sr.budget != 4000 {
		t.Fatalf("header wait, nothing in flight: asked %d times, budget %d; want a park without a spin, 1, 4000", asked, sr.budget)
	}
	for i, want := range []int64{2000, 0} {
		if spinOnce(t, a, p, spinYes) {
			t.Fatalf("spin %d on an empty socket returned true", i)
		}
		if sr.budget != want {
			t.Fatalf("after empty spin %d: budget %d, want %d", i, sr.budget, want)
		}
	}
	for i := 1; i < spinRetry; i++ {
		if spinOnce(t, a, p, spinYes) || sr.budget != 0 || sr.idle != i {
			t.Fatalf("park %d without spinning: budget %d, idle %d", i, sr.budget, sr.idle)
		}
	}
	spinOnce(t, a, p, spinYes)
	if sr.idle != 0 {
		t.Fatalf("after %d parks: idle %d, want a new try", spinRetry, sr.idle)
	}

	// Data ends a spin (bounded: the spin lasts at most a minute).
	spinMax = int64(time.Minute)
	sr.budget = spinMax
	if _, err := b.nc.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if !spinOnce(t, a, p, spinYes) || sr.n != 10 || sr.err != nil || string(p[:10]) != "0123456789" {
		t.Fatalf("read %d bytes %q, err %v; want the 10 bytes written", sr.n, p[:max(sr.n, 0)], sr.err)
	}
	b.Close()
	if !spinOnce(t, a, p, spinYes) || sr.n != 0 || !errors.Is(sr.err, io.EOF) {
		t.Fatalf("after the peer closed: n %d, err %v; want 0, EOF", sr.n, sr.err)
	}
}

// TestSpinReadThroughConn: a PDU whose data segment arrives in pieces is
// read whole through the spinning path, and a read deadline still ends a
// header wait (the reader's wait deadline), spin or not.
func TestSpinReadThroughConn(t *testing.T) {
	a, b := tcpPair(t)
	a.SpinWhile(func() bool { return true })
	data := pattern(200<<10, 3)
	a.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
	b.Queue(&pdu.DataIn{ITT: 7, Final: true}, nil, data)
	bt := b.Detach()
	errc := make(chan error, 1)
	go func() {
		bt.begin()
		// The header and half the segment, then the rest.
		all := make([]byte, 0, bt.Len())
		for _, p := range bt.tmp {
			all = append(all, p...)
		}
		half := len(all) / 2
		if _, err := b.nc.Write(all[:half]); err != nil {
			errc <- err
			return
		}
		_, err := b.nc.Write(all[half:])
		errc <- err
	}()
	h, _, err := a.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	if h.ITT() != 7 {
		t.Fatalf("ITT %#x", h.ITT())
	}
	got := make([]byte, len(data))
	if err := a.ReadData(got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatal("data segment read wrong")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	a.SetWaitDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := a.ReadHeader(); !errors.Is(err, ErrWaitExpired) {
		t.Fatalf("header wait past its deadline: %v, want ErrWaitExpired", err)
	}
}
