package scsi

import (
	"bytes"
	"errors"
	"testing"
)

func TestPRCDBs(t *testing.T) {
	checkCDBs(t, []cdbCase{
		// SPC-4: SERVICE ACTION byte 1 bits 4-0; ALLOCATION
		// LENGTH 7-8.
		{"PR IN READ KEYS", PersistentReserveIn(PRReadKeys, 0x1234), []byte{0x5e, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0}},
		{"PR IN READ FULL STATUS", PersistentReserveIn(PRReadFullStatus, 0xffff), []byte{0x5e, 3, 0, 0, 0, 0, 0, 0xff, 0xff, 0}},
		// SPC-4: SERVICE ACTION byte 1 bits 4-0; SCOPE 7-4 and
		// TYPE 3-0 of byte 2; PARAMETER LIST LENGTH 5-8.
		{"PR OUT REGISTER", PersistentReserveOut(PRRegister, 0, PROutParametersLen), []byte{0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0}},
		{"PR OUT RESERVE WE", PersistentReserveOut(PRReserve, PRTypeWriteExclusive, 24), []byte{0x5f, 1, 1, 0, 0, 0, 0, 0, 24, 0}},
		{"PR OUT PREEMPT AND ABORT EA_AR", PersistentReserveOut(PRPreemptAndAbort, PRTypeExclusiveAccessAllRegistrants, 0x01020304), []byte{0x5f, 5, 8, 0, 0, 1, 2, 3, 4, 0}},
		{"PR OUT REGISTER AND MOVE", PersistentReserveOut(PRRegisterAndMove, PRTypeExclusiveAccess, 52), []byte{0x5f, 7, 3, 0, 0, 0, 0, 0, 52, 0}},
	})
}

func TestPROutParameters(t *testing.T) {
	p := PROutParameters{Key: 0x0102030405060708, ServiceActionKey: 0x1112131415161718, AllTgPt: true, APTPL: true}
	got := AppendPROutParameters(nil, p)
	// SPC-4: RESERVATION KEY 0-7, SERVICE ACTION RESERVATION
	// KEY 8-15, obsolete 16-19, SPEC_I_PT bit 3 / ALL_TG_PT bit 2 /
	// APTPL bit 0 of byte 20, reserved 21, obsolete 22-23.
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0, 0, 0, 0, 0x05, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
	if back, err := ParsePROutParameters(got); err != nil || back.Key != p.Key || back.ServiceActionKey != p.ServiceActionKey || !back.AllTgPt || !back.APTPL || back.SpecIPT {
		t.Errorf("round trip %+v, %v", back, err)
	}

	tid := AppendISCSITransportID(nil, "iqn.2026-11.test:init", "")
	p = PROutParameters{ServiceActionKey: 9, SpecIPT: true, TransportIDs: tid}
	got = AppendPROutParameters(nil, p)
	if len(got) != 28+len(tid) || got[20] != 0x08 || !bytes.Equal(got[24:28], []byte{0, 0, 0, byte(len(tid))}) {
		t.Fatalf("SPEC_I_PT list % x", got)
	}
	back, err := ParsePROutParameters(got)
	if err != nil || !bytes.Equal(back.TransportIDs, tid) {
		t.Errorf("SPEC_I_PT round trip %+v, %v", back, err)
	}
	if _, err := ParsePROutParameters(got[:23]); !errors.Is(err, ErrShortData) {
		t.Errorf("23 bytes: %v", err)
	}
	if _, err := ParsePROutParameters(got[:26]); !errors.Is(err, ErrShortData) {
		t.Errorf("SPEC_I_PT, 26 bytes: %v", err)
	}
	if _, err := ParsePROutParameters(got[:40]); !errors.Is(err, ErrMalformed) {
		t.Errorf("SPEC_I_PT, transport IDs cut: %v", err)
	}
}

