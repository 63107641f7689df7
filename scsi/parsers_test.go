package scsi

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// rsocAll is REPORT SUPPORTED OPERATION CODES data, all commands with
// RCTD: READ(10) with timeouts, READ CAPACITY(16) as a service action
// without.
var rsocAll = []byte{
	0, 0, 0, 28,
	0x28, 0, 0, 0, 0, 0x02, 0, 10, 0, 0x0a, 0, 7, 0, 0, 0, 30, 0, 0, 0, 60,
	0x9e, 0, 0, 0x10, 0, 0x01, 0, 16,
}

func TestParseSupportedOpCodes(t *testing.T) {
	s, err := ParseSupportedOpCodes(rsocAll)
	if err != nil {
		t.Fatal(err)
	}
	want := []CommandDescriptor{
		{OpCode: OpRead10, CDBLength: 10, HasTimeouts: true, Timeouts: CommandTimeouts{CommandSpecific: 7, Nominal: 30, Recommended: 60}},
		{OpCode: OpServiceActionIn16, ServiceAction: 0x10, ServiceActionValid: true, CDBLength: 16},
	}
	if len(s.Commands) != 2 || s.Commands[0] != want[0] || s.Commands[1] != want[1] || s.Truncated || s.FullLength() != 32 {
		t.Fatalf("%+v", s)
	}
	if !s.Supports(OpRead10, 0) || !s.Supports(OpServiceActionIn16, 0x10) || s.Supports(OpServiceActionIn16, 0x12) || s.Supports(OpWrite10, 0) {
		t.Error("Supports")
	}
	// Cut inside the timeouts descriptor: nothing whole but the header.
	s, err = ParseSupportedOpCodes(rsocAll[:20])
	if err != nil || !s.Truncated || len(s.Commands) != 0 {
		t.Errorf("truncated: %+v, %v", s, err)
	}
	s, err = ParseSupportedOpCodes(rsocAll[:26])
	if err != nil || !s.Truncated || len(s.Commands) != 1 {
		t.Errorf("truncated after one: %+v, %v", s, err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 4, 0x28, 0, 0, 0},                            // a 4-byte descriptor
		{0, 0, 0, 12, 0x28, 0, 0, 0, 0, 2, 0, 10, 0, 10, 0, 0}, // timeouts cut
		{0, 0, 0, 12, 0x28, 0, 0, 0, 0, 2, 0, 10, 0, 2, 0, 0},  // timeouts length 2
	} {
		if _, err := ParseSupportedOpCodes(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v", bad, err)
		}
	}
	if _, err := ParseSupportedOpCodes(rsocAll[:3]); !errors.Is(err, ErrShortData) {
		t.Errorf("3 bytes: %v", err)
	}
}

// rsocOne is the one-command answer for WRITE SAME(16) with RCTD.
var rsocOne = []byte{0, 0x83, 0, 16, 0x93, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07,
	0, 0x0a, 0, 0, 0, 0, 0, 5, 0, 0, 0, 9}

func TestParseOneCommand(t *testing.T) {
	o, err := ParseOneCommand(rsocOne)
	if err != nil || !o.Supported() || o.Support != SupportStandard || !o.HasTimeouts || len(o.CDBUsage) != 16 ||
		o.CDBUsage[1] != 0xf9 || o.Timeouts != (CommandTimeouts{Nominal: 5, Recommended: 9}) || o.Truncated {
		t.Fatalf("%+v, %v", o, err)
	}
	o, err = ParseOneCommand(rsocOne[:24])
	if err != nil || !o.Truncated || len(o.CDBUsage) != 16 || o.Timeouts.Nominal != 0 {
		t.Errorf("timeouts cut: %+v, %v", o, err)
	}
	o, err = ParseOneCommand(rsocOne[:10])
	if err != nil || !o.Truncated || len(o.CDBUsage) != 6 {
		t.Errorf("usage cut: %+v, %v", o, err)
	}
	o, err = ParseOneCommand([]byte{0, 0x01, 0, 0})
	if err != nil || o.Supported() || o.Support != SupportNone {
		t.Errorf("not supported: %+v, %v", o, err)
	}
	bad := append(append([]byte{}, rsocOne[:20]...), 0, 2, 0, 0)
	if _, err := ParseOneCommand(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("timeouts length 2: %v", err)
	}
	if _, err := ParseOneCommand(rsocOne[:3]); !errors.Is(err, ErrShortData) {
		t.Errorf("3 bytes: %v", err)
	}
}

