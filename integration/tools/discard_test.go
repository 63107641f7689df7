package tools_test

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

const iqnDiscard = "iqn.2026-11.com.github.iscsi-go:discard"

// allocated returns the bytes of path's blocks on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestDiscard unmaps a range of a thin LUN full of random data and checks
// the backing file: zeros in the range, holes where it was, the rest
// untouched. On a thick LUN UNMAP is refused cleanly and -z writes zeros.
func TestDiscard(t *testing.T) {
	inst := tgtd.Start(t)
	luns := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqnDiscard, LUNs: []tgtd.LUNSpec{
		{Size: 4 << 20, Random: true},                  // 1: thin
		{Size: 4 << 20, Random: true},                  // 2: thick
		{Size: 4 << 20, Random: true, BlockSize: 4096}, // 3: thin, 4 KiB blocks
	}})[0].LUNs
	thin(inst, 1, 1)
	thin(inst, 1, 3)
	url := func(lun int) string { return inst.TargetURL(iqnDiscard, lun) }

	check := func(t *testing.T, lun int, before []byte, from, to int) {
		t.Helper()
		after := readFile(t, luns[lun-1].Path)
		want := append(append(append([]byte(nil), before[:from]...), make([]byte, to-from)...), before[to:]...)
		assertSame(t, "backing file", after, want)
	}

	t.Run("unmap", func(t *testing.T) {
		for _, lun := range []int{1, 3} {
			before := readFile(t, luns[lun-1].Path)
			had := allocated(t, luns[lun-1].Path)
			r := runOurs(t, "iscsi-discard", "-o", "0x100000", "-l", "2097152", url(lun))
			if r.ExitCode != 0 || r.Stdout != "" || r.Stderr != "" {
				t.Fatalf("LUN %d: exit %d, stdout %q, stderr %q; want 0 and silence", lun, r.ExitCode, r.Stdout, r.Stderr)
			}
			check(t, lun, before, 1<<20, 3<<20)
			if has := allocated(t, luns[lun-1].Path); has > had-(2<<20) {
				t.Errorf("LUN %d: %d bytes allocated after discarding 2 MiB, %d before: no hole punched", lun, has, had)
			}
		}
	})
	t.Run("to the end", func(t *testing.T) {
		before := readFile(t, luns[0].Path)
		r := runOurs(t, "iscsi-discard", "-o", "3584", "-l", "1000000000", url(1))
		if r.ExitCode != 0 {
			t.Fatalf("exit %d: %s", r.ExitCode, r.Stderr)
		}
		check(t, 1, before, 3584, 4<<20)
	})
	t.Run("zeroout thick", func(t *testing.T) {
		before := readFile(t, luns[1].Path)
		r := runOurs(t, "iscsi-discard", "-z", "-o", "512", "-l", "8192", url(2))
		if r.ExitCode != 0 {
			t.Fatalf("exit %d: %s", r.ExitCode, r.Stderr)
		}
		check(t, 2, before, 512, 512+8192)
	})
	t.Run("errors", func(t *testing.T) {
		before := readFile(t, luns[1].Path)
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{url(2)}, "not supported"},
			{[]string{"-o", "100", url(1)}, "not a multiple of the block size (512)"},
			{[]string{"-o", "512", url(3)}, "not a multiple of the block size (4096)"},
			{[]string{"-l", "1000", url(1)}, "not a multiple"},
			{[]string{"-o", "8388608", url(1)}, "past the end"},
			{[]string{url(7)}, "LUN 7"},
		} {
			r := runOurs(t, "iscsi-discard", c.args...)
			if r.ExitCode != 10 || !strings.Contains(r.Stderr, c.want) || strings.Count(r.Stderr, "\n") != 1 {
				t.Errorf("iscsi-discard %v: exit %d, stderr %q; want 10 and one line with %q", c.args, r.ExitCode, r.Stderr, c.want)
			}
		}
		if !bytes.Equal(readFile(t, luns[1].Path), before) {
			t.Error("a refused discard changed the thick LUN")
		}
	})
}
