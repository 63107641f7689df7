package scsi

import (
	"encoding/binary"
	"fmt"
)

// TPCSupportedCommands is the type of the Supported Commands third-party
// copy descriptor (SPC-4).
const TPCSupportedCommands = 0x0001

// ThirdPartyCopy is the Third-party Copy VPD page (0x8f, SPC-4): a list of
// third-party copy descriptors.
type ThirdPartyCopy struct {
	VPDHeader
	Descriptors []TPCDescriptor
}

// TPCDescriptor is one third-party copy descriptor.
type TPCDescriptor struct {
	Type uint16 // THIRD-PARTY COPY DESCRIPTOR TYPE
	// Data is the descriptor after its 4-byte header, aliasing the
	// parsed buffer.
	Data []byte
}

// TPCCommand is one entry of the Supported Commands descriptor: an
// operation code of a copy command and the service actions supported.
type TPCCommand struct {
	OpCode         OpCode
	ServiceActions []uint8 // aliases the parsed buffer
}

// SupportedCommands decodes a descriptor of type TPCSupportedCommands.
// Another type is an error wrapping ErrWrongPage; a list that runs past
// the descriptor wraps ErrMalformed.
func (d TPCDescriptor) SupportedCommands() ([]TPCCommand, error) {
	if d.Type != TPCSupportedCommands {
		return nil, fmt.Errorf("%w: third-party copy descriptor 0x%04x is not Supported Commands", ErrWrongPage, d.Type)
	}
	if len(d.Data) < 1 {
		return nil, shortErr("Supported Commands descriptor", len(d.Data)+4, 5)
	}
	n := int(d.Data[0])
	if n > len(d.Data)-1 {
		return nil, fmt.Errorf("%w: commands supported list length %d, %d bytes follow", ErrMalformed, n, len(d.Data)-1)
	}
	p := d.Data[1 : 1+n]
	var cmds []TPCCommand
	for len(p) > 0 {
		if len(p) < 2 || 2+int(p[1]) > len(p) {
			return cmds, fmt.Errorf("%w: Supported Commands entry runs past its list", ErrMalformed)
		}
		m := 2 + int(p[1])
		cmds = append(cmds, TPCCommand{OpCode: OpCode(p[0]), ServiceActions: p[2:m:m]})
		p = p[m:]
	}
	return cmds, nil
}

// ParseThirdPartyCopy decodes VPD page 0x8f. A descriptor that runs past
// the page is an error wrapping ErrMalformed, unless the page was
// truncated (then the descriptors wholly present are returned).
func ParseThirdPartyCopy(b []byte) (ThirdPartyCopy, error) {
	h, body, err := parseVPD(b, VPDThirdPartyCopy)
	t := ThirdPartyCopy{VPDHeader: h}
	if err != nil {
		return t, err
	}
	for len(body) > 0 {
		if len(body) < 4 || 4+int(binary.BigEndian.Uint16(body[2:])) > len(body) {
			if t.Truncated {
				return t, nil
			}
			return t, fmt.Errorf("%w: third-party copy descriptor runs past the page (%d bytes left)", ErrMalformed, len(body))
		}
		n := 4 + int(binary.BigEndian.Uint16(body[2:]))
		t.Descriptors = append(t.Descriptors, TPCDescriptor{Type: binary.BigEndian.Uint16(body), Data: body[4:n:n]})
		body = body[n:]
	}
	return t, nil
}
