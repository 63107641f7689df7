package conn

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/digest"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
)

// pieceConn is a net.Conn reading fixed bytes at most max bytes per Read:
// the pieces in which a segment arrives, each summed on its own.
type pieceConn struct {
	byteConn
	max int
}

func (p *pieceConn) Read(b []byte) (int, error) {
	if len(b) > p.max {
		b = b[:p.max]
	}
	return p.r.Read(b)
}

// TestDataDigestFlipInEveryPiece flips one byte of a data segment, of its
// padding or of its digest, at the first and last byte of each piece the
// segment is read in and in between, for small and large segments, pieces
// of several sizes and the three ways to consume a segment: each flip is a
// data digest error, the stream stays in step, and the unflipped segment
// reads clean. Each stream starts with a clean large segment, so that the
// segment under test follows a large one, as in a sequential read: its
// header is read alone, its data straight into the destination, its last
// piece with its trailer and the next header.
func TestDataDigestFlipInEveryPiece(t *testing.T) {
	d := pdu.Digests{Header: true, Data: true}
	const start = pdu.BHSLen + digest.Size // data offset in the wire form
	for _, n := range []int{101, LargeSegment + 3, 200001} {
		data := pattern(n, 9)
		wire := encode(&pdu.DataIn{ITT: 1}, data, d)
		next := encode(&pdu.NOPIn{ITT: 2}, nil, d)
		lead := encode(&pdu.DataIn{ITT: 0}, pattern(LargeSegment, 1), d)
		for _, piece := range []int{1, 1000, 4096, 65536, 1 << 20} {
			if piece == 1 && n > 1000 {
				continue
			}
			flips := []int{-1, 0, n / 2, n - 1}
			for off := piece; off < n; off += piece {
				if off <= 3*piece || off >= n-3*piece { // the first and last piece boundaries
					flips = append(flips, off-1, off)
				}
			}
			for i := n; i < len(wire)-start; i++ {
				flips = append(flips, i) // padding and digest
			}
			for _, flip := range flips {
				for _, how := range []string{"ReadData", "ReadDataVector", "DiscardData"} {
					name := fmt.Sprintf("%d bytes in pieces of %d, flip at %d, %s", n, piece, flip, how)
					w := bytes.Clone(wire)
					if flip >= 0 {
						w[start+flip] ^= 0x10
					}
					c := New(&pieceConn{byteConn{bytes.NewReader(slices.Concat(lead, w, next))}, piece})
					c.SetDigests(d)
					c.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
					if _, _, err := c.ReadHeader(); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if err := c.ReadData(make([]byte, LargeSegment)); err != nil {
						t.Fatalf("%s: leading segment: %v", name, err)
					}
					if h, _, err := c.ReadHeader(); err != nil || h.ITT() != 1 {
						t.Fatalf("%s: %v", name, err)
					}
					got := make([]byte, n)
					var err error
					switch how {
					case "ReadData":
						err = c.ReadData(got)
					case "ReadDataVector":
						err = c.ReadDataVector(iovector.New(got[:7], got[7:n/3], got[n/3:]), 0)
					default:
						err = c.DiscardData()
						copy(got, data)
					}
					if flip < 0 {
						if err != nil || !bytes.Equal(got, data) {
							t.Fatalf("%s: err %v, data equal %v", name, err, bytes.Equal(got, data))
						}
					} else if !errors.Is(err, ErrDataDigest) || !errors.Is(err, digest.ErrMismatch) {
						t.Fatalf("%s: %v, want ErrDataDigest", name, err)
					}
					if h, _, err := c.ReadHeader(); err != nil || h.ITT() != 2 {
						t.Fatalf("%s: next PDU: %v", name, err)
					}
				}
			}
		}
	}
}

// TestLargeThenSmallOverTCP: over a real loopback TCP connection, large
// segments (with and without padding and digests) whose second part comes
// after a pause, each followed by a PDU with no data at all: nothing waits
// for bytes that never come, and every byte lands where it belongs.
func TestLargeThenSmallOverTCP(t *testing.T) {
	for _, d := range allDigests {
		for _, n := range []int{LargeSegment, 128 << 10, 256<<10 - 1} {
			a, b := tcpPair(t)
			a.SetDigests(d)
			a.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
			_ = a.NetConn().SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang fails, not blocks
			data := pattern(n, byte(n))
			wire := encode(&pdu.DataIn{ITT: 1}, data, d)
			wire = append(wire, encode(&pdu.NOPIn{ITT: 2}, nil, d)...)
			cut := pdu.BHSLen + n/5
			errc := make(chan error, 1)
			go func() {
				if _, err := b.NetConn().Write(wire[:cut]); err != nil {
					errc <- err
					return
				}
				time.Sleep(20 * time.Millisecond) // the reader takes the first part and waits
				_, err := b.NetConn().Write(wire[cut:])
				errc <- err
			}()
			if _, _, err := a.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, n)
			if err := a.ReadDataVector(iovector.New(got[:n/2], got[n/2:]), 0); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("digests %v, %d bytes: %v (data equal: %v)", d, n, err, bytes.Equal(got, data))
			}
			if h, _, err := a.ReadHeader(); err != nil || h.ITT() != 2 || h.DataSegmentLength() != 0 {
				t.Fatalf("digests %v, %d bytes: PDU after the large one: %v %v", d, n, h, err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			a.Close()
			b.Close()
		}
	}
}

