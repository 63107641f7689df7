package scsi

import (
	"encoding/binary"
	"fmt"
)

// DeviceType is the PERIPHERAL DEVICE TYPE of INQUIRY data (SPC-4).
type DeviceType uint8

// Peripheral device types.
const (
	TypeDirectAccess           DeviceType = 0x00 // SBC disk
	TypeSequentialAccess       DeviceType = 0x01 // tape
	TypePrinter                DeviceType = 0x02
	TypeProcessor              DeviceType = 0x03
	TypeWriteOnce              DeviceType = 0x04
	TypeMMC                    DeviceType = 0x05 // CD/DVD
	TypeScanner                DeviceType = 0x06
	TypeOpticalMemory          DeviceType = 0x07
	TypeMediaChanger           DeviceType = 0x08
	TypeCommunications         DeviceType = 0x09
	TypeStorageArrayController DeviceType = 0x0c // tgtd's LUN 0
	TypeEnclosureServices      DeviceType = 0x0d
	TypeSimplifiedDirectAccess DeviceType = 0x0e
	TypeOpticalCardReader      DeviceType = 0x0f
	TypeBridgeController       DeviceType = 0x10
	TypeOSD                    DeviceType = 0x11
	TypeAutomation             DeviceType = 0x12
	TypeSecurityManager        DeviceType = 0x13
	TypeWellKnownLUN           DeviceType = 0x1e
	TypeUnknown                DeviceType = 0x1f // or no device type
)

var deviceTypeNames = map[DeviceType]string{
	TypeDirectAccess:           "DIRECT_ACCESS",
	TypeSequentialAccess:       "SEQUENTIAL_ACCESS",
	TypePrinter:                "PRINTER",
	TypeProcessor:              "PROCESSOR",
	TypeWriteOnce:              "WRITE_ONCE",
	TypeMMC:                    "MMC",
	TypeScanner:                "SCANNER",
	TypeOpticalMemory:          "OPTICAL_MEMORY",
	TypeMediaChanger:           "MEDIA_CHANGER",
	TypeCommunications:         "COMMUNICATIONS",
	TypeStorageArrayController: "STORAGE_ARRAY_CONTROLLER",
	TypeEnclosureServices:      "ENCLOSURE_SERVICES",
	TypeSimplifiedDirectAccess: "SIMPLIFIED_DIRECT_ACCESS",
	TypeOpticalCardReader:      "OPTICAL_CARD_READER",
	TypeBridgeController:       "BRIDGE_CONTROLLER",
	TypeOSD:                    "OSD",
	TypeAutomation:             "AUTOMATION",
	TypeSecurityManager:        "SEQURITY_MANAGER", // sic, as libiscsi prints it
	TypeWellKnownLUN:           "WELL_KNOWN_LUN",
	TypeUnknown:                "UNKNOWN",
}

// String returns the type as libiscsi's scsi_devtype_to_str spells it,
// "SEQURITY_MANAGER" included, and "unknown" for reserved values.
func (t DeviceType) String() string {
	if s, ok := deviceTypeNames[t]; ok {
		return s
	}
	return "unknown"
}

// Qualifier is the PERIPHERAL QUALIFIER of INQUIRY data.
type Qualifier uint8

// Peripheral qualifiers.
const (
	QualifierConnected    Qualifier = 0 // a device of this type is connected
	QualifierDisconnected Qualifier = 1 // supported but not connected now
	QualifierNotSupported Qualifier = 3 // no logical unit at this LUN
)

// String returns the qualifier as libiscsi spells it ("CONNECTED",
// "DISCONNECTED", "NOT_SUPPORTED", "unknown").
func (q Qualifier) String() string {
	switch q {
	case QualifierConnected:
		return "CONNECTED"
	case QualifierDisconnected:
		return "DISCONNECTED"
	case QualifierNotSupported:
		return "NOT_SUPPORTED"
	}
	return "unknown"
}

// Version is the VERSION field of standard INQUIRY data: the SPC standard
// the device claims.
type Version uint8

// String returns the version as libiscsi's scsi_version_to_str does: it
// knows SPC (3), SPC-2 (4) and SPC-3 (5) and calls everything else
// "unknown", SPC-4 (6) and SPC-5 (7) included.
func (v Version) String() string {
	switch v {
	case 3:
		return "ANSI INCITS 301-1997 (SPC)"
	case 4:
		return "ANSI INCITS 351-2001 (SPC-2)"
	case 5:
		return "ANSI INCITS 408-2005 (SPC-3)"
	}
	return "unknown"
}

