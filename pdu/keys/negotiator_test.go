package keys

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tgtdAnswer is what tgtd (default target settings) answers to libiscsi's
// default offer, with its declarations and the obsolete marker keys that
// older tgtd versions still propose.
var tgtdAnswer = []Pair{
	{"HeaderDigest", "None"},
	{"DataDigest", "None"},
	{"InitialR2T", "Yes"},
	{"ImmediateData", "Yes"},
	{"MaxRecvDataSegmentLength", "8192"},
	{"MaxBurstLength", "262144"},
	{"FirstBurstLength", "65536"},
	{"MaxConnections", "1"},
	{"MaxOutstandingR2T", "1"},
	{"DataPDUInOrder", "Yes"},
	{"DataSequenceInOrder", "Yes"},
	{"DefaultTime2Wait", "2"},
	{"DefaultTime2Retain", "0"},
	{"ErrorRecoveryLevel", "0"},
	{"IFMarker", "No"},
	{"OFMarker", "No"},
}

var tgtdParams = Params{
	MaxConnections:                 1,
	InitialR2T:                     true,
	ImmediateData:                  true,
	MaxRecvDataSegmentLength:       262144,
	TargetMaxRecvDataSegmentLength: 8192,
	MaxBurstLength:                 262144,
	FirstBurstLength:               65536,
	DefaultTime2Wait:               2,
	DefaultTime2Retain:             0,
	MaxOutstandingR2T:              1,
	DataPDUInOrder:                 true,
	DataSequenceInOrder:            true,
	TargetAlias:                    "tgt disk",
	TargetPortalGroupTag:           1,
	HasTargetPortalGroupTag:        true,
	TaskReporting:                  "RFC3720",
}

func mustNegotiator(t *testing.T, o Offer) *Negotiator {
	t.Helper()
	n, err := NewNegotiator(o)
	if err != nil {
		t.Fatalf("NewNegotiator: %v", err)
	}
	return n
}

func TestDefaultOfferPairs(t *testing.T) {
	n := mustNegotiator(t, Offer{})
	want := []Pair{
		{"HeaderDigest", "None,CRC32C"}, {"DataDigest", "None,CRC32C"},
		{"InitialR2T", "No"}, {"ImmediateData", "Yes"},
		{"MaxRecvDataSegmentLength", "262144"}, {"MaxBurstLength", "262144"}, {"FirstBurstLength", "262144"},
		{"MaxConnections", "1"}, {"MaxOutstandingR2T", "1"},
		{"DataPDUInOrder", "Yes"}, {"DataSequenceInOrder", "Yes"},
		{"DefaultTime2Wait", "2"}, {"DefaultTime2Retain", "0"}, {"ErrorRecoveryLevel", "0"},
	}
	if diff := cmp.Diff(want, n.Pairs()); diff != "" {
		t.Fatalf("default offer (-want +got):\n%s", diff)
	}
	// The zero Offer and DefaultOffer are the same offer.
	if diff := cmp.Diff(want, mustNegotiator(t, DefaultOffer()).Pairs()); diff != "" {
		t.Fatalf("DefaultOffer differs from zero Offer:\n%s", diff)
	}
}

func TestOfferOverrides(t *testing.T) {
	n := mustNegotiator(t, Offer{
		HeaderDigest:       []string{CRC32C},
		DataDigest:         []string{CRC32C, None},
		InitialR2T:         Some(true),
		ImmediateData:      Some(false),
		MaxBurstLength:     Some[uint32](1 << 20),
		FirstBurstLength:   Some[uint32](512),
		DefaultTime2Wait:   Some[uint32](0),
		ErrorRecoveryLevel: Some[uint32](2),
	})
	got := map[string]string{}
	for _, p := range n.Pairs() {
		got[p.Key] = p.Value
	}
	want := map[string]string{
		"HeaderDigest": "CRC32C", "DataDigest": "CRC32C,None", "InitialR2T": "Yes", "ImmediateData": "No",
		"MaxBurstLength": "1048576", "FirstBurstLength": "512", "DefaultTime2Wait": "0", "ErrorRecoveryLevel": "2",
		"MaxRecvDataSegmentLength": "262144", "MaxConnections": "1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestOfferInvalid(t *testing.T) {
	tests := map[string]Offer{
		"unknown digest":     {HeaderDigest: []string{"MD5"}},
		"empty digest list":  {DataDigest: []string{}},
		"repeated digest":    {DataDigest: []string{None, None}},
		"first over max":     {FirstBurstLength: Some[uint32](65536), MaxBurstLength: Some[uint32](8192)},
		"small MRDSL":        {MaxRecvDataSegmentLength: Some[uint32](511)},
		"huge MaxBurst":      {MaxBurstLength: Some[uint32](1 << 24)},
		"zero connections":   {MaxConnections: Some[uint32](0)},
		"ERL 3":              {ErrorRecoveryLevel: Some[uint32](3)},
		"Time2Wait too long": {DefaultTime2Wait: Some[uint32](3601)},
	}
	for name, o := range tests {
		if _, err := NewNegotiator(o); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: err = %v, want ErrProtocol", name, err)
		}
	}
}