// markConn is a pieceConn that can wait for a mark (as blocksock.Conn):
// it records the mark of each ReadMark.
type markConn struct {
	pieceConn
	marks []int
}

func (m *markConn) ReadMark(p []byte, mark int) (int, error) {
	m.marks = append(m.marks, mark)
	return m.Read(p)
}

// ReadNap records its mark negated, to tell it from ReadMark's.
func (m *markConn) ReadNap(p []byte, mark int) (int, error) {
	m.marks = append(m.marks, -mark)
	return m.Read(p)
}

// TestExpect: a header awaited with Expect of LargeSegment or more is read
// with a mark of the whole PDU it announces, by the first read of it; without Expect, with less, or with
// the header already buffered, no mark; Expect holds for one ReadHeader.
// The bytes read are the same.
func TestExpect(t *testing.T) {
	// No data digest and no padding: nothing is read after a large
	// segment's data (a trailer read would take the next header with it).
	d := pdu.Digests{Header: true}
	big := LargeSegment + 4
	pdus := [][]byte{
		encode(&pdu.DataIn{ITT: 1}, pattern(big, 1), d),
		encode(&pdu.DataIn{ITT: 2}, pattern(big, 2), d),
		encode(&pdu.DataIn{ITT: 3}, pattern(big, 3), d),
		encode(&pdu.DataIn{ITT: 4}, pattern(big, 4), d),
		encode(&pdu.DataIn{ITT: 5}, pattern(big, 5), d),
		encode(&pdu.NOPIn{ITT: 6}, nil, d),
		encode(&pdu.NOPIn{ITT: 7}, nil, d),
		encode(&pdu.NOPIn{ITT: 8}, nil, d),
	}
	// Each read returns at most one large PDU: the buffer never holds the
	// next header before it is awaited, but after a PDU without data.
	m := &markConn{pieceConn: pieceConn{byteConn{bytes.NewReader(slices.Concat(pdus...))}, len(pdus[0])}}
	c := New(m)
	c.SetDigests(d)
	c.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
	mark := pdu.BHSLen + digest.Size + big
	for i, step := range []struct {
		expect int
		marks  []int
	}{
		{big, []int{mark}},                   // awaited, nothing buffered
		{LargeSegment - 1, []int{mark}},      // too little to say: no mark
		{0, []int{mark}},                     // nothing said
		{big, []int{mark, mark}},             // after a large segment, the header read alone
		{-1, []int{mark, mark}},              // Expect held for one ReadHeader only
		{big, []int{mark, mark, mark}},       // a NOP-In, its header read alone after a large segment
		{big, []int{mark, mark, mark, mark}}, // after no data, the buffer is filled: the last comes too
		{big, []int{mark, mark, mark, mark}}, // buffered: no read, no mark
	} {
		if step.expect >= 0 {
			c.Expect(step.expect)
		}
		h, _, err := c.ReadHeader()
		if err != nil || h.ITT() != uint32(i+1) {
			t.Fatalf("PDU %d: %v", i+1, err)
		}
		if n := h.DataSegmentLength(); n > 0 {
			got := make([]byte, n)
			if err := c.ReadData(got); err != nil || !bytes.Equal(got, pattern(big, byte(i+1))) {
				t.Fatalf("PDU %d data: %v", i+1, err)
			}
		}
		if !slices.Equal(m.marks, step.marks) {
			t.Fatalf("after PDU %d: marks %v, want %v", i+1, m.marks, step.marks)
		}
	}
}

// TestExpectBytes: a header awaited after ExpectBytes is read with
// ReadNap at that many bytes; Expect's PDU mark wins over it; a header
// already buffered is read with no mark; ExpectBytes holds for one
// ReadHeader.
func TestExpectBytes(t *testing.T) {
	d := pdu.Digests{}
	var pdus [][]byte
	for i := 1; i <= 4; i++ {
		pdus = append(pdus, encode(&pdu.NOPIn{ITT: uint32(i)}, nil, d))
	}
	big := LargeSegment + 4
	pdus = append(pdus, encode(&pdu.DataIn{ITT: 5}, pattern(big, 5), d))
	// One PDU per read.
	m := &markConn{pieceConn: pieceConn{byteConn{bytes.NewReader(slices.Concat(pdus...))}, pdu.BHSLen}}
	c := New(m)
	c.SetDigests(d)
	c.SetLimits(pdu.Limits{MaxDataSegmentLength: 1 << 20})
	for i, step := range []struct {
		expect, bytes int
		marks         []int
	}{
		{0, 5000, []int{-5000}},                            // several answers: a nap
		{0, 0, []int{-5000}},                               // nothing said: no mark
		{0, -1, []int{-5000}},                              // held for one ReadHeader only
		{0, 7000, []int{-5000, -7000}},                     // again
		{big, 9000, []int{-5000, -7000, pdu.BHSLen + big}}, // Expect's PDU wins
	} {
		if step.expect > 0 {
			c.Expect(step.expect)
		}
		if step.bytes >= 0 {
			c.ExpectBytes(step.bytes)
		}
		h, _, err := c.ReadHeader()
		if err != nil || h.ITT() != uint32(i+1) {
			t.Fatalf("PDU %d: %v", i+1, err)
		}
		if n := h.DataSegmentLength(); n > 0 {
			if err := c.ReadData(make([]byte, n)); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(m.marks, step.marks) {
			t.Fatalf("after PDU %d: marks %v, want %v", i+1, m.marks, step.marks)
		}
	}
}
