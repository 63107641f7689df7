//go:build linux

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/iscsi-go/iscsi/blockcopy"
	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// package blockcopy against tgtd: every direction, thin provisioning on and
// off, 512 and 4096-byte blocks; bytes compared with the backing files,
// hashes with sha256 of the image, holes checked in the allocated size of
// files (du), WRITE commands counted; a copy resumed after a cancellation
// and a copy across a tgtd killed and restarted.

const copySize = 8 << 20

// copyData are the data ranges of the test image: the rest is holes.
var copyData = [][2]int64{{0, 1 << 20}, {3<<20 + 4096, 8192}, {5 << 20, 512 << 10}, {copySize - 4096, 4096}}

func copyImage(seed uint32) []byte {
	b := make([]byte, copySize)
	for _, r := range copyData {
		copy(b[r[0]:], pattern(int(r[1]), seed+uint32(r[0])))
	}
	return b
}

func dataBytes() int64 {
	var n int64
	for _, r := range copyData {
		n += r[1]
	}
	return n
}

// writeSparseFile writes the data ranges of img to a new sparse file.
func writeSparseFile(t *testing.T, path string, img []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(img))); err != nil {
		t.Fatal(err)
	}
	for _, r := range copyData {
		if _, err := f.WriteAt(img[r[0]:r[0]+r[1]], r[0]); err != nil {
			t.Fatal(err)
		}
	}
}

