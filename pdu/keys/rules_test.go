package keys

import (
	"errors"
	"strings"
	"testing"
)

// TestRuleTable checks every key's entry against RFC 7143 §13.
func TestRuleTable(t *testing.T) {
	tests := []struct {
		key        string
		kind       Kind
		min, max   uint64
		def        string
		irrelevant bool
	}{
		{KeyHeaderDigest, List, 0, 0, None, false},
		{KeyDataDigest, List, 0, 0, None, false},
		{KeyMaxConnections, Minimum, 1, 65535, "1", true},
		{KeyInitialR2T, Or, 0, 0, Yes, true},
		{KeyImmediateData, And, 0, 0, Yes, true},
		{KeyMaxRecvDataSegmentLength, Declarative, 512, 1<<24 - 1, "8192", false},
		{KeyMaxBurstLength, Minimum, 512, 1<<24 - 1, "262144", true},
		{KeyFirstBurstLength, Minimum, 512, 1<<24 - 1, "65536", true},
		{KeyDefaultTime2Wait, Maximum, 0, 3600, "2", false},
		{KeyDefaultTime2Retain, Minimum, 0, 3600, "20", false},
		{KeyMaxOutstandingR2T, Minimum, 1, 65535, "1", true},
		{KeyDataPDUInOrder, Or, 0, 0, Yes, true},
		{KeyDataSequenceInOrder, Or, 0, 0, Yes, true},
		{KeyErrorRecoveryLevel, Minimum, 0, 2, "0", false},
		{KeyTargetPortalGroupTag, Declarative, 0, 65535, "", false},
		{KeyTargetAlias, Declarative, 0, 0, "", false},
		{KeyInitiatorAlias, Declarative, 0, 0, "", false},
		{KeyTargetAddress, Declarative, 0, 0, "", false},
		{KeyTargetName, Declarative, 0, 0, "", false},
		{KeyInitiatorName, Declarative, 0, 0, "", false},
		{KeySessionType, Declarative, 0, 0, SessionNormal, false},
		{KeySendTargets, Declarative, 0, 0, "", false},
		{KeyAuthMethod, List, 0, 0, None, false},
		{KeyCHAPA, List, 0, 0, "", false},
		{KeyTaskReporting, List, 0, 0, "RFC3720", true},
		{KeyIFMarker, Obsolete, 0, 0, No, false},
		{KeyOFMarkInt, Obsolete, 0, 0, "", false},
	}
	for _, tt := range tests {
		r, ok := Lookup(tt.key)
		if !ok {
			t.Errorf("Lookup(%s) not found", tt.key)
			continue
		}
		if r.Kind != tt.kind || r.Min != tt.min || r.Max != tt.max || r.Default != tt.def || r.DiscoveryIrrelevant != tt.irrelevant {
			t.Errorf("%s = %+v, want kind %v range %d..%d default %q irrelevant %v", tt.key, r, tt.kind, tt.min, tt.max, tt.def, tt.irrelevant)
		}
	}
	if _, ok := Lookup("X-com.example.thing"); ok {
		t.Error("Lookup of an extension key succeeded")
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		key, offered, answered string
		want                   string // "" with wantErr
		wantErr                bool
	}{
		// Minimum.
		{KeyMaxBurstLength, "262144", "65536", "65536", false},
		{KeyMaxBurstLength, "262144", "262144", "262144", false},
		{KeyMaxBurstLength, "262144", "0x10000", "65536", false},
		{KeyMaxBurstLength, "262144", "524288", "", true}, // larger than offer
		{KeyMaxBurstLength, "262144", "511", "", true},    // below range
		{KeyMaxBurstLength, "262144", "big", "", true},
		{KeyMaxBurstLength, "262144", "", "", true}, // answer required
		{KeyFirstBurstLength, "262144", "65536", "65536", false},
		{KeyFirstBurstLength, "262144", "16777216", "", true},
		{KeyMaxConnections, "1", "1", "1", false},
		{KeyMaxConnections, "4", "0", "", true},
		{KeyMaxConnections, "1", "2", "", true},
		{KeyMaxOutstandingR2T, "8", "1", "1", false},
		{KeyMaxOutstandingR2T, "1", "65536", "", true},
		{KeyDefaultTime2Retain, "0", "0", "0", false},
		{KeyDefaultTime2Retain, "0", "20", "", true},
		{KeyDefaultTime2Retain, "20", "3601", "", true},
		{KeyErrorRecoveryLevel, "0", "0", "0", false},
		{KeyErrorRecoveryLevel, "2", "1", "1", false},
		{KeyErrorRecoveryLevel, "0", "1", "", true},
		{KeyErrorRecoveryLevel, "2", "3", "", true},
		// Maximum.
		{KeyDefaultTime2Wait, "2", "2", "2", false},
		{KeyDefaultTime2Wait, "2", "10", "10", false},
		{KeyDefaultTime2Wait, "2", "1", "", true},
		{KeyDefaultTime2Wait, "2", "3601", "", true},
		// OR.
		{KeyInitialR2T, "No", "Yes", Yes, false},
		{KeyInitialR2T, "No", "No", No, false},
		{KeyInitialR2T, "No", "", "", true}, // answer required
		{KeyInitialR2T, "Yes", "Yes", Yes, false},
		{KeyInitialR2T, "Yes", "", Yes, false}, // answer optional
		{KeyInitialR2T, "Yes", "No", "", true},
		{KeyDataPDUInOrder, "Yes", "", Yes, false},
		{KeyDataPDUInOrder, "Yes", "No", "", true},
		{KeyDataSequenceInOrder, "No", "Yes", Yes, false},
		{KeyDataSequenceInOrder, "Yes", "yes", "", true},
		// AND.
		{KeyImmediateData, "Yes", "Yes", Yes, false},
		{KeyImmediateData, "Yes", "No", No, false},
		{KeyImmediateData, "Yes", "", "", true},
		{KeyImmediateData, "No", "", No, false}, // answer optional
		{KeyImmediateData, "No", "No", No, false},
		{KeyImmediateData, "No", "Yes", "", true},
		// List.
		{KeyHeaderDigest, "None,CRC32C", "None", None, false},
		{KeyHeaderDigest, "None,CRC32C", "CRC32C", CRC32C, false},
		{KeyHeaderDigest, "CRC32C", "None", "", true}, // tgtd's bug: never offered
		{KeyHeaderDigest, "None,CRC32C", "None,CRC32C", "", true},
		{KeyHeaderDigest, "None,CRC32C", "MD5", "", true},
		{KeyDataDigest, "None,CRC32C", "", "", true},
		{KeyDataDigest, "CRC32C,None", "CRC32C", CRC32C, false},
		{KeyAuthMethod, "CHAP,None", "CHAP", "CHAP", false},
		{KeyAuthMethod, "CHAP", "None", "", true},
		{KeyCHAPA, "7,5", "5", "5", false},
		{KeyCHAPA, "7,5", "6", "", true},
		// Reserved answers leave the default.
		{KeyMaxBurstLength, "65536", Reject, "262144", false},
		{KeyInitialR2T, "No", Reject, Yes, false},
		{KeyFirstBurstLength, "65536", Irrelevant, "65536", false},
		{KeyDefaultTime2Wait, "5", NotUnderstood, "2", false},
		{KeyHeaderDigest, "None,CRC32C", Reject, None, false},
		{KeyHeaderDigest, "CRC32C", Reject, "", true}, // default None not acceptable
		{KeyCHAPA, "5", Reject, "", true},             // no default
		{KeyMaxRecvDataSegmentLength, "8192", Reject, "", true},
		// Declarative answers are the peer's declaration.
		{KeyMaxRecvDataSegmentLength, "262144", "8192", "8192", false},
		{KeyMaxRecvDataSegmentLength, "262144", "1048576", "1048576", false},
		{KeyMaxRecvDataSegmentLength, "262144", "511", "", true},
		{KeyMaxRecvDataSegmentLength, "262144", "", "262144", false},
		// Obsolete keys are never offered.
		{KeyIFMarker, "No", "No", "", true},
	}
	for _, tt := range tests {
		r, _ := Lookup(tt.key)
		got, err := r.Result(tt.offered, tt.answered)
		if tt.wantErr {
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrProtocol) {
				t.Errorf("%s offered %q answered %q: err = %v, want *ProtocolError", tt.key, tt.offered, tt.answered, err)
				continue
			}
			if pe.Key != tt.key || pe.Offered != tt.offered || pe.Answered != tt.answered {
				t.Errorf("%s: error %+v does not name key, offer and answer", tt.key, pe)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error text %q lacks the key", err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s offered %q answered %q = %q, %v; want %q", tt.key, tt.offered, tt.answered, got, err, tt.want)
		}
	}
}

