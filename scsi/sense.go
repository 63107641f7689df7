package scsi

import (
	"encoding/binary"
	"fmt"
)

// SenseKey is the SENSE KEY of sense data (SPC-4).
type SenseKey uint8

// Sense keys.
const (
	SenseNoSense        SenseKey = 0x0
	SenseRecoveredError SenseKey = 0x1
	SenseNotReady       SenseKey = 0x2
	SenseMediumError    SenseKey = 0x3
	SenseHardwareError  SenseKey = 0x4
	SenseIllegalRequest SenseKey = 0x5
	SenseUnitAttention  SenseKey = 0x6
	SenseDataProtect    SenseKey = 0x7
	SenseBlankCheck     SenseKey = 0x8
	SenseVendorSpecific SenseKey = 0x9
	SenseCopyAborted    SenseKey = 0xa
	SenseAbortedCommand SenseKey = 0xb
	SenseVolumeOverflow SenseKey = 0xd
	SenseMiscompare     SenseKey = 0xe
	SenseCompleted      SenseKey = 0xf
)

var senseKeyNames = [16]string{
	"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR",
	"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
	"BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
	"OBSOLETE (0xc)", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
}

// String returns the sense key as SPC-4 names it, e.g. "ILLEGAL REQUEST".
func (k SenseKey) String() string {
	if k < 16 {
		return senseKeyNames[k]
	}
	return fmt.Sprintf("SENSE KEY 0x%02x", uint8(k))
}

// Sense data response codes (SPC-4).
const (
	SenseFixedCurrent       = 0x70
	SenseFixedDeferred      = 0x71
	SenseDescriptorCurrent  = 0x72
	SenseDescriptorDeferred = 0x73
)

// Sense is decoded sense data, fixed (SPC-4) or descriptor format
// (SPC-4).
type Sense struct {
	ResponseCode uint8    // 0x70, 0x71, 0x72 or 0x73
	Key          SenseKey // SENSE KEY
	ASC          ASC      // ADDITIONAL SENSE CODE and QUALIFIER

	// InformationValid is the VALID bit (fixed) or the VALID bit of an
	// information descriptor (descriptor format); Information is the
	// INFORMATION field, e.g. the first LBA in error.
	InformationValid bool
	Information      uint64

	// CommandSpecific is the COMMAND-SPECIFIC INFORMATION field.
	CommandSpecific uint64

	Filemark bool // FILEMARK (fixed byte 2, or stream commands descriptor)
	EOM      bool // EOM, end of medium
	ILI      bool // ILI, incorrect length indicator
	SDATOvfl bool // SDAT_OVFL: the sense data did not fit (SPC-4)

	FRU uint8 // FIELD REPLACEABLE UNIT CODE

	// SKSV says SenseKeySpecific is valid; its meaning depends on the
	// key (for ILLEGAL REQUEST, see FieldPointer).
	SKSV             bool
	SenseKeySpecific [3]byte

	// Descriptors holds the raw sense data descriptors of the descriptor
	// format, each type, length and body. It aliases the parsed buffer.
	Descriptors []SenseDescriptor

	// Truncated is set when the ADDITIONAL SENSE LENGTH announces more
	// bytes than were given.
	Truncated bool
}

// SenseDescriptor is one descriptor of descriptor-format sense data.
type SenseDescriptor struct {
	Type uint8  // DESCRIPTOR TYPE
	Data []byte // bytes after the 2-byte header
}

// Current reports whether the sense data describes the command it came with
// (0x70, 0x72) and not an earlier deferred error (0x71, 0x73).
func (s *Sense) Current() bool {
	return s.ResponseCode == SenseFixedCurrent || s.ResponseCode == SenseDescriptorCurrent
}

// DescriptorFormat reports whether the data was in descriptor format.
func (s *Sense) DescriptorFormat() bool {
	return s.ResponseCode == SenseDescriptorCurrent || s.ResponseCode == SenseDescriptorDeferred
}

// FieldPointer decodes the sense-key specific bytes of ILLEGAL REQUEST
// (SPC-4): in the CDB (cdb) or the parameter data, the byte and,
// when bitValid, the bit in error. ok is false when SKSV is not set.
func (s *Sense) FieldPointer() (cdb bool, field uint16, bit uint8, bitValid, ok bool) {
	if !s.SKSV {
		return false, 0, 0, false, false
	}
	b := s.SenseKeySpecific
	return b[0]&0x40 != 0, binary.BigEndian.Uint16(b[1:3]), b[0] & 0x07, b[0]&0x08 != 0, true
}

// String formats the sense as "ILLEGAL REQUEST, ASC/ASCQ 0x24/0x00 INVALID
// FIELD IN CDB".
func (s *Sense) String() string {
	str := fmt.Sprintf("%v, ASC/ASCQ 0x%02x/0x%02x", s.Key, s.ASC.Code(), s.ASC.Qualifier())
	if n := s.ASC.Name(); n != "" {
		str += " " + n
	}
	return str
}

