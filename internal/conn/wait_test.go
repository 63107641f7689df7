package conn

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
)

// TestWaitDeadline: a wait deadline ends a wait for a header that has not
// begun (ErrWaitExpired, the connection still usable), is ignored once a
// PDU has begun (the PDU is read whole), and works with Slim's kicks.
func TestWaitDeadline(t *testing.T) {
	a, b := tcpPair(t)
	a.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
	data := pattern(100000, 3)
	send := func(d []byte) {
		t.Helper()
		if err := b.WritePDU(&pdu.DataIn{ITT: 9, BufferOffset: 0}, nil, d); err != nil {
			t.Fatal(err)
		}
	}
	read := func(want []byte) {
		t.Helper()
		h, _, err := a.ReadHeader()
		if err != nil {
			t.Fatal(err)
		}
		if h.ITT() != 9 || a.DataLen() != len(want) {
			t.Fatalf("header ITT %#x, %d bytes; want 9, %d", h.ITT(), a.DataLen(), len(want))
		}
		got := make([]byte, len(want))
		if err := a.ReadData(got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("data differs")
		}
	}

	// Nothing comes: the wait ends, and ends again at once while the
	// deadline stays in the past.
	a.SetWaitDeadline(time.Now().Add(20 * time.Millisecond))
	for range 2 {
		if _, _, err := a.ReadHeader(); !errors.Is(err, ErrWaitExpired) {
			t.Fatalf("ReadHeader = %v, want ErrWaitExpired", err)
		}
	}
	// Cleared: PDUs are read as usual.
	a.SetWaitDeadline(time.Time{})
	send(data[:10])
	read(data[:10])

	// A deadline that passes while a PDU arrives in pieces: the PDU is
	// read whole, and the deadline is cleared.
	var hdr [pdu.BHSLen]byte
	hb := pdu.AppendHeader(hdr[:0], &pdu.DataIn{ITT: 9}, nil, len(data), false)
	go func() {
		_, _ = b.NetConn().Write(hb[:20])
		time.Sleep(50 * time.Millisecond)
		_, _ = b.NetConn().Write(hb[20:])
		_, _ = b.NetConn().Write(data[:5000])
		time.Sleep(50 * time.Millisecond)
		_, _ = b.NetConn().Write(data[5000:])
	}()
	time.Sleep(10 * time.Millisecond) // the first bytes of the header are there
	a.SetWaitDeadline(time.Now().Add(20 * time.Millisecond))
	read(data)
	if !a.WaitDeadline().IsZero() {
		t.Fatal("the wait deadline is still set after a PDU read past it")
	}

	// Slim's kick and a wait deadline together: the kick gives the buffer
	// back and the wait still ends with ErrWaitExpired.
	a.SetWaitDeadline(time.Now().Add(30 * time.Millisecond))
	a.Slim()
	if _, _, err := a.ReadHeader(); !errors.Is(err, ErrWaitExpired) {
		t.Fatalf("ReadHeader after Slim = %v, want ErrWaitExpired", err)
	}
	if a.br != nil {
		t.Fatal("the kick did not give the read buffer back")
	}
	a.SetWaitDeadline(time.Time{})
	send(data[:300])
	read(data[:300])
}
