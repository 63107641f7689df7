package session

import (
	"errors"
	"fmt"
)

// ErrShortTransfer is what a block transfer (ReadAt, WriteAt, a Reader or
// a Writer) fails with when the target ended one of its READ or WRITE
// commands with GOOD but moved fewer bytes than asked for (an underflow):
// the bytes it did not move are not the LUN's. errors.As finds the
// *ShortTransferError with the counts.
var ErrShortTransfer = errors.New("iscsi: the target moved fewer bytes than the command asked for")

// ShortTransferError is a READ or WRITE of the block API that the target
// completed with GOOD and an underflow residual. The Future API (Execute,
// Read, Write) does not fail such a command: Result.Underflow and
// Result.Residual report it there.
type ShortTransferError struct {
	Write    bool
	Expected int // bytes the command asked for
	Residual int // bytes the target did not move
}

func (e *ShortTransferError) Error() string {
	verb := "read"
	if e.Write {
		verb = "written"
	}
	return fmt.Sprintf("%s: %d of %d bytes not %s (underflow residual)", ErrShortTransfer, e.Residual, e.Expected, verb)
}

// Unwrap returns ErrShortTransfer.
func (e *ShortTransferError) Unwrap() error { return ErrShortTransfer }

// shortTransfer turns a READ or WRITE at lba that ended with GOOD and an
// underflow into an error: a block transfer that reported success would
// leave stale bytes in the caller's buffer, or blocks unwritten.
func (u *LogicalUnit) shortTransfer(res Result, err error, lba uint64, write bool) error {
	if err != nil || !res.Underflow || res.Residual == 0 {
		return err
	}
	op := "READ"
	if write {
		op = "WRITE"
	}
	return &OpError{Op: op, Portal: u.s.portal, Target: u.s.target, LUN: u.lun, LBA: int64(lba), Offset: -1,
		Err: &ShortTransferError{Write: write, Expected: res.Expected, Residual: min(res.Residual, res.Expected)}}
}
