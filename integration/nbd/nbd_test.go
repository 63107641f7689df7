// Package nbd_test serves tgtd's LUNs through our NBD server (package nbd
// and cmd/iscsi-nbd) to real NBD clients nobody here wrote: libnbd's
// nbdinfo and nbdcopy (Debian libnbd-bin) and qemu-img and qemu-io
// (Debian qemu-utils), and checks the bytes against tgtd's backing files.
package nbd_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/integration/tgtd"
	"github.com/iscsi-go/iscsi/nbd"
	"github.com/iscsi-go/iscsi/session"
)

// binDir holds our iscsi-nbd, built once for the package.
var binDir string

func TestMain(m *testing.M) {
	tgtd.Gate("integration/nbd", "nbdinfo", "nbdcopy", "qemu-img", "qemu-io")
	os.Exit(tgtd.RunWithCommands(m, &binDir, "iscsi-nbd"))
}

const iqn = "iqn.2026-12.test:nbd"

const lunSize = 16 << 20

// fixture is a tgtd with LUN 1 (random bytes, 512-byte blocks), LUN 2
// (zeros, 4 KiB blocks, thin provisioned), and our NBD server in front of
// both on one session, on TCP and on a Unix socket.
type fixture struct {
	inst    *tgtd.Instance
	luns    []tgtd.LUN
	addr    string // host:port
	sock    string // Unix socket path
	session *session.Session
}

func newFixture(t *testing.T) *fixture { return newFixtureSize(t, lunSize) }

func newFixtureSize(t *testing.T, size int64) *fixture {
	t.Helper()
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{
		{Size: size, Random: true},
		{Size: lunSize, BlockSize: 4096},
	}})
	inst.Admin("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params", "thin_provisioning=1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, inst.TargetURL(iqn, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var exports []nbd.Export
	for _, n := range []uint32{1, 2} {
		u, err := s.LogicalUnit(n)
		if err != nil {
			t.Fatal(err)
		}
		exports = append(exports, nbd.Export{Name: strconv.Itoa(int(n)), Description: fmt.Sprintf("LUN %d", n), Device: u})
	}
	srv := &nbd.Server{Exports: exports, Default: "1"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "nbd-sock-") // short: a socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { srv.Serve(l); done <- struct{}{} }()
	go func() { srv.Serve(ul); done <- struct{}{} }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		<-done
	})
	return &fixture{inst: inst, luns: targets[0].LUNs, addr: l.Addr().String(), sock: sock, session: s}
}

func (f *fixture) url(export string) string { return "nbd://" + f.addr + "/" + export }

// tool runs an NBD client under a timeout and fails the test unless it
// exits 0.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	started := time.Now()
	res, err := tgtd.RunToolContext(ctx, nil, name, args...)
	t.Logf("%s %s: %v", name, strings.Join(args, " "), time.Since(started).Round(time.Millisecond))
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%s %s: %v, exit %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestNbdinfo(t *testing.T) {
	f := newFixture(t)
	if out := strings.TrimSpace(tool(t, "nbdinfo", "--size", f.url("1"))); out != strconv.Itoa(lunSize) {
		t.Errorf("nbdinfo --size: %q, want %d", out, lunSize)
	}
	out := tool(t, "nbdinfo", f.url("2"))
	for _, want := range []string{"export-size: " + strconv.Itoa(lunSize), "can_multi_conn: true", "can_flush: true", "can_fua: true", "can_trim: true", "block_size_minimum: 4096", "description: LUN 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("nbdinfo lacks %q:\n%s", want, out)
		}
	}
	// The default export is LUN 1 (512-byte blocks, not thin).
	out = tool(t, "nbdinfo", "nbd://"+f.addr)
	if !strings.Contains(out, "block_size_minimum: 512") || !strings.Contains(out, "can_trim: false") {
		t.Errorf("default export:\n%s", out)
	}
}

