package pdu

import "testing"

func TestISIDString(t *testing.T) {
	if got := (ISID{0x80, 0x12, 0x34, 0x56, 0x00, 0x0a}).String(); got != "80123456000a" {
		t.Fatalf("ISID.String() = %q", got)
	}
}
