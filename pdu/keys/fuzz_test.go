package keys

import (
	"bytes"
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics and that what it accepts
// re-encodes to bytes that parse to the same pairs.
func FuzzParse(f *testing.F) {
	f.Add([]byte("HeaderDigest=None\x00DataDigest=None\x00"))
	f.Add([]byte("TargetName=iqn.x\x00TargetAddress=10.0.0.1:3260,1\x00TargetName=iqn.y\x00\x00\x00"))
	f.Add([]byte("A=\x00"))
	f.Add([]byte("=\x00"))
	f.Add([]byte("A"))
	f.Add([]byte("X#a=b\x00"))
	f.Add(AppendPairs(nil, DefaultOffer().pairs()...))
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := Parse(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(data) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		for _, p := range pairs {
			if !ValidKey(p.Key) || len(p.Value) > MaxValueLen || bytes.IndexByte([]byte(p.Value), 0) >= 0 {
				t.Fatalf("accepted bad pair %q", p)
			}
		}
		enc := AppendPairs(nil, pairs...)
		if len(enc) != EncodedLen(pairs...) || !bytes.HasPrefix(data, enc) {
			t.Fatalf("re-encoding %q is not a prefix of the input %q", enc, data)
		}
		again, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(pairs, again); diff != "" && len(pairs) > 0 {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzReassembler feeds segments cut from data (the first byte sets Max,
// each following byte a segment length and C bit) and checks what comes
// out against a simple model.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{16, 0x84, 'a', 'b', 'c', 'd', 0x02, 'e', 'f'})
	f.Add([]byte{4, 0x85, 1, 2, 3, 4, 5, 0x01, 9})
	f.Add([]byte{0, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		max := int(data[0])
		r := Reassembler{Max: max}
		if max == 0 {
			max = DefaultMaxText
		}
		data = data[1:]
		var model []byte
		for len(data) > 0 {
			n := int(data[0] & 0x7f)
			cont := data[0]&0x80 != 0
			data = data[1:]
			n = min(n, len(data))
			seg := data[:n]
			data = data[n:]
			out, done, err := r.Add(seg, cont)
			if len(model)+len(seg) > max {
				if !errors.Is(err, ErrTooLarge) || done || r.Pending() {
					t.Fatalf("over limit: err %v done %v pending %v", err, done, r.Pending())
				}
				model = model[:0]
				continue
			}
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			model = append(model, seg...)
			if done == cont {
				t.Fatalf("done = %v with cont = %v", done, cont)
			}
			if done {
				if !bytes.Equal(out, model) {
					t.Fatalf("got %q, want %q", out, model)
				}
				model = model[:0]
			}
			if r.Pending() != (len(model) > 0 || cont) {
				t.Fatalf("Pending = %v", r.Pending())
			}
		}
	})
}

var fuzzKeys = func() []string {
	ks := make([]string, 0, len(rules))
	for k := range rules {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}()

// FuzzRule runs Result and Respond of every key on arbitrary values: they
// never panic and every accepted numeric result is in range and obeys the
// key's function.
func FuzzRule(f *testing.F) {
	f.Add(uint8(0), "262144", "65536")
	f.Add(uint8(1), "None,CRC32C", "CRC32C")
	f.Add(uint8(2), "Yes", "No")
	f.Add(uint8(3), "0x10", Reject)
	f.Add(uint8(4), "", "")
	f.Fuzz(func(t *testing.T, k uint8, a, b string) {
		r := *rules[fuzzKeys[int(k)%len(fuzzKeys)]]
		check := func(what, v string) {
			if r.Numeric && v != "" {
				n, err := ParseNumber(v)
				if err != nil || n < r.Min || n > r.Max {
					t.Fatalf("%s %s=%q out of range", what, r.Key, v)
				}
			}
		}
		if res, err := r.Result(a, b); err == nil {
			if checkOffer(&r, a) == nil && r.Kind != Declarative {
				check("result", res)
				o, _ := ParseNumber(a)
				n, _ := ParseNumber(res)
				if r.Kind == Minimum && !IsReserved(b) && n > o || r.Kind == Maximum && !IsReserved(b) && n < o {
					t.Fatalf("%s: offer %q result %q breaks the %v function", r.Key, a, res, r.Kind)
				}
				if r.Kind == Or && a == Yes && !IsReserved(b) && res != Yes || r.Kind == And && a == No && !IsReserved(b) && res != No {
					t.Fatalf("%s: offer %q result %q breaks the %v function", r.Key, a, res, r.Kind)
				}
			}
		} else if !errors.Is(err, ErrProtocol) {
			t.Fatalf("Result error %v is not ErrProtocol", err)
		}
		if checkOffer(&r, b) != nil && r.Kind != List {
			b = ""
		}
		answer, res, err := r.Respond(a, b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Respond error %v is not ErrProtocol", err)
			}
			return
		}
		if r.Kind != Declarative {
			if answer != Reject {
				check("answer", answer)
			}
			check("result", res)
		}
		if r.Kind == List && answer != Reject && !listHas(a, answer) {
			t.Fatalf("%s: answered %q, not in proposal %q", r.Key, answer, a)
		}
	})
}

// FuzzNegotiate plays a target that answers with arbitrary text split over
// several exchanges, and checks that the Negotiator never panics and that
// the parameters it returns are within the RFC ranges and our offer.
func FuzzNegotiate(f *testing.F) {
	tgtd := AppendPairs(nil, tgtdAnswer...)
	f.Add(uint8(0), tgtd)
	f.Add(uint8(1), append(AppendPairs(nil, Pair{"TargetPortalGroupTag", "1"}), append([]byte{0xff}, tgtd...)...))
	f.Add(uint8(2), []byte("HeaderDigest=None\x00X-foo=1\x00\xffTaskReporting=FastAbort\x00"))
	f.Add(uint8(3), []byte("MaxBurstLength=512\x00FirstBurstLength=0x200\x00DefaultTime2Wait=3600\x00"))
	f.Fuzz(func(t *testing.T, flags uint8, data []byte) {
		o := Offer{Discovery: flags&1 != 0}
		if flags&2 != 0 {
			o.HeaderDigest = []string{CRC32C}
		}
		if flags&4 != 0 {
			o.ImmediateData, o.InitialR2T = Some(false), Some(true)
		}
		if flags&8 != 0 {
			o.MaxBurstLength, o.FirstBurstLength = Some[uint32](65536), Some[uint32](4096)
		}
		n, err := NewNegotiator(o)
		if err != nil {
			t.Fatal(err)
		}
		offer := map[string]uint64{}
		for _, p := range n.Pairs() {
			offer[p.Key], _ = ParseNumber(p.Value)
		}
		for ex := range bytes.SplitSeq(data, []byte{0xff}) {
			pairs, err := Parse(ex)
			if err != nil {
				return
			}
			reply, err := n.Process(pairs)
			if err != nil {
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("Process error %v is not ErrProtocol", err)
				}
				return
			}
			for _, p := range reply {
				if !slices.ContainsFunc(pairs, func(q Pair) bool { return q.Key == p.Key }) {
					t.Fatalf("reply %v to a key the target did not send", p)
				}
			}
		}
		p, err := n.Finish()
		if err != nil {
			return
		}
		in := func(name string, v, lo, hi uint32) {
			if v < lo || v > hi {
				t.Fatalf("%s = %d outside %d..%d", name, v, lo, hi)
			}
		}
		in("MaxConnections", p.MaxConnections, 1, 1)
		in("TargetMaxRecvDataSegmentLength", p.TargetMaxRecvDataSegmentLength, 512, maxSegLen)
		in("MaxBurstLength", p.MaxBurstLength, 512, maxSegLen)
		in("FirstBurstLength", p.FirstBurstLength, 512, p.MaxBurstLength)
		in("DefaultTime2Wait", p.DefaultTime2Wait, 2, 3600)
		in("DefaultTime2Retain", p.DefaultTime2Retain, 0, 3600)
		in("MaxOutstandingR2T", p.MaxOutstandingR2T, 1, 1)
		in("ErrorRecoveryLevel", uint32(p.ErrorRecoveryLevel), 0, 0)
		if !o.Discovery {
			// Minimum keys we offered never come out above the offer.
			if v, ok := offer[KeyMaxBurstLength]; ok && uint64(p.MaxBurstLength) > max(v, 262144) {
				t.Fatalf("MaxBurstLength %d above offer %d and default", p.MaxBurstLength, v)
			}
		}
		if flags&2 != 0 && !p.HeaderDigest {
			t.Fatalf("CRC32C required but header digest off")
		}
		if flags&4 != 0 && (p.ImmediateData && !o.Discovery) {
			t.Fatalf("ImmediateData offered No came out Yes")
		}
		if p.IFMarker || p.OFMarker {
			t.Fatalf("markers on")
		}
	})
}

// FuzzDecodeBinary: the binary-value decoder never panics, never returns
// an empty value, fails only with
// ErrSyntax, and what it decodes survives re-encoding in both encodings.
func FuzzDecodeBinary(f *testing.F) {
	for _, s := range []string{"0x00", "0xabc", "0XABCDEF", "0bAQID", "0bAQ==", "0bAQ", "0b", "0x", "", "0bAR==", "0x1g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBinary(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		if len(b) == 0 {
			t.Fatalf("decoded %d bytes", len(b))
		}
		if len(b) > len(s) {
			t.Fatalf("%d bytes from a %d-byte string", len(b), len(s))
		}
		for _, e := range []Encoding{Hex, Base64} {
			again, err := DecodeBinary(EncodeBinary(e, b))
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("%v round trip: %x, %v; want %x", e, again, err, b)
			}
		}
	})
}
