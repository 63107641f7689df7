package scsi

import (
	"encoding/binary"
	"fmt"
)

// PRInAction is the SERVICE ACTION of PERSISTENT RESERVE IN (SPC-4).
type PRInAction uint8

// PERSISTENT RESERVE IN service actions.
const (
	PRReadKeys           PRInAction = 0 // registered keys: ParsePRKeys
	PRReadReservation    PRInAction = 1 // the reservation: ParsePRReservation
	PRReportCapabilities PRInAction = 2 // ParsePRCapabilities
	PRReadFullStatus     PRInAction = 3 // registrations with their I_T nexus: ParsePRFullStatus
)

// PersistentReserveIn builds PERSISTENT RESERVE IN (SPC-4).
func PersistentReserveIn(sa PRInAction, allocLen uint16) CDB {
	c := newCDB(OpPersistentReserveIn, 10)
	c.b[1] = byte(sa) & 0x1f
	c.put16(7, allocLen)
	return c
}

// PROutAction is the SERVICE ACTION of PERSISTENT RESERVE OUT (SPC-4
// 6.16).
type PROutAction uint8

// PERSISTENT RESERVE OUT service actions.
const (
	PRRegister          PROutAction = 0 // register (or unregister with key 0) the I_T nexus
	PRReserve           PROutAction = 1
	PRRelease           PROutAction = 2
	PRClear             PROutAction = 3 // release and drop every registration
	PRPreempt           PROutAction = 4
	PRPreemptAndAbort   PROutAction = 5
	PRRegisterAndIgnore PROutAction = 6 // REGISTER AND IGNORE EXISTING KEY
	PRRegisterAndMove   PROutAction = 7 // its parameter list is not PROutParameters'
)

// PRType is the TYPE of a persistent reservation (SPC-4).
type PRType uint8

// Persistent reservation types.
const (
	PRTypeWriteExclusive                 PRType = 1
	PRTypeExclusiveAccess                PRType = 3
	PRTypeWriteExclusiveRegistrantsOnly  PRType = 5
	PRTypeExclusiveAccessRegistrantsOnly PRType = 6
	PRTypeWriteExclusiveAllRegistrants   PRType = 7
	PRTypeExclusiveAccessAllRegistrants  PRType = 8
)

var prTypeNames = [...]string{
	PRTypeWriteExclusive:                 "WRITE EXCLUSIVE",
	PRTypeExclusiveAccess:                "EXCLUSIVE ACCESS",
	PRTypeWriteExclusiveRegistrantsOnly:  "WRITE EXCLUSIVE - REGISTRANTS ONLY",
	PRTypeExclusiveAccessRegistrantsOnly: "EXCLUSIVE ACCESS - REGISTRANTS ONLY",
	PRTypeWriteExclusiveAllRegistrants:   "WRITE EXCLUSIVE - ALL REGISTRANTS",
	PRTypeExclusiveAccessAllRegistrants:  "EXCLUSIVE ACCESS - ALL REGISTRANTS",
}

// String names the type as SPC-4 does, or "TYPE n".
func (t PRType) String() string {
	if int(t) < len(prTypeNames) && prTypeNames[t] != "" {
		return prTypeNames[t]
	}
	return fmt.Sprintf("TYPE %d", uint8(t))
}

// PROutParametersLen is the length of the basic PERSISTENT RESERVE OUT
// parameter list, without transport IDs.
const PROutParametersLen = 24

// PersistentReserveOut builds PERSISTENT RESERVE OUT (SPC-4) with
// scope LU_SCOPE, the only scope SPC-4 defines. typ matters for
// PRReserve, PRRelease, PRPreempt and PRPreemptAndAbort, and is 0
// otherwise. paramLen is PROutParametersLen, or the length
// AppendPROutParameters returned when it appended transport IDs.
func PersistentReserveOut(sa PROutAction, typ PRType, paramLen uint32) CDB {
	c := newCDB(OpPersistentReserveOut, 10)
	c.b[1] = byte(sa) & 0x1f
	c.b[2] = byte(typ) & 0x0f
	c.put32(5, paramLen)
	return c
}

// PROutParameters is the parameter list of PERSISTENT RESERVE OUT for
// every service action but REGISTER AND MOVE (SPC-4).
type PROutParameters struct {
	Key              uint64 // RESERVATION KEY: the caller's registered key
	ServiceActionKey uint64 // SERVICE ACTION RESERVATION KEY: new key, or the key to preempt
	// SpecIPT (SPEC_I_PT) registers the I_T nexuses of TransportIDs as
	// well (REGISTER only).
	SpecIPT bool
	AllTgPt bool // ALL_TG_PT: register through every target port
	APTPL   bool // activate persist through power loss
	// TransportIDs are the transport IDs (AppendISCSITransportID)
	// appended after their 4-byte length when SpecIPT is set.
	TransportIDs []byte
}

// AppendPROutParameters appends the parameter list of p to dst: 24 bytes,
// and with SpecIPT a 4-byte TRANSPORTID PARAMETER DATA LENGTH and the
// transport IDs.
func AppendPROutParameters(dst []byte, p PROutParameters) []byte {
	dst = binary.BigEndian.AppendUint64(dst, p.Key)
	dst = binary.BigEndian.AppendUint64(dst, p.ServiceActionKey)
	dst = append(dst, 0, 0, 0, 0, // obsolete
		bit(p.SpecIPT, 0x08)|bit(p.AllTgPt, 0x04)|bit(p.APTPL, 0x01), 0, 0, 0)
	if p.SpecIPT {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.TransportIDs)))
		dst = append(dst, p.TransportIDs...)
	}
	return dst
}

// ParsePROutParameters decodes a PERSISTENT RESERVE OUT parameter list,
// what a target receives. TransportIDs aliases b.
func ParsePROutParameters(b []byte) (PROutParameters, error) {
	var p PROutParameters
	if len(b) < PROutParametersLen {
		return p, shortErr("PERSISTENT RESERVE OUT parameter list", len(b), PROutParametersLen)
	}
	p.Key = binary.BigEndian.Uint64(b)
	p.ServiceActionKey = binary.BigEndian.Uint64(b[8:])
	p.SpecIPT, p.AllTgPt, p.APTPL = b[20]&0x08 != 0, b[20]&0x04 != 0, b[20]&0x01 != 0
	if p.SpecIPT {
		if len(b) < 28 {
			return p, shortErr("PERSISTENT RESERVE OUT parameter list with SPEC_I_PT", len(b), 28)
		}
		n := binary.BigEndian.Uint32(b[24:])
		if int64(n) > int64(len(b)-28) {
			return p, fmt.Errorf("%w: TRANSPORTID PARAMETER DATA LENGTH %d, %d bytes follow", ErrMalformed, n, len(b)-28)
		}
		p.TransportIDs = b[28 : 28+n : 28+n]
	}
	return p, nil
}
