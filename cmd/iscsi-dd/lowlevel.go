package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/iscsi-go/iscsi/internal/cli"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Provisioning status of an LBA extent (SBC-4, GET LBA STATUS).
const (
	lbaMapped      = 0
	lbaDeallocated = 1
	lbaAnchored    = 2
)

// lbaExtent is one LBA status descriptor.
type lbaExtent struct {
	lba    uint64
	blocks uint32
	status uint8
}

var errLBAStatus = errors.New("malformed GET LBA STATUS data")

// parseLBAStatus decodes GET LBA STATUS parameter data: an 8-byte header
// (PARAMETER DATA LENGTH, the bytes after its own 4) and 16-byte
// descriptors. A truncated answer gives the descriptors that are whole.
func parseLBAStatus(b []byte) ([]lbaExtent, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, the header alone is 8", errLBAStatus, len(b))
	}
	n := int(binary.BigEndian.Uint32(b[0:4]))
	if n < 4 {
		return nil, fmt.Errorf("%w: PARAMETER DATA LENGTH %d is less than 4", errLBAStatus, n)
	}
	end := min(len(b), 4+n)
	var xs []lbaExtent
	for d := b[8:end]; len(d) >= 16; d = d[16:] {
		xs = append(xs, lbaExtent{
			lba:    binary.BigEndian.Uint64(d[0:8]),
			blocks: binary.BigEndian.Uint32(d[8:12]),
			status: d[12] & 0x0f,
		})
	}
	return xs, nil
}

// unmapDescriptor is one range of an UNMAP parameter list.
type unmapDescriptor struct {
	lba    uint64
	blocks uint32
}

// appendUnmapParams appends the UNMAP parameter list of ds to dst.
func appendUnmapParams(dst []byte, ds []unmapDescriptor) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(6+16*len(ds)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(16*len(ds)))
	dst = append(dst, 0, 0, 0, 0)
	for _, d := range ds {
		dst = binary.BigEndian.AppendUint64(dst, d.lba)
		dst = binary.BigEndian.AppendUint32(dst, d.blocks)
		dst = append(dst, 0, 0, 0, 0)
	}
	return dst
}

// unmap sends one UNMAP of ds.
func unmap(ctx context.Context, s *session.Session, ds []unmapDescriptor) error {
	params := appendUnmapParams(nil, ds)
	ctx, cancel := context.WithTimeout(ctx, cli.CommandTimeout)
	defer cancel()
	f := s.Execute(ctx, s.LUN(), unmapCDB(uint16(len(params))), session.DirWrite, iovector.New(params))
	_, err := f.Wait()
	return err
}

// Until scsi has builders for GET LBA STATUS and UNMAP, LUN sparseness is
// off (probeProvisioning checks haveLUNSparse).
const haveLUNSparse = false

func getLBAStatusCDB(lba uint64, alloc uint32) scsi.CDB { return scsi.TestUnitReady() }

func unmapCDB(paramLen uint16) scsi.CDB { return scsi.TestUnitReady() }
