package conn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/digest"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tcpPair returns two Conns joined over loopback TCP.
func tcpPair(t testing.TB) (*Conn, *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var srv net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv, _ = ln.Accept()
	}()
	c, err := Dial(context.Background(), nil, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if srv == nil {
		t.Fatal("accept failed")
	}
	s := New(srv)
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

var allDigests = []pdu.Digests{{}, {Header: true}, {Data: true}, {Header: true, Data: true}}

// TestVectorRoundTrip sends Data-Out PDUs from a scattered vector and reads
// them into another scattered vector at the PDU's BufferOffset, for every
// digest combination and for segments that need padding.
func TestVectorRoundTrip(t *testing.T) {
	for _, d := range allDigests {
		for _, n := range []int{1, 3, 512, 4097, 70000, 200001} {
			c, s := tcpPair(t)
			c.SetDigests(d)
			s.SetDigests(d)
			s.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
			src := pattern(n+10, byte(n))
			sv := iovector.New(src[:7], src[7:7+n/3], src[7+n/3:])
			dst := make([]byte, n+10)
			dv := iovector.New(dst[:5], dst[5:n/2+5], dst[n/2+5:])

			errc := make(chan error, 1)
			go func() {
				m := &pdu.DataOut{Final: true, ITT: 9, BufferOffset: 3}
				if err := c.QueueVector(m, sv, 3, n); err != nil {
					errc <- err
					return
				}
				c.Queue(&pdu.NOPOut{ITT: 10}, nil, []byte("ping"))
				errc <- c.Flush()
			}()
			h, _, err := s.ReadHeader()
			if err != nil {
				t.Fatalf("%+v n=%d: %v", d, n, err)
			}
			var do pdu.DataOut
			if err := do.Decode(h); err != nil || do.ITT != 9 || int(do.DataSegmentLength) != n {
				t.Fatalf("header %+v %v", do, err)
			}
			if err := s.ReadDataVector(dv, int64(do.BufferOffset)); err != nil {
				t.Fatalf("%+v n=%d: %v", d, n, err)
			}
			if !bytes.Equal(dst[3:3+n], src[3:3+n]) {
				t.Fatalf("%+v n=%d: data differs", d, n)
			}
			if dst[0] != 0 || dst[3+n] != 0 {
				t.Fatalf("bytes outside the range were written")
			}
			h, _, err = s.ReadHeader()
			if err != nil || h.Opcode() != pdu.OpNOPOut {
				t.Fatalf("second PDU: %v %v", h, err)
			}
			ping := make([]byte, s.DataLen())
			if err := s.ReadData(ping); err != nil || string(ping) != "ping" {
				t.Fatalf("ping data %q %v", ping, err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// rawPair gives a Conn reading from bytes a test writes by hand.
func rawPair(t *testing.T) (*Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return New(a), b
}

func encode(m pdu.Message, data []byte, d pdu.Digests) []byte {
	return pdu.Append(nil, m, nil, data, d)
}

func TestHeaderDigestMismatchIsFatal(t *testing.T) {
	c, w := rawPair(t)
	c.SetDigests(pdu.Digests{Header: true})
	wire := encode(&pdu.NOPIn{ITT: 1}, nil, pdu.Digests{Header: true})
	wire[20] ^= 1 // corrupt a header byte after the digest was computed
	go w.Write(wire)
	_, _, err := c.ReadHeader()
	if !errors.Is(err, ErrHeaderDigest) {
		t.Fatalf("ReadHeader = %v, want ErrHeaderDigest", err)
	}
	var me *digest.MismatchError
	if !errors.As(err, &me) || me.Computed == me.Received {
		t.Fatalf("ReadHeader = %v, want a *digest.MismatchError with two different values", err)
	}
}

func TestDataDigestMismatchKeepsStream(t *testing.T) {
	c, w := rawPair(t)
	d := pdu.Digests{Header: true, Data: true}
	c.SetDigests(d)
	bad := encode(&pdu.DataIn{ITT: 1}, []byte("hello world"), d)
	bad[len(bad)-6] ^= 0x80 // a data byte
	good := encode(&pdu.DataIn{ITT: 2}, []byte("fine"), d)
	go func() { w.Write(append(bad, good...)) }()
	if _, _, err := c.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, c.DataLen())
	if err := c.ReadData(buf); !errors.Is(err, ErrDataDigest) || !errors.Is(err, digest.ErrMismatch) {
		t.Fatalf("ReadData = %v, want ErrDataDigest and digest.ErrMismatch", err)
	}
	h, _, err := c.ReadHeader()
	if err != nil || h.ITT() != 2 {
		t.Fatalf("next PDU after a data digest error: %v %v", h, err)
	}
	if err := c.ReadData(make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsCheckedBeforeReading(t *testing.T) {
	c, w := rawPair(t)
	c.SetLimits(pdu.Limits{MaxDataSegmentLength: 8192})
	var b pdu.BHS
	(&pdu.DataIn{ITT: 1}).Encode(&b)
	b[5], b[6], b[7] = 0xff, 0xff, 0xff // a lying 16 MiB length, and no data follows
	go w.Write(b[:])
	if _, _, err := c.ReadHeader(); !errors.Is(err, pdu.ErrDataSegmentTooLong) {
		t.Fatalf("ReadHeader = %v, want ErrDataSegmentTooLong", err)
	}
	// AHS not allowed by the limits either.
	c2, w2 := rawPair(t)
	(&pdu.SCSIResponse{}).Encode(&b)
	b[4] = 200
	go w2.Write(b[:])
	if _, _, err := c2.ReadHeader(); !errors.Is(err, pdu.ErrAHSTooLong) {
		t.Fatalf("ReadHeader = %v, want ErrAHSTooLong", err)
	}
}

func TestAHSAndDiscard(t *testing.T) {
	c, w := rawPair(t)
	d := pdu.Digests{Header: true, Data: true}
	c.SetDigests(d)
	c.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20, MaxAHSLength: pdu.MaxAHSLength})
	ahs := pdu.AppendCommandAHS(nil, pdu.CommandAHS{ExtendedCDB: []byte{1, 2, 3, 4, 5}})
	first := pdu.Append(nil, &pdu.SCSICommand{ITT: 1}, ahs, pattern(100000, 1), d)
	second := encode(&pdu.NOPOut{ITT: 2}, nil, d)
	go func() { w.Write(append(first, second...)) }()
	h, gotAHS, err := c.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	if h.TotalAHSLength() != len(ahs) || !bytes.Equal(gotAHS, ahs) {
		t.Fatalf("AHS %x, want %x", gotAHS, ahs)
	}
	if _, _, err := c.ReadHeader(); !errors.Is(err, ErrState) {
		t.Fatalf("ReadHeader with data pending = %v, want ErrState", err)
	}
	if err := c.DiscardData(); err != nil {
		t.Fatal(err)
	}
	if h, _, err := c.ReadHeader(); err != nil || h.ITT() != 2 {
		t.Fatalf("after discard: %v %v", h, err)
	}
}

func TestTruncatedStream(t *testing.T) {
	c, w := rawPair(t)
	wire := encode(&pdu.DataIn{ITT: 1}, pattern(100, 3), pdu.Digests{})
	go func() { w.Write(wire[:80]); w.Close() }()
	if _, _, err := c.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadData(make([]byte, 100)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadData = %v, want ErrUnexpectedEOF", err)
	}
	c2, w2 := rawPair(t)
	go func() { w2.Write(wire[:20]); w2.Close() }()
	if _, _, err := c2.ReadHeader(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadHeader = %v, want ErrUnexpectedEOF", err)
	}
}

func TestReadDataVectorOutsideVector(t *testing.T) {
	c, w := rawPair(t)
	go w.Write(encode(&pdu.DataIn{ITT: 1}, pattern(64, 3), pdu.Digests{}))
	if _, _, err := c.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if err := c.ReadDataVector(iovector.New(buf), 50); !errors.Is(err, ErrState) {
		t.Fatalf("ReadDataVector past the end = %v, want ErrState", err)
	}
	if !bytes.Equal(buf, make([]byte, 100)) {
		t.Fatal("bytes written although the range did not fit")
	}
}

// TestSteadyStateAllocatesNothing: writing a command and Data-Out from a
// vector, and reading a Data-In into a vector, allocate nothing once warm,
// for a small segment and for large ones read straight from the socket.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	for _, size := range []int{8192, 128 << 10} {
		c, s := tcpPair(t)
		d := pdu.Digests{Header: true, Data: true}
		c.SetDigests(d)
		s.SetDigests(d)
		s.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
		src := pattern(size, 5)
		sv := iovector.New(src[:4096], src[4096:])
		dst := make([]byte, size)
		dv := iovector.New(dst[:1000], dst[1000:])
		cmd := &pdu.SCSICommand{Final: true, Write: true, ITT: 1}
		out := &pdu.DataOut{Final: true, ITT: 1}
		var do pdu.DataOut
		// The writer runs on its own goroutine, started once: a large
		// batch does not fit the socket buffers until the reader reads.
		flush, errc := make(chan struct{}), make(chan error, 1)
		defer close(flush)
		go func() {
			for range flush {
				c.Queue(cmd, nil, nil)
				err := c.QueueVector(out, sv, 0, size)
				if err == nil {
					err = c.Flush()
				}
				errc <- err
			}
		}()
		round := func() {
			flush <- struct{}{}
			for i := 0; i < 2; i++ {
				h, _, err := s.ReadHeader()
				if err != nil {
					t.Fatal(err)
				}
				if h.Opcode() == pdu.OpDataOut {
					_ = do.Decode(h)
					if err := s.ReadDataVector(dv, int64(do.BufferOffset)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		round()
		if n := testing.AllocsPerRun(200, round); n != 0 {
			t.Fatalf("%d-byte segments: steady state allocated %v times per round", size, n)
		}
		if !bytes.Equal(dst, src) {
			t.Fatal("data differs")
		}
	}
}
