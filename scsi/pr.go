package scsi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// prHeader decodes the 8-byte header shared by READ KEYS, READ
// RESERVATION and READ FULL STATUS: PRGENERATION and ADDITIONAL LENGTH.
// It returns the data after the header, clipped to ADDITIONAL LENGTH, and
// whether the data stopped before it.
func prHeader(b []byte, what string) (gen, addl uint32, body []byte, truncated bool, err error) {
	if len(b) < 8 {
		return 0, 0, nil, false, shortErr(what, len(b), 8)
	}
	gen = binary.BigEndian.Uint32(b)
	addl = binary.BigEndian.Uint32(b[4:])
	body = b[8:]
	if int64(len(body)) > int64(addl) {
		body = body[:addl]
	} else if int64(len(body)) < int64(addl) {
		truncated = true
	}
	return gen, addl, body, truncated, nil
}

// PRKeys is the parameter data of PERSISTENT RESERVE IN, READ KEYS (SPC-4
// 6.15.2).
type PRKeys struct {
	Generation uint32 // PRGENERATION
	// AdditionalLength is the ADDITIONAL LENGTH field: the data is
	// AdditionalLength+8 bytes long (see FullLength).
	AdditionalLength uint32
	Keys             []uint64
	// Truncated is set when the data stops before FullLength.
	Truncated bool
}

// FullLength returns the length the device announced.
func (k *PRKeys) FullLength() int64 { return int64(k.AdditionalLength) + 8 }

// ParsePRKeys decodes READ KEYS data. The 8-byte header must be present;
// the keys wholly present are decoded. A key list that is not a whole
// number of keys is an error wrapping ErrMalformed unless truncated.
func ParsePRKeys(b []byte) (PRKeys, error) {
	var k PRKeys
	var body []byte
	var err error
	k.Generation, k.AdditionalLength, body, k.Truncated, err = prHeader(b, "READ KEYS data")
	if err != nil {
		return k, err
	}
	if len(body)%8 != 0 && !k.Truncated {
		return k, fmt.Errorf("%w: READ KEYS list of %d bytes is not a multiple of 8", ErrMalformed, len(body))
	}
	k.Keys = make([]uint64, len(body)/8)
	for i := range k.Keys {
		k.Keys[i] = binary.BigEndian.Uint64(body[8*i:])
	}
	return k, nil
}

// PRReservation is the parameter data of PERSISTENT RESERVE IN, READ
// RESERVATION (SPC-4).
type PRReservation struct {
	Generation       uint32 // PRGENERATION
	AdditionalLength uint32 // 0 without a reservation, 16 with one
	// Reserved is set when the data holds a reservation: Key, Scope and
	// Type are valid.
	Reserved bool
	Key      uint64 // RESERVATION KEY of the holder
	Scope    uint8  // SCOPE (4 bits; 0, LU_SCOPE)
	Type     PRType
	// Truncated is set when ADDITIONAL LENGTH announces a reservation
	// that the data does not hold whole.
	Truncated bool
}

// ParsePRReservation decodes READ RESERVATION data. The 8-byte header must
// be present.
func ParsePRReservation(b []byte) (PRReservation, error) {
	var r PRReservation
	var body []byte
	var err error
	r.Generation, r.AdditionalLength, body, r.Truncated, err = prHeader(b, "READ RESERVATION data")
	if err != nil || r.AdditionalLength == 0 {
		return r, err
	}
	if len(body) < 16 {
		if !r.Truncated {
			return r, fmt.Errorf("%w: READ RESERVATION additional length %d, need 16", ErrMalformed, r.AdditionalLength)
		}
		return r, nil
	}
	r.Reserved = true
	r.Key = binary.BigEndian.Uint64(body)
	r.Scope = body[13] >> 4
	r.Type = PRType(body[13] & 0x0f)
	return r, nil
}

// PRCapabilities is the parameter data of PERSISTENT RESERVE IN, REPORT
// CAPABILITIES (SPC-4).
type PRCapabilities struct {
	Length uint16 // LENGTH (8)
	RLRC   bool   // RLR_C: replace lost reservation capable
	CRH    bool   // compatible reservation handling (RESERVE(6) and PRs)
	SIPC   bool   // SIP_C: SPEC_I_PT capable
	ATPC   bool   // ATP_C: ALL_TG_PT capable
	PTPLC  bool   // PTPL_C: persist through power loss capable
	// TMV (type mask valid) says TypeMask is valid.
	TMV           bool
	AllowCommands uint8 // ALLOW COMMANDS (3 bits)
	PTPLA         bool  // PTPL_A: persist through power loss activated
	// TypeMask is the PERSISTENT RESERVATION TYPE MASK, bytes 4-5 (see
	// Supports).
	TypeMask uint16
}

// Supports reports whether the device supports the reservation type t,
// according to TypeMask. It is false when TMV is not set.
func (c *PRCapabilities) Supports(t PRType) bool {
	if !c.TMV {
		return false
	}
	var m uint16
	switch t {
	case PRTypeWriteExclusiveAllRegistrants:
		m = 0x8000
	case PRTypeExclusiveAccessRegistrantsOnly:
		m = 0x4000
	case PRTypeWriteExclusiveRegistrantsOnly:
		m = 0x2000
	case PRTypeExclusiveAccess:
		m = 0x0800
	case PRTypeWriteExclusive:
		m = 0x0200
	case PRTypeExclusiveAccessAllRegistrants:
		m = 0x0001
	}
	return c.TypeMask&m != 0
}