func TestRespond(t *testing.T) {
	tests := []struct {
		key, proposed, ours string
		answer, result      string
		wantErr             bool
	}{
		{KeyMaxBurstLength, "1048576", "262144", "262144", "262144", false},
		{KeyMaxBurstLength, "65536", "262144", "65536", "65536", false},
		{KeyMaxBurstLength, "0x10000", "262144", "65536", "65536", false},
		{KeyMaxBurstLength, "100", "262144", Reject, "262144", false}, // inadmissible
		{KeyMaxBurstLength, "x", "", Reject, "262144", false},
		{KeyMaxBurstLength, "65536", "", "65536", "65536", false}, // ours = default
		{KeyErrorRecoveryLevel, "2", "0", "0", "0", false},
		{KeyDefaultTime2Wait, "0", "2", "2", "2", false},
		{KeyDefaultTime2Wait, "20", "2", "20", "20", false},
		{KeyDefaultTime2Retain, "20", "0", "0", "0", false},
		{KeyInitialR2T, "Yes", "No", Yes, Yes, false},
		{KeyInitialR2T, "No", "No", No, No, false},
		{KeyInitialR2T, "No", "Yes", Yes, Yes, false},
		{KeyInitialR2T, "maybe", "No", Reject, Yes, false},
		{KeyImmediateData, "Yes", "Yes", Yes, Yes, false},
		{KeyImmediateData, "Yes", "No", No, No, false},
		{KeyImmediateData, "No", "Yes", No, No, false},
		{KeyHeaderDigest, "CRC32C,None", "None,CRC32C", CRC32C, CRC32C, false},
		{KeyHeaderDigest, "None,CRC32C", "CRC32C", CRC32C, CRC32C, false},
		{KeyHeaderDigest, "MD5,None", "None,CRC32C", None, None, false},
		{KeyHeaderDigest, "MD5", "None,CRC32C", Reject, None, false},
		{KeyHeaderDigest, "None", "CRC32C", Reject, None, false},
		{KeyHeaderDigest, "a,,b", "None", Reject, None, false},
		{KeyTaskReporting, "FastAbort,RFC3720", "RFC3720", "RFC3720", "RFC3720", false},
		{KeyCHAPA, "7,5", "5,6", "5", "5", false},
		{KeyTargetAlias, "disk one", "", "", "disk one", false},
		{KeyTargetPortalGroupTag, "1", "", "", "1", false},
		{KeyTargetPortalGroupTag, "65536", "", "", "", true},
		{KeyMaxRecvDataSegmentLength, "8192", "", "", "8192", false},
		{KeyMaxRecvDataSegmentLength, "16777216", "", "", "", true},
		{KeySessionType, "Weird", "", "", "", true},
		{KeyIFMarker, "No", "", Reject, No, false},
		{KeyOFMarkInt, "2048~8192", "", Reject, "", false},
		{KeyMaxBurstLength, Reject, "262144", "", "", true},
		{KeyInitialR2T, Irrelevant, "No", "", "", true},
		{KeyHeaderDigest, NotUnderstood, "None", "", "", true},
	}
	for _, tt := range tests {
		r, _ := Lookup(tt.key)
		answer, result, err := r.Respond(tt.proposed, tt.ours)
		if tt.wantErr {
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("%s=%q: err = %v, want ErrProtocol", tt.key, tt.proposed, err)
			}
			continue
		}
		if err != nil || answer != tt.answer || result != tt.result {
			t.Errorf("%s=%q ours %q: answer %q result %q err %v; want %q %q", tt.key, tt.proposed, tt.ours, answer, result, err, tt.answer, tt.result)
		}
	}
}

