package tools_test

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/integration/tgtd"
)

const iqnDD = "iqn.2026-11.com.github.iscsi-go:dd"

// ddSize is the size of the LUNs of the copy tests.
const ddSize = 8 << 20

// ours runs our tool and fails t if it does not exit within the tool
// timeout.
func runOurs(t *testing.T, tool string, args ...string) tgtd.ToolResult {
	t.Helper()
	return tgtd.RunTool(t, nil, ours(tool), args...)
}

// thin turns thin provisioning on for a LUN (UNMAP, GET LBA STATUS, VPD
// 0xb2 LBPU, READ CAPACITY(16) LBPME/LBPRZ).
func thin(inst *tgtd.Instance, tid, lun int) {
	inst.Admin("--op", "update", "--mode", "logicalunit", "--tid", strconv.Itoa(tid),
		"--lun", strconv.Itoa(lun), "--params", "thin_provisioning=1")
}

// sparseImage writes a file of ddSize bytes: random data at 0 (1 MiB) and
// at 5 MiB + 4 KiB (512 KiB), a 4 KiB random block at 7 MiB, holes
// elsewhere. It returns its path and contents.
func sparseImage(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	want := make([]byte, ddSize)
	for _, r := range [][2]int{{0, 1 << 20}, {5<<20 + 4096, 512 << 10}, {7 << 20, 4096}} {
		if _, err := rand.Read(want[r[0] : r[0]+r[1]]); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "src.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(ddSize); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int{{0, 1 << 20}, {5<<20 + 4096, 512 << 10}, {7 << 20, 4096}} {
		if _, err := f.WriteAt(want[r[0]:r[0]+r[1]], int64(r[0])); err != nil {
			t.Fatal(err)
		}
	}
	return path, want
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) bytes copied in [0-9.]+ s, [0-9.]+ MB/s; (\d+) bytes skipped \(deallocated at the source\), (\d+) bytes discarded \(zeros not written\)$`)

// parseSummary returns the copied, skipped and discarded bytes of the
// summary line of iscsi-dd.
func parseSummary(t *testing.T, out string) (copied, skipped, discarded int64) {
	t.Helper()
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in the output:\n%s", out)
	}
	a, _ := strconv.ParseInt(m[1], 10, 64)
	b, _ := strconv.ParseInt(m[2], 10, 64)
	c, _ := strconv.ParseInt(m[3], 10, 64)
	return a, b, c
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertSame(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: differs from offset %d on", what, i)
	}
}

func ddOK(t *testing.T, args ...string) (copied, skipped, discarded int64) {
	t.Helper()
	r := runOurs(t, "iscsi-dd", args...)
	if r.ExitCode != 0 {
		t.Fatalf("iscsi-dd %v: exit %d\nstdout: %s\nstderr: %s", args, r.ExitCode, r.Stdout, r.Stderr)
	}
	return parseSummary(t, r.Stdout)
}

// TestDD copies file→LUN, LUN→file and LUN→LUN against tgtd, with thin
// provisioning on and off, and compares every byte with the backing files.
func TestDD(t *testing.T) {
	for _, thinOn := range []bool{false, true} {
		t.Run("thin="+strconv.FormatBool(thinOn), func(t *testing.T) {
			inst := tgtd.Start(t)
			targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqnDD, LUNs: []tgtd.LUNSpec{
				{Size: ddSize},                                // 1: file → LUN
				{Size: ddSize, Random: true},                  // 2: LUN → LUN, old data to overwrite
				{Size: ddSize, BlockSize: 4096, Random: true}, // 3: LUN → LUN across block sizes
				{Size: ddSize / 2},                            // 4: too small
				{Size: ddSize, Random: true},                  // 5: never thin
			}})
			if thinOn {
				for lun := 1; lun <= 4; lun++ { // not 5
					thin(inst, 1, lun)
				}
			}
			luns := targets[0].LUNs
			url := func(lun int) string { return inst.TargetURL(iqnDD, lun) }
			dir := t.TempDir()
			src, want := sparseImage(t, dir)

			// file → LUN 1.
			copied, skipped, _ := ddOK(t, "-s", src, "-d", url(1))
			assertSame(t, "LUN 1 after file → LUN", readFile(t, luns[0].Path), want)
			if copied != ddSize || skipped == 0 {
				t.Errorf("file → LUN: copied %d, skipped %d; want %d and the file's holes skipped", copied, skipped, ddSize)
			}

			// LUN 1 → file, with a checksum.
			out := filepath.Join(dir, "out.img")
			r := runOurs(t, "iscsi-dd", "-s", url(1), "-d", out, "--checksum", "md5", "-m", "4")
			if r.ExitCode != 0 {
				t.Fatalf("LUN → file: exit %d: %s", r.ExitCode, r.Stderr)
			}
			assertSame(t, "file after LUN → file", readFile(t, out), want)
			sum := md5.Sum(want)
			if !strings.Contains(r.Stdout, "md5 "+hex.EncodeToString(sum[:])+"\n") {
				t.Errorf("LUN → file --checksum md5: want md5 %x in\n%s", sum, r.Stdout)
			}
			_, skipped, discarded := parseSummary(t, r.Stdout)
			if thinOn && skipped == 0 {
				t.Errorf("LUN → file on a thin LUN skipped nothing (GET LBA STATUS unused?)")
			}
			if !thinOn && skipped != 0 {
				t.Errorf("LUN → file on a thick LUN skipped %d bytes", skipped)
			}
			if discarded == 0 {
				t.Errorf("LUN → file left no holes in the new file")
			}

			// LUN 1 → LUN 2 and LUN 3 (4096-byte blocks), both full of
			// random data: every zero must be written or unmapped. The
			// copy to LUN 3 goes through Go's netpoller (--netpoller).
			for _, dst := range []int{2, 3} {
				args := []string{"-s", url(1), "-d", url(dst), "-m", "8", "-b", "64"}
				if dst == 3 {
					args = append(args, "--netpoller")
				}
				_, _, discarded := ddOK(t, args...)
				assertSame(t, "LUN "+strconv.Itoa(dst)+" after LUN → LUN", readFile(t, luns[dst-1].Path), want)
				if thinOn && discarded == 0 {
					t.Errorf("LUN → LUN %d on thin LUNs discarded nothing (UNMAP unused?)", dst)
				}
				if !thinOn && discarded != 0 {
					t.Errorf("LUN → LUN %d on thick LUNs discarded %d bytes", dst, discarded)
				}
			}

			// To a thick LUN the zeros are written, whatever the source.
			_, skipped, discarded = ddOK(t, "-s", url(1), "-d", url(5))
			assertSame(t, "LUN 5 after LUN → thick LUN", readFile(t, luns[4].Path), want)
			if discarded != 0 || thinOn != (skipped > 0) {
				t.Errorf("LUN → thick LUN: skipped %d, discarded %d", skipped, discarded)
			}

			// -x: tgtd is no copy manager, the data is streamed, with a
			// note; --verify and a second, incremental copy (--base).
			r = runOurs(t, "iscsi-dd", "-x", "-s", url(1), "-d", url(2))
			if r.ExitCode != 0 || !strings.Contains(r.Stderr, "EXTENDED COPY not used") || !strings.Contains(r.Stdout, "; 0 bytes copied by the target (EXTENDED COPY)") {
				t.Errorf("-x on tgtd: exit %d, stdout %q, stderr %q", r.ExitCode, r.Stdout, r.Stderr)
			}
			assertSame(t, "LUN 2 after -x", readFile(t, luns[1].Path), want)
			ddOK(t, "--verify", "-s", src, "-d", url(2))
			r = runOurs(t, "iscsi-dd", "--base", url(2), "-s", src, "-d", url(2))
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("; %d bytes unchanged (equal to the base)", ddSize)) {
				t.Errorf("--base, nothing changed: exit %d, stdout %q, stderr %q", r.ExitCode, r.Stdout, r.Stderr)
			}

			// To /dev/null: a read of the whole source.
			if _, skipped, _ := ddOK(t, "--no-sparse", url(1), os.DevNull); skipped != 0 {
				t.Errorf("--no-sparse to %s skipped %d bytes", os.DevNull, skipped)
			}

			// --no-sparse: every byte read and written.
			out2 := filepath.Join(dir, "out2.img")
			_, skipped, discarded = ddOK(t, "--no-sparse", url(2), out2)
			assertSame(t, "file after --no-sparse", readFile(t, out2), want)
			if skipped != 0 || discarded != 0 {
				t.Errorf("--no-sparse skipped %d and discarded %d bytes", skipped, discarded)
			}

			// iscsi-md5sum agrees, in md5sum's format.
			r = runOurs(t, "iscsi-md5sum", "-m", "5", url(3))
			if wantLine := hex.EncodeToString(sum[:]) + "  " + url(3) + "\n"; r.ExitCode != 0 || r.Stdout != wantLine {
				t.Errorf("iscsi-md5sum: exit %d, %q; want %q (stderr %s)", r.ExitCode, r.Stdout, wantLine, r.Stderr)
			}
			part := md5.Sum(want[1000 : 1000+3<<20])
			r = runOurs(t, "iscsi-md5sum", "-o", "1000", "-l", strconv.Itoa(3<<20), url(2))
			if !strings.HasPrefix(r.Stdout, hex.EncodeToString(part[:])+"  ") {
				t.Errorf("iscsi-md5sum -o 1000 -l 3MiB: %q, want %x (stderr %s)", r.Stdout, part, r.Stderr)
			}

			// Clean failures: a destination smaller than the source, a
			// LUN that does not exist, a source file that is missing.
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"-s", url(1), "-d", url(4)}, "too small"},
				{[]string{"-s", url(9), "-d", out}, "LUN 9"},
				{[]string{"-s", filepath.Join(dir, "missing"), "-d", url(1)}, "no such file"},
				{[]string{"-s", url(1)}, "you must give"},
			} {
				r := runOurs(t, "iscsi-dd", c.args...)
				if r.ExitCode != 10 || !strings.Contains(r.Stderr, c.want) || strings.Count(r.Stderr, "\n") > 3 || strings.Contains(r.Stderr, "panic") {
					t.Errorf("iscsi-dd %v: exit %d, stderr %q; want 10 and %q", c.args, r.ExitCode, r.Stderr, c.want)
				}
			}

			// A password in a URL never shows, in errors or with --debug.
			withPW := strings.Replace(url(9), "iscsi://", "iscsi://alice%"+chapSecret+"@", 1)
			for _, args := range [][]string{{"-s", withPW, "-d", out}, {"--debug", "-s", strings.Replace(url(1), "iscsi://", "iscsi://alice%"+chapSecret+"@", 1), "-d", out}} {
				r := runOurs(t, "iscsi-dd", args...)
				assertNoSecret(t, r)
				if args[0] != "--debug" && (r.ExitCode != 10 || !strings.Contains(r.Stderr, "iscsi://alice@")) {
					t.Errorf("iscsi-dd %v: exit %d, stderr %q", args, r.ExitCode, r.Stderr)
				}
			}
			r = runOurs(t, "iscsi-md5sum", strings.Replace(url(1), "iscsi://", "iscsi://alice%"+chapSecret+"@", 1))
			assertNoSecret(t, r)
			if !strings.HasSuffix(r.Stdout, "  "+strings.Replace(url(1), "iscsi://", "iscsi://alice@", 1)+"\n") {
				t.Errorf("iscsi-md5sum with a password in the URL: %q", r.Stdout)
			}

			// A short source file lands at the start of the LUN; the rest
			// of the LUN keeps its data.
			short := filepath.Join(dir, "short.img")
			head := make([]byte, 1000)
			rand.Read(head)
			if err := os.WriteFile(short, head, 0o644); err != nil {
				t.Fatal(err)
			}
			ddOK(t, "-s", short, "-d", url(2))
			got := readFile(t, luns[1].Path)
			assertSame(t, "LUN 2 after a 1000-byte file", got, append(head, want[1000:]...))
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
