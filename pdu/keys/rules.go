package keys

import (
	"slices"
	"strings"
)

// Key names of RFC 7143 §13 (and iSCSIProtocolLevel of RFC 7144 §2.1).
const (
	KeyHeaderDigest             = "HeaderDigest"
	KeyDataDigest               = "DataDigest"
	KeyMaxConnections           = "MaxConnections"
	KeySendTargets              = "SendTargets"
	KeyTargetName               = "TargetName"
	KeyInitiatorName            = "InitiatorName"
	KeyTargetAlias              = "TargetAlias"
	KeyInitiatorAlias           = "InitiatorAlias"
	KeyTargetAddress            = "TargetAddress"
	KeyTargetPortalGroupTag     = "TargetPortalGroupTag"
	KeyInitialR2T               = "InitialR2T"
	KeyImmediateData            = "ImmediateData"
	KeyMaxRecvDataSegmentLength = "MaxRecvDataSegmentLength"
	KeyMaxBurstLength           = "MaxBurstLength"
	KeyFirstBurstLength         = "FirstBurstLength"
	KeyDefaultTime2Wait         = "DefaultTime2Wait"
	KeyDefaultTime2Retain       = "DefaultTime2Retain"
	KeyMaxOutstandingR2T        = "MaxOutstandingR2T"
	KeyDataPDUInOrder           = "DataPDUInOrder"
	KeyDataSequenceInOrder      = "DataSequenceInOrder"
	KeyErrorRecoveryLevel       = "ErrorRecoveryLevel"
	KeySessionType              = "SessionType"
	KeyAuthMethod               = "AuthMethod"
	KeyCHAPA                    = "CHAP_A" // CHAP keys: RFC 7143 §12.1.3
	KeyCHAPI                    = "CHAP_I"
	KeyCHAPC                    = "CHAP_C"
	KeyCHAPN                    = "CHAP_N"
	KeyCHAPR                    = "CHAP_R"
	KeyTaskReporting            = "TaskReporting"
	KeyProtocolLevel            = "iSCSIProtocolLevel"
	KeyIFMarker                 = "IFMarker"
	KeyOFMarker                 = "OFMarker"
	KeyIFMarkInt                = "IFMarkInt"
	KeyOFMarkInt                = "OFMarkInt"
)

// Values of the digest, session type and authentication method keys.
const (
	CRC32C           = "CRC32C"
	CHAP             = "CHAP"
	SessionNormal    = "Normal"
	SessionDiscovery = "Discovery"
)

// Kind is how a key's value is settled (RFC 7143 §6.2).
type Kind uint8

// Kinds of keys.
const (
	// Declarative keys are stated by one side and not answered.
	Declarative Kind = iota + 1
	// List keys: the responder picks the first offered value it supports.
	List
	// Minimum keys: the result is the smaller of the two numbers.
	Minimum
	// Maximum keys: the result is the larger of the two numbers.
	Maximum
	// Or keys: the result is the boolean OR of the two values.
	Or
	// And keys: the result is the boolean AND of the two values.
	And
	// Obsolete keys (the markers of RFC 3720) are answered Reject
	// (RFC 7143 §13.25).
	Obsolete
)

