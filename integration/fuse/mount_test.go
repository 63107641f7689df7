//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package fuse_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/integration/tgtd"
)

// TestLUNURLReadOnly mounts a LUN URL with -o ro: one file, lun1, that
// reads the LUN and refuses writes (EROFS) although the LUN is writable.
// With --allow-other, another user reads it.
func TestLUNURLReadOnly(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("--allow-other needs root (or user_allow_other in /etc/fuse.conf)")
	}
	inst := tgtd.Start(t)
	inst.NewTarget(1, tgtd.IQN(1))
	inst.AddLUN(1, 1, inst.NewBackingFile(4<<20))
	backing := inst.NewRandomBackingFile(4 << 20)
	inst.AddLUN(1, 2, backing)
	inst.BindInitiatorAddress(1, "ALL")
	m := startMount(t, inst.TargetURL(tgtd.IQN(1), 2), "-o", "ro", "--allow-other")
	opts := mountOptions(m.dir)
	for _, o := range []string{"ro", "allow_other", "default_permissions"} {
		if !slices.Contains(opts, o) {
			t.Errorf("mount options %q lack %s", opts, o)
		}
	}
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "lun2" {
		t.Fatalf("a LUN URL shows %v, want lun2 alone", ents)
	}
	sh(t, false, "cmp", m.path("lun2"), backing)
	res := sh(t, true, "dd", "if=/dev/zero", "of="+m.path("lun2"), "bs=4096", "count=1", "conv=notrunc", "status=none")
	if !strings.Contains(res.Stderr, "Read-only file system") {
		t.Errorf("writing a file of a read-only mount: %q, want EROFS", res.Stderr)
	}
	// Another user (nobody) reads the file (mode 0444).
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "md5sum", m.path("lun2"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	sum := md5.Sum(readFile(t, backing))
	if err != nil || !strings.HasPrefix(string(out), hex.EncodeToString(sum[:])) {
		t.Errorf("md5sum as nobody through --allow-other: %v: %s", err, out)
	}
}

// mountOptions returns the mount and super options of the mount on dir.
func mountOptions(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != dir {
			continue
		}
		opts := strings.Split(f[5], ",")
		return append(opts, strings.Split(f[len(f)-1], ",")...)
	}
	return nil
}

// TestPortalMount mounts a portal URL: a directory per target, named
// after it, holding its LUNs; a target that wants CHAP (no credentials
// given) is left out with a warning.
func TestPortalMount(t *testing.T) {
	inst, targets := tgtd.StartWithTargets(t, 2, 2, 1<<20)
	inst.NewTarget(3, tgtd.IQN(3))
	inst.AddLUN(3, 1, inst.NewBackingFile(1<<20))
	inst.BindInitiatorAddress(3, "ALL")
	inst.NewAccount("alice", auth.NewSecret("alice-secret-12"))
	inst.BindAccount(3, "alice")
	m := startMount(t, inst.PortalURL())
	if out := m.out.String(); !strings.Contains(out, "leaving a target out") || !strings.Contains(out, tgtd.IQN(3)) {
		t.Errorf("iscsi-fuse did not say it left target 3 out:\n%s", out)
	}
	var got []string
	err := filepath.WalkDir(m.dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(m.dir, path)
			got = append(got, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, tg := range targets {
		want = append(want, tg.IQN+"/lun1", tg.IQN+"/lun2")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files %q, want %q", got, want)
	}
	// Each file is its own LUN: a write to one shows in its backing file.
	data := []byte("the second LUN of the second target")
	if err := os.WriteFile(m.path(want[3]), data, 0); err == nil {
		t.Fatal("os.WriteFile (O_TRUNC) on a LUN file succeeded; want EPERM")
	}
	f, err := os.OpenFile(m.path(want[3]), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b := readFile(t, targets[1].LUNs[1].Path)
	if !bytes.Equal(b[4096:4096+len(data)], data) {
		t.Fatal("the write did not reach target 2's LUN 2")
	}
}

// TestTargetRestartWhileBusy kills tgtd (SIGKILL) while a read through a
// --direct-io mount is waiting for it, and while cat copies a LUN file,
// then starts it again on the same port with the same backing files: the
// session recovers under the mount, and both copies come out right.
func TestTargetRestartWhileBusy(t *testing.T) {
	inst := tgtd.Start(t)
	inst.NewTarget(1, tgtd.IQN(1))
	backing := inst.NewRandomBackingFile(16 << 20)
	inst.AddLUN(1, 1, backing)
	inst.BindInitiatorAddress(1, "ALL")
	want := readFile(t, backing)
	m := startMount(t, inst.TargetURL(tgtd.IQN(1), 1), "--direct-io")

	f, err := os.Open(m.path("lun1"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	half := len(want) / 2
	got := make([]byte, len(want))
	if _, err := io.ReadFull(f, got[:half]); err != nil {
		t.Fatal(err)
	}

	inst.Kill()
	// The rest of the read waits for the target; so does a copy started
	// now, by cat.
	readDone := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(f, got[half:])
		readDone <- err
	}()
	out := filepath.Join(t.TempDir(), "copy")
	catDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*toolTimeout)
		defer cancel()
		res, err := tgtd.RunToolContext(ctx, nil, "sh", "-c", `cat "$1" > "$2"`, "sh", m.path("lun1"), out)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
		}
		catDone <- err
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-readDone:
		t.Fatalf("the read ended while tgtd was down: %v", err)
	default:
	}
	inst.Restart()

	for name, done := range map[string]chan error{"read": readDone, "cat": catDone} {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s across the restart: %v", name, err)
			}
		case <-time.After(2 * toolTimeout):
			t.Fatalf("%s still waiting %v after tgtd came back", name, 2*toolTimeout)
		}
	}
	if !bytes.Equal(got, want) {
		t.Error("the read across the restart returned other bytes than the LUN's")
	}
	sh(t, false, "cmp", out, backing)
	if !mounted(m.dir) {
		t.Fatal("the mount is gone after the restart")
	}
}

