//go:build linux

package blockcopy_test

import (
	"os"
	"syscall"
	"testing"

	"github.com/iscsi-go/iscsi/blockcopy"
)

// allocated returns the bytes a file has on disk (du).
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// checkSparse checks that the copy left the source's holes as holes: the
// file has no more on disk than the data written (and a little slack for
// the file system's block size).
func checkSparse(t *testing.T, path string, res *blockcopy.Result, size int64) {
	t.Helper()
	if res.Skipped == 0 {
		t.Errorf("no hole of the source was skipped (SEEK_DATA unused?)")
	}
	if got := allocated(t, path); got > res.Written+64<<10 {
		t.Errorf("%s has %d bytes on disk, %d written: holes filled", path, got, res.Written)
	}
}
