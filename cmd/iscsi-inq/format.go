package main

import (
	"fmt"
	"io"

	"github.com/iscsi-go/iscsi/scsi"
)

// The printers below write what libiscsi's iscsi-inq writes, field for
// field. Strings are printed up to their first NUL byte, as C's %s does.

func cstring(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i]
		}
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func printStandard(w io.Writer, q *scsi.StandardInquiry) {
	fmt.Fprintf(w, "Peripheral Qualifier:%v\n", q.Qualifier)
	fmt.Fprintf(w, "Peripheral Device Type:%v\n", q.DeviceType)
	fmt.Fprintf(w, "Removable:%d\n", b2i(q.RMB))
	fmt.Fprintf(w, "Version:%d %v\n", uint8(q.Version), q.Version)
	fmt.Fprintf(w, "NormACA:%d\n", b2i(q.NormACA))
	fmt.Fprintf(w, "HiSup:%d\n", b2i(q.HiSup))
	// "Reponse" is libiscsi's spelling, and scripts match it.
	fmt.Fprintf(w, "ReponseDataFormat:%d\n", q.ResponseDataFormat)
	fmt.Fprintf(w, "SCCS:%d\n", b2i(q.SCCS))
	fmt.Fprintf(w, "ACC:%d\n", b2i(q.ACC))
	fmt.Fprintf(w, "TPGS:%d\n", q.TPGS)
	fmt.Fprintf(w, "3PC:%d\n", b2i(q.ThreePC))
	fmt.Fprintf(w, "Protect:%d\n", b2i(q.Protect))
	fmt.Fprintf(w, "EncServ:%d\n", b2i(q.EncServ))
	fmt.Fprintf(w, "MultiP:%d\n", b2i(q.MultiP))
	fmt.Fprintf(w, "SYNC:%d\n", b2i(q.Sync))
	fmt.Fprintf(w, "CmdQue:%d\n", b2i(q.CmdQue))
	fmt.Fprintf(w, "Vendor:%s\n", cstring(q.Vendor))
	fmt.Fprintf(w, "Product:%s\n", cstring(q.Product))
	fmt.Fprintf(w, "Revision:%s\n", cstring(q.Revision))
	for _, d := range q.VersionDescriptors {
		if d == 0 {
			continue
		}
		fmt.Fprintf(w, "Version Descriptor:%04x %v\n", uint16(d), d)
	}
}

func printSupportedPages(w io.Writer, p *scsi.SupportedPages) {
	for _, pg := range p.Pages {
		fmt.Fprintf(w, "Page:0x%02x %s\n", pg, scsi.PageName(pg))
	}
}

func printUnitSerialNumber(w io.Writer, p *scsi.UnitSerialNumber) {
	fmt.Fprintf(w, "Unit Serial Number:[%s]\n", cstring(p.Serial))
}

func printDeviceIdentification(w io.Writer, p *scsi.DeviceIdentification) {
	fmt.Fprintf(w, "Peripheral Qualifier:%v\n", p.Qualifier)
	fmt.Fprintf(w, "Peripheral Device Type:%v\n", p.DeviceType)
	fmt.Fprintf(w, "Page Code:(0x%02x) %s\n", p.PageCode, scsi.PageName(p.PageCode))
	// libiscsi lists the designators last first (it prepends each to a
	// linked list); scripts count on "#0" being the page's last one.
	n := len(p.Designators)
	for i := range n {
		d := &p.Designators[n-1-i]
		fmt.Fprintf(w, "DEVICE DESIGNATOR #%d\n", i)
		if d.PIV {
			fmt.Fprintf(w, "Device Protocol Identifier:(%d) %v\n", uint8(d.ProtocolID), d.ProtocolID)
		}
		fmt.Fprintf(w, "Code Set:(%d) %v\n", uint8(d.CodeSet), d.CodeSet)
		fmt.Fprintf(w, "PIV:%d\n", b2i(d.PIV))
		fmt.Fprintf(w, "Association:(%d) %v\n", uint8(d.Association), d.Association)
		fmt.Fprintf(w, "Designator Type:(%d) %v\n", uint8(d.Type), d.Type)
		if d.CodeSet == scsi.CodeSetBinary {
			// As libiscsi 1.20 and later: each byte in hex. (1.19
			// printed the bytes as a C string, cut at the first NUL.)
			io.WriteString(w, "Designator:[")
			for _, c := range d.Value {
				fmt.Fprintf(w, " %02x", c)
			}
			io.WriteString(w, "]\n")
		} else {
			fmt.Fprintf(w, "Designator:[%s]\n", d.Text())
		}
	}
}