var kindNames = [...]string{"invalid", "declarative", "list", "minimum", "maximum", "OR", "AND", "obsolete"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Sender says which side may send a key.
type Sender uint8

// Senders.
const (
	Both Sender = iota
	InitiatorOnly
	TargetOnly
)

// Rule is the negotiation rule of one key, from its entry in RFC 7143 §13.
type Rule struct {
	Key  string
	Kind Kind
	// Numeric is set for keys whose value is a number in [Min, Max]
	// (Minimum and Maximum keys, and numeric declarations).
	Numeric  bool
	Min, Max uint64
	// Default is the value in force when the key is not negotiated, or ""
	// when the key has none.
	Default string
	Senders Sender
	// DiscoveryIrrelevant marks keys that mean nothing in a discovery
	// session ("Irrelevant when: SessionType=Discovery").
	DiscoveryIrrelevant bool
	// Repeatable keys may appear more than once (TargetAddress and
	// TargetName in a SendTargets answer).
	Repeatable bool
	// Values, when set, are the only values the key takes.
	Values []string
	// MaxLen is the longest value, 255 bytes unless the RFC says otherwise.
	MaxLen int
}

const maxSegLen = 1<<24 - 1

// rules is built at package initialization, before any init function.
var rules = buildRules()

func buildRules() map[string]*Rule {
	rules := map[string]*Rule{}
	def := func(r Rule) {
		if r.MaxLen == 0 {
			r.MaxLen = 255
		}
		rules[r.Key] = &r
	}
	digests := []string{None, CRC32C}
	def(Rule{Key: KeyHeaderDigest, Kind: List, Default: None, Values: digests})
	def(Rule{Key: KeyDataDigest, Kind: List, Default: None, Values: digests})
	def(Rule{Key: KeyMaxConnections, Kind: Minimum, Numeric: true, Min: 1, Max: 65535, Default: "1", DiscoveryIrrelevant: true})
	def(Rule{Key: KeySendTargets, Kind: Declarative, Senders: InitiatorOnly})
	def(Rule{Key: KeyTargetName, Kind: Declarative, Repeatable: true, MaxLen: 223})
	def(Rule{Key: KeyInitiatorName, Kind: Declarative, Senders: InitiatorOnly, MaxLen: 223})
	def(Rule{Key: KeyTargetAlias, Kind: Declarative, Senders: TargetOnly})
	def(Rule{Key: KeyInitiatorAlias, Kind: Declarative, Senders: InitiatorOnly})
	def(Rule{Key: KeyTargetAddress, Kind: Declarative, Senders: TargetOnly, Repeatable: true})
	def(Rule{Key: KeyTargetPortalGroupTag, Kind: Declarative, Numeric: true, Min: 0, Max: 65535, Senders: TargetOnly})
	def(Rule{Key: KeyInitialR2T, Kind: Or, Default: Yes, DiscoveryIrrelevant: true})
	def(Rule{Key: KeyImmediateData, Kind: And, Default: Yes, DiscoveryIrrelevant: true})
	def(Rule{Key: KeyMaxRecvDataSegmentLength, Kind: Declarative, Numeric: true, Min: 512, Max: maxSegLen, Default: "8192"})
	def(Rule{Key: KeyMaxBurstLength, Kind: Minimum, Numeric: true, Min: 512, Max: maxSegLen, Default: "262144", DiscoveryIrrelevant: true})
	def(Rule{Key: KeyFirstBurstLength, Kind: Minimum, Numeric: true, Min: 512, Max: maxSegLen, Default: "65536", DiscoveryIrrelevant: true})
	def(Rule{Key: KeyDefaultTime2Wait, Kind: Maximum, Numeric: true, Min: 0, Max: 3600, Default: "2"})
	def(Rule{Key: KeyDefaultTime2Retain, Kind: Minimum, Numeric: true, Min: 0, Max: 3600, Default: "20"})
	def(Rule{Key: KeyMaxOutstandingR2T, Kind: Minimum, Numeric: true, Min: 1, Max: 65535, Default: "1", DiscoveryIrrelevant: true})
	def(Rule{Key: KeyDataPDUInOrder, Kind: Or, Default: Yes, DiscoveryIrrelevant: true})
	def(Rule{Key: KeyDataSequenceInOrder, Kind: Or, Default: Yes, DiscoveryIrrelevant: true})
	def(Rule{Key: KeyErrorRecoveryLevel, Kind: Minimum, Numeric: true, Min: 0, Max: 2, Default: "0"})
	def(Rule{Key: KeySessionType, Kind: Declarative, Senders: InitiatorOnly, Default: SessionNormal, Values: []string{SessionDiscovery, SessionNormal}})
	def(Rule{Key: KeyAuthMethod, Kind: List, Default: None})
	def(Rule{Key: KeyCHAPA, Kind: List})
	def(Rule{Key: KeyTaskReporting, Kind: List, Default: "RFC3720", DiscoveryIrrelevant: true})
	def(Rule{Key: KeyProtocolLevel, Kind: Minimum, Numeric: true, Min: 0, Max: 31, Default: "1", DiscoveryIrrelevant: true})
	for _, k := range []string{KeyIFMarker, KeyOFMarker} {
		def(Rule{Key: k, Kind: Obsolete, Default: No})
	}
	for _, k := range []string{KeyIFMarkInt, KeyOFMarkInt} {
		def(Rule{Key: k, Kind: Obsolete})
	}
	return rules
}

// Lookup returns the rule of a standard key, and false for keys this
// package does not know (extension keys among them).
func Lookup(key string) (Rule, bool) {
	r, ok := rules[key]
	if !ok {
		return Rule{}, false
	}
	return *r, true
}

// IsSecurityKey reports whether key belongs to the security stage
// (AuthMethod and the keys of the authentication methods), which the
// authentication layer handles.
func IsSecurityKey(key string) bool {
	if key == KeyAuthMethod {
		return true
	}
	for _, p := range []string{"CHAP_", "SRP_", "KRB_", "TargetAuth"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (r *Rule) perr(offered, answered, reason string) error {
	return &ProtocolError{Key: r.Key, Offered: offered, Answered: answered, Reason: reason}
}

// Validate checks that v is a well-formed value for the key: in range for
// numbers, Yes or No for booleans, one of Values when they are set, a
// comma-separated list for list keys, and no longer than MaxLen. Reserved
// constants are not values.
func (r Rule) Validate(v string) error {
	switch {
	case IsReserved(v):
		return r.perr("", v, "reserved constant used as a value")
	case len(v) > r.MaxLen:
		return r.perr("", "", "value longer than the key's limit")
	}
	if r.Numeric {
		_, err := r.number(v)
		return err
	}
	switch r.Kind {
	case Or, And:
		if _, err := ParseBool(v); err != nil {
			return r.perr("", v, `want "Yes" or "No"`)
		}
	case List:
		if _, err := ParseList(v); err != nil {
			return r.perr("", v, "malformed list")
		}
	}
	if r.Values != nil && r.Kind != List && !slices.Contains(r.Values, v) {
		return r.perr("", v, "want one of "+strings.Join(r.Values, ", "))
	}
	return nil
}

func (r *Rule) number(v string) (uint64, error) {
	n, err := ParseNumber(v)
	if err != nil {
		return 0, r.perr("", v, "not a number")
	}
	if n < r.Min || n > r.Max {
		return 0, r.perr("", v, "out of range "+FormatNumber(r.Min)+".."+FormatNumber(r.Max))
	}
	return n, nil
}

// Omitted returns the result when the responder sends no answer to offered,
// and whether leaving the answer out is allowed: for an OR key offered Yes
// and an AND key offered No the offer decides the result by itself (RFC
// 7143 §6.2.2), and declarations are never answered.
func (r Rule) Omitted(offered string) (string, bool) {
	switch {
	case r.Kind == Or && offered == Yes, r.Kind == And && offered == No, r.Kind == Declarative:
		return offered, true
	}
	return "", false
}

// Result settles a key we offered, given the responder's answer ("" when
// it sent none), and returns the negotiated value in canonical form
// (numbers in decimal). Reject, Irrelevant and NotUnderstood leave the key
// at its default. Any answer the rules do not allow — not offered, out of
// range, larger than a Minimum offer, No to an OR offer of Yes, a missing
// answer that was required — is a *ProtocolError naming the key and both
// values.
func (r Rule) Result(offered, answered string) (string, error) {
	if answered == "" {
		if v, ok := r.Omitted(offered); ok {
			return v, nil
		}
		return "", r.perr(offered, "", "no answer")
	}
	if IsReserved(answered) {
		if r.Kind == Declarative {
			return "", r.perr(offered, answered, "a declaration cannot be answered")
		}
		if r.Default == "" {
			return "", r.perr(offered, answered, "answered "+answered+" and the key has no default")
		}
		if r.Kind == List && !listHas(offered, r.Default) {
			return "", r.perr(offered, answered, "answered "+answered+" and the default "+r.Default+" was not offered")
		}
		return r.Default, nil
	}
	if err := r.Validate(answered); err != nil {
		err.(*ProtocolError).Offered = offered
		return "", err
	}
	switch r.Kind {
	case Declarative:
		return answered, nil
	case Minimum, Maximum:
		a, _ := r.number(answered)
		o, err := r.number(offered)
		if err != nil {
			return "", r.perr(offered, answered, "our offer is invalid")
		}
		if r.Kind == Minimum && a > o {
			return "", r.perr(offered, answered, "answer larger than the offer, result function is Minimum")
		}
		if r.Kind == Maximum && a < o {
			return "", r.perr(offered, answered, "answer smaller than the offer, result function is Maximum")
		}
		return FormatNumber(a), nil
	case Or, And:
		a, _ := ParseBool(answered)
		o, err := ParseBool(offered)
		if err != nil {
			return "", r.perr(offered, answered, "our offer is invalid")
		}
		if r.Kind == Or && o && !a {
			return "", r.perr(offered, answered, "answer contradicts the OR function")
		}
		if r.Kind == And && !o && a {
			return "", r.perr(offered, answered, "answer contradicts the AND function")
		}
		return answered, nil
	case List:
		if strings.Contains(answered, ",") {
			return "", r.perr(offered, answered, "answered a list, want one value")
		}
		if !listHas(offered, answered) {
			return "", r.perr(offered, answered, "answer was not offered")
		}
		return answered, nil
	}
	return "", r.perr(offered, answered, "key is not negotiated")
}

// Respond answers a proposal made by the peer, given our own value: a
// number or boolean for numeric and boolean keys, the list of values we
// support in order of preference for list keys ("" means the default). It
// returns the answer to send ("" for a declaration, which is not answered)
// and the resulting value. An inadmissible proposal is answered Reject and
// the key keeps its default (RFC 7143 §6.2). Proposing a reserved constant
// is a *ProtocolError.
func (r Rule) Respond(proposed, ours string) (answer, result string, err error) {
	if IsReserved(proposed) {
		return "", "", r.perr("", proposed, "reserved constant proposed")
	}
	if ours == "" {
		ours = r.Default
	}
	switch r.Kind {
	case Declarative:
		if err := r.Validate(proposed); err != nil {
			return "", "", err
		}
		return "", proposed, nil
	case Obsolete:
		return Reject, r.Default, nil
	case List:
		items, err := ParseList(proposed)
		if err != nil || len(proposed) > r.MaxLen {
			return Reject, r.Default, nil
		}
		for _, it := range items {
			if listHas(ours, it) {
				return it, it, nil
			}
		}
		return Reject, r.Default, nil
	case Minimum, Maximum:
		p, err := r.number(proposed)
		if err != nil {
			return Reject, r.Default, nil
		}
		o, err := r.number(ours)
		if err != nil {
			return "", "", r.perr(ours, "", "our value is invalid")
		}
		if r.Kind == Minimum {
			p = min(p, o)
		} else {
			p = max(p, o)
		}
		v := FormatNumber(p)
		return v, v, nil
	case Or, And:
		p, err := ParseBool(proposed)
		if err != nil {
			return Reject, r.Default, nil
		}
		o, err := ParseBool(ours)
		if err != nil {
			return "", "", r.perr(ours, "", "our value is invalid")
		}
		if r.Kind == Or {
			p = p || o
		} else {
			p = p && o
		}
		v := FormatBool(p)
		return v, v, nil
	}
	return "", "", r.perr("", proposed, "key has no rule")
}

// listHas reports whether the comma-separated list contains v.
func listHas(list, v string) bool {
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		if item == v {
			return true
		}
		list = rest
	}
	return false
}
