package keys

import (
	"fmt"
	"slices"
	"strings"
)

// Opt is an optional setting: the zero value means "use the default".
type Opt[T any] struct {
	V   T
	Set bool
}

// Some returns an Opt set to v.
func Some[T any](v T) Opt[T] { return Opt[T]{V: v, Set: true} }

// Get returns the value when set, else d.
func (o Opt[T]) Get(d T) T {
	if o.Set {
		return o.V
	}
	return d
}

// Offer is what the initiator proposes in the operational stage. Unset
// fields take DefaultOffer's value.
type Offer struct {
	// Discovery selects a discovery session, which negotiates only the
	// keys that are relevant to it (RFC 7143 §13: digests,
	// MaxRecvDataSegmentLength, DefaultTime2Wait, DefaultTime2Retain and
	// ErrorRecoveryLevel).
	Discovery bool

	// HeaderDigest and DataDigest list "None" and "CRC32C" in order of
	// preference; the target picks. nil means None,CRC32C. []string{"CRC32C"}
	// insists on digests: a target answering None fails the login.
	HeaderDigest []string
	DataDigest   []string

	MaxConnections           Opt[uint32]
	InitialR2T               Opt[bool]
	ImmediateData            Opt[bool]
	MaxRecvDataSegmentLength Opt[uint32]
	MaxBurstLength           Opt[uint32]
	FirstBurstLength         Opt[uint32]
	DefaultTime2Wait         Opt[uint32]
	DefaultTime2Retain       Opt[uint32]
	MaxOutstandingR2T        Opt[uint32]
	DataPDUInOrder           Opt[bool]
	DataSequenceInOrder      Opt[bool]
	ErrorRecoveryLevel       Opt[uint32]
}

// DefaultOffer returns the offer libiscsi makes: digests None,CRC32C,
// InitialR2T=No, ImmediateData=Yes, MaxRecvDataSegmentLength,
// FirstBurstLength and MaxBurstLength 262144, MaxOutstandingR2T=1,
// ErrorRecoveryLevel=0, DataPDUInOrder and DataSequenceInOrder Yes,
// DefaultTime2Wait=2, DefaultTime2Retain=0, MaxConnections=1.
func DefaultOffer() Offer {
	return Offer{
		HeaderDigest:             []string{None, CRC32C},
		DataDigest:               []string{None, CRC32C},
		MaxConnections:           Some[uint32](1),
		InitialR2T:               Some(false),
		ImmediateData:            Some(true),
		MaxRecvDataSegmentLength: Some[uint32](262144),
		MaxBurstLength:           Some[uint32](262144),
		FirstBurstLength:         Some[uint32](262144),
		DefaultTime2Wait:         Some[uint32](2),
		DefaultTime2Retain:       Some[uint32](0),
		MaxOutstandingR2T:        Some[uint32](1),
		DataPDUInOrder:           Some(true),
		DataSequenceInOrder:      Some(true),
		ErrorRecoveryLevel:       Some[uint32](0),
	}
}

// pairs returns every operational key of the offer with defaults filled
// in, in the order they are sent.
func (o Offer) pairs() []Pair {
	d := DefaultOffer()
	hd, dd := o.HeaderDigest, o.DataDigest
	if hd == nil {
		hd = d.HeaderDigest
	}
	if dd == nil {
		dd = d.DataDigest
	}
	num := func(k string, v, def Opt[uint32]) Pair { return Pair{k, FormatNumber(uint64(v.Get(def.V)))} }
	boo := func(k string, v, def Opt[bool]) Pair { return Pair{k, FormatBool(v.Get(def.V))} }
	return []Pair{
		{KeyHeaderDigest, strings.Join(hd, ",")},
		{KeyDataDigest, strings.Join(dd, ",")},
		boo(KeyInitialR2T, o.InitialR2T, d.InitialR2T),
		boo(KeyImmediateData, o.ImmediateData, d.ImmediateData),
		num(KeyMaxRecvDataSegmentLength, o.MaxRecvDataSegmentLength, d.MaxRecvDataSegmentLength),
		num(KeyMaxBurstLength, o.MaxBurstLength, d.MaxBurstLength),
		num(KeyFirstBurstLength, o.FirstBurstLength, d.FirstBurstLength),
		num(KeyMaxConnections, o.MaxConnections, d.MaxConnections),
		num(KeyMaxOutstandingR2T, o.MaxOutstandingR2T, d.MaxOutstandingR2T),
		boo(KeyDataPDUInOrder, o.DataPDUInOrder, d.DataPDUInOrder),
		boo(KeyDataSequenceInOrder, o.DataSequenceInOrder, d.DataSequenceInOrder),
		num(KeyDefaultTime2Wait, o.DefaultTime2Wait, d.DefaultTime2Wait),
		num(KeyDefaultTime2Retain, o.DefaultTime2Retain, d.DefaultTime2Retain),
		num(KeyErrorRecoveryLevel, o.ErrorRecoveryLevel, d.ErrorRecoveryLevel),
	}
}

