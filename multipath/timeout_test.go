package multipath_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// A command that path 0 never answers is taken off it after PathTimeout:
// a READ at once, a WRITE once ABORT TASK ended it there; both are
// answered by path 1, path 0 leaves the picker and the checker's TEST
// UNIT READY brings it back. A command not safe to repeat is not moved.
func TestPathTimeoutFailsOver(t *testing.T) {
	const prOut = 0x5f
	for _, tc := range []struct {
		name  string
		op    byte
		ops   []scsi.OpCode
		moved bool
	}{
		{"READ", 0x88, []scsi.OpCode{0x28, 0x88}, true},
		{"WRITE", 0x8a, []scsi.OpCode{0x2a, 0x8a}, true},
		{"PERSISTENT RESERVE OUT", prOut, []scsi.OpCode{prOut}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data1 := make([]byte, lunSize)
			want := bytes.Repeat([]byte{0xc3}, bs)
			copy(data1[5*bs:], want) // only path 1's storage has it
			d, srv := twoPaths(t, &multipath.Config{PathTimeout: 100 * time.Millisecond, CheckInterval: 20 * time.Millisecond}, nil, data1)
			// Path 0's TEST UNIT READY fails until the command is done, so
			// that the checker cannot bring path 0 back before the command
			// is sent again.
			srv[0].Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpTestUnitReady), Action: iscsitest.Respond,
				Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseNotReady, 0x0400)})
			srv[0].Inject(iscsitest.Fault{Match: iscsitest.Opcode(tc.ops...), Action: iscsitest.Ignore, Count: 1})
			ctx := testCtx(t)
			buf := make([]byte, bs)
			var err error
			switch tc.op {
			case 0x88:
				_, err = d.Read(ctx, 5, 1, iovector.New(buf)).Wait()
				if err == nil && !bytes.Equal(buf, want) {
					t.Fatal("the READ returned other bytes than path 1's")
				}
			case 0x8a:
				copy(buf, bytes.Repeat([]byte{0x3c}, bs))
				_, err = d.Write(ctx, 9, 1, iovector.New(buf)).Wait()
				if err == nil && (!bytes.Equal(srv[1].Contents(1)[9*bs:10*bs], buf) || bytes.Equal(srv[0].Contents(1)[9*bs:10*bs], buf)) {
					t.Fatalf("the WRITE did not land on path 1 alone: on path 1 %v, on path 0 %v; %+v", bytes.Equal(srv[1].Contents(1)[9*bs:10*bs], buf), bytes.Equal(srv[0].Contents(1)[9*bs:10*bs], buf), d.Stats())
				}
			default:
				cdb, cerr := scsi.NewCDB([]byte{prOut, 0x06, 0, 0, 0, 0, 0, 0, 24, 0})
				if cerr != nil {
					t.Fatal(cerr)
				}
				_, err = d.Call(ctx, cdb, session.DirWrite, iovector.New(make([]byte, 24)))
			}
			st := d.Stats()
			if !tc.moved {
				if !errors.Is(err, session.ErrMayHaveExecuted) || st.Failovers != 0 {
					t.Fatalf("%v, %d failovers; want ErrMayHaveExecuted and none", err, st.Failovers)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Failovers != 1 || st.Paths[0].Failovers != 1 {
				t.Fatalf("failovers %d (path 0: %d), want 1", st.Failovers, st.Paths[0].Failovers)
			}
			if st.Paths[0].State != multipath.PathFailed {
				t.Fatalf("path 0 is %v, want failed until its TEST UNIT READY passes", st.Paths[0].State)
			}
			srv[0].ClearFaults()
			waitState(t, d, 0, multipath.PathReady) // back through the checker
		})
	}
}

// A transport-class CHECK CONDITION (ABORTED COMMAND, DATA PHASE ERROR)
// sends a READ again, here on path 1 (round robin); a MEDIUM ERROR is the
// READ's own outcome and is returned.
func TestTransportSenseFailsOver(t *testing.T) {
	data1 := make([]byte, lunSize)
	want := bytes.Repeat([]byte{0x77}, bs)
	copy(data1[2*bs:], want)
	d, srv := twoPaths(t, &multipath.Config{Selector: multipath.RoundRobin}, nil, data1)
	ctx := testCtx(t)
	srv[0].Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x28, 0x88), Action: iscsitest.Respond, Count: 1,
		Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseAbortedCommand, 0x4b00)})
	buf := make([]byte, bs)
	if _, err := d.Read(ctx, 2, 1, iovector.New(buf)).Wait(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, want) {
		t.Fatal("the READ returned other bytes than path 1's")
	}
	if st := d.Stats(); st.Failovers != 1 {
		t.Fatalf("failovers %d, want 1", st.Failovers)
	}
	srv[0].Inject(iscsitest.Fault{Match: iscsitest.Opcode(0x28, 0x88), Action: iscsitest.Respond, Count: 1, // round robin: path 0's turn
		Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError)})
	_, err := d.Read(ctx, 2, 1, iovector.New(buf)).Wait()
	var se *scsi.StatusError
	if !errors.As(err, &se) || se.Sense == nil || se.Sense.Key != scsi.SenseMediumError {
		t.Fatalf("READ with MEDIUM ERROR: %v, want that error", err)
	}
	if st := d.Stats(); st.Failovers != 1 {
		t.Fatalf("failovers %d after a MEDIUM ERROR, want still 1", st.Failovers)
	}
}