// rtpgGroups is the body of a REPORT TARGET PORT GROUPS answer: group 1
// active/optimized and preferred with ports 1 and 2, group 2 standby
// with port 3.
var rtpgGroups = []byte{
	0x80, 0x8f, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2,
	0x02, 0x0f, 0, 2, 0, 2, 0xee, 1, 0, 0, 0, 3,
}

func TestSetTargetPortGroupsParameters(t *testing.T) {
	sets := []TargetPortGroupSet{{Group: 1, State: ALUAStandby}, {Group: 0x1234, State: ALUAActiveOptimized}}
	b := AppendSetTargetPortGroups([]byte{0xee}, sets)
	want := []byte{0xee, 0, 0, 0, 0, 0x02, 0, 0, 1, 0x00, 0, 0x12, 0x34}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % x, want % x", b, want)
	}
	got, err := ParseSetTargetPortGroups(b[1:])
	if err != nil || !slices.Equal(got, sets) {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, sets)
	}
	// Reserved bits are ignored.
	if got, err := ParseSetTargetPortGroups([]byte{1, 2, 3, 4, 0xf1, 0xff, 0, 7}); err != nil || len(got) != 1 || got[0] != (TargetPortGroupSet{Group: 7, State: ALUAActiveNonOptimized}) {
		t.Fatalf("with reserved bits set: %+v, %v", got, err)
	}
	if got, err := ParseSetTargetPortGroups([]byte{0, 0, 0, 0}); err != nil || len(got) != 0 {
		t.Fatalf("no descriptor: %+v, %v", got, err)
	}
	if _, err := ParseSetTargetPortGroups([]byte{0, 0, 0}); !errors.Is(err, ErrShortData) {
		t.Fatalf("3 bytes: %v, want ErrShortData", err)
	}
	if _, err := ParseSetTargetPortGroups([]byte{0, 0, 0, 0, 0, 0, 1}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a descriptor cut short: %v, want ErrMalformed", err)
	}
}