func TestNbdinfoList(t *testing.T) {
	f := newFixture(t)
	out := tool(t, "nbdinfo", "--list", "nbd://"+f.addr)
	for _, want := range []string{"export=\"1\"", "export=\"2\"", "description: LUN 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("nbdinfo --list lacks %q:\n%s", want, out)
		}
	}
}

// TestNbdinfoMap: the holes of a thin LUN, as GET LBA STATUS reports them
// (from the backing file's holes), reach nbdinfo --map.
func TestNbdinfoMap(t *testing.T) {
	f := newFixture(t)
	u, err := f.session.LogicalUnit(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.WriteAt(randomBytes(t, 1<<20), 4<<20); err != nil {
		t.Fatal(err)
	}
	// "   offset   length   type  description", one line per extent.
	if got := extents(t, f.url("2"), 0, lunSize); got != "0+4194304:hole,zero 4194304+1048576:data 5242880+11534336:hole,zero" {
		t.Errorf("map %s, want a hole, 1 MiB of data at 4 MiB, a hole", got)
	}
}

// TestNbdcopy: a LUN copied out equals its backing file; a file copied in
// lands in the backing file. nbdcopy uses several connections at once
// (CAN_MULTI_CONN) and many requests in flight on each.
func TestNbdcopy(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.img")
	tool(t, "nbdcopy", f.url("1"), out)
	if !bytes.Equal(readFile(t, out), readFile(t, f.luns[0].Path)) {
		t.Fatal("nbdcopy out of LUN 1 differs from its backing file")
	}
	in := filepath.Join(dir, "in.img")
	data := randomBytes(t, lunSize)
	clear(data[2<<20 : 6<<20]) // zeros nbdcopy may send as WRITE_ZEROES
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, "nbdcopy", "--flush", in, f.url("2"))
	if !bytes.Equal(readFile(t, f.luns[1].Path), data) {
		t.Fatal("nbdcopy into LUN 2: the backing file differs from the source")
	}
}