// A ReadAt or WriteAt that the target never answers ends after
// Config.CommandTimeout (which each attempt's context carries) with an
// error matching context.DeadlineExceeded, not moved to another path;
// the WRITE was aborted, and the path goes on carrying commands.
func TestReadAtWriteAtCommandTimeout(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
	t.Cleanup(srv.Close)
	d, err := multipath.Dial(testCtx(t), []string{srv.URL(), srv.URL()}, &multipath.Config{CheckInterval: -1, CommandTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	want := bytes.Repeat([]byte{0x5a}, bs)
	for _, tc := range []struct {
		name string
		ops  []scsi.OpCode
		fn   func([]byte, int64) (int, error)
	}{
		{"ReadAt", []scsi.OpCode{0x28, 0x88}, d.ReadAt},
		{"WriteAt", []scsi.OpCode{0x2a, 0x8a}, d.WriteAt},
	} {
		srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(tc.ops...), Action: iscsitest.Ignore, Count: 1})
		buf := bytes.Clone(want)
		if n, err := tc.fn(buf, 3*bs); n != 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s never answered: %d, %v; want 0 and an error matching context.DeadlineExceeded", tc.name, n, err)
		}
		if st := d.Stats(); st.Failovers != 0 {
			t.Fatalf("%s: %d failovers after a CommandTimeout, want none", tc.name, st.Failovers)
		}
	}
	if n, err := d.WriteAt(want, 4*bs); n != bs || err != nil {
		t.Fatalf("WriteAt after the timeouts: %d, %v", n, err)
	}
	got := make([]byte, bs)
	if n, err := d.ReadAt(got, 4*bs); n != bs || err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAt after the timeouts: %d, %v, same bytes %v", n, err, bytes.Equal(got, want))
	}
}

// ReadAt and WriteAt move as the other calls do (their attempts carry the
// CommandTimeout deadline in their own context): a READ held by path 0
// when its connection drops is answered by path 1; a WRITE held there is
// fenced and lands on path 1 alone; a READ that path 0 never answers
// moves after PathTimeout. Path 0's target is closed (an in-process
// target would take path 0 back at once, before the command moves), and
// with PathTimeout the checker is on, so that path 0 leaves the picker.
func TestReadAtWriteAtFailOver(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   []scsi.OpCode
		write bool
		cfg   multipath.Config
	}{
		{"ReadAt dropped", []scsi.OpCode{0x28, 0x88}, false, multipath.Config{}},
		{"WriteAt dropped", []scsi.OpCode{0x2a, 0x8a}, true, multipath.Config{}},
		{"ReadAt PathTimeout", []scsi.OpCode{0x28, 0x88}, false, multipath.Config{PathTimeout: 100 * time.Millisecond, CheckInterval: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := bytes.Repeat([]byte{0x96}, bs)
			data1 := make([]byte, lunSize)
			if !tc.write {
				copy(data1[6*bs:], want) // only path 1's storage has it
			}
			cfg := tc.cfg
			d, srv := twoPaths(t, &cfg, nil, data1)
			match, seen := arrived(tc.ops...)
			srv[0].Inject(iscsitest.Fault{Match: match, Action: iscsitest.Ignore, Count: 1})
			// Path 0 takes the first command (least queue depth, ties to
			// the first path).
			buf := make([]byte, bs)
			if tc.write {
				copy(buf, want)
			}
			done := make(chan error, 1)
			go func() {
				var err error
				if tc.write {
					_, err = d.WriteAt(buf, 6*bs)
				} else {
					_, err = d.ReadAt(buf, 6*bs)
				}
				done <- err
			}()
			waitFor(t, "the command at path 0's target", seen.Load)
			if tc.cfg.PathTimeout == 0 {
				srv[0].Close()
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !tc.write && !bytes.Equal(buf, want) {
				t.Fatalf("ReadAt returned other bytes than path 1's: % x...; %+v", buf[:8], d.Stats())
			}
			if tc.write && (!bytes.Equal(srv[1].Contents(1)[6*bs:7*bs], want) || bytes.Equal(srv[0].Contents(1)[6*bs:7*bs], want)) {
				t.Fatal("the WRITE did not land on path 1 alone")
			}
			if st := d.Stats(); st.Failovers != 1 || st.Paths[0].Failovers != 1 {
				t.Fatalf("failovers %d (path 0: %d), want 1", st.Failovers, st.Paths[0].Failovers)
			}
		})
	}
}
