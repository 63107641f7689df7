package session

import (
	"context"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
)

// Callbacks: a command issued with ExecuteFunc (or ReadFunc, WriteFunc)
// calls a function with its result instead of returning a Future. The
// function runs on the goroutine that completes the command, which is
// usually the one reading the connection: no goroutine is woken per
// command, which is what a Future's waiter costs. A program that keeps
// many commands in flight from callbacks (as libiscsi's event loop does)
// spends the least CPU per command.
//
// Ownership of the callback follows the task's state (task.go): the
// goroutine that completes the task calls it (finish), except for a task
// that only reads, abandoned because its context ended: the context's
// watch called it then with the context's error, and the completion that
// follows (the abort's answer) does not call it again. A command that may
// change the medium gets its callback once the target has ended it, as
// Future.Wait returns then.

// Done is the callback of ExecuteFunc, ReadFunc and WriteFunc. It gets what
// Future.Wait would return.
//
// It runs on one of the session's goroutines, usually the one reading the
// connection, so it must be quick and must never block: no Future.Wait, no
// ReadAt or WriteAt, no Call, no lock that such a call holds elsewhere, no
// blocking I/O. It may issue more commands with ExecuteFunc, ReadFunc or
// WriteFunc (and Execute, Read or Write, as long as it does not wait for
// them), and it may hand its result to another goroutine. While it runs,
// the session reads nothing more.
type Done func(Result, error)

// ExecuteFunc issues cdb to lun like Execute, and calls done once with the
// result instead of returning a Future. v must be left alone until done is
// called. done may be called before ExecuteFunc returns (a command refused
// at once: a bad argument, a context already ended, a closed session).
//
// When ctx ends before the command completes, the command is aborted as
// with Wait, and done gets what Wait would return: for a command that only
// reads, ctx's error once the session no longer touches v; for one that
// may change the medium, the outcome once the target has ended the task
// (see Future.Wait: nothing of it executes after done is called).
// A context that can end costs a few allocations per command (its watch);
// with context.Background a command allocates nothing.
func (s *Session) ExecuteFunc(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector, done Done) {
	s.executeFunc(ctx, lun, cdb, dir, v, -1, done, false)
}

// ReadFunc is Read with a callback: DefaultUnit().ReadFunc.
func (s *Session) ReadFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done Done) {
	s.unit.ReadFunc(ctx, lba, blocks, v, done)
}

// WriteFunc is Write with a callback: DefaultUnit().WriteFunc.
func (s *Session) WriteFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done Done) {
	s.unit.WriteFunc(ctx, lba, blocks, v, done)
}

// ExecuteFunc issues cdb to the unit with a callback: Session.ExecuteFunc.
func (u *LogicalUnit) ExecuteFunc(ctx context.Context, cdb scsi.CDB, dir Direction, v *iovector.Vector, done Done) {
	u.s.executeFunc(ctx, u.lun, cdb, dir, v, -1, done, false)
}

// ReadFunc reads blocks blocks at lba into v, like Read, and calls done
// with the result (see Done and Session.ExecuteFunc). Once the unit's
// geometry is known (Geometry, or any Read) it allocates nothing with a
// context that cannot end; before that, the geometry is read first on a
// goroutine of its own, so ReadFunc never blocks.
func (u *LogicalUnit) ReadFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done Done) {
	u.rwFunc(ctx, lba, blocks, v, false, done)
}

// WriteFunc writes v at lba, like Write, and calls done with the result
// (see ReadFunc).
func (u *LogicalUnit) WriteFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, done Done) {
	u.rwFunc(ctx, lba, blocks, v, true, done)
}

func (u *LogicalUnit) rwFunc(ctx context.Context, lba uint64, blocks uint32, v *iovector.Vector, write bool, done Done) {
	if done == nil {
		panic("iscsi: ReadFunc or WriteFunc with a nil callback")
	}
	g := u.geo.Load()
	if g == nil {
		// Reading the geometry waits for commands: not here, where a
		// callback may be running.
		go func() {
			if _, err := u.Geometry(ctx); err != nil {
				done(Result{Status: scsi.StatusNone}, err)
				return
			}
			u.rwFunc(ctx, lba, blocks, v, write, done)
		}()
		return
	}
	cdb, dir, err := blockIO(g.BlockSize, lba, blocks, v, write)
	if err != nil {
		done(Result{Status: scsi.StatusNone}, err)
		return
	}
	u.s.executeFunc(ctx, u.lun, cdb, dir, v, int64(lba), done, true)
}

func (s *Session) executeFunc(ctx context.Context, lun scsi.LUN, cdb scsi.CDB, dir Direction, v *iovector.Vector, lba int64, done Done, block bool) {
	if done == nil {
		panic("iscsi: ExecuteFunc with a nil callback")
	}
	f := s.executeWith(ctx, lun, cdb, dir, v, lba, done, block)
	if f.t == nil {
		// Refused before it was registered: nobody else will call done.
		done(Result{Status: scsi.StatusNone}, f.fail.err)
	}
}

// watch arranges for t's callback to get ctx.Err() when ctx ends first.
// Called after t is registered and before it is queued. A task watched
// this way is never pooled again: the watch may still look at it after it
// completed.
func (s *Session) watch(ctx context.Context, t *task) {
	if ctx.Done() == nil {
		return
	}
	fn := t.fn
	t.watch = context.AfterFunc(ctx, func() {
		why := ctxErr(ctx)
		switch s.abandon(t, why) {
		case abandonedUnsent:
			err := s.unsentErr(t, why)
			s.commandDone(t, err)
			fn(Result{Status: scsi.StatusNone}, err)
		case abandonedInFlight:
			if !t.fence {
				// Aborted, and it only read: the abort's answer completes
				// the task without a second call.
				fn(Result{Status: scsi.StatusNone}, s.opErr(t, why))
				return
			}
			// A command that may change the medium: fn is called once
			// the task has ended on the target (finish) and this watch is
			// done with it, by whichever of the two comes last.
			s.lastParty(t)
		}
		// abandonedTooLate: it completed; finish calls fn.
	})
}

// lastParty calls the callback of an abandoned task that may change the
// medium when both its abandoner and its completer are done (task.parties).
func (s *Session) lastParty(t *task) {
	if t.parties.Add(1) == 2 {
		s.callback(t)
	}
}

// callback hands a completed task's result to its callback. Called by
// finish, on the goroutine that completed the task.
func (s *Session) callback(t *task) {
	fn := t.fn
	if t.watch != nil {
		t.watch() // the context's watch is not needed any more
	}
	// A target may answer before it took all the data: let the writer
	// finish with the caller's buffers first.
	s.waitIdle(t, 2*s.cfg.AbortTimeout)
	res, err := s.result(t)
	if t.watch == nil && !t.noPool {
		s.putTask(t) // a watched or abandoned task is left to the garbage collector
	}
	s.inCallback.Add(1)
	defer s.inCallback.Add(-1)
	fn(res, err)
}
