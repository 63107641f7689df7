package scsi

import (
	"encoding/binary"
	"fmt"
)

// ALUAState is an ASYMMETRIC ACCESS STATE of a target port group (SPC-4).
type ALUAState uint8

// Asymmetric access states.
const (
	ALUAActiveOptimized    ALUAState = 0x0
	ALUAActiveNonOptimized ALUAState = 0x1
	ALUAStandby            ALUAState = 0x2
	ALUAUnavailable        ALUAState = 0x3
	ALUALBADependent       ALUAState = 0x4
	ALUAOffline            ALUAState = 0xe
	ALUATransitioning      ALUAState = 0xf
)

// String names the state as SPC-4 does, e.g. "ACTIVE/OPTIMIZED", or
// "STATE 0xn".
func (s ALUAState) String() string {
	switch s {
	case ALUAActiveOptimized:
		return "ACTIVE/OPTIMIZED"
	case ALUAActiveNonOptimized:
		return "ACTIVE/NON-OPTIMIZED"
	case ALUAStandby:
		return "STANDBY"
	case ALUAUnavailable:
		return "UNAVAILABLE"
	case ALUALBADependent:
		return "LOGICAL BLOCK DEPENDENT"
	case ALUAOffline:
		return "OFFLINE"
	case ALUATransitioning:
		return "TRANSITIONING"
	}
	return fmt.Sprintf("STATE 0x%x", uint8(s))
}

// TargetPortGroup is a target port group descriptor of REPORT TARGET PORT
// GROUPS.
type TargetPortGroup struct {
	Pref  bool // PREF: preferred target port group
	State ALUAState
	// Supported states: T_SUP (transitioning), O_SUP (offline),
	// LBD_SUP (logical block dependent), U_SUP (unavailable), S_SUP
	// (standby), AN_SUP (active/non-optimized), AO_SUP
	// (active/optimized).
	TSup, OSup, LBDSup, USup, SSup, ANSup, AOSup bool
	ID                                           uint16 // TARGET PORT GROUP
	StatusCode                                   uint8
	VendorSpecific                               uint8
	PortCount                                    uint8 // TARGET PORT COUNT as sent
	// Ports are the RELATIVE TARGET PORT IDENTIFIERs present (fewer than
	// PortCount when the data was truncated).
	Ports []uint16
}

// TargetPortGroups is the parameter data of REPORT TARGET PORT GROUPS
// (SPC-4), in either format.
type TargetPortGroups struct {
	// ReturnDataLength is the RETURN DATA LENGTH field: the data is
	// ReturnDataLength+4 bytes long (see FullLength).
	ReturnDataLength uint32
	// Extended says the data has the extended header (FORMAT TYPE 001b),
	// which carries ImplicitTransitionTime.
	Extended               bool
	ImplicitTransitionTime uint8 // seconds
	Groups                 []TargetPortGroup
	// Truncated is set when the data stops before FullLength; the
	// groups present are decoded, the last possibly with fewer Ports
	// than PortCount.
	Truncated bool
}

// FullLength returns the length the device announced.
func (t *TargetPortGroups) FullLength() int64 { return int64(t.ReturnDataLength) + 4 }

