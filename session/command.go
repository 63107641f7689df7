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
	return s.executeWith(ctx, lun, cdb, dir, v, lba, nil)
}

// executeWith is execute with an optional callback (callback.go).
func (s *Session) executeWith(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector, lba int64, fn Done) Future {
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
	t.fn = fn
	return s.submit(ctx, t)
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