// allocated is the bytes a file has on disk (du).
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// checkHoles fails unless path holds little more than the image's data.
func checkHoles(t *testing.T, what, path string) {
	t.Helper()
	if got, limit := allocated(t, path), dataBytes()+256<<10; got > limit {
		t.Errorf("%s: %s has %d bytes allocated, the image's data is %d: holes not kept", what, path, got, dataBytes())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeCount is a CommandHook counting WRITE commands.
type writeCount struct{ n atomic.Int64 }

func (w *writeCount) OnCommandDone(e session.CommandEvent) {
	if e.Op == scsi.OpWrite10 || e.Op == scsi.OpWrite16 {
		w.n.Add(1)
	}
}

func copyDial(t *testing.T, url string, hooks ...session.Hook) *session.LogicalUnit {
	t.Helper()
	s, err := session.Dial(testCtx(t), url, &session.Config{Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.DefaultUnit()
}

func openFile(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func copyOK(t *testing.T, what string, dst, src any, opts *blockcopy.Options) *blockcopy.Result {
	t.Helper()
	res, err := blockcopy.Copy(testCtx(t), dst.(interface {
		WriteAt([]byte, int64) (int, error)
	}), src.(interface {
		ReadAt([]byte, int64) (int, error)
	}), opts)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return res
}

func thinLUN(inst *tgtd.Instance, tid, lun int) {
	inst.Admin("--op", "update", "--mode", "logicalunit", "--tid", fmt.Sprint(tid), "--lun", fmt.Sprint(lun), "--params", "thin_provisioning=1")
}

func TestBlockCopy(t *testing.T) {
	inst := tgtd.Start(t)
	type combo struct {
		thin bool
		bs   int
	}
	combos := []combo{{false, 512}, {false, 4096}, {true, 512}, {true, 4096}}
	var specs []tgtd.TargetSpec
	for i, c := range combos {
		specs = append(specs, tgtd.TargetSpec{TID: i + 1, IQN: fmt.Sprintf("iqn.2026-11.test:copy%d", i+1), LUNs: []tgtd.LUNSpec{
			{Size: copySize, BlockSize: c.bs},               // 1: file → LUN, then the source
			{Size: copySize, BlockSize: c.bs, Random: true}, // 2: LUN → LUN over old data
		}})
	}
	// Another target: LUN → LUN across targets (thin, 512-byte blocks).
	specs = append(specs, tgtd.TargetSpec{TID: 9, IQN: "iqn.2026-11.test:copy-other", LUNs: []tgtd.LUNSpec{{Size: copySize, Random: true}}})
	targets := inst.Apply(specs...)
	thinLUN(inst, 9, 1)
	for i, c := range combos {
		if c.thin {
			thinLUN(inst, i+1, 1)
			thinLUN(inst, i+1, 2)
		}
	}
	other := copyDial(t, inst.TargetURL("iqn.2026-11.test:copy-other", 1))
	for i, c := range combos {
		t.Run(fmt.Sprintf("thin=%v,bs=%d", c.thin, c.bs), func(t *testing.T) {
			tg := targets[i]
			dir := t.TempDir()
			img := copyImage(uint32(i))
			sum := sha256.Sum256(img)
			in := filepath.Join(dir, "in.img")
			writeSparseFile(t, in, img)
			var writes writeCount
			lun1 := copyDial(t, inst.TargetURL(tg.IQN, 1), &writes)
			lun2 := copyDial(t, inst.TargetURL(tg.IQN, 2))

			// file → LUN 1
			res := copyOK(t, "file → LUN", lun1, openFile(t, in, os.O_RDONLY), &blockcopy.Options{Hash: sha256.New(), Verify: true})
			mustEqual(t, "LUN 1 after file → LUN", mustRead(t, tg.LUNs[0].Path), img)
			mustEqual(t, "hash of file → LUN", res.Sum, sum[:])
			if res.Skipped == 0 {
				t.Error("file → LUN: no hole of the file skipped")
			}
			if c.thin {
				checkHoles(t, "file → thin LUN", tg.LUNs[0].Path)
			}

			// LUN 1 → file (zero detection finds the holes of a thick LUN)
			out := filepath.Join(dir, "out.img")
			res = copyOK(t, "LUN → file", openFile(t, out, os.O_RDWR|os.O_CREATE), lun1, &blockcopy.Options{Hash: sha256.New(), Verify: true, ZeroDetect: true})
			mustEqual(t, "file after LUN → file", mustRead(t, out), img)
			mustEqual(t, "hash of LUN → file", res.Sum, sum[:])
			if c.thin != (res.Skipped > 0) {
				t.Errorf("LUN → file: %d bytes of holes skipped (thin %v)", res.Skipped, c.thin)
			}
			checkHoles(t, "LUN → file", out)

			// LUN 1 → LUN 2 (random data before)
			res = copyOK(t, "LUN → LUN", lun2, lun1.Session(), &blockcopy.Options{Hash: sha256.New(), ZeroDetect: true})
			mustEqual(t, "LUN 2 after LUN → LUN", mustRead(t, tg.LUNs[1].Path), img)
			mustEqual(t, "hash of LUN → LUN", res.Sum, sum[:])
			if c.thin {
				checkHoles(t, "LUN → thin LUN", tg.LUNs[1].Path)
				if res.Zeroed == 0 {
					t.Error("LUN → thin LUN: nothing unmapped")
				}
			} else if res.Zeroed != 0 {
				t.Errorf("LUN → thick LUN: %d bytes zeroed without writing", res.Zeroed)
			}

			// XCopy: tgtd is no copy manager (no VPD page 0x8f): the
			// data is streamed.
			res = copyOK(t, "LUN → LUN, XCopy", lun2, lun1, &blockcopy.Options{XCopy: true})
			mustEqual(t, "LUN 2 after LUN → LUN with XCopy", mustRead(t, tg.LUNs[1].Path), img)
			if res.Offloaded != 0 || res.NoOffload == "" {
				t.Errorf("XCopy on tgtd: Offloaded %d, NoOffload %q", res.Offloaded, res.NoOffload)
			}

			// LUN 1 → a LUN of another target
			copyOK(t, "LUN → LUN of another target", other, lun1, nil)
			mustEqual(t, "other target's LUN", mustRead(t, targets[4].LUNs[0].Path), img)

			// file → file
			out2 := filepath.Join(dir, "out2.img")
			copyOK(t, "file → file", openFile(t, out2, os.O_RDWR|os.O_CREATE), openFile(t, out, os.O_RDONLY), nil)
			mustEqual(t, "file → file", mustRead(t, out2), img)
			checkHoles(t, "file → file", out2)

			// Incremental: three bytes changed in two chunks (the chunk
			// at 0, 1 MiB, and the data extent at 5 MiB, 512 KiB),
			// against the image LUN 1 holds: two WRITEs.
			changed := bytes.Clone(img)
			changed[100] ^= 1
			changed[5<<20+7] ^= 1
			changed[5<<20+9000] ^= 1
			in2 := filepath.Join(dir, "in2.img")
			writeSparseFile(t, in2, changed)
			writes.n.Store(0)
			res = copyOK(t, "incremental", lun1, openFile(t, in2, os.O_RDONLY), &blockcopy.Options{Base: openFile(t, in, os.O_RDONLY)})
			mustEqual(t, "LUN 1 after the incremental copy", mustRead(t, tg.LUNs[0].Path), changed)
			if n := writes.n.Load(); n != 2 || res.Written != 1<<20+512<<10 {
				t.Errorf("incremental: %d WRITEs, %d bytes written; want 2 and 1.5 MiB", n, res.Written)
			}
		})
	}
}

// stopAt is a source that cancels its copy at the first read that reaches
// past at.
type stopAt struct {
	u      *session.LogicalUnit
	at     int64
	cancel context.CancelFunc
}

func (s *stopAt) Size() int64 { return copySize }

func (s *stopAt) ReadAt(p []byte, off int64) (int, error) {
	return s.ReadAtContext(context.Background(), p, off)
}

func (s *stopAt) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.at {
		s.cancel()
		return 0, context.Canceled
	}
	return s.u.ReadAtContext(ctx, p, off)
}

// TestBlockCopyResume cancels a LUN → file copy halfway and resumes it
// from Result.Completed: the file is the LUN's image.
func TestBlockCopyResume(t *testing.T) {
	inst := tgtd.Start(t)
	tg := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: "iqn.2026-11.test:resume", LUNs: []tgtd.LUNSpec{{Size: copySize, Random: true}}})[0]
	u := copyDial(t, inst.TargetURL(tg.IQN, 1))
	want := mustRead(t, tg.LUNs[0].Path)
	out := openFile(t, filepath.Join(t.TempDir(), "out.img"), os.O_RDWR|os.O_CREATE)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	res, err := blockcopy.Copy(ctx, out, &stopAt{u: u, at: copySize / 2, cancel: cancel}, &blockcopy.Options{ChunkSize: 256 << 10, Concurrency: 4})
	if !errors.Is(err, context.Canceled) || res.Completed <= 0 || res.Completed > copySize/2 {
		t.Fatalf("cancelled copy: err %v, Completed %d", err, res.Completed)
	}
	res, err = blockcopy.Copy(testCtx(t), out, u, &blockcopy.Options{Resume: res.Completed, Hash: sha256.New()})
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "file after resume", mustRead(t, out.Name()), want)
	sum := sha256.Sum256(want)
	mustEqual(t, "hash after resume", res.Sum, sum[:])
}

// restartAt is a source that restarts tgtd (kill -9, start again on the
// same port and files) once, at the first read that reaches past at, and
// then reads on.
type restartAt struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	at   int64
	once sync.Once
	do   func()
}