// Params are the negotiated session and connection parameters.
type Params struct {
	// HeaderDigest and DataDigest are true when CRC32C is in use.
	HeaderDigest bool
	DataDigest   bool

	MaxConnections uint32
	InitialR2T     bool
	ImmediateData  bool
	// MaxRecvDataSegmentLength is ours, declared to the target: the
	// largest data segment the target may send us.
	MaxRecvDataSegmentLength uint32
	// TargetMaxRecvDataSegmentLength is the target's declaration (8192
	// when it declares nothing): the largest data segment we may send.
	TargetMaxRecvDataSegmentLength uint32
	MaxBurstLength                 uint32
	// FirstBurstLength never exceeds MaxBurstLength (RFC 7143 §13.14);
	// a target answer that breaks this is clamped.
	FirstBurstLength    uint32
	DefaultTime2Wait    uint32
	DefaultTime2Retain  uint32
	MaxOutstandingR2T   uint32
	DataPDUInOrder      bool
	DataSequenceInOrder bool
	ErrorRecoveryLevel  uint8
	// IFMarker and OFMarker are always false: markers are obsolete
	// (RFC 7143 §13.25).
	IFMarker bool
	OFMarker bool

	TargetAlias string
	// TargetPortalGroupTag is valid when HasTargetPortalGroupTag is set.
	TargetPortalGroupTag    uint16
	HasTargetPortalGroupTag bool
	// TargetAddresses holds TargetAddress declarations, in order.
	TargetAddresses []string
	// TaskReporting is "RFC3720" unless the target proposed otherwise and
	// we agreed (we only agree to RFC3720).
	TaskReporting string
}

// DefaultParams returns the RFC 7143 defaults: what is in force for every
// key that is not negotiated.
func DefaultParams() Params {
	return Params{
		MaxConnections:                 1,
		InitialR2T:                     true,
		ImmediateData:                  true,
		MaxRecvDataSegmentLength:       8192,
		TargetMaxRecvDataSegmentLength: 8192,
		MaxBurstLength:                 262144,
		FirstBurstLength:               65536,
		DefaultTime2Wait:               2,
		DefaultTime2Retain:             20,
		MaxOutstandingR2T:              1,
		DataPDUInOrder:                 true,
		DataSequenceInOrder:            true,
		TaskReporting:                  "RFC3720",
	}
}

// Negotiator runs the operational stage of a login from the initiator's
// side: Pairs gives the offer, Process takes each Login Response's pairs
// (reassembled) and returns the pairs to send back, and Finish, called
// once the target sets the Transit bit, returns the Params. A Negotiator is
// used for one login by one goroutine.
type Negotiator struct {
	discovery bool
	offer     []Pair            // sent
	offered   map[string]string // negotiated keys we offered
	ours      map[string]string // our value of every key we could be asked
	results   map[string]string // settled keys
	seen      map[string]string // keys received, with their value
	addresses []string
	answered  map[string]bool // unknown keys already answered NotUnderstood
	rejected  []Pair
	missing   []string
}

