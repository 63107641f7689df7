package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/blockcopy"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestProgress(t *testing.T) {
	p := blockcopy.Progress{Done: 3 << 29, Total: 1 << 31, Elapsed: 2 * time.Second, Rate: float64(3<<29) / 2}
	if got, want := progressLine(p), "\r1.5 GiB / 2.0 GiB  75% [======================        ] 805.3 MB/s"; got != want {
		t.Errorf("progressLine = %q, want %q", got, want)
	}
	var b bytes.Buffer
	drawProgress(&b, p, false)
	p.Final = true
	drawProgress(&b, p, false)
	if s := b.String(); strings.Contains(s, "\033") || !strings.HasSuffix(s, "MB/s\n") {
		t.Errorf("-p without a terminal: %q", s)
	}
	b.Reset()
	drawProgress(&b, p, true)
	if b.String() != "\r\033[K" {
		t.Errorf("final on a terminal: %q", b.String())
	}
	res := &blockcopy.Result{Bytes: 1e6, Skipped: 5, Zeroed: 7, Unchanged: 9, Elapsed: time.Second}
	if got := summary(res, false, false); got != "1000000 bytes copied in 1.000 s, 1.0 MB/s; 5 bytes skipped (deallocated at the source), 7 bytes discarded (zeros not written)" {
		t.Errorf("summary = %q", got)
	}
	if got := summary(res, true, false); !strings.HasSuffix(got, "; 9 bytes unchanged (equal to the base)") {
		t.Errorf("summary with a base = %q", got)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1 << 40: "1.0 TiB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}

var summaryRE = regexp.MustCompile(`(?m)^(\d+) bytes copied in [0-9.]+ s, [0-9.]+ MB/s; (\d+) bytes skipped \(deallocated at the source\), (\d+) bytes discarded \(zeros not written\)(; (\d+) bytes unchanged \(equal to the base\))?(; (\d+) bytes copied by the target \(EXTENDED COPY\))?$`)

type ddResult struct {
	code           int
	stdout, stderr string
}

func dd(t *testing.T, args ...string) ddResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr, false)
	return ddResult{code, stdout.String(), stderr.String()}
}

