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
// There is a builder for every command libiscsi builds, in files by
// family: READ, WRITE, VERIFY, WRITE AND VERIFY, ORWRITE, COMPARE AND
// WRITE, WRITE ATOMIC, PRE-FETCH and SYNCHRONIZE CACHE (cdb_rw.go, whose
// RWFlags carry DPO, FUA, the protection field and the group number);
// UNMAP, WRITE SAME and GET LBA STATUS (cdb_provisioning.go); MODE SENSE
// and MODE SELECT (cdb_mode.go, pages in modepage.go); PERSISTENT RESERVE
// IN and OUT (cdb_pr.go, answers in pr.go); INQUIRY, REPORT LUNS, READ
// CAPACITY, REPORT SUPPORTED OPERATION CODES, REPORT TARGET PORT GROUPS,
// RESERVE and RELEASE (cdb_spc.go); START STOP UNIT, PREVENT ALLOW MEDIUM
// REMOVAL, READ DEFECT DATA, SANITIZE and READ TOC (cdb_media.go);
// EXTENDED COPY and RECEIVE COPY RESULTS (cdb_copy.go). NewCDB wraps the
// bytes of any other command. Parameter lists that go out with a command
// (UNMAP descriptors, MODE SELECT pages, PERSISTENT RESERVE OUT keys) are
// appended to a caller's buffer by the Append functions.
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
// (ErrMediumNotPresent). A COMPARE AND WRITE whose data did not match says
// where through StatusError.MiscompareOffset.
package scsi