// TestSignalUnmounts checks that SIGTERM unmounts, logs out of the target
// and ends iscsi-fuse with status 0.
func TestSignalUnmounts(t *testing.T) {
	inst, targets := tgtd.StartWithTargets(t, 1, 1, 1<<20)
	m := startMount(t, inst.TargetURL(targets[0].IQN, 1))
	if _, err := os.Stat(m.path("lun1")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inst.Show(), "I_T nexus:") {
		t.Fatalf("tgtd shows no session while mounted:\n%s", inst.Show())
	}
	if err := m.stop(); err != nil {
		t.Fatalf("iscsi-fuse after SIGTERM: %v\n%s", err, m.out)
	}
	if mounted(m.dir) {
		t.Fatal("still mounted after SIGTERM")
	}
	if !strings.Contains(m.out.String(), "unmounting") {
		t.Errorf("iscsi-fuse said:\n%s", m.out)
	}
	if !waitFor(5*time.Second, func() bool { return !strings.Contains(inst.Show(), "I_T nexus:") }) {
		t.Fatalf("tgtd still shows a session after iscsi-fuse exited:\n%s", inst.Show())
	}
}

// TestSignalWhileFileOpen: SIGINT (Ctrl-C) while a program has a file open
// detaches the mount at once (lazily): the program keeps reading its open
// file, and iscsi-fuse logs out and exits 0 when the file is closed.
func TestSignalWhileFileOpen(t *testing.T) {
	inst := tgtd.Start(t)
	inst.NewTarget(1, tgtd.IQN(1))
	backing := inst.NewRandomBackingFile(2 << 20)
	inst.AddLUN(1, 1, backing)
	inst.BindInitiatorAddress(1, "ALL")
	want := readFile(t, backing)
	m := startMount(t, inst.TargetURL(tgtd.IQN(1), 1), "--direct-io")
	f, err := os.Open(m.path("lun1"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(f, got[:4096]); err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return !mounted(m.dir) }) {
		t.Fatalf("%s still mounted 10 s after SIGINT with a file open", m.dir)
	}
	select {
	case <-m.exited:
		t.Fatalf("iscsi-fuse exited (%v) while a file was open", m.err)
	default:
	}
	if _, err := io.ReadFull(f, got[4096:]); err != nil {
		t.Fatalf("reading the open file after the lazy unmount: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the open file read other bytes than the LUN's")
	}
	f.Close()
	select {
	case <-m.exited:
		if m.err != nil {
			t.Fatalf("iscsi-fuse: %v\n%s", m.err, m.out)
		}
	case <-time.After(mountWait):
		t.Fatalf("iscsi-fuse still running %v after the last file was closed", mountWait)
	}
	if !waitFor(5*time.Second, func() bool { return !strings.Contains(inst.Show(), "I_T nexus:") }) {
		t.Fatalf("tgtd still shows a session after iscsi-fuse exited:\n%s", inst.Show())
	}
}
