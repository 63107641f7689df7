package nbd

import (
	"context"
	"iter"
	"sync"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// memDevice is a thin provisioned device in memory: blocks are mapped
// when written with data, unmapped (reading as zeros) when discarded or
// zeroed without NO_HOLE. It counts what it was asked.
type memDevice struct {
	bs uint32

	mu       sync.Mutex
	data     []byte
	mapped   []bool
	syncs    int
	sames    []scsi.WriteSameFlags
	zeroes   int
	inFlight int
	maxIn    int

	// gate, when set, is called by every read before it completes, with
	// the read's context.
	gate func(ctx context.Context)
}

func newMemDevice(size int, bs uint32) *memDevice {
	return &memDevice{bs: bs, data: make([]byte, size), mapped: make([]bool, size/int(bs))}
}

func (d *memDevice) Geometry(context.Context) (session.Geometry, error) {
	return session.Geometry{BlockSize: d.bs, Blocks: uint64(len(d.data)) / uint64(d.bs), MaxTransfer: 1 << 20, Thin: true, UnmappedReadsZero: true}, nil
}

func (d *memDevice) enter() {
	d.mu.Lock()
	d.inFlight++
	d.maxIn = max(d.maxIn, d.inFlight)
	d.mu.Unlock()
}

func (d *memDevice) leave() {
	d.mu.Lock()
	d.inFlight--
	d.mu.Unlock()
}

func (d *memDevice) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	d.enter()
	defer d.leave()
	if d.gate != nil {
		d.gate(ctx)
		if err := ctx.Err(); err != nil {
			return 0, err // as a LUN's ReadAtContext does once its context ended
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return copy(p, d.data[off:]), nil
}

func (d *memDevice) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off+int64(len(p)) > int64(len(d.data)) {
		return 0, session.ErrBeyondEnd
	}
	for b := off / int64(d.bs); b*int64(d.bs) < off+int64(len(p)); b++ {
		d.mapped[b] = true
	}
	return copy(d.data[off:], p), nil
}

func (d *memDevice) Sync(context.Context) error {
	d.mu.Lock()
	d.syncs++
	d.mu.Unlock()
	return nil
}

func (d *memDevice) Discard(ctx context.Context, off, n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	bs := int64(d.bs)
	for b := (off + bs - 1) / bs; (b+1)*bs <= off+n; b++ {
		d.mapped[b] = false
		clear(d.data[b*bs : (b+1)*bs])
	}
	return nil
}

func (d *memDevice) WriteZeroes(ctx context.Context, off, n int64) error {
	d.mu.Lock()
	d.zeroes++
	d.mu.Unlock()
	return d.Discard(ctx, off, n) // every block unmaps here: all whole in tests
}

func (d *memDevice) WriteSame(ctx context.Context, lba uint64, blocks uint32, block []byte, f scsi.WriteSameFlags) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sames = append(d.sames, f)
	for b := lba; b < lba+uint64(blocks); b++ {
		copy(d.data[b*uint64(d.bs):(b+1)*uint64(d.bs)], block)
		d.mapped[b] = true
	}
	return nil
}

func (d *memDevice) Extents(ctx context.Context, start, end uint64) iter.Seq2[session.Extent, error] {
	return func(yield func(session.Extent, error) bool) {
		d.mu.Lock()
		mapped := append([]bool(nil), d.mapped...)
		d.mu.Unlock()
		end = min(end, uint64(len(mapped)))
		for lba := start; lba < end; {
			n := uint64(1)
			for lba+n < end && mapped[lba+n] == mapped[lba] {
				n++
			}
			st := scsi.LBADeallocated
			if mapped[lba] {
				st = scsi.LBAMapped
			}
			if !yield(session.Extent{LBA: lba, Blocks: n, Status: st}, nil) {
				return
			}
			lba += n
		}
	}
}

func (d *memDevice) bytes(off, n int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.data[off:off+n]...)
}
