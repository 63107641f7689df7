package conn

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
)

// byteConn is a net.Conn reading from fixed bytes.
type byteConn struct {
	r *bytes.Reader
}

func (b *byteConn) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b *byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b *byteConn) Close() error                     { return nil }
func (b *byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (b *byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (b *byteConn) SetDeadline(time.Time) error      { return nil }
func (b *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (b *byteConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadPDUs feeds arbitrary bytes to the reader: whatever the bytes, it
// must return errors, never panic, never write outside the vector, and never
// accept a data segment above the limit.
func FuzzReadPDUs(f *testing.F) {
	for _, d := range allDigests {
		w := pdu.Append(nil, &pdu.DataIn{ITT: 1, BufferOffset: 8}, nil, pattern(100, 1), d)
		w = pdu.Append(w, &pdu.SCSIResponse{ITT: 1}, pdu.AppendCommandAHS(nil, pdu.CommandAHS{ExtendedCDB: []byte{1}}), []byte{0, 2, 0x70, 0}, d)
		flags := byte(0)
		if d.Header {
			flags |= 1
		}
		if d.Data {
			flags |= 2
		}
		f.Add(append([]byte{flags}, w...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		c := New(&byteConn{r: bytes.NewReader(in[1:])})
		c.SetDigests(pdu.Digests{Header: in[0]&1 != 0, Data: in[0]&2 != 0})
		c.SetLimits(pdu.Limits{MaxDataSegmentLength: 4096, MaxAHSLength: 64})
		buf := make([]byte, 256+16)
		v := iovector.New(buf[:100], buf[100:256])
		for i := 0; i < 8; i++ {
			h, _, err := c.ReadHeader()
			if err != nil {
				return
			}
			if h.DataSegmentLength() > 4096 {
				t.Fatalf("accepted a %d-byte segment over the limit", h.DataSegmentLength())
			}
			switch in[0] >> 2 % 3 {
			case 0:
				err = c.ReadDataVector(v, int64(in[0]>>4))
			case 1:
				err = c.ReadData(make([]byte, c.DataLen()))
			default:
				err = c.DiscardData()
			}
			if err != nil && c.pending != 0 {
				return
			}
			for _, b := range buf[256:] {
				if b != 0 {
					t.Fatal("wrote beyond the vector")
				}
			}
		}
	})
}

// FuzzReadLargeSegments is FuzzReadPDUs for data segments of LargeSegment
// bytes and more, which are read straight from the socket into the
// destination, in pieces of a size the input chooses, with their trailer
// and the next header read together.
func FuzzReadLargeSegments(f *testing.F) {
	for _, d := range allDigests {
		w := pdu.Append(nil, &pdu.DataIn{ITT: 1, BufferOffset: 8}, nil, pattern(LargeSegment+1, 1), d)
		w = pdu.Append(w, &pdu.NOPIn{ITT: 2}, nil, nil, d)
		w = pdu.Append(w, &pdu.DataIn{ITT: 3}, nil, pattern(LargeSegment*2, 2), d)
		flags := byte(0)
		if d.Header {
			flags |= 1
		}
		if d.Data {
			flags |= 2
		}
		for _, piece := range []byte{0, 1, 100, 255} {
			f.Add(append([]byte{flags, piece}, w...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		const limit = 3 * LargeSegment
		piece := int(in[1])*521 + 1
		c := New(&pieceConn{byteConn{bytes.NewReader(in[2:])}, piece})
		c.SetDigests(pdu.Digests{Header: in[0]&1 != 0, Data: in[0]&2 != 0})
		c.SetLimits(pdu.Limits{MaxDataSegmentLength: limit})
		buf := make([]byte, limit+16)
		v := iovector.New(buf[:100], buf[100:LargeSegment], buf[LargeSegment:limit])
		for i := 0; i < 8; i++ {
			h, _, err := c.ReadHeader()
			if err != nil {
				return
			}
			if h.DataSegmentLength() > limit {
				t.Fatalf("accepted a %d-byte segment over the limit", h.DataSegmentLength())
			}
			switch in[0] >> 2 % 3 {
			case 0:
				err = c.ReadDataVector(v, int64(in[0]>>4))
			case 1:
				err = c.ReadData(make([]byte, c.DataLen()))
			default:
				err = c.DiscardData()
			}
			if err != nil && c.pending != 0 {
				return
			}
			for _, b := range buf[limit:] {
				if b != 0 {
					t.Fatal("wrote beyond the vector")
				}
			}
		}
	})
}