// NewNegotiator checks the offer and returns a Negotiator for it.
func NewNegotiator(o Offer) (*Negotiator, error) {
	all := o.pairs()
	n := &Negotiator{
		discovery: o.Discovery,
		offered:   map[string]string{},
		ours:      map[string]string{},
		results:   map[string]string{},
		seen:      map[string]string{},
		answered:  map[string]bool{},
	}
	for _, p := range all {
		r := rules[p.Key]
		if err := checkOffer(r, p.Value); err != nil {
			return nil, err
		}
		n.ours[p.Key] = p.Value
		if o.Discovery && r.DiscoveryIrrelevant {
			continue
		}
		n.offer = append(n.offer, p)
		if r.Kind != Declarative {
			n.offered[p.Key] = p.Value
		}
	}
	fb, _ := ParseNumber(n.ours[KeyFirstBurstLength])
	mb, _ := ParseNumber(n.ours[KeyMaxBurstLength])
	if !o.Discovery && fb > mb {
		return nil, fmt.Errorf("%w: offer FirstBurstLength=%d exceeds MaxBurstLength=%d", ErrProtocol, fb, mb)
	}
	// Keys we never offer but answer when the target proposes them.
	n.ours[KeyTaskReporting] = "RFC3720"
	n.ours[KeyProtocolLevel] = "1"
	return n, nil
}

func checkOffer(r *Rule, v string) error {
	if r.Kind == List {
		items, err := ParseList(v)
		if err != nil {
			return &ProtocolError{Key: r.Key, Offered: v, Reason: "offer is an empty list"}
		}
		for i, it := range items {
			if !slices.Contains(r.Values, it) || slices.Contains(items[:i], it) {
				return &ProtocolError{Key: r.Key, Offered: v, Reason: "offer must list None and CRC32C at most once each"}
			}
		}
		return nil
	}
	if err := r.Validate(v); err != nil {
		pe := err.(*ProtocolError)
		pe.Offered, pe.Answered = v, ""
		pe.Reason = "offer " + pe.Reason
		return pe
	}
	return nil
}

// Pairs returns the operational keys to send in the first Login Request of
// the operational stage. The slice is the Negotiator's; do not modify it.
func (n *Negotiator) Pairs() []Pair { return n.offer }

// Process folds in the pairs of one Login Response. It returns the pairs we
// must send back: answers to keys the target proposed itself, Irrelevant
// for keys that mean nothing in a discovery session, NotUnderstood for keys
// we do not know. Keys of the security stage (AuthMethod, CHAP_*) are left
// to the authentication layer and ignored here.
//
// A negotiated key received twice in one login, an answer the rules do not
// allow, or a reserved constant proposed as a value returns a
// *ProtocolError; the login must then be abandoned.
func (n *Negotiator) Process(pairs []Pair) (reply []Pair, err error) {
	for _, p := range pairs {
		if IsSecurityKey(p.Key) {
			continue
		}
		r, ok := rules[p.Key]
		if !ok {
			if !IsReserved(p.Value) && !n.answered[p.Key] {
				n.answered[p.Key] = true
				reply = append(reply, Pair{p.Key, NotUnderstood})
			}
			continue
		}
		if prev, dup := n.seen[p.Key]; dup && !r.Repeatable {
			if r.Kind == Declarative && prev == p.Value {
				continue
			}
			return reply, r.perr(n.offered[p.Key], p.Value, "sent twice in one login (previously "+quoteShort(prev)+")")
		}
		n.seen[p.Key] = p.Value
		if r.Senders == InitiatorOnly {
			// An echo of one of our declarations: nothing to settle.
			continue
		}
		if offered, ok := n.offered[p.Key]; ok {
			res, err := r.Result(offered, p.Value)
			if err != nil {
				return reply, err
			}
			if IsReserved(p.Value) {
				n.rejected = append(n.rejected, p)
			}
			n.results[p.Key] = res
			continue
		}
		if n.discovery && r.DiscoveryIrrelevant {
			if IsReserved(p.Value) {
				return reply, r.perr("", p.Value, "reserved constant proposed")
			}
			reply = append(reply, Pair{p.Key, Irrelevant})
			continue
		}
		answer, res, err := r.Respond(p.Value, n.ours[p.Key])
		if err != nil {
			return reply, err
		}
		if answer != "" {
			reply = append(reply, Pair{p.Key, answer})
		}
		if p.Key == KeyTargetAddress {
			n.addresses = append(n.addresses, res)
		}
		n.results[p.Key] = res
	}
	return reply, nil
}

