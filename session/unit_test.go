package session

import (
	"errors"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
)

func TestTableGenerations(t *testing.T) {
	var tb table
	a, b := &task{}, &task{}
	if err := tb.add(a); err != nil {
		t.Fatal(err)
	}
	ittA := a.itt.Load()
	if got, late := tb.lookup(ittA); got != a || late {
		t.Fatalf("lookup = %v %v", got, late)
	}
	tb.release(a)
	if got, late := tb.lookup(ittA); got != nil || !late {
		t.Fatalf("released ITT: lookup = %v, late %v; want nil, late", got, late)
	}
	if err := tb.add(b); err != nil {
		t.Fatal(err)
	}
	ittB := b.itt.Load()
	if ittB&0xffff != ittA&0xffff || ittB == ittA {
		t.Fatalf("slot not reused with a new generation: %#x then %#x", ittA, ittB)
	}
	// A late PDU for a's ITT must not reach b.
	if got, late := tb.lookup(ittA); got != nil || !late {
		t.Fatalf("late PDU for the slot's previous task found %v", got)
	}
	// An ITT never issued is not "late".
	if got, late := tb.lookup(0x1234_0777); got != nil || late {
		t.Fatalf("never-issued ITT: %v late=%v", got, late)
	}
	if got := tb.close(errors.New("x")); len(got) != 1 || got[0] != b {
		t.Fatalf("close returned %v", got)
	}
	if err := tb.add(&task{}); err == nil {
		t.Fatal("add after close succeeded")
	}
	// The reserved ITT is never handed out, whatever the generation.
	var tb2 table
	for i := 0; i < 70000; i++ {
		x := &task{}
		if err := tb2.add(x); err != nil {
			t.Fatal(err)
		}
		if x.itt.Load() == pdu.ReservedITT {
			t.Fatal("reserved ITT handed out")
		}
		tb2.release(x)
	}
}

func TestParseTargetAddress(t *testing.T) {
	good := []struct {
		in   string
		host string
		port int
		tpgt int
	}{
		{"127.0.0.1:3260,1", "127.0.0.1", 3260, 1},
		{"[::1]:13260,7", "::1", 13260, 7},
		{"10.0.0.1:3260", "10.0.0.1", 3260, -1},
		{"host.example", "host.example", 3260, -1},
		{"[fe80::1]", "fe80::1", 3260, -1},
		{"[fe80::1],2", "fe80::1", 3260, 2},
	}
	for _, c := range good {
		p, err := parseTargetAddress(c.in, "test")
		if err != nil || p.Host != c.host || p.Port != c.port || p.TPGT != c.tpgt || p.Address != c.in {
			t.Errorf("parseTargetAddress(%q) = %+v, %v", c.in, p, err)
		}
	}
	for _, in := range []string{"", "1.2.3.4:99999,1", "1.2.3.4:3260,x", "1.2.3.4:3260,-1", ":3260,1", "1.2.3.4:abc"} {
		if _, err := parseTargetAddress(in, "test"); err == nil {
			t.Errorf("parseTargetAddress(%q) succeeded", in)
		}
	}
	if _, err := parseSendTargets(nil); err != nil {
		t.Error(err)
	}
	if _, err := parseSendTargets([]keys.Pair{{Key: "TargetAddress", Value: "1.2.3.4:3260,1"}}); err == nil {
		t.Error("TargetAddress before TargetName accepted")
	}
}