func TestTransportID(t *testing.T) {
	// SPC-4: FORMAT CODE 7-6, PROTOCOL IDENTIFIER 3-0 of byte
	// 0; ADDITIONAL LENGTH 2-3, a multiple of 4 and at least 20; the
	// name NUL terminated.
	b := AppendISCSITransportID(nil, "iqn.a:b", "")
	want := append([]byte{0x05, 0, 0, 20}, "iqn.a:b"...)
	want = append(want, make([]byte, 13)...)
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x\nwant % x", b, want)
	}
	b = AppendISCSITransportID(nil, "iqn.2026-11.org.example:initiator-01", "23d000000001")
	if b[0] != 0x45 || len(b)%4 != 0 || int(b[3]) != len(b)-4 {
		t.Fatalf("format 01: % x", b)
	}
	for _, tt := range []struct {
		raw        []byte
		name, isid string
		ok         bool
	}{
		{want, "iqn.a:b", "", true},
		{b, "iqn.2026-11.org.example:initiator-01", "23d000000001", true},
		{[]byte{0x05, 0, 0, 8, 'i', 'q', 'n', '.', 'x', 0, 0, 0}, "iqn.x", "", true},
		{[]byte{0x05, 0, 0, 30, 'i'}, "", "", false},                  // length past the data
		{[]byte{0x45, 0, 0, 4, 'i', 'q', 'n', 0}, "", "", false},      // format 01 without ",i,0x"
		{append([]byte{0x00, 0}, make([]byte, 22)...), "", "", false}, // Fibre Channel
		{[]byte{0x85, 0, 0, 4, 'i', 'q', 'n', 0}, "", "", false},      // format 10
	} {
		got := parseTransportID(tt.raw)
		name, isid, ok := got.ISCSIName()
		if name != tt.name || isid != tt.isid || ok != tt.ok {
			t.Errorf("% x: %q %q %v", tt.raw, name, isid, ok)
		}
	}
}

func TestParsePRKeys(t *testing.T) {
	b := []byte{0, 0, 0, 7, 0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11}
	k, err := ParsePRKeys(b)
	if err != nil || k.Generation != 7 || len(k.Keys) != 2 || k.Keys[0] != 0x0102030405060708 || k.Keys[1] != 0x0a0b0c0d0e0f1011 || k.Truncated {
		t.Fatalf("%+v, %v", k, err)
	}
	k, err = ParsePRKeys(b[:20])
	if err != nil || !k.Truncated || len(k.Keys) != 1 || k.FullLength() != 24 {
		t.Errorf("truncated: %+v, %v", k, err)
	}
	if k, err := ParsePRKeys([]byte{0, 0, 0, 1, 0, 0, 0, 0}); err != nil || len(k.Keys) != 0 {
		t.Errorf("no keys: %+v, %v", k, err)
	}
	if _, err := ParsePRKeys(b[:7]); !errors.Is(err, ErrShortData) {
		t.Errorf("7 bytes: %v", err)
	}
	if _, err := ParsePRKeys([]byte{0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}); !errors.Is(err, ErrMalformed) {
		t.Errorf("4-byte key: %v", err)
	}
}