// VersionDescriptor is a VERSION DESCRIPTOR of standard INQUIRY data
// (SPC-4): a standard, and possibly the revision, the device
// claims conformance to.
type VersionDescriptor uint16

// A few version descriptors (SPC-4).
const (
	VersionSAM2       VersionDescriptor = 0x0040
	VersionSAM3       VersionDescriptor = 0x0060
	VersionSAM4       VersionDescriptor = 0x0080
	VersionSAM5       VersionDescriptor = 0x00a0
	VersionSPC        VersionDescriptor = 0x0120
	VersionSBC        VersionDescriptor = 0x0180
	VersionSSC        VersionDescriptor = 0x0200
	VersionSPC2       VersionDescriptor = 0x0260
	VersionSPC3       VersionDescriptor = 0x0300
	VersionSBC2       VersionDescriptor = 0x0320
	VersionSPC4       VersionDescriptor = 0x0460
	VersionSBC3       VersionDescriptor = 0x04c0
	VersionSPC5       VersionDescriptor = 0x05c0
	VersionSBC4       VersionDescriptor = 0x0600
	VersionISCSI      VersionDescriptor = 0x0960
	VersionSCC2       VersionDescriptor = 0x01fb
	VersionMMC3       VersionDescriptor = 0x02a0
	VersionSMC3       VersionDescriptor = 0x0480
	VersionUASr04     VersionDescriptor = 0x1747
	VersionNoStandard VersionDescriptor = 0x0000
)

// libiscsi's scsi_version_descriptor_to_str table, strings exact.
var versionDescriptorNames = map[VersionDescriptor]string{
	0x0960: "iSCSI",
	0x0180: "SBC",
	0x019c: "SBC ANSI INCITS 306-1998",
	0x019b: "SBC T10/0996-D revision 08c",
	0x0320: "SBC-2",
	0x033e: "SBC-2 ISO/IEC 14776-322",
	0x033d: "SBC-2 ANSI INCITS 405-2005",
	0x033b: "SBC-2 T10/1417-D revision 16",
	0x0322: "SBC-2 T10/1417-D revision 5A",
	0x0324: "SBC-2 T10/1417-D revision 15",
	0x04c0: "SBC-3",
	0x0120: "SPC",
	0x013c: "SPC ANSI INCITS 301-1997",
	0x013b: "SPC T10/0995-D revision 11a",
	0x0260: "SPC-2",
	0x0278: "SPC-2 ISO.IEC 14776-452",
	0x0277: "SPC-2 ANSI INCITS 351-2001",
	0x0276: "SPC-2 T10/1236-D revision 20",
	0x0267: "SPC-2 T10/1236-D revision 12",
	0x0269: "SPC-2 T10/1236-D revision 18",
	0x0275: "SPC-2 T10/1236-D revision 19",
	0x0300: "SPC-3",
	0x0316: "SPC-3 ISO/IEC 14776-453",
	0x0314: "SPC-3 ANSI INCITS 408-2005",
	0x0301: "SPC-3 T10/1416-D revision 7",
	0x0307: "SPC-3 T10/1416-D revision 21",
	0x030f: "SPC-3 T10/1416-D revision 22",
	0x0312: "SPC-3 T10/1416-D revision 23",
	0x0460: "SPC-4",
	0x0461: "SPC-4 T10/1731-D revision 16",
	0x0462: "SPC-4 T10/1731-D revision 18",
	0x0463: "SPC-4 T10/1731-D revision 23",
	0x0200: "SSC",
	0x1747: "UAS T10/2095-D revision 04",
}

// String returns the descriptor's name exactly as libiscsi's iscsi-inq
// prints it ("SPC-4", "SBC-3", "iSCSI", …) and "unknown" for the values
// libiscsi's table lacks (SBC-4, SPC-5, SAM-n among them), so that
// "Version Descriptor:%04x %s" lines match libiscsi's.
func (v VersionDescriptor) String() string {
	if s, ok := versionDescriptorNames[v]; ok {
		return s
	}
	return "unknown"
}