// ParsePRCapabilities decodes REPORT CAPABILITIES data; the 6 bytes up to
// the type mask must be present.
func ParsePRCapabilities(b []byte) (PRCapabilities, error) {
	var c PRCapabilities
	if len(b) < 6 {
		return c, shortErr("REPORT CAPABILITIES data", len(b), 6)
	}
	c.Length = binary.BigEndian.Uint16(b)
	c.RLRC, c.CRH, c.SIPC, c.ATPC, c.PTPLC = b[2]&0x80 != 0, b[2]&0x10 != 0, b[2]&0x08 != 0, b[2]&0x04 != 0, b[2]&0x01 != 0
	c.TMV = b[3]&0x80 != 0
	c.AllowCommands = b[3] >> 4 & 0x07
	c.PTPLA = b[3]&0x01 != 0
	c.TypeMask = binary.BigEndian.Uint16(b[4:])
	return c, nil
}

// PRFullStatus is the parameter data of PERSISTENT RESERVE IN, READ FULL
// STATUS (SPC-4).
type PRFullStatus struct {
	Generation       uint32 // PRGENERATION
	AdditionalLength uint32 // the data is AdditionalLength+8 bytes long
	Descriptors      []PRStatusDescriptor
	// Truncated is set when the data stops before FullLength; the
	// descriptors wholly present are decoded.
	Truncated bool
}

// FullLength returns the length the device announced.
func (f *PRFullStatus) FullLength() int64 { return int64(f.AdditionalLength) + 8 }

// PRStatusDescriptor is one registration of READ FULL STATUS.
type PRStatusDescriptor struct {
	Key     uint64 // RESERVATION KEY
	AllTgPt bool   // registered through every target port
	// Holder (R_HOLDER): this I_T nexus holds the reservation; Scope
	// and Type are valid.
	Holder               bool
	Scope                uint8
	Type                 PRType
	RelativeTargetPortID uint16 // when AllTgPt is clear
	TransportID          TransportID
}

// ParsePRFullStatus decodes READ FULL STATUS data. The 8-byte header must be
// present. A descriptor that runs past complete data is an error wrapping
// ErrMalformed.
func ParsePRFullStatus(b []byte) (PRFullStatus, error) {
	var f PRFullStatus
	var body []byte
	var err error
	f.Generation, f.AdditionalLength, body, f.Truncated, err = prHeader(b, "READ FULL STATUS data")
	if err != nil {
		return f, err
	}
	for len(body) > 0 {
		if len(body) < 24 {
			return f, f.cut("descriptor header", len(body))
		}
		n := binary.BigEndian.Uint32(body[20:])
		if int64(n) > int64(len(body)-24) {
			return f, f.cut(fmt.Sprintf("transport ID of %d bytes", n), len(body)-24)
		}
		d := PRStatusDescriptor{
			Key:                  binary.BigEndian.Uint64(body),
			AllTgPt:              body[12]&0x02 != 0,
			Holder:               body[12]&0x01 != 0,
			Scope:                body[13] >> 4,
			Type:                 PRType(body[13] & 0x0f),
			RelativeTargetPortID: binary.BigEndian.Uint16(body[18:]),
			TransportID:          parseTransportID(body[24 : 24+n : 24+n]),
		}
		f.Descriptors = append(f.Descriptors, d)
		body = body[24+n:]
	}
	return f, nil
}

func (f *PRFullStatus) cut(what string, left int) error {
	if f.Truncated {
		return nil
	}
	return fmt.Errorf("%w: READ FULL STATUS %s runs past the data (%d bytes left)", ErrMalformed, what, left)
}

// TransportID is a TransportID (SPC-4): the identity of an initiator
// port.
type TransportID struct {
	Format   uint8 // FORMAT CODE (2 bits)
	Protocol ProtocolID
	// Raw is the whole transport ID, aliasing the parsed buffer.
	Raw []byte
}

func parseTransportID(b []byte) TransportID {
	t := TransportID{Raw: b}
	if len(b) > 0 {
		t.Format = b[0] >> 6
		t.Protocol = ProtocolID(b[0] & 0x0f)
	}
	return t
}

// ISCSIName decodes an iSCSI transport ID (SPC-4): the iSCSI name
// and, for format 01 (initiator port), the ISID in hex as sent after
// ",i,0x". ok is false for another protocol, another format or a transport
// ID too short for its ADDITIONAL LENGTH.
func (t TransportID) ISCSIName() (name, isid string, ok bool) {
	b := t.Raw
	if t.Protocol != ProtocolISCSI || t.Format > 1 || len(b) < 4 {
		return "", "", false
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n > len(b)-4 {
		return "", "", false
	}
	s := b[4 : 4+n]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	name = string(s)
	if t.Format == 1 {
		var found bool
		name, isid, found = strings.Cut(name, ",i,0x")
		if !found {
			return "", "", false
		}
	}
	return name, isid, true
}

// AppendISCSITransportID appends an iSCSI transport ID for name to dst:
// format 00 (initiator device) when isid is empty, else format 01
// (initiator port) with isid, 12 hex digits. The name is NUL terminated
// and padded to a multiple of 4 bytes, at least 20 (SPC-4).
func AppendISCSITransportID(dst []byte, name, isid string) []byte {
	s := name
	format := byte(0)
	if isid != "" {
		s += ",i,0x" + isid
		format = 1
	}
	n := (len(s) + 1 + 3) &^ 3
	n = max(n, 20)
	dst = append(dst, format<<6|byte(ProtocolISCSI), 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = append(dst, s...)
	for range n - len(s) {
		dst = append(dst, 0)
	}
	return dst
}
