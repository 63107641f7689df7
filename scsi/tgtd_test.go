package scsi

// Answers of tgtd (Debian tgt 1.0.x), built by hand from the layouts in
// tgt's usr/spc.c and SPC-4/SBC-3, for target tid 1. The expected text of
// libiscsi's iscsi-inq 1.19 below was captured from the real tools run
// against a real tgtd on loopback; the tests format our parse results the
// way iscsi-inq does and compare.

func pad(s string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// tgtdStandardInquiry is tgtd's 66-byte standard INQUIRY data.
func tgtdStandardInquiry(devType byte, product string, vd3 uint16) []byte {
	b := cat(
		[]byte{devType, 0x00, 0x05, 0x12, 61, 0x00, 0x00, 0x02},
		pad("IET", 8), pad(product, 16), pad("0001", 4),
		make([]byte, 22), // 36-57: vendor specific, byte 56, reserved 57
		[]byte{0x04, 0xc0, 0x09, 0x60, byte(vd3 >> 8), byte(vd3)},
		make([]byte, 10), // descriptors 4-8 unused
	)
	return b
}

var (
	tgtdInquiryLUN1 = tgtdStandardInquiry(0x00, "VIRTUAL-DISK", 0x0300)
	tgtdInquiryLUN0 = tgtdStandardInquiry(0x0c, "Controller", 0x01fb)

	tgtdSupportedPages = []byte{0x00, 0x00, 0x00, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2}

	tgtdSerialLUN1 = cat([]byte{0x00, 0x80, 0x00, 36}, []byte("                              beaf11"))

	tgtdDeviceIDLUN1 = cat(
		[]byte{0x00, 0x83, 0x00, 72},
		// T10 vendor ID, ASCII: "IET     " + "%04x%04x" of tid and LUN,
		// NUL padded to 36.
		[]byte{0x02, 0x01, 0x00, 36}, []byte("IET     00010001"), make([]byte, 20),
		// NAA locally assigned (3): tid<<32 | lun.
		[]byte{0x01, 0x03, 0x00, 8, 0x30, 0, 0, 1, 0, 0, 0, 1},
		// NAA IEEE registered extended (6), 16 bytes.
		[]byte{0x01, 0x03, 0x00, 16, 0x60, 0, 0, 0, 0, 0, 0, 0, 0x0e, 0, 0, 0, 0, 1, 0, 1},
	)

	tgtdBlockLimits = func() []byte {
		b := make([]byte, 64)
		b[1], b[3] = 0xb0, 0x3c
		b[5] = 128 // maximum compare and write length
		return b
	}()

	tgtdBlockDevChar = cat([]byte{0x00, 0xb1, 0x00, 0x3c}, make([]byte, 0x3c))

	tgtdLBP = []byte{0x00, 0xb2, 0x00, 0x04, 0, 0, 0, 0}

	// REPORT LUNS of a target with LUN 0 (controller) and LUN 1.
	tgtdReportLUNs = []byte{
		0, 0, 0, 16, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 1, 0, 0, 0, 0, 0, 0,
	}

	// READ CAPACITY(16) of a 1 TiB null LUN with 512-byte blocks.
	tgtdCapacity16 = cat([]byte{0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 2, 0}, make([]byte, 20))
)

// iscsi-inq 1.19 output against tgtd, captured.
const (
	goldenInqLUN1 = `Peripheral Qualifier:CONNECTED
Peripheral Device Type:DIRECT_ACCESS
Removable:0
Version:5 ANSI INCITS 408-2005 (SPC-3)
NormACA:0
HiSup:1
ReponseDataFormat:2
SCCS:0
ACC:0
TPGS:0
3PC:0
Protect:0
EncServ:0
MultiP:0
SYNC:0
CmdQue:1
Vendor:IET     
Product:VIRTUAL-DISK    
Revision:0001
Version Descriptor:04c0 SBC-3
Version Descriptor:0960 iSCSI
Version Descriptor:0300 SPC-3
`
	goldenInqLUN0 = `Peripheral Qualifier:CONNECTED
Peripheral Device Type:STORAGE_ARRAY_CONTROLLER
Removable:0
Version:5 ANSI INCITS 408-2005 (SPC-3)
NormACA:0
HiSup:1
ReponseDataFormat:2
SCCS:0
ACC:0
TPGS:0
3PC:0
Protect:0
EncServ:0
MultiP:0
SYNC:0
CmdQue:1
Vendor:IET     
Product:Controller      
Revision:0001
Version Descriptor:04c0 SBC-3
Version Descriptor:0960 iSCSI
Version Descriptor:01fb unknown
`
	goldenSupportedPages = `Page:0x00 SUPPORTED_VPD_PAGES
Page:0x80 UNIT_SERIAL_NUMBER
Page:0x83 DEVICE_IDENTIFICATION
Page:0xb0 BLOCK_LIMITS
Page:0xb1 BLOCK_DEVICE_CHARACTERISTICS
Page:0xb2 LOGICAL_BLOCK_PROVISIONING
`
	goldenSerial = "Unit Serial Number:[                              beaf11]\n"

	// libiscsi 1.19 prints every designator with %s (newer libiscsi
	// prints binary ones in hex) and in reverse page order.
	goldenDeviceID = `Peripheral Qualifier:CONNECTED
Peripheral Device Type:DIRECT_ACCESS
Page Code:(0x83) DEVICE_IDENTIFICATION
DEVICE DESIGNATOR #0
Code Set:(1) BINARY
PIV:0
Association:(0) LOGICAL_UNIT
Designator Type:(3) NAA
Designator:[` + "`" + `]
DEVICE DESIGNATOR #1
Code Set:(1) BINARY
PIV:0
Association:(0) LOGICAL_UNIT
Designator Type:(3) NAA
Designator:[0]
DEVICE DESIGNATOR #2
Code Set:(2) ASCII
PIV:0
Association:(0) LOGICAL_UNIT
Designator Type:(1) T10_VENDORT_ID
Designator:[IET     00010001]
`
	goldenBlockLimits = `wsnz:0
maximum compare and write length:128
optimal transfer length granularity:0
maximum transfer length:0
optimal transfer length:0
maximum prefetch xdread xdwrite transfer length:0
maximum unmap lba count:0
maximum unmap block descriptor count:0
optimal unmap granularity:0
ugavalid:0
unmap granularity alignment:0
maximum write same length:0
`
	goldenBDC = "Medium Rotation Rate:0RPM\n"
	goldenLBP = `Threshold Exponent:0
lbpu:0
lbpws:0
lbpws10:0
lbprz:0
anc_sup:0
dp:0
provisioning type:0
`
)
