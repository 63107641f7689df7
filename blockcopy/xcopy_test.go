package blockcopy_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/blockcopy"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// ioCounter returns a Fault.Match that counts READ and WRITE commands and
// picks none.
func ioCounter(n *atomic.Int64) func(cdb []byte) bool {
	return func(cdb []byte) bool {
		switch scsi.OpCode(cdb[0]) {
		case scsi.OpRead10, scsi.OpRead16, scsi.OpWrite10, scsi.OpWrite16:
			n.Add(1)
		}
		return false
	}
}

func unit(t *testing.T, url string, lun uint32) *session.LogicalUnit {
	t.Helper()
	u, err := dial(t, url).Session().LogicalUnit(lun)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestCopyXCopy: between LUNs of iscsitest with EXTENDED COPY, the target
// copies the data: no READ or WRITE crosses the session, and the result is
// the streamed one's.
func TestCopyXCopy(t *testing.T) {
	const size = 6<<20 + 4096
	data := image(size, 20, [2]int64{0, size})
	srv := iscsitest.NewServer(iscsitest.WithExtendedCopy(),
		iscsitest.WithLUNData(bytes.Clone(data), 512), iscsitest.WithLUN(size, 512), iscsitest.WithLUN(size, 4096))
	defer srv.Close()
	var ios atomic.Int64
	srv.Inject(iscsitest.Fault{Match: ioCounter(&ios)})
	ctx := testCtx(t)
	src := unit(t, srv.URL(), 1)
	for _, lun := range []uint32{2, 3} {
		// Another session to the same target: the target copies between
		// its LUNs whatever session asks.
		dst := unit(t, srv.URL(), lun)
		ios.Store(0)
		res, err := blockcopy.Copy(ctx, dst, src, &blockcopy.Options{XCopy: true, ChunkSize: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(srv.Contents(lun), data) {
			t.Fatalf("LUN %d differs after the offloaded copy", lun)
		}
		if n := ios.Load(); n != 0 || res.Offloaded != size || res.Written != 0 || res.NoOffload != "" {
			t.Errorf("LUN %d: %d READ/WRITE commands, Offloaded %d, Written %d, NoOffload %q; want 0, %d, 0, \"\"",
				lun, n, res.Offloaded, res.Written, res.NoOffload, size)
		}
	}
	// A range out of the source (SourceOffset) to LUN 3.
	if _, err := blockcopy.Copy(ctx, unit(t, srv.URL(), 3), src, &blockcopy.Options{XCopy: true, SourceOffset: 1 << 20, Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Contents(3)[:1<<20]; !bytes.Equal(got, data[1<<20:2<<20]) {
		t.Error("SourceOffset: LUN 3 differs")
	}
	if _, err := blockcopy.Copy(ctx, unit(t, srv.URL(), 2), src, &blockcopy.Options{XCopy: true, Hash: sha256.New()}); err == nil {
		t.Error("XCopy with Hash: no error")
	}
}

// TestCopyXCopySegments: a chunk longer than a segment can be (65,535
// blocks) goes as several segments, split at the right blocks.
func TestCopyXCopySegments(t *testing.T) {
	const size = 40 << 20
	data := image(size, 22, [2]int64{0, size})
	srv := iscsitest.NewServer(iscsitest.WithExtendedCopy(), iscsitest.WithLUNData(bytes.Clone(data), 512), iscsitest.WithLUN(size, 512))
	defer srv.Close()
	var xcopies atomic.Int64
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		if scsi.OpCode(cdb[0]) == scsi.OpExtendedCopy {
			xcopies.Add(1)
		}
		return false
	}})
	res, err := blockcopy.Copy(testCtx(t), unit(t, srv.URL(), 2), unit(t, srv.URL(), 1), &blockcopy.Options{XCopy: true, ChunkSize: size})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(srv.Contents(2), data) {
		t.Fatal("LUN 2 differs")
	}
	if res.Offloaded != size || xcopies.Load() != 1 {
		t.Errorf("Offloaded %d in %d EXTENDED COPY commands; want %d in 1 (two segments)", res.Offloaded, xcopies.Load(), size)
	}
}

// TestCopyXCopyFallback: a target that refuses EXTENDED COPY, and one that
// is no copy manager, get the data streamed.
func TestCopyXCopyFallback(t *testing.T) {
	const size = 2 << 20
	data := image(size, 21, [2]int64{0, size})
	for _, c := range []struct {
		name string
		opts []iscsitest.Option
		want string
	}{
		{"refused", []iscsitest.Option{iscsitest.WithExtendedCopy()}, "refused EXTENDED COPY"},
		{"no copy manager", nil, "0x8f"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := iscsitest.NewServer(append(c.opts, iscsitest.WithLUNData(bytes.Clone(data), 512), iscsitest.WithLUN(size, 512))...)
			defer srv.Close()
			var xcopies atomic.Int64
			srv.Inject(iscsitest.Fault{
				Match: func(cdb []byte) bool {
					if scsi.OpCode(cdb[0]) == scsi.OpExtendedCopy {
						xcopies.Add(1)
						return true
					}
					return false
				},
				Action: iscsitest.Respond, Status: scsi.StatusCheckCondition,
				Sense: iscsitest.Sense(scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode),
			})
			res, err := blockcopy.Copy(testCtx(t), unit(t, srv.URL(), 2), unit(t, srv.URL(), 1), &blockcopy.Options{XCopy: true})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(srv.Contents(2), data) {
				t.Fatal("LUN 2 differs")
			}
			if res.Offloaded != 0 || res.Written != size || !strings.Contains(res.NoOffload, c.want) {
				t.Errorf("Offloaded %d, Written %d, NoOffload %q; want 0, %d, %q", res.Offloaded, res.Written, res.NoOffload, size, c.want)
			}
			if c.name == "refused" && xcopies.Load() == 0 {
				t.Error("no EXTENDED COPY was tried")
			}
		})
	}
}