func TestNegotiateTgtd(t *testing.T) {
	// The whole answer in one PDU, and the same answer spread over three
	// exchanges: the result must not depend on how it was split.
	splits := map[string][][]Pair{
		"one exchange": {
			{{"TargetPortalGroupTag", "1"}, {"TargetAlias", "tgt disk"}},
			tgtdAnswer,
		},
		"three exchanges": {
			{{"TargetPortalGroupTag", "1"}},
			append([]Pair{{"TargetAlias", "tgt disk"}}, tgtdAnswer[:5]...),
			tgtdAnswer[5:],
		},
	}
	for name, exchanges := range splits {
		t.Run(name, func(t *testing.T) {
			n := mustNegotiator(t, Offer{})
			var replies []Pair
			for _, ex := range exchanges {
				r, err := n.Process(ex)
				if err != nil {
					t.Fatalf("Process: %v", err)
				}
				replies = append(replies, r...)
			}
			if diff := cmp.Diff([]Pair{{"IFMarker", Reject}, {"OFMarker", Reject}}, replies); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
			p, err := n.Finish()
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if diff := cmp.Diff(tgtdParams, p); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
			if len(n.Unanswered()) != 0 || len(n.Rejected()) != 0 {
				t.Errorf("Unanswered %v Rejected %v, want none", n.Unanswered(), n.Rejected())
			}
		})
	}
}

func TestNegotiateOmissions(t *testing.T) {
	n := mustNegotiator(t, Offer{})
	// The target answers only part of the offer: DataPDUInOrder and
	// DataSequenceInOrder (OR, offered Yes) need no answer; the others
	// take their RFC defaults.
	if _, err := n.Process([]Pair{{"HeaderDigest", "CRC32C"}, {"InitialR2T", "No"}, {"MaxBurstLength", "65536"}}); err != nil {
		t.Fatal(err)
	}
	p, err := n.Finish()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultParams()
	want.HeaderDigest = true
	want.InitialR2T = false
	want.MaxBurstLength = 65536
	want.FirstBurstLength = 65536 // default, within MaxBurstLength
	want.MaxRecvDataSegmentLength = 262144
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	wantMissing := []string{"DataDigest", "ImmediateData", "FirstBurstLength", "MaxConnections", "MaxOutstandingR2T",
		"DefaultTime2Wait", "DefaultTime2Retain", "ErrorRecoveryLevel"}
	if diff := cmp.Diff(wantMissing, n.Unanswered()); diff != "" {
		t.Errorf("Unanswered (-want +got):\n%s", diff)
	}
}

