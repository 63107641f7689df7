package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/iscsi-go/iscsi/scsi"
)

// The lines below are libiscsi's iscsi-pr's (utils/iscsi-pr.c), but for
// READ FULL STATUS, which libiscsi does not print, and the type names of
// REPORT CAPABILITIES, where libiscsi mislabels four of the six bits.

func printKeys(w io.Writer, k *scsi.PRKeys) {
	fmt.Fprintf(w, "  PR generation=0x%x, %d registered reservation keys follow:\n", k.Generation, len(k.Keys))
	for _, key := range k.Keys {
		fmt.Fprintf(w, "    0x%x\n", key)
	}
}

func printReservation(w io.Writer, r *scsi.PRReservation) {
	fmt.Fprintf(w, "  PR generation=0x%x, Reservation follows:\n", r.Generation)
	if !r.Reserved {
		return
	}
	fmt.Fprintf(w, "    Key=0x%x\n", r.Key)
	fmt.Fprintf(w, "    scope: %s,  type: %s\n", scopeName(r.Scope), typeName(r.Type))
}

func scopeName(scope uint8) string {
	if scope == 0 {
		return "LU_SCOPE"
	}
	return strconv.Itoa(int(scope))
}

// typeName is libiscsi's scsi_pr_type_str; a type it does not name prints
// as glibc prints a NULL string.
func typeName(t scsi.PRType) string {
	switch t {
	case scsi.PRTypeWriteExclusive:
		return "Write Exclusive"
	case scsi.PRTypeExclusiveAccess:
		return "Exclusive Access"
	case scsi.PRTypeWriteExclusiveRegistrantsOnly:
		return "Write Exclusive, Registrants Only"
	case scsi.PRTypeExclusiveAccessRegistrantsOnly:
		return "Exclusive Access Registrants Only"
	case scsi.PRTypeWriteExclusiveAllRegistrants:
		return "Write Exclusive, All Registrants"
	case scsi.PRTypeExclusiveAccessAllRegistrants:
		return "Exclusive Access, All Registrants"
	}
	return "(null)"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func printCapabilities(w io.Writer, c *scsi.PRCapabilities) {
	fmt.Fprintf(w, "Report capabilities response:\n")
	fmt.Fprintf(w, "  Compatible Reservation Handling(CRH): 0x%x\n", b2i(c.CRH))
	fmt.Fprintf(w, "  Specify Initiator Ports Capable(SIP_C): 0x%x\n", b2i(c.SIPC))
	fmt.Fprintf(w, "  All Target Ports Capable(ATP_C): 0x%x\n", b2i(c.ATPC))
	fmt.Fprintf(w, "  Persist Through Power Loss Capable(PTPL_C): 0x%x\n", b2i(c.PTPLC))
	fmt.Fprintf(w, "  Type Mask Valid(TMV): 0x%x\n", b2i(c.TMV))
	fmt.Fprintf(w, "  Allow Commands: 0x%x\n", c.AllowCommands)
	fmt.Fprintf(w, "  Persist Through Power Loss Active(PTPL_A): 0x%x\n", b2i(c.PTPLA))
	fmt.Fprintf(w, "    Support indicated in Type mask:\n")
	// libiscsi's order of the bits.
	for _, typ := range []scsi.PRType{
		scsi.PRTypeExclusiveAccessAllRegistrants,
		scsi.PRTypeWriteExclusive,
		scsi.PRTypeExclusiveAccess,
		scsi.PRTypeWriteExclusiveRegistrantsOnly,
		scsi.PRTypeExclusiveAccessRegistrantsOnly,
		scsi.PRTypeWriteExclusiveAllRegistrants,
	} {
		// libiscsi prints the mask whether or not TMV is set.
		m := *c
		m.TMV = true
		if m.Supports(typ) {
			fmt.Fprintf(w, "      %s\n", typeName(typ))
		}
	}
}

// printFullStatus prints READ FULL STATUS in the style of the other
// answers: one block per registration.
func printFullStatus(w io.Writer, f *scsi.PRFullStatus) {
	fmt.Fprintf(w, "  PR generation=0x%x, %d registrations follow:\n", f.Generation, len(f.Descriptors))
	for _, d := range f.Descriptors {
		fmt.Fprintf(w, "    Key=0x%x\n", d.Key)
		if d.AllTgPt {
			fmt.Fprintf(w, "      All target ports\n")
		} else {
			fmt.Fprintf(w, "      Relative target port: 0x%x\n", d.RelativeTargetPortID)
		}
		if name, isid, ok := d.TransportID.ISCSIName(); ok {
			if isid != "" {
				fmt.Fprintf(w, "      Initiator: %s, ISID: 0x%s\n", sanitize(name), sanitize(isid))
			} else {
				fmt.Fprintf(w, "      Initiator: %s\n", sanitize(name))
			}
		} else {
			fmt.Fprintf(w, "      Transport ID: protocol 0x%x, format %d\n", uint8(d.TransportID.Protocol), d.TransportID.Format)
		}
		if d.Holder {
			fmt.Fprintf(w, "      Reservation holder, scope: %s,  type: %s\n", scopeName(d.Scope), typeName(d.Type))
		}
	}
}

// sanitize keeps a name from the target printable on one line.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
