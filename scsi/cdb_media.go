package scsi

// StartStop holds the fields of START STOP UNIT.
type StartStop struct {
	Immed bool // answer before the operation completes
	// PowerCondition (4 bits) and PowerConditionModifier (4 bits):
	// 0 with Start/LoEj for a plain start or stop; SPC-4 lists the
	// others (1 active, 2 idle, 3 standby, ...).
	PowerCondition         uint8
	PowerConditionModifier uint8
	NoFlush                bool // NO_FLUSH: do not flush the cache before stopping
	LoEj                   bool // load (with Start) or eject the medium
	Start                  bool
}

// StartStopUnit builds START STOP UNIT (SBC-3).
func StartStopUnit(s StartStop) CDB {
	c := newCDB(OpStartStopUnit, 6)
	c.setBit(1, 0x01, s.Immed)
	c.b[3] = s.PowerConditionModifier & 0x0f
	c.b[4] = s.PowerCondition<<4 | bit(s.NoFlush, 0x04) | bit(s.LoEj, 0x02) | bit(s.Start, 0x01)
	return c
}

// PreventAllowMediumRemoval builds PREVENT ALLOW MEDIUM REMOVAL (SBC-3):
// prevent (PREVENT 01b) or allow (00b) the removal of the medium.
func PreventAllowMediumRemoval(prevent bool) CDB {
	c := newCDB(OpPreventAllowMediumRemoval, 6)
	c.setBit(4, 0x01, prevent)
	return c
}

// Defect list formats of READ DEFECT DATA (SBC-3).
const (
	DefectShortBlock       = 0 // short block format address descriptors
	DefectExtendedBytes    = 1 // extended bytes from index
	DefectExtendedPhysical = 2 // extended physical sector
	DefectLongBlock        = 3 // long block format
	DefectBytesFromIndex   = 4
	DefectPhysicalSector   = 5
	DefectVendorSpecific   = 6
)

// ReadDefectData10 builds READ DEFECT DATA(10) (SBC-3): the primary
// (plist) and/or grown (glist) defect lists in the given address
// descriptor format (3 bits). ParseDefectData10 reads the answer's
// header.
func ReadDefectData10(plist, glist bool, format uint8, allocLen uint16) CDB {
	c := newCDB(OpReadDefectData10, 10)
	c.b[2] = bit(plist, 0x10) | bit(glist, 0x08) | format&0x07
	c.put16(7, allocLen)
	return c
}

// ReadDefectData12 builds READ DEFECT DATA(12) (SBC-3): as
// ReadDefectData10, from the index'th address descriptor on. The flags are
// in byte 1, as SBC-3 places them (libiscsi 1.19 writes them into byte 2,
// where the index then overwrites them).
func ReadDefectData12(plist, glist bool, format uint8, index, allocLen uint32) CDB {
	c := newCDB(OpReadDefectData12, 12)
	c.b[1] = bit(plist, 0x10) | bit(glist, 0x08) | format&0x07
	c.put32(2, index)
	c.put32(6, allocLen)
	return c
}

// SanitizeAction is the SERVICE ACTION of SANITIZE (SBC-3).
type SanitizeAction uint8

// SANITIZE service actions.
const (
	SanitizeOverwrite       SanitizeAction = 0x01 // takes a parameter list
	SanitizeBlockErase      SanitizeAction = 0x02
	SanitizeCryptoErase     SanitizeAction = 0x03
	SanitizeExitFailureMode SanitizeAction = 0x1f
)

// Sanitize builds SANITIZE (SBC-3). immed answers before the sanitize
// completes; ause (allow unrestricted sanitize exit) lets EXIT FAILURE
// MODE end a failed sanitize. paramLen is the length of the overwrite
// parameter list, 0 for the other actions.
func Sanitize(sa SanitizeAction, immed, ause bool, paramLen uint16) CDB {
	c := newCDB(OpSanitize, 10)
	c.b[1] = bit(immed, 0x80) | bit(ause, 0x20) | byte(sa)&0x1f
	c.put16(7, paramLen)
	return c
}

// READ TOC formats (MMC-6).
const (
	TOCFormatted   = 0 // formatted TOC: ParseTOC
	TOCSessionInfo = 1 // multi-session information
	TOCFull        = 2 // raw TOC
)

// ReadTOC builds READ TOC/PMA/ATIP (MMC-6) of an optical device: the
// table of contents in format (4 bits) from track (or session, with
// TOCFull) on; msf asks for addresses as minute/second/frame.
// TRACK/SESSION NUMBER is reserved with TOCSessionInfo and sent as 0.
func ReadTOC(msf bool, format, track uint8, allocLen uint16) CDB {
	c := newCDB(OpReadTOC, 10)
	c.setBit(1, 0x02, msf)
	c.b[2] = format & 0x0f
	if format != TOCSessionInfo {
		c.b[6] = track
	}
	c.put16(7, allocLen)
	return c
}
