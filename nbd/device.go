package nbd

import (
	"context"
	"iter"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// Device is what an export serves: anything that looks like a LUN.
// *session.LogicalUnit is one; a test can serve a slice of bytes.
//
// The server calls it from many goroutines at once (one per request in
// flight), so it must be safe for concurrent use. ReadAtContext and
// WriteAtContext take any offset and length within the size; Sync makes
// every write it has acknowledged durable.
type Device interface {
	Geometry(ctx context.Context) (session.Geometry, error)
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	WriteAtContext(ctx context.Context, p []byte, off int64) (int, error)
	Sync(ctx context.Context) error
}

// The optional abilities of a Device, found by type assertion as
// io.WriterTo is. *session.LogicalUnit has them all.
type (
	// Discarder deallocates a byte range (NBD_CMD_TRIM). Advertised only
	// when the geometry says the device is thin provisioned.
	Discarder interface {
		Discard(ctx context.Context, off, n int64) error
	}
	// Zeroer makes a byte range read as zeros, deallocating it where it
	// can (NBD_CMD_WRITE_ZEROES without NBD_CMD_FLAG_NO_HOLE). Without it
	// zeros are written.
	Zeroer interface {
		WriteZeroes(ctx context.Context, off, n int64) error
	}
	// SameWriter writes one block over a run of blocks (WRITE SAME): how
	// NBD_CMD_WRITE_ZEROES with NBD_CMD_FLAG_NO_HOLE writes zeros
	// without sending them. Without it zeros are written.
	SameWriter interface {
		WriteSame(ctx context.Context, lba uint64, blocks uint32, block []byte, f scsi.WriteSameFlags) error
	}
	// ExtentLister reports which blocks are mapped (GET LBA STATUS), for
	// NBD_CMD_BLOCK_STATUS of base:allocation. Without it every block is
	// reported allocated.
	ExtentLister interface {
		Extents(ctx context.Context, start, end uint64) iter.Seq2[session.Extent, error]
	}
	// FlagWriter writes whole blocks with the CDB's flags: a write with
	// NBD_CMD_FLAG_FUA becomes one WRITE with the FUA bit. Without it (or
	// for a write not aligned to blocks) the write is followed by Sync.
	FlagWriter interface {
		WriteWithFlags(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, f scsi.RWFlags) session.Future
	}
)

var (
	_ Device       = (*session.LogicalUnit)(nil)
	_ Discarder    = (*session.LogicalUnit)(nil)
	_ Zeroer       = (*session.LogicalUnit)(nil)
	_ SameWriter   = (*session.LogicalUnit)(nil)
	_ ExtentLister = (*session.LogicalUnit)(nil)
	_ FlagWriter   = (*session.LogicalUnit)(nil)
)