func printBlockLimits(w io.Writer, p *scsi.BlockLimits) {
	fmt.Fprintf(w, "wsnz:%d\n", b2i(p.WSNZ))
	fmt.Fprintf(w, "maximum compare and write length:%d\n", p.MaxCompareAndWriteLength)
	fmt.Fprintf(w, "optimal transfer length granularity:%d\n", p.OptimalTransferGranularity)
	fmt.Fprintf(w, "maximum transfer length:%d\n", p.MaxTransferLength)
	fmt.Fprintf(w, "optimal transfer length:%d\n", p.OptimalTransferLength)
	fmt.Fprintf(w, "maximum prefetch xdread xdwrite transfer length:%d\n", p.MaxPrefetchLength)
	fmt.Fprintf(w, "maximum unmap lba count:%d\n", p.MaxUnmapLBACount)
	fmt.Fprintf(w, "maximum unmap block descriptor count:%d\n", p.MaxUnmapDescriptorCount)
	fmt.Fprintf(w, "optimal unmap granularity:%d\n", p.OptimalUnmapGranularity)
	fmt.Fprintf(w, "ugavalid:%d\n", b2i(p.UGAValid))
	fmt.Fprintf(w, "unmap granularity alignment:%d\n", p.UnmapGranularityAlignment)
	fmt.Fprintf(w, "maximum write same length:%d\n", p.MaxWriteSameLength)
}

func printBlockDeviceCharacteristics(w io.Writer, p *scsi.BlockDeviceCharacteristics) {
	fmt.Fprintf(w, "Medium Rotation Rate:%dRPM\n", p.MediumRotationRate)
}

func printLogicalBlockProvisioning(w io.Writer, p *scsi.LogicalBlockProvisioning) {
	fmt.Fprintf(w, "Threshold Exponent:%d\n", p.ThresholdExponent)
	fmt.Fprintf(w, "lbpu:%d\n", b2i(p.LBPU))
	fmt.Fprintf(w, "lbpws:%d\n", b2i(p.LBPWS))
	fmt.Fprintf(w, "lbpws10:%d\n", b2i(p.LBPWS10))
	// libiscsi prints SBC-3's one-bit LBPRZ (bit 2 of byte 5).
	fmt.Fprintf(w, "lbprz:%d\n", p.LBPRZ&1)
	fmt.Fprintf(w, "anc_sup:%d\n", b2i(p.ANCSup))
	fmt.Fprintf(w, "dp:%d\n", b2i(p.DP))
	fmt.Fprintf(w, "provisioning type:%d\n", p.ProvisioningType)
}

// decodable lists the VPD pages iscsi-inq can print, as libiscsi's does.
var decodable = []uint8{
	scsi.VPDSupportedPages, scsi.VPDUnitSerialNumber, scsi.VPDDeviceIdentification,
	scsi.VPDBlockLimits, scsi.VPDBlockDeviceCharacteristic, scsi.VPDLogicalBlockProvisioning,
}

// printPage parses data as VPD page and prints it; ok is false for a page
// iscsi-inq cannot decode.
func printPage(w io.Writer, page uint8, data []byte) (ok bool, err error) {
	switch page {
	case scsi.VPDSupportedPages:
		p, err := scsi.ParseSupportedPages(data)
		if err != nil {
			return true, err
		}
		printSupportedPages(w, &p)
	case scsi.VPDUnitSerialNumber:
		p, err := scsi.ParseUnitSerialNumber(data)
		if err != nil {
			return true, err
		}
		printUnitSerialNumber(w, &p)
	case scsi.VPDDeviceIdentification:
		p, err := scsi.ParseDeviceIdentification(data)
		if err != nil {
			return true, err
		}
		printDeviceIdentification(w, &p)
	case scsi.VPDBlockLimits:
		p, err := scsi.ParseBlockLimits(data)
		if err != nil {
			return true, err
		}
		printBlockLimits(w, &p)
	case scsi.VPDBlockDeviceCharacteristic:
		p, err := scsi.ParseBlockDeviceCharacteristics(data)
		if err != nil {
			return true, err
		}
		printBlockDeviceCharacteristics(w, &p)
	case scsi.VPDLogicalBlockProvisioning:
		p, err := scsi.ParseLogicalBlockProvisioning(data)
		if err != nil {
			return true, err
		}
		printLogicalBlockProvisioning(w, &p)
	default:
		return false, nil
	}
	return true, nil
}