func TestQemuImgConvert(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	for i, src := range []string{f.url("1"), "nbd:unix:" + f.sock + ":exportname=1"} {
		out := filepath.Join(dir, fmt.Sprintf("out%d.raw", i))
		tool(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", src, out)
		if !bytes.Equal(readFile(t, out), readFile(t, f.luns[0].Path)) {
			t.Fatalf("qemu-img convert %s differs from the backing file", src)
		}
	}
	info := tool(t, "qemu-img", "info", "-f", "raw", "nbd:unix:"+f.sock)
	if !strings.Contains(info, "virtual size: 16 MiB") {
		t.Errorf("qemu-img info:\n%s", info)
	}
}

func TestQemuIo(t *testing.T) {
	f := newFixture(t)
	out := tool(t, "qemu-io", "-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M", f.url("2"))
	if !strings.Contains(out, "wrote 1048576/1048576") || !strings.Contains(out, "read 1048576/1048576") {
		t.Errorf("qemu-io:\n%s", out)
	}
	if got := readFile(t, f.luns[1].Path)[:1<<20]; !bytes.Equal(got, bytes.Repeat([]byte{0xab}, 1<<20)) {
		t.Error("the backing file does not hold qemu-io's pattern")
	}
	// A FUA write and a write of zeros without holes (qemu-io's -f, -z -u).
	out = tool(t, "qemu-io", "-f", "raw", "-c", "write -f -P 0xcd 4096 8192", "-c", "write -z 65536 65536", "-c", "read -P 0 65536 65536", f.url("2"))
	if strings.Contains(out, "error") || strings.Contains(out, "failed") {
		t.Errorf("qemu-io:\n%s", out)
	}
	if got := readFile(t, f.luns[1].Path)[4096 : 4096+8192]; !bytes.Equal(got, bytes.Repeat([]byte{0xcd}, 8192)) {
		t.Error("the FUA write did not land")
	}
	// Zeros that may unmap (-u) become a hole of the thin LUN; zeros
	// without (NBD_CMD_FLAG_NO_HOLE) stay allocated.
	tool(t, "qemu-io", "-f", "raw", "-c", "write -z -u 0 512k", "-c", "write -z 512k 512k", f.url("2"))
	if got := readFile(t, f.luns[1].Path)[:1<<20]; !bytes.Equal(got, make([]byte, 1<<20)) {
		t.Error("the zeroed range does not read as zeros")
	}
	if got := extents(t, f.url("2"), 0, 1<<20); got != "0+524288:hole,zero 524288+524288:data" {
		t.Errorf("map of the zeroed MiB: %s", got)
	}
}

// extents returns nbdinfo --map's extents within [off, off+n), as
// "offset+length:description ...".
func extents(t *testing.T, url string, off, n int64) string {
	t.Helper()
	out := tool(t, "nbdinfo", "--map", url)
	re := regexp.MustCompile(`(?m)^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		o, _ := strconv.ParseInt(m[1], 10, 64)
		l, _ := strconv.ParseInt(m[2], 10, 64)
		from, to := max(o, off), min(o+l, off+n)
		if from < to {
			got = append(got, fmt.Sprintf("%d+%d:%s", from, to-from, strings.TrimSpace(m[4])))
		}
	}
	return strings.Join(got, " ")
}

// TestCommandSIGTERM runs cmd/iscsi-nbd on a Unix socket: qemu-img reads
// through it, then SIGTERM ends it with status 0 after logging out.
func TestCommandSIGTERM(t *testing.T) {
	inst := tgtd.Start(t)
	targets := inst.Apply(tgtd.TargetSpec{TID: 1, IQN: iqn, LUNs: []tgtd.LUNSpec{{Size: 4 << 20, Random: true}, {Size: 1 << 20}}})
	dir, err := os.MkdirTemp("", "nbd-cmd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "iscsi-nbd"), "--unix", sock, inst.TargetURL(iqn, 1))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no socket; stderr:\n%s", stderr.String())
		}
	}
	out := filepath.Join(t.TempDir(), "out.raw")
	tool(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", "nbd:unix:"+sock, out)
	if !bytes.Equal(readFile(t, out), readFile(t, targets[0].LUNs[0].Path)) {
		t.Error("qemu-img through iscsi-nbd differs from the backing file")
	}
	list := tool(t, "nbdinfo", "--list", "nbd+unix:///?socket="+sock)
	if !strings.Contains(list, `export="1"`) || !strings.Contains(list, `export="2"`) {
		t.Errorf("nbdinfo --list:\n%s", list)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("iscsi-nbd after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopping") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("socket left behind")
	}
}

// TestTargetRestartDuringCopy: tgtd stops answering with nbdcopy's reads
// in flight, then crashes and comes back; the session logs in again and
// sends the reads again, and nbdcopy finishes with the right bytes,
// never knowing.
func TestTargetRestartDuringCopy(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u, err := f.session.LogicalUnit(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Geometry(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.img")
	f.inst.Pause()
	type result struct {
		res tgtd.ToolResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := tgtd.RunToolContext(ctx, nil, "nbdcopy", f.url("1"), out)
		done <- result{res, err}
	}()
	time.Sleep(300 * time.Millisecond) // let the reads reach the paused tgtd (not required for correctness)
	f.inst.Restart()
	r := <-done
	if r.err != nil || r.res.ExitCode != 0 {
		t.Fatalf("nbdcopy across a target restart: %v, exit %d\n%s", r.err, r.res.ExitCode, r.res.Stderr)
	}
	if !bytes.Equal(readFile(t, out), readFile(t, f.luns[0].Path)) {
		t.Fatal("the copy differs from the backing file")
	}
	st := f.session.Stats()
	t.Logf("session: %d reconnects, %d commands replayed", st.Reconnects, st.Replayed)
	if st.Reconnects == 0 {
		t.Error("the session never reconnected: the restart went unnoticed")
	}
}
