package scsi

// PageControl is the PC field of MODE SENSE.
type PageControl uint8

// PC values (SPC-4).
const (
	PageCurrent    PageControl = 0
	PageChangeable PageControl = 1
	PageDefault    PageControl = 2
	PageSaved      PageControl = 3
)

// ModePageAll asks MODE SENSE for every mode page (with sub-page 0x00, every
// page without sub-pages; with 0xff, every page and sub-page).
const ModePageAll = 0x3f

// ModeSense6 builds MODE SENSE(6) (SPC-4). dbd disables block
// descriptors; page is 6 bits, pc 2 bits.
func ModeSense6(dbd bool, pc PageControl, page, subpage, allocLen uint8) CDB {
	c := newCDB(OpModeSense6, 6)
	c.setBit(1, 0x08, dbd)
	c.b[2] = byte(pc&0x3)<<6 | page&0x3f
	c.b[3] = subpage
	c.b[4] = allocLen
	return c
}

// ModeSense10 builds MODE SENSE(10) (SPC-4). llbaa lets the device
// return 16-byte (long LBA) block descriptors; dbd disables block
// descriptors.
func ModeSense10(llbaa, dbd bool, pc PageControl, page, subpage uint8, allocLen uint16) CDB {
	c := newCDB(OpModeSense10, 10)
	c.setBit(1, 0x10, llbaa)
	c.setBit(1, 0x08, dbd)
	c.b[2] = byte(pc&0x3)<<6 | page&0x3f
	c.b[3] = subpage
	c.put16(7, allocLen)
	return c
}

// ModeSelect6 builds MODE SELECT(6) (SPC-4). pf (page format) says the
// pages follow SPC's format, as every modern device expects; sp saves the
// pages across power cycles. paramLen is the length of the parameter list
// (AppendModeSelect6).
func ModeSelect6(pf, sp bool, paramLen uint8) CDB {
	c := newCDB(OpModeSelect6, 6)
	c.setBit(1, 0x10, pf)
	c.setBit(1, 0x01, sp)
	c.b[4] = paramLen
	return c
}

// ModeSelect10 builds MODE SELECT(10) (SPC-4); see ModeSelect6. The
// parameter list is AppendModeSelect10's.
func ModeSelect10(pf, sp bool, paramLen uint16) CDB {
	c := newCDB(OpModeSelect10, 10)
	c.setBit(1, 0x10, pf)
	c.setBit(1, 0x01, sp)
	c.put16(7, paramLen)
	return c
}
