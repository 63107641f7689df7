package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/scsi"
)

// reportTargetPortGroups builds REPORT TARGET PORT GROUPS (SPC-4 6.36),
// MAINTENANCE IN with service action 0x0a, asking for the length-only
// format, as libiscsi does. (A private builder until package scsi has one.)
func reportTargetPortGroups(alloc uint32) (scsi.CDB, error) {
	b := make([]byte, 12)
	b[0] = byte(scsi.OpMaintenanceIn)
	b[1] = scsi.ServiceActionReportTargetPortGroups
	binary.BigEndian.PutUint32(b[6:], alloc)
	return scsi.NewCDB(b)
}

// portGroup is one target port group descriptor.
type portGroup struct {
	Byte0      uint8 // PREF (bit 7), bits 6-4, ASYMMETRIC ACCESS STATE (bits 3-0)
	Flags      uint8 // the supported-state bits T_SUP ... AO_SUP
	ID         uint16
	StatusCode uint8
	Vendor     uint8
	PortCount  uint8 // TARGET PORT COUNT as announced
	Ports      []uint16
}

// Pref is the PREF bit.
func (g *portGroup) Pref() bool { return g.Byte0&0x80 != 0 }

// State is the ASYMMETRIC ACCESS STATE.
func (g *portGroup) State() uint8 { return g.Byte0 & 0x0f }

// rtpgData is the length-only format parameter data.
type rtpgData struct {
	// ReturnDataLength is the RETURN DATA LENGTH field: the data is
	// ReturnDataLength+4 bytes long.
	ReturnDataLength uint32
	Groups           []portGroup
	// Truncated: the data stops before ReturnDataLength+4; the groups
	// present are decoded, the last maybe with fewer ports than its
	// count.
	Truncated bool
}

func (d *rtpgData) FullLength() int64 { return int64(d.ReturnDataLength) + 4 }

var errMalformed = errors.New("malformed REPORT TARGET PORT GROUPS data")

// parseRTPG decodes REPORT TARGET PORT GROUPS data, length-only format:
// a 4-byte RETURN DATA LENGTH, then per group an 8-byte descriptor and 4
// bytes per target port. Bytes beyond RETURN DATA LENGTH are ignored; a
// group cut short by the end of complete data is an error.
func parseRTPG(b []byte) (rtpgData, error) {
	var d rtpgData
	if len(b) < 4 {
		return d, fmt.Errorf("%w: %d bytes, the header alone is 4", errMalformed, len(b))
	}
	d.ReturnDataLength = binary.BigEndian.Uint32(b)
	if full := d.FullLength(); int64(len(b)) > full {
		b = b[:full]
	} else if int64(len(b)) < full {
		d.Truncated = true
	}
	body := b[4:]
	for len(body) > 0 {
		if len(body) < 8 {
			if d.Truncated {
				break
			}
			return d, fmt.Errorf("%w: %d bytes left for an 8-byte group descriptor", errMalformed, len(body))
		}
		g := portGroup{
			Byte0:      body[0],
			Flags:      body[1],
			ID:         binary.BigEndian.Uint16(body[2:]),
			StatusCode: body[5],
			Vendor:     body[6],
			PortCount:  body[7],
		}
		body = body[8:]
		for range int(g.PortCount) {
			if len(body) < 4 {
				if d.Truncated {
					break
				}
				return d, fmt.Errorf("%w: group 0x%04x announces %d ports, %d bytes left", errMalformed, g.ID, g.PortCount, len(body))
			}
			g.Ports = append(g.Ports, binary.BigEndian.Uint16(body[2:]))
			body = body[4:]
		}
		d.Groups = append(d.Groups, g)
	}
	return d, nil
}

// aluaState names an asymmetric access state as libiscsi's
// scsi_alua_state_to_str does.
func aluaState(s uint8) string {
	switch s {
	case 0x0:
		return "ACTIVE-OPTIMIZED"
	case 0x1:
		return "ACTIVE-NONOPTIMIZED"
	case 0x2:
		return "STANDBY"
	case 0x3:
		return "UNAVAILABLE"
	case 0x4:
		return "BLOCK-DEPENDENT"
	case 0xe:
		return "OFFLINE"
	case 0xf:
		return "TRANSITIONING"
	}
	return "unknown"
}