func TestRedirectPortal(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.1.1:3261,1": "10.1.1.1:3261",
		"[::1]:3262":      "[::1]:3262",
		"example.com":     "example.com:3260",
		"[::2]":           "[::2]:3260",
	} {
		if got, err := redirectPortal(in); err != nil || got != want {
			t.Errorf("redirectPortal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ":3260", "1.2.3.4:0", "1.2.3.4:70000"} {
		if _, err := redirectPortal(in); err == nil {
			t.Errorf("redirectPortal(%q) succeeded", in)
		}
	}
}

func TestIdentity(t *testing.T) {
	if err := iscsiurl.ValidateName(DefaultInitiatorName()); err != nil {
		t.Fatalf("default initiator name %q invalid: %v", DefaultInitiatorName(), err)
	}
	seen := map[pdu.ISID]bool{}
	for i := 0; i < 1000; i++ {
		id := NewISID()
		if id[0]>>6 != 2 {
			t.Fatalf("ISID %x is not of the random type (T=10b)", id)
		}
		if seen[id] {
			t.Fatalf("ISID %x handed out twice", id)
		}
		seen[id] = true
	}
}

func TestLoginErrorText(t *testing.T) {
	e := &LoginError{Class: 2, Detail: 1, Target: "iqn.x", Portal: "1.2.3.4:3260", NoCredentials: true}
	if !errors.Is(e, ErrAuthenticationFailed) || errors.Is(e, ErrTargetNotFound) {
		t.Fatal("Is")
	}
	if !strings.Contains(e.Error(), "requires CHAP") || !strings.Contains(e.Error(), "0x0201") {
		t.Fatalf("message %q", e.Error())
	}
	e2 := &LoginError{Class: 2, Detail: 3, Portal: "p"}
	if !errors.Is(e2, ErrTargetNotFound) || !strings.Contains(e2.Error(), "not found") {
		t.Fatalf("%v", e2)
	}
	ce := &closedError{cause: ErrClosedByUser}
	if !errors.Is(ce, ErrSessionClosed) || !errors.Is(ce, ErrClosedByUser) {
		t.Fatal("closedError must unwrap to the sentinel and the cause")
	}
}

// TestTableBigReads: the table counts its tasks and its large reads as
// they come and go, and readsPending gives the fewest bytes any of them
// still expects (at most the cap); a small read keeps the large-read count
// below the count of all tasks (streamHint then says nothing of one PDU),
// and a task that is no read makes readsPending fail.
func TestTableBigReads(t *testing.T) {
	var tb table
	read := func(n uint32) *task { return &task{kind: kindSCSI, read: true, expLen: n} }
	a, b := read(128<<10), read(64<<10)
	for _, x := range []*task{a, b} {
		if err := tb.add(x); err != nil {
			t.Fatal(err)
		}
	}
	if all, big := tb.all.Load(), tb.bigReads.Load(); all != 2 || big != 2 {
		t.Fatalf("two large reads: all %d, bigReads %d", all, big)
	}
	least := func(max int) int {
		t.Helper()
		n, _, ok := tb.readsPending(max)
		if !ok {
			t.Fatal("readsPending: not all reads")
		}
		return n
	}
	if got := least(256 << 10); got != 64<<10 {
		t.Fatalf("least = %d, want %d", got, 64<<10)
	}
	b.received = 60 << 10
	if got := least(256 << 10); got != 4<<10 {
		t.Fatalf("least after 60 KiB came = %d, want %d", got, 4<<10)
	}
	b.received = 0
	if got := least(32 << 10); got != 32<<10 {
		t.Fatalf("least capped at 32 KiB = %d", got)
	}
	small, write, ping := read(conn.LargeSegment-1), &task{kind: kindSCSI, write: true, expLen: 1 << 20}, &task{}
	for _, x := range []*task{small, write, ping} {
		if err := tb.add(x); err != nil {
			t.Fatal(err)
		}
		if all, big := tb.all.Load(), tb.bigReads.Load(); all != 3 || big != 2 {
			t.Fatalf("with another task: all %d, bigReads %d", all, big)
		}
		n, _, ok := tb.readsPending(256 << 10)
		if x == small && (!ok || n != conn.LargeSegment-1) {
			t.Fatalf("readsPending with a small read: least %d, ok %v; want %d, true", n, ok, conn.LargeSegment-1)
		}
		if x != small && ok {
			t.Fatalf("readsPending with a task that is no read: ok")
		}
		tb.release(x)
	}
	tb.release(a)
	if all, big := tb.all.Load(), tb.bigReads.Load(); all != 1 || big != 1 {
		t.Fatalf("after a release: all %d, bigReads %d", all, big)
	}
	tb.close(errors.New("closed"))
	if all, big := tb.all.Load(), tb.bigReads.Load(); all != 0 || big != 0 {
		t.Fatalf("after close: all %d, bigReads %d", all, big)
	}
}

// TestTableReads: the table counts its reads of any size as they come and
// go, and readsPending sums the bytes they still expect with a header
// each, or fails as soon as one task is not a read.
func TestTableReads(t *testing.T) {
	var tb table
	read := func(n uint32) *task { return &task{kind: kindSCSI, read: true, expLen: n} }
	a, b := read(4096), read(8192)
	for _, x := range []*task{a, b} {
		if err := tb.add(x); err != nil {
			t.Fatal(err)
		}
	}
	if r := tb.reads.Load(); r != 2 {
		t.Fatalf("two reads: reads %d", r)
	}
	total := func() int {
		t.Helper()
		_, n, ok := tb.readsPending(1 << 20)
		if !ok {
			t.Fatal("readsPending: not all reads")
		}
		return n
	}
	if got, want := total(), 2*pdu.BHSLen+4096+8192; got != want {
		t.Fatalf("total = %d, want %d", got, want)
	}
	b.received = 8000
	if got, want := total(), 2*pdu.BHSLen+4096+192; got != want {
		t.Fatalf("total after 8000 bytes came = %d, want %d", got, want)
	}
	write, both := &task{kind: kindSCSI, write: true, expLen: 4096}, &task{kind: kindSCSI, read: true, write: true, expLen: 4096}
	for _, x := range []*task{write, both, {}} {
		if err := tb.add(x); err != nil {
			t.Fatal(err)
		}
		if r := tb.reads.Load(); r != 2 {
			t.Fatalf("with a task that is no read: reads %d", r)
		}
		if _, n, ok := tb.readsPending(1 << 20); ok {
			t.Fatalf("readsPending with a task that is no read: total %d, ok", n)
		}
		tb.release(x)
	}
	tb.release(a)
	if r := tb.reads.Load(); r != 1 {
		t.Fatalf("after a release: reads %d", r)
	}
	tb.close(errors.New("closed"))
	if r := tb.reads.Load(); r != 0 {
		t.Fatalf("after close: reads %d", r)
	}
}
