package scsi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// CommandTimeouts is a command timeouts descriptor of REPORT SUPPORTED
// OPERATION CODES (SPC-4), present when RCTD was set.
type CommandTimeouts struct {
	CommandSpecific uint8
	Nominal         uint32 // NOMINAL COMMAND PROCESSING TIMEOUT, seconds (0: not reported)
	Recommended     uint32 // RECOMMENDED COMMAND TIMEOUT, seconds (0: not reported)
}

// parseTimeouts decodes a command timeouts descriptor at the start of b
// and returns its whole length, 2 plus its DESCRIPTOR LENGTH.
func parseTimeouts(b []byte) (CommandTimeouts, int, error) {
	var t CommandTimeouts
	if len(b) < 2 {
		return t, 0, shortErr("command timeouts descriptor", len(b), 12)
	}
	n := 2 + int(binary.BigEndian.Uint16(b))
	if n < 12 {
		return t, 0, fmt.Errorf("%w: command timeouts descriptor length %d, need 10", ErrMalformed, n-2)
	}
	if len(b) < n {
		return t, 0, shortErr("command timeouts descriptor", len(b), n)
	}
	t.CommandSpecific = b[3]
	t.Nominal = binary.BigEndian.Uint32(b[4:])
	t.Recommended = binary.BigEndian.Uint32(b[8:])
	return t, n, nil
}

// CommandDescriptor is one command of REPORT SUPPORTED OPERATION CODES'
// all-commands form.
type CommandDescriptor struct {
	OpCode        OpCode
	ServiceAction uint16
	// ServiceActionValid (SERVACTV): the command is the service action
	// ServiceAction of OpCode.
	ServiceActionValid bool
	CDBLength          uint16
	// HasTimeouts (CTDP) says Timeouts was sent.
	HasTimeouts bool
	Timeouts    CommandTimeouts
}

// SupportedOpCodes is the all-commands parameter data of REPORT SUPPORTED
// OPERATION CODES (SPC-4).
type SupportedOpCodes struct {
	// CommandDataLength is the COMMAND DATA LENGTH field: the data is
	// CommandDataLength+4 bytes long (see FullLength).
	CommandDataLength uint32
	Commands          []CommandDescriptor
	// Truncated is set when the data stops before FullLength; the
	// descriptors wholly present are decoded.
	Truncated bool
}

// FullLength returns the length the device announced.
func (s *SupportedOpCodes) FullLength() int64 { return int64(s.CommandDataLength) + 4 }

// Supports reports whether the list holds op (with service action sa when
// the list gives one for op).
func (s *SupportedOpCodes) Supports(op OpCode, sa uint16) bool {
	for _, c := range s.Commands {
		if c.OpCode == op && (!c.ServiceActionValid || c.ServiceAction == sa) {
			return true
		}
	}
	return false
}

// ParseSupportedOpCodes decodes the all-commands form (reporting options
// 000b) of REPORT SUPPORTED OPERATION CODES data. The 4-byte header must
// be present. A descriptor that runs past complete data is an error
// wrapping ErrMalformed.
func ParseSupportedOpCodes(b []byte) (SupportedOpCodes, error) {
	var s SupportedOpCodes
	if len(b) < 4 {
		return s, shortErr("REPORT SUPPORTED OPERATION CODES data", len(b), 4)
	}
	s.CommandDataLength = binary.BigEndian.Uint32(b)
	p := b[4:]
	if int64(len(p)) > int64(s.CommandDataLength) {
		p = p[:s.CommandDataLength]
	} else if int64(len(p)) < int64(s.CommandDataLength) {
		s.Truncated = true
	}
	for len(p) > 0 {
		if len(p) < 8 {
			return s, s.cut(fmt.Errorf("%w: command descriptor of %d bytes", ErrMalformed, len(p)))
		}
		c := CommandDescriptor{
			OpCode:             OpCode(p[0]),
			ServiceAction:      binary.BigEndian.Uint16(p[2:]),
			ServiceActionValid: p[5]&0x01 != 0,
			HasTimeouts:        p[5]&0x02 != 0,
			CDBLength:          binary.BigEndian.Uint16(p[6:]),
		}
		n := 8
		if c.HasTimeouts {
			t, tn, err := parseTimeouts(p[8:])
			if err != nil {
				return s, s.cut(fmt.Errorf("%w: command 0x%02x: %v", ErrMalformed, p[0], err))
			}
			c.Timeouts = t
			n += tn
		}
		s.Commands = append(s.Commands, c)
		p = p[n:]
	}
	return s, nil
}

func (s *SupportedOpCodes) cut(err error) error {
	if s.Truncated {
		return nil
	}
	return fmt.Errorf("%w (REPORT SUPPORTED OPERATION CODES)", err)
}

// Values of SUPPORT in the one-command form.
const (
	SupportNotAvailable = 0 // the device cannot tell
	SupportNone         = 1 // not supported
	SupportStandard     = 3 // supported as the standard defines it
	SupportVendor       = 5 // supported in a vendor-specific way
)

// OneCommand is the one-command parameter data of REPORT SUPPORTED
// OPERATION CODES (reporting options 001b or 010b).
type OneCommand struct {
	Support uint8 // SUPPORT (3 bits): SupportStandard, SupportNone, ...
	// CDBUsage is the CDB USAGE DATA: the CDB with every bit the
	// device looks at set. Its length is the command's CDB size. It
	// aliases the parsed buffer.
	CDBUsage    []byte
	HasTimeouts bool // CTDP
	Timeouts    CommandTimeouts
	// Truncated is set when the CDB usage data or the timeouts
	// descriptor was cut off by the end of the data.
	Truncated bool
}

// Supported reports whether SUPPORT says the command is supported.
func (o *OneCommand) Supported() bool {
	return o.Support == SupportStandard || o.Support == SupportVendor
}

// ParseOneCommand decodes the one-command form of REPORT SUPPORTED
// OPERATION CODES data. The 4-byte header must be present.
func ParseOneCommand(b []byte) (OneCommand, error) {
	var o OneCommand
	if len(b) < 4 {
		return o, shortErr("REPORT SUPPORTED OPERATION CODES one-command data", len(b), 4)
	}
	o.HasTimeouts = b[1]&0x80 != 0
	o.Support = b[1] & 0x07
	n := int(binary.BigEndian.Uint16(b[2:]))
	p := b[4:]
	if n > len(p) {
		o.CDBUsage = p
		o.Truncated = true
		return o, nil
	}
	o.CDBUsage = p[:n:n]
	if o.HasTimeouts {
		t, _, err := parseTimeouts(p[n:])
		if errors.Is(err, ErrShortData) {
			o.Truncated = true // the data ends inside the descriptor
			return o, nil
		}
		if err != nil {
			return o, err
		}
		o.Timeouts = t
	}
	return o, nil
}