func TestParseTargetPortGroups(t *testing.T) {
	lengthOnly := append([]byte{0, 0, 0, byte(len(rtpgGroups))}, rtpgGroups...)
	extended := append([]byte{0, 0, 0, byte(len(rtpgGroups) + 4), 0x10, 30, 0, 0}, rtpgGroups...)
	want := []TargetPortGroup{
		{Pref: true, State: ALUAActiveOptimized, TSup: true, USup: true, SSup: true, ANSup: true, AOSup: true, ID: 1, PortCount: 2, Ports: []uint16{1, 2}},
		{State: ALUAStandby, USup: true, SSup: true, ANSup: true, AOSup: true, ID: 2, StatusCode: 2, VendorSpecific: 0xee, PortCount: 1, Ports: []uint16{3}},
	}
	for _, tt := range []struct {
		name     string
		b        []byte
		extended bool
		itt      uint8
	}{{"length only", lengthOnly, false, 0}, {"extended", extended, true, 30}} {
		g, err := ParseTargetPortGroups(tt.b)
		if err != nil || g.Extended != tt.extended || g.ImplicitTransitionTime != tt.itt || g.Truncated || len(g.Groups) != 2 || g.FullLength() != int64(len(tt.b)) {
			t.Fatalf("%s: %+v, %v", tt.name, g, err)
		}
		for i := range want {
			if !sameGroup(g.Groups[i], want[i]) {
				t.Errorf("%s: group %d\n got %+v\nwant %+v", tt.name, i, g.Groups[i], want[i])
			}
		}
	}
	if ALUAStandby.String() != "STANDBY" || ALUAState(5).String() != "STATE 0x5" || ALUATransitioning.String() != "TRANSITIONING" {
		t.Error("state names")
	}
	// Cut inside the port list of group 1: one port.
	g, err := ParseTargetPortGroups(lengthOnly[:16])
	if err != nil || !g.Truncated || len(g.Groups) != 1 || len(g.Groups[0].Ports) != 1 || g.Groups[0].PortCount != 2 {
		t.Errorf("truncated: %+v, %v", g, err)
	}
	bad := append([]byte{}, lengthOnly...)
	bad[4+8+8+7] = 9 // group 2 claims 9 ports
	if _, err := ParseTargetPortGroups(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("port count overrun: %v", err)
	}
	if _, err := ParseTargetPortGroups([]byte{0, 0, 0, 4, 0, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("4-byte group: %v", err)
	}
	if _, err := ParseTargetPortGroups([]byte{0, 0, 0, 2, 0x10, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("2-byte extended header: %v", err)
	}
	if _, err := ParseTargetPortGroups(lengthOnly[:3]); !errors.Is(err, ErrShortData) {
		t.Errorf("3 bytes: %v", err)
	}
}

func sameGroup(a, b TargetPortGroup) bool { return reflect.DeepEqual(a, b) }

// tpcPage is a Third-party Copy VPD page: Supported Commands (EXTENDED
// COPY service action 0, RECEIVE COPY RESULTS 0 and 3) and an unknown
// descriptor 0x8001 of 4 bytes.
var tpcPage = []byte{0x00, 0x8f, 0, 24,
	0, 1, 0, 12, 7, 0x83, 1, 0, 0x84, 2, 0, 3, 0, 0, 0, 0,
	0x80, 0x01, 0, 4, 1, 2, 3, 4}

func TestParseThirdPartyCopy(t *testing.T) {
	p, err := ParseThirdPartyCopy(tpcPage)
	if err != nil || len(p.Descriptors) != 2 || p.Descriptors[1].Type != 0x8001 || !bytes.Equal(p.Descriptors[1].Data, []byte{1, 2, 3, 4}) {
		t.Fatalf("%+v, %v", p, err)
	}
	cmds, err := p.Descriptors[0].SupportedCommands()
	if err != nil || len(cmds) != 2 || cmds[0].OpCode != OpExtendedCopy || !bytes.Equal(cmds[0].ServiceActions, []byte{0}) ||
		cmds[1].OpCode != OpReceiveCopyResults || !bytes.Equal(cmds[1].ServiceActions, []byte{0, 3}) {
		t.Fatalf("supported commands %+v, %v", cmds, err)
	}
	if _, err := p.Descriptors[1].SupportedCommands(); !errors.Is(err, ErrWrongPage) {
		t.Errorf("0x8001 as supported commands: %v", err)
	}
	for _, bad := range []TPCDescriptor{{Type: 1, Data: []byte{5, 0x83, 1}}, {Type: 1, Data: []byte{3, 0x83, 4, 0}}} {
		if _, err := bad.SupportedCommands(); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v", bad.Data, err)
		}
	}
	if _, err := (TPCDescriptor{Type: 1}).SupportedCommands(); !errors.Is(err, ErrShortData) {
		t.Errorf("empty: %v", err)
	}
	p, err = ParseThirdPartyCopy(tpcPage[:20])
	if err != nil || !p.Truncated || len(p.Descriptors) != 1 {
		t.Errorf("truncated: %+v, %v", p, err)
	}
	bad := append([]byte{}, tpcPage...)
	bad[3] = 22 // page ends inside the second descriptor
	if _, err := ParseThirdPartyCopy(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("descriptor overrun: %v", err)
	}
	if _, err := ParseThirdPartyCopy(tgtdBlockLimits); !errors.Is(err, ErrWrongPage) {
		t.Errorf("block limits as 0x8f: %v", err)
	}
}

func TestParseDefectData(t *testing.T) {
	d, err := ParseDefectData10([]byte{0, 0x1d, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 99})
	if err != nil || !d.PListValid || !d.GListValid || d.Format != DefectPhysicalSector || d.ListLength != 16 || len(d.Descriptors) != 16 || d.Truncated {
		t.Fatalf("%+v, %v", d, err)
	}
	d, err = ParseDefectData10([]byte{0, 0x08, 0x10, 0})
	if err != nil || d.PListValid || !d.GListValid || d.ListLength != 4096 || !d.Truncated || len(d.Descriptors) != 0 {
		t.Errorf("header only: %+v, %v", d, err)
	}
	d, err = ParseDefectData12([]byte{0, 0x13, 0, 7, 0, 0, 0, 8, 1, 2, 3, 4})
	if err != nil || !d.PListValid || d.Format != DefectLongBlock || d.Generation != 7 || d.ListLength != 8 || len(d.Descriptors) != 4 || !d.Truncated {
		t.Errorf("(12): %+v, %v", d, err)
	}
	if _, err := ParseDefectData10([]byte{0, 0, 0}); !errors.Is(err, ErrShortData) {
		t.Errorf("(10) 3 bytes: %v", err)
	}
	if _, err := ParseDefectData12(make([]byte, 7)); !errors.Is(err, ErrShortData) {
		t.Errorf("(12) 7 bytes: %v", err)
	}
}

// copyOpParams is OPERATING PARAMETERS data with two implemented
// descriptor types.
var copyOpParams = []byte{
	0, 0, 0, 42, 1, 0, 0, 0,
	0, 2, 0, 1, 0, 0, 4, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 1, 1, 9, 0, 0, 0, 0, 0, 2, 0x02, 0xe4,
}

func TestParseCopyResults(t *testing.T) {
	o, err := ParseCopyOperatingParameters(copyOpParams)
	if err != nil || !o.SNLID || o.AvailableData != 42 || o.MaxCSCDDescriptorCount != 2 || o.MaxSegmentDescriptorCount != 1 ||
		o.MaxDescriptorListLength != 1024 || o.MaxSegmentLength != 0x100000 || o.TotalConcurrentCopies != 1 ||
		o.MaxConcurrentCopies != 1 || o.DataSegmentGranularity != 9 || !bytes.Equal(o.ImplementedDescriptorTypes, []byte{0x02, 0xe4}) || o.Truncated {
		t.Fatalf("%+v, %v", o, err)
	}
	o, err = ParseCopyOperatingParameters(copyOpParams[:45])
	if err != nil || !o.Truncated || len(o.ImplementedDescriptorTypes) != 1 {
		t.Errorf("truncated: %+v, %v", o, err)
	}
	if _, err := ParseCopyOperatingParameters(copyOpParams[:43]); !errors.Is(err, ErrShortData) {
		t.Errorf("43 bytes: %v", err)
	}
	s, err := ParseCopyStatus([]byte{0, 0, 0, 8, 0x81, 0, 3, 1, 0, 0, 0x10, 0})
	if err != nil || s != (CopyStatus{AvailableData: 8, HDD: true, CopyManagerStatus: 1, SegmentsProcessed: 3, TransferCountUnits: 1, TransferCount: 0x1000}) {
		t.Errorf("copy status %+v, %v", s, err)
	}
	if _, err := ParseCopyStatus(make([]byte, 11)); !errors.Is(err, ErrShortData) {
		t.Errorf("copy status 11 bytes: %v", err)
	}
}

// tocData is a formatted TOC of one data track and the lead-out.
var tocData = []byte{0, 18, 1, 1,
	0, 0x14, 1, 0, 0, 0, 0, 0,
	0, 0x14, 0xaa, 0, 0, 0x01, 0x02, 0x03}

func TestParseTOC(t *testing.T) {
	toc, err := ParseTOC(tocData)
	if err != nil || toc.FirstTrack != 1 || toc.LastTrack != 1 || len(toc.Tracks) != 2 || toc.Truncated {
		t.Fatalf("%+v, %v", toc, err)
	}
	if tr := toc.Tracks[1]; tr != (TOCTrack{ADR: 1, Control: 4, Track: 0xaa, Address: 0x010203}) {
		t.Errorf("lead-out %+v", tr)
	}
	if m, s, f := toc.Tracks[1].MSF(); m != 1 || s != 2 || f != 3 {
		t.Errorf("MSF %d:%d:%d", m, s, f)
	}
	toc, err = ParseTOC(tocData[:15])
	if err != nil || !toc.Truncated || len(toc.Tracks) != 1 {
		t.Errorf("truncated: %+v, %v", toc, err)
	}
	if _, err := ParseTOC([]byte{0, 1, 1, 1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("length 1: %v", err)
	}
	if _, err := ParseTOC([]byte{0, 5, 1, 1, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("3-byte descriptor: %v", err)
	}
	if _, err := ParseTOC(tocData[:3]); !errors.Is(err, ErrShortData) {
		t.Errorf("3 bytes: %v", err)
	}
}
