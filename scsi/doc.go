// Package scsi is the SCSI layer of the initiator: command descriptor block
// (CDB) builders, parsers for the data that commands return, SCSI status
// codes, sense data and the error that carries them. It knows nothing of
// iSCSI or the network; package session moves the bytes.
//
// Builders return a CDB by value and allocate nothing, so a READ or WRITE can
// be built per I/O on the hot path:
//
//	cdb := scsi.Read(lba, blocks, scsi.FUA)
//	cmd.CDB = cdb.Array()
//
// Parsers take the bytes a target returned and never panic. SPC lets a target
// return less than the allocation length and lets an initiator ask for less
// than the whole answer; a parser decodes what is present, sets Truncated when
// the length field announces more, and reports the full length so the caller
// can ask again with a larger allocation length. Data too short to hold even
// the header is an error wrapping ErrShortData; a length inside the data
// that points beyond it is an error wrapping ErrMalformed. Byte slices in
// parse results alias the parsed buffer: copy the buffer before reusing it.
//
// Names printed by String methods (device types, version descriptors,
// designator fields) are spelled as libiscsi spells them, so tools built on
// this package print the same lines as libiscsi's iscsi-inq and iscsi-ls,
// including libiscsi's misspellings ("SEQURITY_MANAGER", "T10_VENDORT_ID")
// and its "unknown" for every value its tables lack.
//
// A command that ends in a status other than GOOD is a *StatusError
// (NewStatusError builds one from the status and the sense bytes). It
// matches the sentinels of this package with errors.Is, by status
// (ErrBusy), sense key (ErrUnitAttention) or additional sense code
// (ErrMediumNotPresent).
package scsi
