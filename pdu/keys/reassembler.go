package keys

import (
	"fmt"
	"iter"
)

// DefaultMaxText is the Reassembler limit when Max is zero, and the
// session's default bound on a text or login answer: 1 MiB, room for the
// SendTargets answer of a portal with thousands of targets. (RFC 7143 §6.1
// asks implementations to receive at least 64 KiB when long authentication
// items are in use, 8192 bytes otherwise.)
const DefaultMaxText = 1 << 20

// Reassembler joins the data segments of a text or login sequence sent with
// the Continue (C) bit: a key=value pair may start in one PDU and end in the
// next. The zero value is ready to use with a limit of DefaultMaxText.
type Reassembler struct {
	// Max is the largest total text accepted, in bytes; zero means
	// DefaultMaxText.
	Max int

	buf     []byte
	pending bool
}

// Add takes the data segment of one PDU and its C bit. While cont is true it
// buffers the segment and returns done == false. On the first segment with
// cont false it returns the whole text and done == true; the returned slice
// is segment itself when nothing was buffered, else the Reassembler's
// buffer, valid until the next call to Add or Reset.
//
// When the total would exceed Max, Add returns an error wrapping
// ErrTooLarge without growing its buffer and forgets the partial text.
func (r *Reassembler) Add(segment []byte, cont bool) (complete []byte, done bool, err error) {
	max := r.Max
	if max <= 0 {
		max = DefaultMaxText
	}
	have := len(r.buf)
	if !r.pending {
		have = 0
	}
	if len(segment) > max-have {
		r.Reset()
		return nil, false, fmt.Errorf("%w: %d bytes of text after %d buffered, limit %d", ErrTooLarge, len(segment), have, max)
	}
	if !r.pending {
		if !cont {
			return segment, true, nil
		}
		r.buf = append(r.buf[:0], segment...)
		r.pending = true
		return nil, false, nil
	}
	r.buf = append(r.buf, segment...)
	if cont {
		return nil, false, nil
	}
	r.pending = false
	return r.buf, true, nil
}

// Pending reports whether a sequence with the C bit is in progress.
func (r *Reassembler) Pending() bool { return r.pending }

// Reset forgets any partial text; the buffer is kept for reuse.
func (r *Reassembler) Reset() {
	r.buf = r.buf[:0]
	r.pending = false
}

// Segments cuts text into pieces of at most maxSeg bytes (the peer's
// MaxRecvDataSegmentLength) and yields each with its C bit: true on every
// piece but the last. Empty text yields one empty piece, since a PDU is sent
// anyway. maxSeg <= 0 means no limit. The pieces alias text.
func Segments(text []byte, maxSeg int) iter.Seq2[[]byte, bool] {
	return func(yield func([]byte, bool) bool) {
		if maxSeg <= 0 || len(text) <= maxSeg {
			yield(text, false)
			return
		}
		for len(text) > maxSeg {
			if !yield(text[:maxSeg:maxSeg], true) {
				return
			}
			text = text[maxSeg:]
		}
		yield(text, false)
	}
}

// Split is Segments collected into a slice; every piece but the last is sent
// with the C bit.
func Split(text []byte, maxSeg int) [][]byte {
	var out [][]byte
	for seg := range Segments(text, maxSeg) {
		out = append(out, seg)
	}
	return out
}