func TestNegotiateTargetProposals(t *testing.T) {
	n := mustNegotiator(t, Offer{})
	reply, err := n.Process([]Pair{
		{"X-com.example.Feature", "On"},
		{"TaskReporting", "FastAbort,RFC3720"},
		{"iSCSIProtocolLevel", "2"},
		{"OFMarkInt", "2048~8192"},
		{"TargetAddress", "10.0.0.1:3260,1"},
		{"TargetAddress", "[::1]:3260,1"},
		{"CHAP_A", "5"}, // security stage: not ours
		{"X-com.example.Feature", "On"},
		{"X-com.example.Other", NotUnderstood},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Pair{
		{"X-com.example.Feature", NotUnderstood},
		{"TaskReporting", "RFC3720"},
		{"iSCSIProtocolLevel", "1"},
		{"OFMarkInt", Reject},
	}
	if diff := cmp.Diff(want, reply); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	if _, err := n.Process(tgtdAnswer); err != nil {
		t.Fatal(err)
	}
	p, err := n.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10.0.0.1:3260,1", "[::1]:3260,1"}, p.TargetAddresses); diff != "" {
		t.Errorf("TargetAddresses (-want +got):\n%s", diff)
	}
	if p.TaskReporting != "RFC3720" || p.HasTargetPortalGroupTag {
		t.Errorf("TaskReporting %q HasTPGT %v", p.TaskReporting, p.HasTargetPortalGroupTag)
	}
}

func TestNegotiateDiscovery(t *testing.T) {
	n := mustNegotiator(t, Offer{Discovery: true})
	want := []Pair{
		{"HeaderDigest", "None,CRC32C"}, {"DataDigest", "None,CRC32C"},
		{"MaxRecvDataSegmentLength", "262144"},
		{"DefaultTime2Wait", "2"}, {"DefaultTime2Retain", "0"}, {"ErrorRecoveryLevel", "0"},
	}
	if diff := cmp.Diff(want, n.Pairs()); diff != "" {
		t.Fatalf("discovery offer (-want +got):\n%s", diff)
	}
	reply, err := n.Process([]Pair{
		{"HeaderDigest", "None"}, {"DataDigest", "None"},
		{"MaxRecvDataSegmentLength", "8192"},
		{"DefaultTime2Wait", "2"}, {"DefaultTime2Retain", "0"}, {"ErrorRecoveryLevel", "0"},
		{"MaxConnections", "1"}, {"InitialR2T", "Yes"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Pair{{"MaxConnections", Irrelevant}, {"InitialR2T", Irrelevant}}, reply); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	p, err := n.Finish()
	if err != nil {
		t.Fatal(err)
	}
	wantP := DefaultParams()
	wantP.MaxRecvDataSegmentLength = 262144
	wantP.DefaultTime2Retain = 0
	if diff := cmp.Diff(wantP, p); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
}

func TestNegotiateErrors(t *testing.T) {
	tests := []struct {
		name      string
		offer     Offer
		exchanges [][]Pair
		key       string // key the error must name
		atFinish  bool
	}{
		{name: "duplicate in one exchange", exchanges: [][]Pair{{{"MaxBurstLength", "65536"}, {"MaxBurstLength", "65536"}}}, key: "MaxBurstLength"},
		{name: "duplicate across exchanges", exchanges: [][]Pair{{{"InitialR2T", "Yes"}}, {{"InitialR2T", "Yes"}}}, key: "InitialR2T"},
		{name: "declaration changed", exchanges: [][]Pair{{{"TargetPortalGroupTag", "1"}}, {{"TargetPortalGroupTag", "2"}}}, key: "TargetPortalGroupTag"},
		{name: "duplicate target proposal", exchanges: [][]Pair{{{"TaskReporting", "RFC3720"}, {"TaskReporting", "RFC3720"}}}, key: "TaskReporting"},
		{name: "min answer above offer", exchanges: [][]Pair{{{"MaxBurstLength", "1048576"}}}, key: "MaxBurstLength"},
		{name: "max answer below offer", exchanges: [][]Pair{{{"DefaultTime2Wait", "1"}}}, key: "DefaultTime2Wait"},
		{name: "AND contradicted", offer: Offer{ImmediateData: Some(false)}, exchanges: [][]Pair{{{"ImmediateData", "Yes"}}}, key: "ImmediateData"},
		{name: "OR contradicted", exchanges: [][]Pair{{{"DataPDUInOrder", "No"}}}, key: "DataPDUInOrder"},
		{name: "digest never offered", offer: Offer{HeaderDigest: []string{CRC32C}}, exchanges: [][]Pair{{{"HeaderDigest", "None"}}}, key: "HeaderDigest"},
		{name: "required digest unanswered", offer: Offer{DataDigest: []string{CRC32C}}, exchanges: [][]Pair{{}}, key: "DataDigest", atFinish: true},
		{name: "reserved value proposed", exchanges: [][]Pair{{{"TaskReporting", Reject}}}, key: "TaskReporting"},
		{name: "bad declaration", exchanges: [][]Pair{{{"MaxRecvDataSegmentLength", "100"}}}, key: "MaxRecvDataSegmentLength"},
		{name: "bad TPGT", exchanges: [][]Pair{{{"TargetPortalGroupTag", "70000"}}}, key: "TargetPortalGroupTag"},
		{name: "reserved proposal in discovery", offer: Offer{Discovery: true}, exchanges: [][]Pair{{{"MaxConnections", Reject}}}, key: "MaxConnections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := mustNegotiator(t, tt.offer)
			var err error
			for _, ex := range tt.exchanges {
				if _, err = n.Process(ex); err != nil {
					break
				}
			}
			if tt.atFinish {
				if err != nil {
					t.Fatalf("Process: %v", err)
				}
				_, err = n.Finish()
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ProtocolError", err)
			}
			if pe.Key != tt.key {
				t.Fatalf("error names %q, want %q: %v", pe.Key, tt.key, err)
			}
		})
	}
}

func TestNegotiateRejectAndClamp(t *testing.T) {
	n := mustNegotiator(t, Offer{})
	_, err := n.Process([]Pair{
		{"MaxBurstLength", "16384"},
		{"FirstBurstLength", "65536"}, // breaks FirstBurstLength <= MaxBurstLength
		{"DefaultTime2Wait", Reject},
		{"MaxRecvDataSegmentLength", "0x2000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := n.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if p.FirstBurstLength != 16384 || p.MaxBurstLength != 16384 {
		t.Errorf("FirstBurstLength %d MaxBurstLength %d, want both 16384", p.FirstBurstLength, p.MaxBurstLength)
	}
	if p.DefaultTime2Wait != 2 || p.TargetMaxRecvDataSegmentLength != 8192 {
		t.Errorf("DefaultTime2Wait %d TargetMRDSL %d", p.DefaultTime2Wait, p.TargetMaxRecvDataSegmentLength)
	}
	if diff := cmp.Diff([]Pair{{"DefaultTime2Wait", Reject}}, n.Rejected()); diff != "" {
		t.Errorf("Rejected (-want +got):\n%s", diff)
	}
}

func TestLoginDeclarations(t *testing.T) {
	got := LoginDeclarations("iqn.i", "host", "iqn.t", false)
	want := []Pair{{"InitiatorName", "iqn.i"}, {"InitiatorAlias", "host"}, {"SessionType", "Normal"}, {"TargetName", "iqn.t"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("normal (-want +got):\n%s", diff)
	}
	got = LoginDeclarations("iqn.i", "", "ignored", true)
	want = []Pair{{"InitiatorName", "iqn.i"}, {"SessionType", "Discovery"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}
}
