package main

import (
	"fmt"
	"io"

	"github.com/iscsi-go/iscsi/scsi"
)

// aluaState names an asymmetric access state as libiscsi's
// scsi_alua_state_to_str does.
func aluaState(s scsi.ALUAState) string {
	switch s {
	case scsi.ALUAActiveOptimized:
		return "ACTIVE-OPTIMIZED"
	case scsi.ALUAActiveNonOptimized:
		return "ACTIVE-NONOPTIMIZED"
	case scsi.ALUAStandby:
		return "STANDBY"
	case scsi.ALUAUnavailable:
		return "UNAVAILABLE"
	case scsi.ALUALBADependent:
		return "BLOCK-DEPENDENT"
	case scsi.ALUAOffline:
		return "OFFLINE"
	case scsi.ALUATransitioning:
		return "TRANSITIONING"
	}
	return "unknown"
}

// flags is byte 1 of a group descriptor: the supported-state bits.
func flags(g *scsi.TargetPortGroup) uint8 {
	var f uint8
	for _, b := range []struct {
		on   bool
		mask uint8
	}{{g.TSup, 0x80}, {g.OSup, 0x40}, {g.LBDSup, 0x10}, {g.USup, 0x08}, {g.SSup, 0x04}, {g.ANSup, 0x02}, {g.AOSup, 0x01}} {
		if b.on {
			f |= b.mask
		}
	}
	return f
}

// printRTPG prints libiscsi's lines. libiscsi reads byte 0 of a group
// descriptor through C bit-fields, which on little-endian machines take
// PREF from bit 0 and the state from bits 7-4; we follow SPC-4 (PREF bit
// 7, state bits 3-0), and "format" is the format of the answer: 0 length
// only, 1 extended header.
func printRTPG(w io.Writer, d *scsi.TargetPortGroups) {
	format := 0
	if d.Extended {
		format = 1
	}
	fmt.Fprintf(w, "RTPG retrieved %d groups\n", len(d.Groups))
	for i := range d.Groups {
		g := &d.Groups[i]
		pref := 0
		if g.Pref {
			pref = 1
		}
		fmt.Fprintf(w, "Group 0x%04x: preferred %d, format 0x%02x, ALUA state %s,flags 0x%02x, status code 0x%02x, port count %d\n",
			g.ID, pref, format, aluaState(g.State), flags(g), g.StatusCode, g.PortCount)
		fmt.Fprintf(w, "Ports: [")
		for _, p := range g.Ports {
			fmt.Fprintf(w, " 0x%x", p)
		}
		fmt.Fprintf(w, "]\n")
	}
}