// ParseTargetPortGroups decodes REPORT TARGET PORT GROUPS data in the
// length-only format or the extended header format, told apart by the
// FORMAT TYPE bits of byte 4 (reserved in the first descriptor of the
// length-only format). The 4-byte header must be present. A descriptor
// that runs past complete data is an error wrapping ErrMalformed.
func ParseTargetPortGroups(b []byte) (TargetPortGroups, error) {
	var t TargetPortGroups
	if len(b) < 4 {
		return t, shortErr("REPORT TARGET PORT GROUPS data", len(b), 4)
	}
	t.ReturnDataLength = binary.BigEndian.Uint32(b)
	if full := t.FullLength(); int64(len(b)) > full {
		b = b[:full]
	} else if int64(len(b)) < full {
		t.Truncated = true
	}
	p := b[4:]
	if len(p) > 0 && p[0]>>4&0x07 == 1 {
		t.Extended = true
		if len(p) < 4 {
			return t, t.cut("extended header", len(p))
		}
		t.ImplicitTransitionTime = p[1]
		p = p[4:]
	}
	for len(p) > 0 {
		if len(p) < 8 {
			return t, t.cut("target port group descriptor", len(p))
		}
		g := TargetPortGroup{
			Pref:  p[0]&0x80 != 0,
			State: ALUAState(p[0] & 0x0f),
			TSup:  p[1]&0x80 != 0, OSup: p[1]&0x40 != 0, LBDSup: p[1]&0x10 != 0,
			USup: p[1]&0x08 != 0, SSup: p[1]&0x04 != 0, ANSup: p[1]&0x02 != 0, AOSup: p[1]&0x01 != 0,
			ID:             binary.BigEndian.Uint16(p[2:]),
			StatusCode:     p[5],
			VendorSpecific: p[6],
			PortCount:      p[7],
		}
		p = p[8:]
		n := int(g.PortCount)
		if 4*n > len(p) {
			if !t.Truncated {
				t.Groups = append(t.Groups, g)
				return t, t.cut(fmt.Sprintf("group 0x%04x with %d ports", g.ID, n), len(p))
			}
			n = len(p) / 4
		}
		g.Ports = make([]uint16, n)
		for i := range g.Ports {
			g.Ports[i] = binary.BigEndian.Uint16(p[4*i+2:])
		}
		t.Groups = append(t.Groups, g)
		p = p[4*n:]
		if n < int(g.PortCount) {
			break
		}
	}
	return t, nil
}

// TargetPortGroupSet is a set target port group descriptor of SET TARGET
// PORT GROUPS: the state group is to be put in.
type TargetPortGroupSet struct {
	Group uint16
	// State is one a target may be asked for: ALUAActiveOptimized,
	// ALUAActiveNonOptimized, ALUAStandby, ALUAUnavailable (and
	// ALUAOffline, which SPC-4 leaves to the target).
	State ALUAState
}

// AppendSetTargetPortGroups appends the parameter list of SET TARGET PORT
// GROUPS to dst: 4 reserved bytes, then 4 bytes per descriptor.
func AppendSetTargetPortGroups(dst []byte, sets []TargetPortGroupSet) []byte {
	dst = append(dst, 0, 0, 0, 0)
	for _, s := range sets {
		dst = append(dst, byte(s.State)&0x0f, 0, byte(s.Group>>8), byte(s.Group))
	}
	return dst
}

// ParseSetTargetPortGroups decodes the parameter list of SET TARGET PORT
// GROUPS, what a target receives. A list shorter than its header is an
// error wrapping ErrShortData; a descriptor cut short, one wrapping
// ErrMalformed.
func ParseSetTargetPortGroups(b []byte) ([]TargetPortGroupSet, error) {
	if len(b) < 4 {
		return nil, shortErr("SET TARGET PORT GROUPS parameter list", len(b), 4)
	}
	b = b[4:]
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%w: SET TARGET PORT GROUPS parameter list: %d bytes of descriptors, not a multiple of 4", ErrMalformed, len(b))
	}
	sets := make([]TargetPortGroupSet, 0, len(b)/4)
	for ; len(b) > 0; b = b[4:] {
		sets = append(sets, TargetPortGroupSet{State: ALUAState(b[0] & 0x0f), Group: binary.BigEndian.Uint16(b[2:])})
	}
	return sets, nil
}

func (t *TargetPortGroups) cut(what string, left int) error {
	if t.Truncated {
		return nil
	}
	return fmt.Errorf("%w: REPORT TARGET PORT GROUPS %s runs past the data (%d bytes left)", ErrMalformed, what, left)
}
