package session_test

import (
	"testing"

	"github.com/iscsi-go/iscsi/session"
)

func TestReplayRules(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cdb            []byte
		safe, readOnly bool
	}{
		{"READ(16)", []byte{0x88}, true, true},
		{"WRITE(10)", []byte{0x2a}, true, false},
		{"SYNCHRONIZE CACHE(10)", []byte{0x35}, true, false},
		{"UNMAP", []byte{0x42}, true, false},
		{"TEST UNIT READY", []byte{0x00}, true, true},
		{"READ CAPACITY(16)", []byte{0x9e, 0x10}, true, true},
		{"GET LBA STATUS", []byte{0x9e, 0x12}, true, true},
		{"SERVICE ACTION IN other", []byte{0x9e, 0x01}, false, false},
		{"COMPARE AND WRITE", []byte{0x89}, false, false},
		{"PERSISTENT RESERVE OUT", []byte{0x5f}, false, false},
		{"PERSISTENT RESERVE IN", []byte{0x5e}, false, true},
		{"empty", nil, false, false},
	} {
		if got := session.SafeToRepeat(tc.cdb); got != tc.safe {
			t.Errorf("SafeToRepeat(%s) = %v, want %v", tc.name, got, tc.safe)
		}
		if got := session.ReadOnly(tc.cdb); got != tc.readOnly {
			t.Errorf("ReadOnly(%s) = %v, want %v", tc.name, got, tc.readOnly)
		}
	}
}
