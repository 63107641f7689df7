package main

import (
	"bytes"
	"testing"

	"github.com/iscsi-go/iscsi/scsi"
)

func TestPrintDeviceIdentification(t *testing.T) {
	page := []byte{
		0x00, 0x83, 0x00, 28,
		// iSCSI name of the target port, UTF-8, PIV set, NUL padded.
		0x53, 0x93, 0x00, 8, 'i', 'q', 'n', '.', 'x', 0, 0, 0,
		// NAA, binary, logical unit.
		0x01, 0x03, 0x00, 4, 0x60, 0x00, 0x0e, 0xff,
		// T10 vendor ID, ASCII.
		0x02, 0x01, 0x00, 4, 'I', 'E', 'T', ' ',
	}
	p, err := scsi.ParseDeviceIdentification(page)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printDeviceIdentification(&b, &p)
	d := p.Designators
	want := "Peripheral Qualifier:" + scsi.QualifierConnected.String() + "\n" +
		"Peripheral Device Type:DIRECT_ACCESS\n" +
		"Page Code:(0x83) DEVICE_IDENTIFICATION\n" +
		"DEVICE DESIGNATOR #0\n" +
		"Code Set:(2) " + d[2].CodeSet.String() + "\n" +
		"PIV:0\n" +
		"Association:(0) " + d[2].Association.String() + "\n" +
		"Designator Type:(1) T10_VENDORT_ID\n" +
		"Designator:[IET ]\n" +
		"DEVICE DESIGNATOR #1\n" +
		"Code Set:(1) BINARY\n" +
		"PIV:0\n" +
		"Association:(0) " + d[1].Association.String() + "\n" +
		"Designator Type:(3) NAA\n" +
		"Designator:[ 60 00 0e ff]\n" +
		"DEVICE DESIGNATOR #2\n" +
		"Device Protocol Identifier:(5) " + d[0].ProtocolID.String() + "\n" +
		"Code Set:(3) " + d[0].CodeSet.String() + "\n" +
		"PIV:1\n" +
		"Association:(1) " + d[0].Association.String() + "\n" +
		"Designator Type:(3) NAA\n" +
		"Designator:[iqn.x]\n"
	// The first designator's type is 3 (NAA) in this made-up page only to
	// keep the page short; what matters is the order and the fields.
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestCString(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "ab\x00c": "ab", "\x00": ""} {
		if got := cstring(in); got != want {
			t.Errorf("cstring(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintPageUnknown(t *testing.T) {
	var b bytes.Buffer
	ok, err := printPage(&b, 0x86, []byte{0, 0x86, 0, 0})
	if ok || err != nil || b.Len() != 0 {
		t.Errorf("printPage(0x86) = %v, %v, printed %q; want false, nil, nothing", ok, err, b.String())
	}
	for _, page := range decodable {
		b.Reset()
		if ok, _ := printPage(&b, page, []byte{0, page, 0, 0}); !ok {
			t.Errorf("printPage(0x%02x) says it cannot decode it", page)
		}
	}
}