func (s *restartAt) Size() int64 { return copySize }

func (s *restartAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.at {
		s.once.Do(s.do)
	}
	return s.r.ReadAt(p, off)
}

// TestBlockCopyTargetRestart kills tgtd with -9 and restarts it in the
// middle of a file → LUN and a LUN → file copy: the session reconnects and
// both copies finish with every byte right.
func TestBlockCopyTargetRestart(t *testing.T) {
	inst := tgtd.Start(t)
	tg := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: "iqn.2026-11.test:restart", LUNs: []tgtd.LUNSpec{
		{Size: copySize}, {Size: copySize, Random: true}}})[0]
	u1 := copyDial(t, inst.TargetURL(tg.IQN, 1))
	u2 := copyDial(t, inst.TargetURL(tg.IQN, 2))
	img := pattern(copySize, 77)

	// file → LUN 1, tgtd restarted halfway through.
	src := &restartAt{r: bytes.NewReader(img), at: copySize / 2, do: inst.Restart}
	res := copyOK(t, "file → LUN across a restart", u1, src, &blockcopy.Options{Hash: sha256.New()})
	mustEqual(t, "LUN 1 after a restart mid-copy", mustRead(t, tg.LUNs[0].Path), img)
	sum := sha256.Sum256(img)
	mustEqual(t, "hash", res.Sum, sum[:])
	if n := u1.Session().Stats().Reconnects; n < 1 {
		t.Errorf("LUN 1's session reconnected %d times, want at least 1", n)
	}

	// LUN 2 → file, tgtd restarted halfway through.
	want := mustRead(t, tg.LUNs[1].Path)
	out := openFile(t, filepath.Join(t.TempDir(), "out.img"), os.O_RDWR|os.O_CREATE)
	src = &restartAt{r: u2, at: copySize / 2, do: inst.Restart}
	copyOK(t, "LUN → file across a restart", out, src, &blockcopy.Options{ChunkSize: 256 << 10})
	mustEqual(t, "file after a restart mid-copy", mustRead(t, out.Name()), want)
}
