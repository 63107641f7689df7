package session

import (
	"context"

	"github.com/iscsi-go/iscsi/internal/blockstream"
)

// BulkDepth is how many READ or WRITE commands of up to MaxTransfer bytes a
// ReadAt or WriteAt larger than MaxTransfer, a Reader and a Writer keep in
// flight at once. Eight 1 MiB commands are 8 MiB in flight, what a 10 Gb/s
// link carries in 6.7 ms: enough for the round trips of a LAN. Over
// loopback (docs/BENCHMARKS.md, "Bulk I/O") eight double a large read of
// 64 KiB commands; with 1 MiB commands the copy is CPU-bound there and the
// depth changes nothing. Each command holds one place of the target's
// command window.
const BulkDepth = 8

// pipe keeps up to BulkDepth READ or WRITE commands of one unit in flight,
// issued from one goroutine and waited for in order, each bounded by
// Config.CommandTimeout through a reusable context (package
// internal/blockstream runs the pipes of both session and multipath).
type pipe = blockstream.CommandPipe[Future]

// newPipe returns a pipe of depth READs (or WRITEs) of blocks of bs bytes,
// sent on u, all of which ctx ends.
func (u *LogicalUnit) newPipe(ctx context.Context, depth int, write bool, bs int64) *pipe {
	return blockstream.NewCommandPipe[Future](ctx, unitSender{u}, blockstream.PipeConfig{
		Depth: depth, Write: write, BlockSize: bs, Timeout: u.s.cfg.CommandTimeout, Cause: u.s.timeoutCause})
}

// unitSender sends the commands of a pipe on a unit: a command that ended
// with an underflow failed (shortTransfer), and a failed one is retried as
// LogicalUnit.retry does. A command its timeout ended has an error
// matching ErrCommandTimeout and context.DeadlineExceeded (the cause the
// pipe gave its context).
type unitSender struct{ u *LogicalUnit }

func (s unitSender) Send(ctx context.Context, c *blockstream.Command) Future {
	return s.u.rw(ctx, c.LBA, c.Blocks, &c.Vec, c.Write)
}

func (s unitSender) Wait(f Future, c *blockstream.Command) error {
	res, err := f.Wait()
	return s.u.shortTransfer(res, err, c.LBA, c.Write)
}

func (s unitSender) Retry(ctx context.Context, err error, again func() error) error {
	first := true
	return s.u.retry(ctx, func() error {
		if first {
			first = false
			return err
		}
		return again()
	})
}
