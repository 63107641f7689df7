package faketarget

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iscsi-go/iscsi/scsi"
)

// TestReportTargetPortGroupsRoundTrip: what the target encodes, the
// initiator's parser reads back, in both formats.
func TestReportTargetPortGroupsRoundTrip(t *testing.T) {
	groups := []scsi.TargetPortGroup{
		{Pref: true, State: scsi.ALUAActiveOptimized, TSup: true, AOSup: true, ANSup: true, ID: 1, Ports: []uint16{1, 2}},
		{State: scsi.ALUAStandby, SSup: true, USup: true, LBDSup: true, OSup: true, ID: 0x1234, StatusCode: 2, VendorSpecific: 9, Ports: []uint16{0xfffe}},
		{State: scsi.ALUATransitioning, ID: 7, Ports: []uint16{}},
	}
	tg := &Target{cfg: Config{ALUA: &ALUA{Groups: func() []scsi.TargetPortGroup { return groups }, ImplicitTransitionTime: 10}}}
	for _, extended := range []bool{false, true} {
		got, err := scsi.ParseTargetPortGroups(tg.reportTargetPortGroups(nil, extended))
		if err != nil {
			t.Fatal(err)
		}
		want := scsi.TargetPortGroups{ReturnDataLength: got.ReturnDataLength, Extended: extended, Groups: groups}
		for i := range want.Groups {
			want.Groups[i].PortCount = uint8(len(groups[i].Ports))
		}
		if extended {
			want.ImplicitTransitionTime = 10
		}
		if d := cmp.Diff(want, got); d != "" || int(got.FullLength()) != len(tg.reportTargetPortGroups(nil, extended)) {
			t.Errorf("extended %v: (-want +got)\n%s", extended, d)
		}
	}
}