func ddOK(t *testing.T, args ...string) (copied, skipped, discarded, unchanged int64) {
	t.Helper()
	r := dd(t, args...)
	m := summaryRE.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("iscsi-dd %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	n := func(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }
	return n(m[1]), n(m[2]), n(m[3]), n(m[5])
}

// TestRun copies file → LUN → file on iscsitest with the new flags.
func TestRun(t *testing.T) {
	const size = 4 << 20
	data := make([]byte, size)
	rand.Read(data[:1<<20])
	rand.Read(data[3<<20:])
	srv := iscsitest.NewServer(iscsitest.WithLUN(size, 512), iscsitest.WithLUN(size/2, 512))
	defer srv.Close()
	var writes, syncs atomic.Int64
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		switch scsi.OpCode(cdb[0]) {
		case scsi.OpWrite10, scsi.OpWrite16:
			writes.Add(1)
		case scsi.OpSynchronizeCache10, scsi.OpSynchronizeCache16:
			syncs.Add(1)
		}
		return false
	}})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.img")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lun := srv.LUNURL(1)

	// file → LUN, verified, with the sha256 of the image.
	r := dd(t, "--verify", "--checksum", "sha256", "-s", in, "-d", lun)
	sum := sha256.Sum256(data)
	if r.code != 0 || !strings.Contains(r.stdout, "sha256 "+hex.EncodeToString(sum[:])+"\n") {
		t.Fatalf("file → LUN: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	if !bytes.Equal(srv.Contents(1), data) {
		t.Fatal("LUN differs from the file")
	}
	// The destination is flushed at the end, unless --no-flush.
	if n := syncs.Load(); n != 1 {
		t.Errorf("file → LUN: %d SYNCHRONIZE CACHE, want 1", n)
	}
	syncs.Store(0)
	ddOK(t, "--no-flush", "-s", in, "-d", lun)
	if n := syncs.Load(); n != 0 {
		t.Errorf("--no-flush: %d SYNCHRONIZE CACHE, want 0", n)
	}

	// LUN → file; then incremental LUN → file against the first copy.
	out := filepath.Join(dir, "out.img")
	copied, _, discarded, _ := ddOK(t, "-s", lun, "-d", out)
	if copied != size || discarded != 2<<20 {
		t.Errorf("LUN → file: copied %d, discarded %d", copied, discarded)
	}
	changed := bytes.Clone(data)
	changed[2<<20+9] = 1
	binary.BigEndian.PutUint64(changed[3<<20:], 42)
	if err := os.WriteFile(in, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	ddOK(t, "-s", in, "-d", lun)
	writes.Store(0)
	_, _, _, unchanged := ddOK(t, "--base", out, "-s", lun, "-d", lun2file(t, dir, out))
	if unchanged != 2<<20 {
		t.Errorf("incremental: %d bytes unchanged, want 2 MiB", unchanged)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "inc.img"))
	if !bytes.Equal(got, changed) {
		t.Fatal("incremental copy differs")
	}
	// And to the LUN: only the two changed chunks are written.
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	ddOK(t, "--base", filepath.Join(dir, "inc.img"), "-s", in, "-d", lun)
	if n := writes.Load(); n != 2 || !bytes.Equal(srv.Contents(1), data) {
		t.Errorf("incremental file → LUN: %d WRITEs (want 2), LUN equal: %v", n, bytes.Equal(srv.Contents(1), data))
	}

	// --resume: the destination keeps what it has before the offset.
	part := filepath.Join(dir, "part.img")
	if err := os.WriteFile(part, data[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if copied, _, _, _ := ddOK(t, "--resume", "0x100000", "-s", lun, "-d", part); copied != size-1<<20 {
		t.Errorf("--resume: copied %d", copied)
	}
	got, _ = os.ReadFile(part)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed copy differs")
	}

	// -n: unreadable blocks are listed, zeros written.
	srv.Inject(iscsitest.Fault{Match: func(cdb []byte) bool {
		if op := scsi.OpCode(cdb[0]); op != scsi.OpRead10 && op != scsi.OpRead16 {
			return false
		}
		lba, n := binary.BigEndian.Uint32(cdb[2:6]), uint32(binary.BigEndian.Uint16(cdb[7:9]))
		return lba <= 100 && 100 < lba+n
	}, Action: iscsitest.Respond, Status: scsi.StatusCheckCondition, Sense: iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError)})
	if r := dd(t, "-s", lun, "-d", out); r.code != 10 || !strings.Contains(r.stderr, "MEDIUM ERROR") {
		t.Errorf("unreadable block without -n: exit %d, %q", r.code, r.stderr)
	}
	r = dd(t, "-n", "-s", lun, "-d", out)
	if r.code != 0 || !strings.Contains(r.stderr, "unreadable: 512 bytes at offset 51200 of") {
		t.Errorf("-n: exit %d, stderr %q", r.code, r.stderr)
	}
	srv.ClearFaults()

	// Errors.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-s", lun, "-d", srv.LUNURL(2)}, "too small"},
		{[]string{"--resume", "x", "-s", lun, "-d", out}, "invalid --resume"},
		{[]string{"--base", filepath.Join(dir, "missing"), "-s", lun, "-d", out}, "base"},
	} {
		if r := dd(t, c.args...); r.code != 10 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 10 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// lun2file copies base to inc.img in dir (the destination of an
// incremental copy holds the base) and returns its path.
func lun2file(t *testing.T, dir, base string) string {
	t.Helper()
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "inc.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestXCopy: -x between LUNs of a target that copies, and of one that
// does not.
func TestXCopy(t *testing.T) {
	const size = 2 << 20
	data := make([]byte, size)
	rand.Read(data)
	for _, offload := range []bool{true, false} {
		opts := []iscsitest.Option{iscsitest.WithLUNData(bytes.Clone(data), 512), iscsitest.WithLUN(size, 4096)}
		if offload {
			opts = append(opts, iscsitest.WithExtendedCopy())
		}
		srv := iscsitest.NewServer(opts...)
		r := dd(t, "-x", "-s", srv.LUNURL(1), "-d", srv.LUNURL(2))
		m := summaryRE.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil || !bytes.Equal(srv.Contents(2), data) {
			t.Fatalf("-x (offload %v): exit %d, %q, %q", offload, r.code, r.stdout, r.stderr)
		}
		if want := map[bool]string{true: strconv.Itoa(size), false: "0"}[offload]; m[7] != want || offload == strings.Contains(r.stderr, "EXTENDED COPY not used") {
			t.Errorf("-x (offload %v): %s bytes by the target, stderr %q", offload, m[7], r.stderr)
		}
		srv.Close()
	}
	if r := dd(t, "-x", "--checksum", "md5", "-s", "a", "-d", "b"); r.code != 10 || !strings.Contains(r.stderr, "--xcopy cannot go with") {
		t.Errorf("-x --checksum: exit %d, %q", r.code, r.stderr)
	}
}

// TestMultipath copies file → LUN and LUN → file over two paths (the same
// in-process target twice: two sessions to one device); both paths carry
// commands, and the flags that cannot apply are refused.
func TestMultipath(t *testing.T) {
	const size = 2 << 20
	data := make([]byte, size)
	rand.Read(data)
	srv := iscsitest.NewServer(iscsitest.WithLUN(size, 512))
	defer srv.Close()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.img"), filepath.Join(dir, "out.img")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lun := srv.LUNURL(1)
	pathLine := regexp.MustCompile(`(?m)^(source|destination) path (\d) \S+: ready, (\d+) commands, 0 errors`)
	for _, tc := range []struct {
		name string
		args []string
		side string
	}{
		{"file to LUN, --path", []string{"-m", "8", "-b", "64", "--verify", "--path", lun, "-s", in, "-d", lun}, "destination"},
		{"LUN to file, --src-path", []string{"-m", "8", "-b", "64", "--src-path", lun, "-s", lun, "-d", out}, "source"},
	} {
		r := dd(t, tc.args...)
		if r.code != 0 || summaryRE.FindString(r.stdout) == "" {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", tc.name, r.code, r.stdout, r.stderr)
		}
		m := pathLine.FindAllStringSubmatch(r.stdout, -1)
		if len(m) != 2 || m[0][1] != tc.side || m[0][3] == "0" || m[1][3] == "0" {
			t.Errorf("%s: want two %s paths that each carried commands:\n%s", tc.name, tc.side, r.stdout)
		}
	}
	if !bytes.Equal(srv.Contents(1), data) {
		t.Fatal("the LUN differs from the file")
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the copy back differs from the file (%v)", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--path", lun, "-s", lun, "-d", lun}, "say which with --src-path or --dst-path"},
		{[]string{"--path", lun, "-s", in, "-d", out}, "neither the source nor the destination is a LUN"},
		{[]string{"--src-path", lun, "-s", in, "-d", lun}, "is not a LUN"},
		{[]string{"--dst-path", in, "-s", in, "-d", lun}, "not an iSCSI URL"},
		{[]string{"-x", "--dst-path", lun, "-s", lun, "-d", lun}, "--xcopy cannot go with --dst-path"},
	} {
		if r := dd(t, tc.args...); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want a failure saying %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