func TestParsePRReservation(t *testing.T) {
	b := []byte{0, 0, 0, 9, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0, 0x05, 0, 0}
	r, err := ParsePRReservation(b)
	want := PRReservation{Generation: 9, AdditionalLength: 16, Reserved: true, Key: 0xabcd, Type: PRTypeWriteExclusiveRegistrantsOnly}
	if err != nil || r != want {
		t.Fatalf("%+v, %v", r, err)
	}
	if r.Type.String() != "WRITE EXCLUSIVE - REGISTRANTS ONLY" || PRType(2).String() != "TYPE 2" {
		t.Errorf("type names %q %q", r.Type, PRType(2))
	}
	r, err = ParsePRReservation([]byte{0, 0, 0, 9, 0, 0, 0, 0})
	if err != nil || r.Reserved {
		t.Errorf("no reservation: %+v, %v", r, err)
	}
	r, err = ParsePRReservation(b[:12])
	if err != nil || r.Reserved || !r.Truncated {
		t.Errorf("truncated: %+v, %v", r, err)
	}
	if _, err := ParsePRReservation([]byte{0, 0, 0, 9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("additional length 8: %v", err)
	}
}

func TestParsePRCapabilities(t *testing.T) {
	// tgtd's answer (usr/spc.c spc_pr_report_capabilities): no
	// capability bits; TMV; WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
	// in byte 4, EX_AC_AR in byte 5.
	b := []byte{0, 8, 0x00, 0x80, 0xea, 0x01, 0, 0}
	c, err := ParsePRCapabilities(b)
	if err != nil {
		t.Fatal(err)
	}
	want := PRCapabilities{Length: 8, TMV: true, TypeMask: 0xea01}
	if c != want {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	for _, ty := range []PRType{1, 3, 5, 6, 7, 8} {
		if !c.Supports(ty) {
			t.Errorf("type %v not supported", ty)
		}
	}
	c.TypeMask = 0x0200
	if !c.Supports(PRTypeWriteExclusive) || c.Supports(PRTypeExclusiveAccess) || c.Supports(2) {
		t.Error("type mask 0x0200")
	}
	c.TMV = false
	if c.Supports(PRTypeWriteExclusive) {
		t.Error("Supports without TMV")
	}
	c, _ = ParsePRCapabilities([]byte{0, 8, 0x9d, 0x71, 0, 0})
	if !c.RLRC || !c.CRH || !c.SIPC || !c.ATPC || !c.PTPLC || c.AllowCommands != 7 || !c.PTPLA || c.TMV {
		t.Errorf("%+v", c)
	}
	if _, err := ParsePRCapabilities(b[:5]); !errors.Is(err, ErrShortData) {
		t.Errorf("5 bytes: %v", err)
	}
}

// prFullStatus is READ FULL STATUS data with two registrations: the
// reservation holder through relative port 1, and one registered on
// every port.
func prFullStatus() []byte {
	tid1 := AppendISCSITransportID(nil, "iqn.x:a", "23d000000001")
	tid2 := AppendISCSITransportID(nil, "iqn.x:b", "")
	d1 := append([]byte{0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0x01, 0x03, 0, 0, 0, 0, 0, 1, 0, 0, 0, byte(len(tid1))}, tid1...)
	d2 := append([]byte{0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 0, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(tid2))}, tid2...)
	n := len(d1) + len(d2)
	b := append([]byte{0, 0, 0, 4, 0, 0, 0, byte(n)}, d1...)
	return append(b, d2...)
}

func TestParsePRFullStatus(t *testing.T) {
	b := prFullStatus()
	f, err := ParsePRFullStatus(b)
	if err != nil || f.Generation != 4 || len(f.Descriptors) != 2 || f.Truncated || f.FullLength() != int64(len(b)) {
		t.Fatalf("%+v, %v", f, err)
	}
	d := f.Descriptors[0]
	if d.Key != 0x11 || !d.Holder || d.AllTgPt || d.Type != PRTypeExclusiveAccess || d.RelativeTargetPortID != 1 {
		t.Errorf("descriptor 0: %+v", d)
	}
	if name, isid, ok := d.TransportID.ISCSIName(); name != "iqn.x:a" || isid != "23d000000001" || !ok {
		t.Errorf("descriptor 0 transport ID: %q %q %v", name, isid, ok)
	}
	d = f.Descriptors[1]
	if d.Key != 0x22 || d.Holder || !d.AllTgPt || d.TransportID.Format != 0 || d.TransportID.Protocol != ProtocolISCSI {
		t.Errorf("descriptor 1: %+v", d)
	}
	if name, _, ok := d.TransportID.ISCSIName(); name != "iqn.x:b" || !ok {
		t.Errorf("descriptor 1 name %q", name)
	}
	// Cut in the second descriptor: one descriptor, Truncated.
	f, err = ParsePRFullStatus(b[:len(b)-10])
	if err != nil || !f.Truncated || len(f.Descriptors) != 1 {
		t.Errorf("truncated: %+v, %v", f, err)
	}
	// A transport ID length past complete data.
	bad := append([]byte{}, b...)
	bad[8+23] = 0xff
	if _, err := ParsePRFullStatus(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("transport ID overrun: %v", err)
	}
	bad = []byte{0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0}
	if _, err := ParsePRFullStatus(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("4-byte descriptor: %v", err)
	}
	if _, err := ParsePRFullStatus(b[:7]); !errors.Is(err, ErrShortData) {
		t.Errorf("7 bytes: %v", err)
	}
}
