package conn

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"testing"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
)

// TestTryWriteBatch: a small batch goes out whole without waiting; a batch
// larger than the socket takes while the peer does not read is written in
// part, never waiting, and WriteBatch sends the rest: the peer gets every
// byte once, in order. Over a net.Pipe nothing is written.
func TestTryWriteBatch(t *testing.T) {
	a, b := tcpPair(t)
	b.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 24})
	small := pattern(1000, 1)
	a.Queue(&pdu.DataOut{ITT: 1, Final: true}, nil, small)
	bt := a.Detach()
	done, err := a.TryWriteBatch(bt)
	if runtime.GOOS != "linux" {
		if done || err != nil {
			t.Fatalf("TryWriteBatch = %v, %v; want false, nil here", done, err)
		}
		if err := a.WriteBatch(bt); err != nil {
			t.Fatal(err)
		}
	} else if !done || err != nil {
		t.Fatalf("small batch: TryWriteBatch = %v, %v; want true, nil", done, err)
	}
	a.Release(bt)
	readDataOut(t, b, 1, small)

	// 32 MiB the peer does not read yet: more than the sockets buffer.
	const seg = 8 << 20
	big := pattern(4*seg, 2)
	v := iovector.New(big[:1<<20], big[1<<20:])
	for i := range 4 {
		if err := a.QueueVector(&pdu.DataOut{ITT: 2, BufferOffset: uint32(i * seg)}, v, int64(i*seg), seg); err != nil {
			t.Fatal(err)
		}
	}
	bt = a.Detach()
	done, err = a.TryWriteBatch(bt)
	if err != nil || (done && runtime.GOOS == "linux") {
		t.Fatalf("big batch: TryWriteBatch = %v, %v; want false, nil", done, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.WriteBatch(bt) }()
	for i := range 4 {
		readDataOut(t, b, 2, big[i*seg:(i+1)*seg])
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	// A net.Pipe is no socket: nothing is tried.
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	pc := New(p1)
	pc.Queue(&pdu.DataOut{ITT: 3, Final: true}, nil, small)
	pb := pc.Detach()
	if done, err := pc.TryWriteBatch(pb); done || err != nil {
		t.Fatalf("net.Pipe: TryWriteBatch = %v, %v; want false, nil", done, err)
	}
	go func() { _, _ = io.Copy(io.Discard, p2) }()
	if err := pc.WriteBatch(pb); err != nil {
		t.Fatal(err)
	}
}

func readDataOut(t *testing.T, c *Conn, itt uint32, want []byte) {
	t.Helper()
	h, _, err := c.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	if h.ITT() != itt || c.DataLen() != len(want) {
		t.Fatalf("PDU ITT %d with %d bytes, want ITT %d with %d", h.ITT(), c.DataLen(), itt, len(want))
	}
	got := make([]byte, len(want))
	if err := c.ReadData(got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("data differs")
	}
}
