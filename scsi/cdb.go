package scsi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxCDBLen is the longest CDB this package holds: the 16 bytes of the CDB
// field of an iSCSI SCSI Command PDU. Longer CDBs need an extended CDB AHS,
// which the session does not send.
const MaxCDBLen = 16

// Errors of the CDB constructors.
var (
	// ErrCDBLength: NewCDB was given no bytes or more than MaxCDBLen.
	ErrCDBLength = errors.New("scsi: CDB length out of range")
	// ErrFieldRange: a value does not fit the CDB field that carries it
	// (READ(6) and WRITE(6) address 21 bits of LBA and 256 blocks).
	ErrFieldRange = errors.New("scsi: value out of range of its CDB field")
)

// CDB is a command descriptor block of up to 16 bytes. The zero value is an
// empty CDB. Builders return it by value; it holds no pointers, so building
// one never allocates.
type CDB struct {
	b [16]byte
	n uint8
}

// NewCDB returns a CDB holding a copy of b, for commands this package has
// no builder for (vendor-specific ones among them), to be sent like any
// other through session.Execute. Any length from 1 to MaxCDBLen is
// accepted: SAM lets vendor-specific operation code groups pick their
// length, so the length is not checked against the group code of byte 0.
// Empty or longer input is an error wrapping ErrCDBLength.
func NewCDB(b []byte) (CDB, error) {
	var c CDB
	if len(b) == 0 || len(b) > MaxCDBLen {
		return c, fmt.Errorf("%w: %d bytes, need 1 to %d", ErrCDBLength, len(b), MaxCDBLen)
	}
	c.n = uint8(copy(c.b[:], b))
	return c, nil
}

// Len returns the CDB's length in bytes (6, 10, 12 or 16 for the builders
// of this package).
func (c *CDB) Len() int { return int(c.n) }

// Bytes returns the CDB's bytes. The slice aliases c.
func (c *CDB) Bytes() []byte { return c.b[:c.n] }

// Array returns the CDB zero-padded to 16 bytes, the form of the CDB field of
// an iSCSI SCSI Command PDU.
func (c CDB) Array() [16]byte { return c.b }

// OpCode returns byte 0 of the CDB.
func (c *CDB) OpCode() OpCode { return OpCode(c.b[0]) }

// String names the command and shows its bytes in hex, for traces.
func (c CDB) String() string {
	return fmt.Sprintf("%v [% x]", OpCode(c.b[0]), c.b[:c.n])
}

func newCDB(op OpCode, n uint8) CDB {
	var c CDB
	c.b[0] = byte(op)
	c.n = n
	return c
}

// Field setters shared by the builders. The offsets are the CDB's.

func (c *CDB) put16(at int, v uint16) { binary.BigEndian.PutUint16(c.b[at:], v) }
func (c *CDB) put32(at int, v uint32) { binary.BigEndian.PutUint32(c.b[at:], v) }
func (c *CDB) put64(at int, v uint64) { binary.BigEndian.PutUint64(c.b[at:], v) }

func (c *CDB) setBit(at int, mask byte, on bool) {
	if on {
		c.b[at] |= mask
	}
}
