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
	if dbd {
		c.b[1] = 0x08
	}
	c.b[2] = byte(pc&0x3)<<6 | page&0x3f
	c.b[3] = subpage
	c.b[4] = allocLen
	return c
}
