package scsi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// formatStandard prints q the way iscsi-inq does.
func formatStandard(q *StandardInquiry) string {
	var s strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&s, f+"\n", a...) }
	p("Peripheral Qualifier:%v", q.Qualifier)
	p("Peripheral Device Type:%v", q.DeviceType)
	p("Removable:%d", b2i(q.RMB))
	p("Version:%d %v", uint8(q.Version), q.Version)
	p("NormACA:%d", b2i(q.NormACA))
	p("HiSup:%d", b2i(q.HiSup))
	p("ReponseDataFormat:%d", q.ResponseDataFormat)
	p("SCCS:%d", b2i(q.SCCS))
	p("ACC:%d", b2i(q.ACC))
	p("TPGS:%d", q.TPGS)
	p("3PC:%d", b2i(q.ThreePC))
	p("Protect:%d", b2i(q.Protect))
	p("EncServ:%d", b2i(q.EncServ))
	p("MultiP:%d", b2i(q.MultiP))
	p("SYNC:%d", b2i(q.Sync))
	p("CmdQue:%d", b2i(q.CmdQue))
	p("Vendor:%s", q.Vendor)
	p("Product:%s", q.Product)
	p("Revision:%s", q.Revision)
	for _, v := range q.VersionDescriptors {
		p("Version Descriptor:%04x %v", uint16(v), v)
	}
	return s.String()
}

func TestStandardInquiryTgtd(t *testing.T) {
	for _, tt := range []struct {
		name   string
		data   []byte
		golden string
	}{
		{"LUN1", tgtdInquiryLUN1, goldenInqLUN1},
		{"LUN0", tgtdInquiryLUN0, goldenInqLUN0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseStandardInquiry(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if q.Truncated || q.FullLength() != 66 {
				t.Errorf("Truncated %v FullLength %d, want false 66", q.Truncated, q.FullLength())
			}
			if diff := cmp.Diff(tt.golden, formatStandard(&q)); diff != "" {
				t.Errorf("iscsi-inq lines differ (-libiscsi +ours):\n%s", diff)
			}
		})
	}
}

func TestStandardInquiryFields(t *testing.T) {
	// Every bit set where SPC-4 defines one.
	b := make([]byte, 74)
	b[0] = 0x3<<5 | 0x1e // qualifier 3, well known LUN
	b[1] = 0x80          // RMB
	b[2] = 0x06          // SPC-4
	b[3] = 0x20 | 0x10 | 0x02
	b[4] = 69
	b[5] = 0x80 | 0x40 | 0x30 | 0x08 | 0x01
	b[6] = 0x40 | 0x10 | 0x01
	b[7] = 0x20 | 0x10 | 0x02
	copy(b[8:], "VENDOR01PRODUCT-NAME-16REV1")
	b[36], b[55] = 0xaa, 0xbb
	b[56] = 0x0c | 0x02 | 0x01
	copy(b[58:], []byte{0x00, 0xa0, 0x04, 0x60, 0x00, 0x00, 0x06, 0x00, 0, 0, 0, 0, 0, 0, 0x09, 0x60})
	q, err := ParseStandardInquiry(b)
	if err != nil {
		t.Fatal(err)
	}
	want := StandardInquiry{
		Qualifier: QualifierNotSupported, DeviceType: TypeWellKnownLUN, RMB: true,
		Version: 6, NormACA: true, HiSup: true, ResponseDataFormat: 2, AdditionalLength: 69,
		SCCS: true, ACC: true, TPGS: 3, ThreePC: true, Protect: true,
		EncServ: true, MultiP: true, Addr16: true, WBus16: true, Sync: true, CmdQue: true,
		Vendor: "VENDOR01", Product: "PRODUCT-NAME-16R", Revision: "EV1\x00",
		VendorSpecific: b[36:56], Clocking: 3, QAS: true, IUS: true,
		VersionDescriptors: []VersionDescriptor{VersionSAM5, VersionSPC4, VersionSBC4, VersionISCSI},
	}
	if diff := cmp.Diff(want, q); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestStandardInquiryShort(t *testing.T) {
	full := tgtdInquiryLUN1
	tests := []struct {
		n         int
		err       bool
		truncated bool
		vendor    string
		nvd       int
	}{
		{0, true, false, "", 0},
		{4, true, false, "", 0},
		{5, false, true, "", 0},
		{12, false, true, "IET ", 0},
		{36, false, true, "IET     ", 0},
		{61, false, true, "IET     ", 1},
		{64, false, true, "IET     ", 3},
		{66, false, false, "IET     ", 3},
	}
	for _, tt := range tests {
		q, err := ParseStandardInquiry(full[:tt.n])
		if (err != nil) != tt.err {
			t.Errorf("%d bytes: err = %v", tt.n, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrShortData) {
				t.Errorf("%d bytes: %v is not ErrShortData", tt.n, err)
			}
			continue
		}
		if q.Truncated != tt.truncated || q.Vendor != tt.vendor || len(q.VersionDescriptors) != tt.nvd {
			t.Errorf("%d bytes: Truncated %v Vendor %q %d descriptors", tt.n, q.Truncated, q.Vendor, len(q.VersionDescriptors))
		}
	}
	// Bytes beyond ADDITIONAL LENGTH are ignored.
	long := append(append([]byte{}, full...), 0x05, 0xc0)
	q, _ := ParseStandardInquiry(long)
	if len(q.VersionDescriptors) != 3 {
		t.Errorf("data beyond ADDITIONAL LENGTH parsed: %v", q.VersionDescriptors)
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{TypeSecurityManager.String(), "SEQURITY_MANAGER"},
		{TypeMediaChanger.String(), "MEDIA_CHANGER"},
		{DeviceType(0x0a).String(), "unknown"},
		{TypeUnknown.String(), "UNKNOWN"},
		{Qualifier(2).String(), "unknown"},
		{Version(6).String(), "unknown"},
		{VersionSPC4.String(), "SPC-4"},
		{VersionDescriptor(0x0278).String(), "SPC-2 ISO.IEC 14776-452"},
		{VersionSBC4.String(), "unknown"},
		{DesignatorT10VendorID.String(), "T10_VENDORT_ID"},
		{DesignatorUUID.String(), "unknown"},
		{ProtocolISCSI.String(), "ISCSI"},
		{CodeSetUTF8.String(), "UTF8"},
		{AssocTargetDevice.String(), "TARGET_DEVICE"},
		{PageName(0xb2), "LOGICAL_BLOCK_PROVISIONING"},
		{PageName(0x8f), "unknown"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
