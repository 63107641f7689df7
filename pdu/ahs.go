package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// AHS types (RFC 7143 §11.2.2).
const (
	AHSExtendedCDB    = 1
	AHSBidiReadLength = 2
)

// MaxAHSLength is the largest TotalAHSLength in bytes (255 words).
const MaxAHSLength = 255 * 4

// ErrAHS reports a malformed Additional Header Segment.
var ErrAHS = errors.New("pdu: malformed AHS")

// AHS is one Additional Header Segment. Data aliases the buffer it was parsed
// from: the AHS-specific byte followed by the AHS payload, without padding.
type AHS struct {
	Type uint8
	// Specific is the type-specific byte after AHSType (reserved for both defined types).
	Specific uint8
	Data     []byte
}

// NextAHS parses the first AHS in b and returns it with the rest of b.
// It never reads beyond b.
func NextAHS(b []byte) (AHS, []byte, error) {
	if len(b) < 4 {
		return AHS{}, nil, fmt.Errorf("%w: %d bytes left, need at least 4", ErrAHS, len(b))
	}
	// AHSLength counts the bytes after AHSType: the specific byte and the payload.
	n := int(binary.BigEndian.Uint16(b[0:2]))
	if n == 0 {
		return AHS{}, nil, fmt.Errorf("%w: AHSLength 0", ErrAHS)
	}
	total := Pad4(3 + n)
	if total > len(b) {
		return AHS{}, nil, fmt.Errorf("%w: AHSLength %d overruns the %d bytes left", ErrAHS, n, len(b))
	}
	return AHS{Type: b[2], Specific: b[3], Data: b[4 : 3+n]}, b[total:], nil
}

// CommandAHS is what a SCSI Command's AHS may carry.
type CommandAHS struct {
	// ExtendedCDB holds CDB bytes beyond the 16 in the BHS.
	ExtendedCDB []byte
	// BidiReadLength is the expected read length of a bidirectional command.
	BidiReadLength    uint32
	HasBidiReadLength bool
}

// ParseCommandAHS parses the whole AHS area of a SCSI Command. Unknown AHS
// types are an error, as RFC 7143 §11.2.2 defines only two.
func ParseCommandAHS(b []byte) (CommandAHS, error) {
	var c CommandAHS
	for len(b) > 0 {
		a, rest, err := NextAHS(b)
		if err != nil {
			return CommandAHS{}, err
		}
		b = rest
		switch a.Type {
		case AHSExtendedCDB:
			if c.ExtendedCDB != nil {
				return CommandAHS{}, fmt.Errorf("%w: two Extended CDB AHS", ErrAHS)
			}
			c.ExtendedCDB = a.Data
		case AHSBidiReadLength:
			if len(a.Data) != 4 {
				return CommandAHS{}, fmt.Errorf("%w: Bidirectional Read AHS with AHSLength %d, want 5", ErrAHS, len(a.Data)+1)
			}
			if c.HasBidiReadLength {
				return CommandAHS{}, fmt.Errorf("%w: two Bidirectional Read AHS", ErrAHS)
			}
			c.BidiReadLength, c.HasBidiReadLength = binary.BigEndian.Uint32(a.Data), true
		default:
			return CommandAHS{}, fmt.Errorf("%w: unknown AHS type %d", ErrAHS, a.Type)
		}
	}
	return c, nil
}

// AppendCommandAHS appends the AHS for c: the Extended CDB AHS first, then the
// Bidirectional Read AHS, each padded to 4 bytes. The result's length is the
// TotalAHSLength in bytes. An ExtendedCDB longer than MaxAHSLength-8 bytes is
// truncated by the caller's mistake, never silently: it panics.
func AppendCommandAHS(dst []byte, c CommandAHS) []byte {
	if len(c.ExtendedCDB) > 0 {
		if len(c.ExtendedCDB) > MaxAHSLength-8-4 {
			panic("pdu: extended CDB too long")
		}
		n := len(c.ExtendedCDB) + 1
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		dst = append(dst, AHSExtendedCDB, 0)
		dst = append(dst, c.ExtendedCDB...)
		dst = appendPad(dst, 3+n)
	}
	if c.HasBidiReadLength {
		dst = append(dst, 0, 5, AHSBidiReadLength, 0)
		dst = binary.BigEndian.AppendUint32(dst, c.BidiReadLength)
	}
	return dst
}

var zeros [4]byte

func appendPad(dst []byte, n int) []byte {
	return append(dst, zeros[:Pad4(n)-n]...)
}