// Finish settles the keys the target never answered and returns the
// negotiated parameters. An OR key offered Yes and an AND key offered No
// need no answer and take the offered value; any other unanswered key takes
// its RFC default, as the target never agreed to anything else, and is
// listed by Unanswered. A digest that ends up at a value we did not offer
// (CRC32C required, None in force) is a *ProtocolError.
func (n *Negotiator) Finish() (Params, error) {
	n.missing = n.missing[:0]
	for _, p := range n.offer {
		off, ok := n.offered[p.Key]
		if !ok {
			continue
		}
		if _, done := n.results[p.Key]; done {
			continue
		}
		r := rules[p.Key]
		if v, ok := r.Omitted(off); ok {
			n.results[p.Key] = v
			continue
		}
		if r.Kind == List && !listHas(off, r.Default) {
			return Params{}, r.perr(off, "", "not answered, and the default "+r.Default+" was not offered")
		}
		n.results[p.Key] = r.Default
		n.missing = append(n.missing, p.Key)
	}

	pr := DefaultParams()
	mrdsl, _ := ParseNumber(n.ours[KeyMaxRecvDataSegmentLength])
	pr.MaxRecvDataSegmentLength = uint32(mrdsl)
	for k, v := range n.results {
		num, _ := ParseNumber(v) // results are validated
		u := uint32(num)
		switch k {
		case KeyHeaderDigest:
			pr.HeaderDigest = v == CRC32C
		case KeyDataDigest:
			pr.DataDigest = v == CRC32C
		case KeyMaxConnections:
			pr.MaxConnections = u
		case KeyInitialR2T:
			pr.InitialR2T = v == Yes
		case KeyImmediateData:
			pr.ImmediateData = v == Yes
		case KeyMaxRecvDataSegmentLength:
			pr.TargetMaxRecvDataSegmentLength = u
		case KeyMaxBurstLength:
			pr.MaxBurstLength = u
		case KeyFirstBurstLength:
			pr.FirstBurstLength = u
		case KeyDefaultTime2Wait:
			pr.DefaultTime2Wait = u
		case KeyDefaultTime2Retain:
			pr.DefaultTime2Retain = u
		case KeyMaxOutstandingR2T:
			pr.MaxOutstandingR2T = u
		case KeyDataPDUInOrder:
			pr.DataPDUInOrder = v == Yes
		case KeyDataSequenceInOrder:
			pr.DataSequenceInOrder = v == Yes
		case KeyErrorRecoveryLevel:
			pr.ErrorRecoveryLevel = uint8(u)
		case KeyTargetAlias:
			pr.TargetAlias = v
		case KeyTargetPortalGroupTag:
			pr.TargetPortalGroupTag, pr.HasTargetPortalGroupTag = uint16(u), true
		case KeyTaskReporting:
			pr.TaskReporting = v
		}
	}
	pr.TargetAddresses = slices.Clone(n.addresses)
	if pr.FirstBurstLength > pr.MaxBurstLength {
		pr.FirstBurstLength = pr.MaxBurstLength
	}
	return pr, nil
}

// Unanswered lists, after Finish, the offered keys the target did not
// answer although an answer was required; they took their RFC defaults.
func (n *Negotiator) Unanswered() []string { return slices.Clone(n.missing) }

// Rejected lists the target's answers Reject, Irrelevant and NotUnderstood
// to keys we offered; those keys took their RFC defaults.
func (n *Negotiator) Rejected() []Pair { return slices.Clone(n.rejected) }

// LoginDeclarations returns the declarations of the first Login Request:
// InitiatorName, InitiatorAlias (when set), SessionType and, for a normal
// session, TargetName.
func LoginDeclarations(initiatorName, initiatorAlias, targetName string, discovery bool) []Pair {
	ps := []Pair{{KeyInitiatorName, initiatorName}}
	if initiatorAlias != "" {
		ps = append(ps, Pair{KeyInitiatorAlias, initiatorAlias})
	}
	if discovery {
		return append(ps, Pair{KeySessionType, SessionDiscovery})
	}
	return append(ps, Pair{KeySessionType, SessionNormal}, Pair{KeyTargetName, targetName})
}

func quoteShort(v string) string {
	if len(v) > 32 {
		v = v[:32] + "…"
	}
	return fmt.Sprintf("%q", v)
}
