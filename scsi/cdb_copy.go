package scsi

// ExtendedCopy builds EXTENDED COPY (LID1) (SPC-4), service action 0:
// a third-party copy described by a parameter list of paramLen bytes.
// VPD page 0x8f (ParseThirdPartyCopy) tells what the device supports.
func ExtendedCopy(paramLen uint32) CDB {
	c := newCDB(OpExtendedCopy, 16)
	c.put32(10, paramLen)
	return c
}

// CopyResultsAction is the SERVICE ACTION of RECEIVE COPY RESULTS (LID1)
// (SPC-4).
type CopyResultsAction uint8

// RECEIVE COPY RESULTS service actions.
const (
	CopyResultsStatus              CopyResultsAction = 0x00 // COPY STATUS: ParseCopyStatus
	CopyResultsReceiveData         CopyResultsAction = 0x01 // RECEIVE DATA
	CopyResultsOperatingParameters CopyResultsAction = 0x03 // OPERATING PARAMETERS: ParseCopyOperatingParameters
	CopyResultsFailedSegment       CopyResultsAction = 0x04 // FAILED SEGMENT DETAILS
)

// ReceiveCopyResults builds RECEIVE COPY RESULTS (LID1) (SPC-4) for the
// copy listID (ignored by OPERATING PARAMETERS).
func ReceiveCopyResults(sa CopyResultsAction, listID uint8, allocLen uint32) CDB {
	c := newCDB(OpReceiveCopyResults, 16)
	c.b[1] = byte(sa) & 0x1f
	c.b[2] = listID
	c.put32(10, allocLen)
	return c
}