// ParseSense decodes sense data as a target returns it (for iSCSI, the data
// segment of a SCSI Response after its 2-byte SenseLength). Descriptor and
// fixed formats are accepted; other response codes are ErrSenseFormat. The
// bytes up to the ASC/ASCQ must be present; fields beyond what was given are
// left zero and Truncated is set.
func ParseSense(b []byte) (Sense, error) {
	var s Sense
	if len(b) < 1 {
		return s, fmt.Errorf("%w: sense data is empty", ErrShortData)
	}
	s.ResponseCode = b[0] & 0x7f
	switch s.ResponseCode {
	case SenseFixedCurrent, SenseFixedDeferred:
		return s, parseFixedSense(&s, b)
	case SenseDescriptorCurrent, SenseDescriptorDeferred:
		return s, parseDescriptorSense(&s, b)
	}
	return s, fmt.Errorf("%w: response code 0x%02x", ErrSenseFormat, s.ResponseCode)
}

func parseFixedSense(s *Sense, b []byte) error {
	if len(b) < 3 {
		return fmt.Errorf("%w: fixed sense data is %d bytes, need at least 3", ErrShortData, len(b))
	}
	s.InformationValid = b[0]&0x80 != 0
	s.Filemark = b[2]&0x80 != 0
	s.EOM = b[2]&0x40 != 0
	s.ILI = b[2]&0x20 != 0
	s.SDATOvfl = b[2]&0x10 != 0
	s.Key = SenseKey(b[2] & 0x0f)
	// ADDITIONAL SENSE LENGTH bounds the data; old targets send 8-byte
	// sense without it, so 3..7 bytes is accepted with Truncated.
	end := len(b)
	if len(b) >= 8 {
		if n := 8 + int(b[7]); n < end {
			end = n
		} else if n > end {
			s.Truncated = true
		}
	} else {
		s.Truncated = true
	}
	b = b[:end]
	if len(b) >= 7 {
		s.Information = uint64(binary.BigEndian.Uint32(b[3:7]))
	}
	if len(b) >= 12 {
		s.CommandSpecific = uint64(binary.BigEndian.Uint32(b[8:12]))
	}
	if len(b) >= 14 {
		s.ASC = ASC(binary.BigEndian.Uint16(b[12:14]))
	}
	if len(b) >= 15 {
		s.FRU = b[14]
	}
	if len(b) >= 18 {
		s.SKSV = b[15]&0x80 != 0
		copy(s.SenseKeySpecific[:], b[15:18])
	}
	return nil
}

// Sense data descriptor types (SPC-4, SBC-3, SSC-4).
const (
	SenseDescInformation      = 0x00
	SenseDescCommandSpecific  = 0x01
	SenseDescSenseKeySpecific = 0x02
	SenseDescFRU              = 0x03
	SenseDescStreamCommands   = 0x04
	SenseDescBlockCommands    = 0x05
)

func parseDescriptorSense(s *Sense, b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("%w: descriptor sense data is %d bytes, need at least 4", ErrShortData, len(b))
	}
	s.Key = SenseKey(b[1] & 0x0f)
	s.ASC = ASC(binary.BigEndian.Uint16(b[2:4]))
	if len(b) < 8 {
		s.Truncated = true
		return nil
	}
	s.SDATOvfl = b[4]&0x80 != 0
	end := 8 + int(b[7])
	if end > len(b) {
		s.Truncated = true
		end = len(b)
	}
	p := b[8:end]
	for len(p) >= 2 {
		n := 2 + int(p[1])
		if n > len(p) {
			s.Truncated = true
			break
		}
		d := SenseDescriptor{Type: p[0], Data: p[2:n:n]}
		s.Descriptors = append(s.Descriptors, d)
		applyDescriptor(s, d)
		p = p[n:]
	}
	if len(p) == 1 {
		s.Truncated = true
	}
	return nil
}

func applyDescriptor(s *Sense, d SenseDescriptor) {
	v := d.Data
	switch d.Type {
	case SenseDescInformation:
		if len(v) >= 10 {
			s.InformationValid = v[0]&0x80 != 0
			s.Information = binary.BigEndian.Uint64(v[2:10])
		}
	case SenseDescCommandSpecific:
		if len(v) >= 10 {
			s.CommandSpecific = binary.BigEndian.Uint64(v[2:10])
		}
	case SenseDescSenseKeySpecific:
		if len(v) >= 5 {
			s.SKSV = v[2]&0x80 != 0
			copy(s.SenseKeySpecific[:], v[2:5])
		}
	case SenseDescFRU:
		if len(v) >= 2 {
			s.FRU = v[1]
		}
	case SenseDescStreamCommands:
		if len(v) >= 2 {
			s.Filemark = v[1]&0x80 != 0
			s.EOM = v[1]&0x40 != 0
			s.ILI = v[1]&0x20 != 0
		}
	case SenseDescBlockCommands:
		if len(v) >= 2 {
			s.ILI = v[1]&0x20 != 0
		}
	}
}
