//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package fuse_test

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

const (
	thickSize = 32 << 20
	thinSize  = 64 << 20
	roSize    = 8 << 20
	mib       = 1 << 20
)

// islands are the data of the thin LUN: everything else is a hole.
var islands = []struct{ off, n int64 }{{5 * mib, mib}, {40*mib + 4096, mib / 2}}

// lunTarget starts tgtd with target 1: LUN 1 thick (random data), LUN 2
// thin (a sparse file with islands of data), LUN 3 read-only.
func lunTarget(t *testing.T) (inst *tgtd.Instance, thick, thin, ro string) {
	t.Helper()
	inst = tgtd.Start(t)
	inst.NewTarget(1, tgtd.IQN(1))
	thick = inst.NewRandomBackingFile(thickSize)
	thin = inst.NewBackingFile(thinSize)
	f, err := os.OpenFile(thin, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range islands {
		if _, err := f.WriteAt(random(t, int(is.n)), is.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ro = inst.NewRandomBackingFile(roSize)
	inst.AddLUN(1, 1, thick)
	inst.AddLUN(1, 2, thin)
	inst.Admin("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params", "thin_provisioning=1")
	inst.AddLUN(1, 3, ro, tgtd.ReadOnly())
	inst.BindInitiatorAddress(1, "ALL")
	return inst, thick, thin, ro
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocated returns the bytes a file has on disk (st_blocks × 512).
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestTargetMount mounts a target URL in the cached mode and uses its
// files with everyday programs, checking each result against tgtd's
// backing files.
func TestTargetMount(t *testing.T) {
	inst, thick, thin, ro := lunTarget(t)
	m := startMount(t, inst.PortalURL()+"/"+tgtd.IQN(1))
	lun1, lun2, lun3 := m.path("lun1"), m.path("lun2"), m.path("lun3")

	t.Run("list", func(t *testing.T) {
		ents, err := os.ReadDir(m.dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		// LUN 0, tgtd's controller, is not a disk: no file.
		if want := []string{"lun1", "lun2", "lun3"}; !slices.Equal(names, want) {
			t.Fatalf("files %q, want %q", names, want)
		}
	})

	t.Run("stat", func(t *testing.T) {
		for path, want := range map[string]string{lun1: "33554432 644", lun2: "67108864 644", lun3: "8388608 444"} {
			res := sh(t, false, "stat", "-c", "%s %a", path)
			if got := strings.TrimSpace(res.Stdout); got != want {
				t.Errorf("stat %s: %q, want %q (size, mode)", filepath.Base(path), got, want)
			}
		}
	})

	t.Run("cat md5sum", func(t *testing.T) {
		for path, backing := range map[string]string{lun1: thick, lun2: thin, lun3: ro} {
			sum := md5.Sum(readFile(t, backing))
			res := sh(t, false, "sh", "-c", `cat "$1" | md5sum`, "sh", path)
			if got, want := strings.Fields(res.Stdout)[0], hex.EncodeToString(sum[:]); got != want {
				t.Errorf("cat %s | md5sum = %s, the backing file's is %s", filepath.Base(path), got, want)
			}
		}
	})

	t.Run("dd notrunc", func(t *testing.T) {
		want := readFile(t, thick)
		patch := filepath.Join(t.TempDir(), "patch")
		data := random(t, 3*mib+7)
		if err := os.WriteFile(patch, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// Unaligned small writes (read-modify-write of partial blocks)
		// and a large unaligned one, through dd as users write.
		sh(t, false, "dd", "if="+patch, "of="+lun1, "bs=1000", "count=7", "seek=12345", "conv=notrunc", "status=none")
		copy(want[12345*1000:], data[:7000])
		sh(t, false, "dd", "if="+patch, "of="+lun1, "bs=1M", "oflag=seek_bytes", "seek=7340049", "conv=notrunc,fsync", "status=none")
		copy(want[7340049:], data)
		sh(t, false, "cmp", lun1, thick)
		if !bytes.Equal(readFile(t, thick), want) {
			t.Fatal("the backing file does not hold what dd wrote")
		}
	})

	t.Run("another writer", func(t *testing.T) {
		// The cached mode drops a file's cache when it is opened: a change
		// made behind the mount (here, to tgtd's backing file; in life,
		// by another initiator) shows at the next open.
		sh(t, false, "cmp", lun1, thick)
		f, err := os.OpenFile(thick, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteAt([]byte("written behind the mount"), 5*mib+3)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		sh(t, false, "cmp", lun1, thick)
	})

	t.Run("write past the end", func(t *testing.T) {
		res := sh(t, true, "dd", "if=/dev/zero", "of="+lun1, "bs=4096", "count=1", "seek="+strconv.Itoa(thickSize/4096), "conv=notrunc", "status=none")
		if !strings.Contains(res.Stderr, "No space left on device") {
			t.Errorf("dd past the end: %q, want ENOSPC", res.Stderr)
		}
		res = sh(t, true, "truncate", "-s", "1M", lun1)
		if !strings.Contains(res.Stderr, "Operation not permitted") {
			t.Errorf("truncate: %q, want EPERM", res.Stderr)
		}
	})

	t.Run("sparse copy", func(t *testing.T) {
		// st_blocks counts the thin LUN's mapped blocks, so cp looks for
		// holes with SEEK_DATA/SEEK_HOLE.
		var mapped int64
		for _, is := range islands {
			mapped += is.n
		}
		if got := allocated(t, lun2); got >= thinSize || got < mapped {
			t.Errorf("lun2 st_blocks says %d bytes allocated; the data is %d of %d", got, mapped, thinSize)
		}
		fd, err := syscall.Open(lun2, syscall.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		data, err := syscall.Seek(fd, 0, 3 /* SEEK_DATA */)
		if err != nil || data != islands[0].off {
			t.Errorf("SEEK_DATA from 0: %d, %v; want %d", data, err, islands[0].off)
		}
		hole, err := syscall.Seek(fd, islands[0].off, 4 /* SEEK_HOLE */)
		if err != nil || hole != islands[0].off+islands[0].n {
			t.Errorf("SEEK_HOLE from %d: %d, %v; want %d", islands[0].off, hole, err, islands[0].off+islands[0].n)
		}
		syscall.Close(fd)

		out := filepath.Join(t.TempDir(), "copy")
		sh(t, false, "cp", "--sparse=always", lun2, out)
		sh(t, false, "cmp", out, thin)
		if got := allocated(t, out); got > 2*mapped {
			t.Errorf("the sparse copy has %d bytes allocated; the LUN holds %d of data", got, mapped)
		}
		img := filepath.Join(t.TempDir(), "convert.img")
		sh(t, false, "qemu-img", "convert", "-O", "raw", lun2, img)
		sh(t, false, "cmp", img, thin)
		if got := allocated(t, img); got > 2*mapped {
			t.Errorf("qemu-img convert's copy has %d bytes allocated; the LUN holds %d of data", got, mapped)
		}
	})

	t.Run("fallocate", func(t *testing.T) {
		// A hole punched in the thin LUN: the range reads as zeros.
		off, n := islands[0].off+4096, int64(256<<10)
		sh(t, false, "fallocate", "--punch-hole", "--offset", strconv.FormatInt(off, 10), "--length", strconv.FormatInt(n, 10), lun2)
		if b := readFile(t, thin)[off : off+n]; !bytes.Equal(b, make([]byte, n)) {
			t.Error("the punched range of the thin LUN does not read as zeros")
		}
		sh(t, false, "cmp", lun2, thin)
		// No hole in a thick LUN.
		res := sh(t, true, "fallocate", "--punch-hole", "--offset", "0", "--length", "1M", lun1)
		if !strings.Contains(res.Stderr, "unsupported") && !strings.Contains(res.Stderr, "not supported") {
			t.Errorf("punching a hole in the thick LUN: %q, want EOPNOTSUPP", res.Stderr)
		}
		// Zeroing a range works on any LUN, partial blocks included.
		sh(t, false, "fallocate", "--zero-range", "--keep-size", "--offset", "1000", "--length", "70000", lun1)
		if b := readFile(t, thick)[1000:71000]; !bytes.Equal(b, make([]byte, 70000)) {
			t.Error("the zeroed range of the thick LUN does not read as zeros")
		}
		sh(t, false, "cmp", lun1, thick)
	})

	t.Run("read-only LUN", func(t *testing.T) {
		res := sh(t, true, "dd", "if=/dev/zero", "of="+lun3, "bs=4096", "count=1", "conv=notrunc", "status=none")
		if !strings.Contains(res.Stderr, "Read-only file system") {
			t.Errorf("writing the write-protected LUN: %q, want EROFS", res.Stderr)
		}
	})

	t.Run("mkfs fsck", func(t *testing.T) {
		sh(t, false, "mkfs.ext4", "-q", "-F", lun1)
		res := sh(t, false, "e2fsck", "-f", "-n", lun1)
		if !strings.Contains(res.Stdout, "lun1:") {
			t.Errorf("e2fsck said: %s", res.Stdout)
		}
		// What mkfs wrote is on the LUN: the backing file is an ext4 image.
		sh(t, false, "e2fsck", "-f", "-n", thick)
		// qemu-img writes an image into the LUN file (-n: the file is
		// there), zero runs included (fallocate ZERO_RANGE, or writes).
		img := filepath.Join(t.TempDir(), "in.img")
		data := append(random(t, 3*mib), make([]byte, 2*mib)...)
		data = append(data, random(t, mib+4096)...)
		if err := os.WriteFile(img, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sh(t, false, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", img, lun1)
		if b := readFile(t, thick); !bytes.Equal(b[:len(data)], data) {
			t.Error("qemu-img convert into the LUN file: the backing file differs from the image")
		}
		res = sh(t, false, "qemu-img", "info", lun1)
		if !strings.Contains(res.Stdout, "virtual size: 32 MiB (33554432 bytes)") || !strings.Contains(res.Stdout, "file format: raw") {
			t.Errorf("qemu-img info:\n%s", res.Stdout)
		}
	})
}