// StandardInquiry is standard INQUIRY data (SPC-4).
type StandardInquiry struct {
	Qualifier  Qualifier
	DeviceType DeviceType
	RMB        bool // removable medium
	Version    Version
	NormACA    bool
	HiSup      bool // hierarchical LUN addressing supported
	// ResponseDataFormat is 2 for every SPC-2 or later device.
	ResponseDataFormat uint8
	// AdditionalLength is the ADDITIONAL LENGTH field: the data is
	// AdditionalLength+5 bytes long (see FullLength).
	AdditionalLength uint8

	SCCS    bool  // embedded storage array controller
	ACC     bool  // access controls coordinator
	TPGS    uint8 // target port group support (ALUA), 2 bits
	ThreePC bool  // third-party copy
	Protect bool  // protection information supported

	EncServ bool // embedded enclosure services
	MultiP  bool // multiple ports
	Addr16  bool // SPI only, obsolete
	WBus16  bool // SPI only, obsolete
	Sync    bool // SPI only, obsolete
	CmdQue  bool // command queuing

	// Vendor (T10 VENDOR IDENTIFICATION), Product (PRODUCT
	// IDENTIFICATION) and Revision (PRODUCT REVISION LEVEL) are the
	// bytes as sent, space padded to 8, 16 and 4 bytes; shorter when the
	// data was short. Trim with strings.TrimRight(s, " ").
	Vendor   string
	Product  string
	Revision string

	// VendorSpecific is bytes 36-55, when present.
	VendorSpecific []byte

	// Clocking, QAS and IUS are the SPI bits of byte 56.
	Clocking uint8
	QAS      bool
	IUS      bool

	// VersionDescriptors are the non-zero VERSION DESCRIPTOR fields of
	// bytes 58-73, in order.
	VersionDescriptors []VersionDescriptor

	// Truncated is set when the data is shorter than AdditionalLength+5:
	// ask again with FullLength as the allocation length to get it all.
	Truncated bool
}

// FullLength returns the length of the whole standard INQUIRY data as the
// device announced it.
func (q *StandardInquiry) FullLength() int { return int(q.AdditionalLength) + 5 }

// ParseStandardInquiry decodes standard INQUIRY data. It needs the 5-byte
// header; every field after it is decoded when present. Bytes beyond
// ADDITIONAL LENGTH+5 are ignored.
func ParseStandardInquiry(b []byte) (StandardInquiry, error) {
	var q StandardInquiry
	if len(b) < 5 {
		return q, shortErr("standard INQUIRY data", len(b), 5)
	}
	q.Qualifier = Qualifier(b[0] >> 5)
	q.DeviceType = DeviceType(b[0] & 0x1f)
	q.RMB = b[1]&0x80 != 0
	q.Version = Version(b[2])
	q.NormACA = b[3]&0x20 != 0
	q.HiSup = b[3]&0x10 != 0
	q.ResponseDataFormat = b[3] & 0x0f
	q.AdditionalLength = b[4]
	if n := q.FullLength(); len(b) > n {
		b = b[:n]
	} else if len(b) < n {
		q.Truncated = true
	}
	if len(b) > 5 {
		q.SCCS = b[5]&0x80 != 0
		q.ACC = b[5]&0x40 != 0
		q.TPGS = b[5] >> 4 & 0x03
		q.ThreePC = b[5]&0x08 != 0
		q.Protect = b[5]&0x01 != 0
	}
	if len(b) > 6 {
		q.EncServ = b[6]&0x40 != 0
		q.MultiP = b[6]&0x10 != 0
		q.Addr16 = b[6]&0x01 != 0
	}
	if len(b) > 7 {
		q.WBus16 = b[7]&0x20 != 0
		q.Sync = b[7]&0x10 != 0
		q.CmdQue = b[7]&0x02 != 0
	}
	q.Vendor = field(b, 8, 16)
	q.Product = field(b, 16, 32)
	q.Revision = field(b, 32, 36)
	if len(b) > 36 {
		q.VendorSpecific = b[36:min(len(b), 56):min(len(b), 56)]
	}
	if len(b) > 56 {
		q.Clocking = b[56] >> 2 & 0x03
		q.QAS = b[56]&0x02 != 0
		q.IUS = b[56]&0x01 != 0
	}
	for off := 58; off+2 <= len(b) && off < 74; off += 2 {
		if v := binary.BigEndian.Uint16(b[off:]); v != 0 {
			q.VersionDescriptors = append(q.VersionDescriptors, VersionDescriptor(v))
		}
	}
	return q, nil
}

// field returns b[from:to] as a string, clipped to what b holds.
func field(b []byte, from, to int) string {
	if from >= len(b) {
		return ""
	}
	return string(b[from:min(to, len(b))])
}

// String summarises the data for logs: "DIRECT_ACCESS IET VIRTUAL-DISK 0001".
func (q *StandardInquiry) String() string {
	return fmt.Sprintf("%v %s %s %s", q.DeviceType, trimSpace(q.Vendor), trimSpace(q.Product), trimSpace(q.Revision))
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == 0) {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == 0) {
		j--
	}
	return s[i:j]
}
