package conformance

import (
	"bytes"

	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("dataloss", map[string]func(*T){
		"orwrite_simple":                       simpleRW(orwrite16, true),
		"orwrite_beyond_eol":                   beyondEOL(orwrite16, true),
		"orwrite_0blocks":                      zeroBlocks(orwrite16, true),
		"orwrite_wrprotect":                    protectField(orwrite16, true),
		"orwrite_dpofua":                       dpofua(orwrite16, true, []byte{fDPO, fFUA, fDPO | fFUA}, 0x18),
		"orwrite_verify":                       orwriteVerify,
		"compareandwrite_simple":               cawSimple(false),
		"compareandwrite_miscompare":           cawSimple(true),
		"compareandwrite_dpofua":               cawDPOFUA,
		"compareandwrite_unwritten":            cawUnwritten,
		"compareandwrite_invalid_dataout_size": cawInvalidDataOut,
	})
}

// SBC-4 5.10: ORWRITE ORs the data into the blocks.
func orwriteVerify(t *T) {
	t.needDataLoss()
	t.needSBC()
	d := t.dev
	for _, end := range []bool{false, true} {
		for i := 1; i <= 256; i++ {
			lba, w, r := uint64(0), write10, read10
			if end {
				lba, w, r = d.Blocks-uint64(i), write16, read16
			}
			t.io(w, lba, uint32(i), 0, t.scratch(i, 0), good)
			a5 := t.scratch(i, 0xa5)
			t.io(orwrite16, lba, uint32(i), 0, a5, good)
			if got := t.io(r, lba, uint32(i), 0, nil, good); len(got) > 0 && !bytes.Equal(got, a5) {
				t.Errorf("ORWRITE of 0xa5 onto zeros at LBA %d: the blocks do not read 0xa5", lba)
			}
			t.io(orwrite16, lba, uint32(i), 0, t.scratch(i, 0x5a), good)
			if got := t.io(r, lba, uint32(i), 0, nil, good); len(got) > 0 && !bytes.Equal(got, t.scratch(i, 0xff)) {
				t.Errorf("ORWRITE of 0x5a onto 0xa5 at LBA %d: the blocks do not read 0xff (SBC-4 5.10)", lba)
			}
		}
	}
}

// SBC-4 5.3: COMPARE AND WRITE writes when the compare data matches, and
// with MISCOMPARE leaves the blocks alone when it does not.
func cawSimple(mis bool) func(*T) {
	return func(t *T) {
		t.needDataLoss()
		t.needSBC()
		d := t.dev
		maxbl := 256
		if d.BlockLimits != nil && d.BlockLimits.MaxCompareAndWriteLength > 0 {
			maxbl = int(d.BlockLimits.MaxCompareAndWriteLength)
		}
		n := 256
		if uint64(n) > d.Blocks {
			n = int(d.Blocks)
		}
		if uint64(maxbl) > d.Blocks {
			maxbl = int(d.Blocks)
		}
		bs := int(d.BlockSize)
		for _, end := range []bool{false, true} {
			for i := 1; i <= n; i++ {
				lba := uint64(0)
				if end {
					lba = d.Blocks - uint64(i)
				}
				buf := t.scratch(2*i, 'A')
				t.io(write16, lba, uint32(i), 0, buf, good)
				if mis {
					buf[i*bs-27] = 'C'
				}
				if i > maxbl {
					at := lba
					if mis {
						at = 0
					}
					t.caw(at, uint8(i), 0, buf, invalidCDB)
					continue
				}
				copy(buf[i*bs:], t.scratch(i, 'B'))
				want, e := byte('B'), good
				if mis {
					want, e = 'A', miscompare
				}
				t.caw(lba, uint8(i), 0, buf, e)
				got := t.io(read16, lba, uint32(i), 0, nil, good)
				if !bytes.Equal(got, t.scratch(i, want)[:len(got)]) {
					if mis {
						t.Fatalf("Block was written to after a MISCOMPARE")
					}
					t.Fatalf("Block was not written correctly")
				}
			}
		}
	}
}

func cawDPOFUA(t *T) {
	t.needSBC()
	t.needDataLoss()
	ms := t.modeSense6All()
	dpofua := ms != nil && ms.DPOFUA()
	buf, rc := t.try(t.dev.nexus(), "READ10", read10.cdb(0, 1, 0), session.DirRead, nil, int(t.dev.BlockSize), good)
	data := t.scratch(2, 0xa6)
	if rc == 0 {
		copy(data, buf.data)
		copy(data[t.dev.BlockSize:], buf.data)
	}
	e := invalidCDB
	if dpofua {
		e = good
	}
	for _, f := range []byte{fDPO, fFUA, fDPO | fFUA} {
		t.caw(0, 1, f, data, e)
	}
	usage := t.oneCommandUsage(rwop{"COMPAREANDWRITE", 0x89, 16, session.DirWrite})
	if usage == nil {
		return
	}
	got := usage[1] & 0x18
	switch {
	case dpofua && got == 0:
		t.Errorf("DpoFua not set in CDB_USAGE_DATA of COMPARE AND WRITE")
	case !dpofua && got != 0:
		t.Errorf("DpoFua not clear in CDB_USAGE_DATA of COMPARE AND WRITE")
	}
}

// Blocks never written compare as whatever they hold: compare data of '%'
// miscompares and nothing is written.
func cawUnwritten(t *T) {
	t.needDataLoss()
	t.needSBC()
	d := t.dev
	n := 256
	if uint64(n) > d.Blocks {
		n = int(d.Blocks)
	}
	bs := int(d.BlockSize)
	for i := 1; i <= n; i++ {
		data := append(t.scratch(1, '%'), t.scratch(1, 'B')...)
		_, rc := t.try(d.nexus(), "COMPAREANDWRITE", cawCDB(uint64(i), 1, 0), session.DirWrite, data, 0, miscompare)
		if rc == -2 {
			return
		}
		got := t.io(read16, uint64(i), 1, 0, nil, good)
		if len(got) < bs {
			continue
		}
		if rc == 0 {
			if bytes.Equal(got, data[:bs]) {
				t.Errorf("LBA %d holds the compare data after a MISCOMPARE", i)
			}
		} else if !bytes.Equal(got, data[bs:]) {
			t.Errorf("LBA %d does not hold the data COMPARE AND WRITE wrote", i)
		}
	}
}

// A COMPARE AND WRITE whose NUMBER OF LOGICAL BLOCKS disagrees with the
// data sent (2 blocks sent twice over) is an error (SBC-4 5.3).
func cawInvalidDataOut(t *T) {
	t.needDataLoss()
	t.needThin()
	t.needLBPPBGT1()
	t.needSBC()
	data := t.scratch(4, 0xa6)
	for _, n := range []uint8{1, 2} {
		t.run(t.dev.nexus(), "COMPAREANDWRITE", cawCDB(0, n, 0), session.DirWrite, data, 0, anyIllegal)
	}
}
