package conn

import (
	"bytes"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/pdu"
)

// TestSlim: a reader waiting for a header gives its buffer back when asked,
// without an error, and reads what comes next correctly: a header alone,
// then PDUs with data (a buffer is taken again), under digests too.
func TestSlim(t *testing.T) {
	for _, d := range []pdu.Digests{{}, {Header: true, Data: true}} {
		a, b := tcpPair(t)
		a.SetDigests(d)
		b.SetDigests(d)
		a.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
		type got struct {
			itt  uint32
			data []byte
			err  error
		}
		results := make(chan got)
		go func() {
			for {
				h, _, err := a.ReadHeader()
				if err != nil {
					results <- got{err: err}
					return
				}
				buf := make([]byte, a.DataLen())
				err = a.ReadData(buf)
				results <- got{itt: h.ITT(), data: buf, err: err}
			}
		}()
		for round := 0; round < 3; round++ {
			time.Sleep(20 * time.Millisecond) // let the reader block on the socket
			a.Slim()
			for i := 0; a.slimReq.Load() && i < 500; i++ {
				time.Sleep(2 * time.Millisecond)
			}
			if a.slimReq.Load() {
				t.Fatal("the reader did not take the request")
			}
			for i, n := range []int{0, 100, 70000} {
				want := pattern(n, byte(round*3+i))
				if err := b.WritePDU(&pdu.DataIn{ITT: uint32(round*10 + i), DataSegmentLength: uint32(n)}, nil, want); err != nil {
					t.Fatal(err)
				}
				r := <-results
				if r.err != nil || r.itt != uint32(round*10+i) || !bytes.Equal(r.data, want) {
					t.Fatalf("digests %v round %d PDU %d: itt %#x, %d bytes, err %v", d, round, i, r.itt, len(r.data), r.err)
				}
			}
		}
		a.Close()
		b.Close()
		if r := <-results; r.err == nil {
			t.Fatal("no error after close")
		}
	}
}
