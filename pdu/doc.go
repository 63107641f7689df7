// Package pdu is the iSCSI wire format of RFC 7143 §11: every PDU, in both
// directions, so that the initiator and a scripted test target share one codec.
//
// A PDU is a 48-byte Basic Header Segment (BHS), optional Additional Header
// Segments (AHS), an optional header digest, a data segment padded to a
// multiple of 4 bytes, and an optional data digest. This package owns the BHS
// and AHS layouts; reading and writing whole PDUs from a socket is package
// conn's job, which reads the BHS first and only then decides where the data
// segment goes.
//
// Each opcode has its own type with Encode (write the 48 header bytes) and
// Decode (read them). Decoding cannot fail on length: a BHS is always 48 bytes
// and every field has a meaning for every bit pattern, so Decode only rejects
// an opcode that does not match the type. Lengths that announce bytes still to
// come (TotalAHSLength, DataSegmentLength) are checked by Limits.Check before
// anything is read or allocated.
//
// Encoders are append-style and idempotent: Append(dst, m, ahs, data, digests)
// writes a whole PDU and allocates nothing when dst has room.
package pdu
