package main

import "github.com/iscsi-go/iscsi/scsi"

// sizeUnits are the suffixes of libiscsi's size loop: bytes (a space),
// then k, M, G and T.
var sizeUnits = [...]byte{' ', 'k', 'M', 'G', 'T'}

// lunSize computes the "(Size:…)" of iscsi-ls -s exactly as libiscsi does:
// the block length times the LAST LBA (not the number of blocks, so a
// 1 GiB LUN is 1023M), in signed 64-bit arithmetic, divided by 1024 while
// it stays above 1024 (strictly: 1024 bytes prints as "1024 "), at most
// four times.
func lunSize(blockLength, lastLBA uint32) (int64, byte) {
	size := int64(blockLength) * int64(lastLBA)
	unit := 0
	for unit < 4 && size > 1024 {
		size /= 1024
		unit++
	}
	return size, sizeUnits[unit]
}

// lunNumber is the number iscsi-ls prints for a LUN of REPORT LUNS: the
// logical unit number of a single-level peripheral or flat space LUN,
// otherwise the first two bytes of the LUN structure, which is what
// libiscsi prints for every LUN. (For a flat space LUN libiscsi prints
// those two bytes too, 0x4000 | n; we print n: see docs/TOOLS.md.)
func lunNumber(l scsi.LUN) uint64 {
	a, err := l.Decode()
	if err == nil && !a.MultiLevel && !a.WellKnown &&
		(a.Method == scsi.AddrPeripheral && a.Bus == 0 || a.Method == scsi.AddrFlatSpace) {
		return a.Number
	}
	return uint64(l.FirstLevel())
}
