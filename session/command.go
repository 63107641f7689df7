package session

import (
	"context"
	"fmt"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

// Direction says which way a command's data moves.
type Direction uint8

// Directions of Execute.
const (
	DirNone Direction = iota
	DirRead
	DirWrite
)

const tmfLogicalUnitReset = pdu.TMFLogicalUnitReset

// Execute sends any SCSI command (a CDB of up to 16 bytes; scsi.NewCDB
// makes one from bytes) to lun, with v as its data-in or data-out buffer
// (nil for none), and returns at once. Wait on the Future for the result.
// It allocates nothing.
func (s *Session) Execute(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector) Future {
	return s.execute(ctx, lun, cdb, dir, v, -1)
}

// Call is Execute and Wait: it sends any SCSI command and waits for it.
func (s *Session) Call(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector) (Result, error) {
	return s.execute(ctx, lun, cdb, dir, v, -1).Wait()
}

// execute is Execute with the LBA the command addresses (-1 for none), for
// its errors.
func (s *Session) execute(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector, lba int64) Future {
	return s.executeWith(ctx, lun, cdb, dir, v, lba, nil, false)
}

// executeBlock is execute for the block API (Read, Write, their
// callbacks): a unit attention is not the caller's business there, and
// the command is sent once more when its answer is one, as ReadAt does.
// Execute and Call pass unit attentions through.
func (s *Session) executeBlock(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector, lba int64, fn Done) Future {
	return s.executeWith(ctx, lun, cdb, dir, v, lba, fn, true)
}

// executeWith is execute with an optional callback (callback.go), and
// uaRetry for the block API (executeBlock).
func (s *Session) executeWith(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector, lba int64, fn Done, uaRetry bool) Future {
	var n int64
	if v != nil {
		n = v.Len()
	}
	switch {
	case cdb.Len() == 0:
		return failed(fmt.Errorf("iscsi: empty CDB"))
	case dir > DirWrite:
		return failed(fmt.Errorf("iscsi: direction %d is not DirNone, DirRead or DirWrite", dir))
	case n > 1<<32-1:
		return failed(fmt.Errorf("%w: %d bytes, more than one command moves", ErrVectorLength, n))
	case dir == DirNone && n != 0:
		return failed(fmt.Errorf("%w: %d bytes for a command without data", ErrVectorLength, n))
	case dir == DirWrite && n == 0:
		return failed(fmt.Errorf("%w: a write without data", ErrVectorLength))
	}
	s.noteLUN(lun) // the first command to a LUN has its identity read
	t := s.getTask()
	t.kind, t.lun, t.cdb, t.vec, t.expLen, t.lba = kindSCSI, uint64(lun), cdb.Array(), v, uint32(n), lba
	t.read, t.write = dir == DirRead, dir == DirWrite
	t.fence = !readOnly(t.cdb)
	t.uaRetry = uaRetry
	t.fn = fn
	if t.write {
		t.sums = s.sumPieces(t.sums[:0], v)
	}
	return s.submit(ctx, t)
}

// readOnly reports whether a command only reads: it changes neither the
// medium nor the state of the unit, so that a caller who gives up on it
// need not wait for the target to end it. Any other command is fenced
// (task.fence).
func readOnly(cdb [16]byte) bool {
	switch cdb[0] {
	case 0x08, 0x28, 0xa8, 0x88, // READ 6/10/12/16
		0x2f, 0xaf, 0x8f, // VERIFY 10/12/16
		0x00, 0x03, 0x12, 0x25, 0xa0, // TEST UNIT READY, REQUEST SENSE, INQUIRY, READ CAPACITY(10), REPORT LUNS
		0x1a, 0x5a, 0x4d, // MODE SENSE 6/10, LOG SENSE
		0x34, 0x90, // PRE-FETCH 10/16
		0x37, 0xb7, 0x3c, // READ DEFECT DATA 10/12, READ BUFFER
		0x5e, 0x84, // PERSISTENT RESERVE IN, RECEIVE COPY RESULTS
		0x1c: // RECEIVE DIAGNOSTIC RESULTS
		return true
	case 0x9e: // SERVICE ACTION IN(16): READ CAPACITY(16), GET LBA STATUS
		return cdb[1]&0x1f == 0x10 || cdb[1]&0x1f == 0x12
	case 0xa3: // MAINTENANCE IN: REPORT TARGET PORT GROUPS, SUPPORTED OPCODES, TMFS, TIMESTAMP
		switch cdb[1] & 0x1f {
		case 0x0a, 0x0c, 0x0d, 0x0f:
			return true
		}
	}
	return false
}

// LUN returns the URL's LUN as it goes on the wire.
func (s *Session) LUN() scsi.LUN { return scsi.LUN(s.lun) }

// Geometry returns the geometry of the URL's LUN: DefaultUnit().Geometry.
func (s *Session) Geometry(ctx context.Context) (Geometry, error) { return s.unit.Geometry(ctx) }

// Read reads blocks of the URL's LUN into v: DefaultUnit().Read.
func (s *Session) Read(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return s.unit.Read(ctx, lba, blocks, v)
}

// Write writes v to blocks of the URL's LUN: DefaultUnit().Write.
func (s *Session) Write(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector) Future {
	return s.unit.Write(ctx, lba, blocks, v)
}

// ReadAt implements io.ReaderAt on the URL's LUN: DefaultUnit().ReadAt.
func (s *Session) ReadAt(p []byte, off int64) (int, error) { return s.unit.ReadAt(p, off) }

// WriteAt implements io.WriterAt on the URL's LUN: DefaultUnit().WriteAt.
func (s *Session) WriteAt(p []byte, off int64) (int, error) { return s.unit.WriteAt(p, off) }

// ReadAtContext is ReadAt with a context: DefaultUnit().ReadAtContext.
func (s *Session) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return s.unit.ReadAtContext(ctx, p, off)
}

// WriteAtContext is WriteAt with a context: DefaultUnit().WriteAtContext.
func (s *Session) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return s.unit.WriteAtContext(ctx, p, off)
}

// Sync flushes the write cache of the URL's LUN: DefaultUnit().Sync.
func (s *Session) Sync(ctx context.Context) error { return s.unit.Sync(ctx) }