// TestRespondThenResult checks that the two sides agree: what a responder
// answers to an offer is accepted by the offerer as the same value.
func TestRespondThenResult(t *testing.T) {
	values := map[string][]string{
		KeyMaxBurstLength:     {"512", "65536", "262144", "16777215"},
		KeyDefaultTime2Wait:   {"0", "2", "3600"},
		KeyErrorRecoveryLevel: {"0", "1", "2"},
		KeyInitialR2T:         {Yes, No},
		KeyImmediateData:      {Yes, No},
		KeyHeaderDigest:       {"None", "CRC32C", "None,CRC32C", "CRC32C,None"},
	}
	for key, vs := range values {
		r, _ := Lookup(key)
		for _, offer := range vs {
			for _, ours := range vs {
				answer, result, err := r.Respond(offer, ours)
				if err != nil {
					t.Fatalf("%s Respond(%q, %q): %v", key, offer, ours, err)
				}
				got, err := r.Result(offer, answer)
				if answer == Reject && !listHas(offer, r.Default) {
					// No common value and the default is not acceptable:
					// the offerer must fail.
					if err == nil {
						t.Errorf("%s offer %q answered Reject: Result accepted %q", key, offer, got)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s offer %q, responder %q answered %q: Result error %v", key, offer, ours, answer, err)
					continue
				}
				if got != result {
					t.Errorf("%s offer %q ours %q: responder result %q, offerer result %q", key, offer, ours, result, got)
				}
			}
		}
	}
}

func TestProtocolErrorText(t *testing.T) {
	err := error(&ProtocolError{Key: "HeaderDigest", Offered: "CRC32C", Answered: "None", Reason: "answer was not offered"})
	want := `iscsi keys: HeaderDigest: answer was not offered (offered "CRC32C", answered "None")`
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}
