//go:build linux

package tgtd

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// identity is what must survive a restart: the VPD pages as libiscsi's
// iscsi-inq prints them and as our session reads them, raw.
type identity struct {
	InqSerial, InqDesignators string
	Serial                    string
	Designators               []string
}

func readIdentity(t *testing.T, inst *Instance, url string) identity {
	t.Helper()
	var id identity
	// iscsi-inq takes the page code in decimal: 128 = 0x80, 131 = 0x83.
	for _, c := range []struct {
		page string
		dst  *string
	}{{"128", &id.InqSerial}, {"131", &id.InqDesignators}} {
		res := RunTool(t, nil, "iscsi-inq", "-e", "1", "-c", c.page, url)
		if res.ExitCode != 0 {
			t.Fatalf("iscsi-inq -c %s: exit %d\n%s%s", c.page, res.ExitCode, res.Stdout, res.Stderr)
		}
		*c.dst = res.Stdout
	}
	if !strings.Contains(id.InqSerial, "Unit Serial Number") && !strings.Contains(id.InqSerial, "Serial") {
		t.Fatalf("iscsi-inq page 0x80 printed no serial:\n%s", id.InqSerial)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer s.Close()
	vpd := func(page uint8) []byte {
		buf := make([]byte, 255)
		f := s.Execute(ctx, s.LUN(), scsi.InquiryVPD(page, uint16(len(buf))), session.DirRead, iovector.New(buf))
		r, err := f.Wait()
		if err != nil {
			t.Fatalf("INQUIRY VPD 0x%02x: %v", page, err)
		}
		return buf[:len(buf)-r.Residual]
	}
	usn, err := scsi.ParseUnitSerialNumber(vpd(scsi.VPDUnitSerialNumber))
	if err != nil {
		t.Fatal(err)
	}
	id.Serial = usn.Serial
	di, err := scsi.ParseDeviceIdentification(vpd(scsi.VPDDeviceIdentification))
	if err != nil {
		t.Fatal(err)
	}
	for k := range di.Designators {
		id.Designators = append(id.Designators, di.Designators[k].String())
	}
	if id.Serial == "" || len(id.Designators) == 0 {
		t.Fatalf("LUN reports serial %q and %d designators; want both", id.Serial, len(id.Designators))
	}
	if err := s.Logout(ctx); err != nil {
		t.Errorf("logout: %v", err)
	}
	return id
}

// TestRestart: killed with -9 (from running, and after Kill) and restarted,
// tgtd serves the same LUNs on the same portal: same serial number and
// designators, the data written before, the same target parameters, ACLs
// and CHAP accounts. A session open across the restart ends with
// ErrSessionClosed.
func TestRestart(t *testing.T) {
	inst := Start(t)
	const iqn = "iqn.2026-11.test:restart"
	targets := inst.Apply(
		TargetSpec{TID: 1, IQN: iqn, LUNs: []LUNSpec{{Size: 1 << 20, Random: true}, {Size: 1 << 20, BlockSize: 4096}}},
		TargetSpec{TID: 2, IQN: iqn + "-chap", LUNs: []LUNSpec{{Size: 1 << 20}}},
	)
	inst.SetParam(1, "MaxRecvDataSegmentLength", "65536")
	inst.NewAccount("restart-user", auth.NewSecret("restart-secret-1"))
	inst.BindAccount(2, "restart-user")
	url := inst.TargetURL(iqn, 2)
	chapURL := "iscsi://restart-user%restart-secret-1@" + inst.Addr() + "/" + iqn + "-chap/1"

	before := readIdentity(t, inst, url)
	t.Logf("LUN 2 before restart: serial %q, designators %q", before.Serial, before.Designators)
	// A write that must survive: through a session, to LUN 2.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("restart!"), 512)
	if _, err := s.WriteAtContext(ctx, data, 8192); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	lun1 := ReadBacking(t, targets[0].LUNs[0].Path, 0, 64<<10)

	pid, port := inst.Pid(), inst.Port()
	inst.Restart() // from running: kill -9 then start
	if inst.Pid() == pid {
		t.Errorf("Pid() = %d after Restart, the same as before", pid)
	}
	assertGone(t, pid)
	if inst.Port() != port {
		t.Errorf("Port() = %d after Restart, want %d", inst.Port(), port)
	}

	// The old session's connection died with the old tgtd: the session
	// logs in to the new one and reads what it wrote before.
	got := make([]byte, len(data))
	if _, err := s.ReadAtContext(ctx, got, 8192); err != nil || !bytes.Equal(got, data) {
		t.Errorf("read on a session of the killed tgtd: %v (same bytes: %v)", err, bytes.Equal(got, data))
	}
	if st := s.Stats(); st.Reconnects != 1 {
		t.Errorf("the session across the restart: %+v, want 1 reconnect", st)
	}

	after := readIdentity(t, inst, url)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("LUN identity changed across Restart (-before +after):\n%s", diff)
	}
	checkAfterRestart(t, inst, url, chapURL, data, lun1, targets[0].LUNs[0].Path)

	// Kill, then Restart: the same, from a dead tgtd.
	pid = inst.Pid()
	inst.Kill()
	assertPortClosed(t, inst.Addr())
	inst.Restart()
	if inst.Exited() || inst.Pid() == pid {
		t.Fatalf("after Kill and Restart: Exited() = %v, Pid() %d (was %d)", inst.Exited(), inst.Pid(), pid)
	}
	if diff := cmp.Diff(before, readIdentity(t, inst, url)); diff != "" {
		t.Errorf("LUN identity changed across Kill+Restart (-before +after):\n%s", diff)
	}
	checkAfterRestart(t, inst, url, chapURL, data, lun1, targets[0].LUNs[0].Path)
}

func checkAfterRestart(t *testing.T, inst *Instance, url, chapURL string, data, lun1 []byte, lun1Path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make([]byte, len(data))
	if _, err := s.ReadAtContext(ctx, got, 8192); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("data written before the restart reads back different")
	}
	if !bytes.Equal(ReadBacking(t, lun1Path, 0, 64<<10), lun1) {
		t.Errorf("LUN 1's backing file changed")
	}
	if p := inst.ShowParams(1); !strings.Contains(p, "MaxRecvDataSegmentLength=65536") {
		t.Errorf("target parameter not replayed:\n%s", p)
	}
	// CHAP account and binding replayed: wrong credentials fail, right
	// ones work.
	if res := RunTool(t, nil, "iscsi-inq", strings.Replace(chapURL, "restart-secret-1", "wrong-secret-12", 1)); res.ExitCode == 0 {
		t.Errorf("iscsi-inq with a wrong CHAP secret succeeded after restart")
	}
	if res := RunTool(t, nil, "iscsi-inq", chapURL); res.ExitCode != 0 {
		t.Errorf("iscsi-inq with CHAP after restart: exit %d\n%s", res.ExitCode, res.Stderr)
	}
	if err := s.Logout(ctx); err != nil {
		t.Errorf("logout: %v", err)
	}
}

// TestPauseResume: a paused (SIGSTOP) tgtd accepts connections in the
// kernel but answers nothing; resumed, it answers again. Stop resumes it.
func TestPauseResume(t *testing.T) {
	inst := Start(t)
	const iqn = "iqn.2026-11.test:pause"
	inst.Apply(TargetSpec{TID: 1, IQN: iqn, LUNs: []LUNSpec{{Size: 1 << 20}}})
	url := inst.TargetURL(iqn, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Geometry(ctx); err != nil { // Read needs the block size
		t.Fatal(err)
	}

	inst.Pause()
	if !inst.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	if st, _ := procState(inst.Pid()); st != "T" {
		t.Errorf("process state %q after Pause, want T (stopped)", st)
	}
	// A login to a paused tgtd gets no answer: bounded by our context.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = session.Dial(short, url, nil)
	cancelShort()
	if err == nil {
		t.Fatal("login to a paused tgtd succeeded")
	}
	// A command in flight on a paused tgtd waits; it completes after Resume.
	buf := make([]byte, 4096)
	f := s.Read(ctx, 0, 8, iovector.New(buf))
	select {
	case <-f.Done():
		_, err := f.Wait()
		t.Fatalf("a read completed on a paused tgtd: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	inst.Resume()
	if inst.Paused() {
		t.Fatal("Paused() = true after Resume")
	}
	if _, err := f.Wait(); err != nil {
		t.Fatalf("read after Resume: %v", err)
	}
	if st, _ := procState(inst.Pid()); st == "T" {
		t.Errorf("process still stopped after Resume")
	}
	if err := s.Logout(ctx); err != nil {
		t.Errorf("logout: %v", err)
	}

	// Stop on a paused tgtd resumes it and stops it cleanly.
	inst.Pause()
	pid := inst.Pid()
	inst.Stop()
	assertGone(t, pid)
	assertPortClosed(t, inst.Addr())
}

func TestParseProcState(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"123 (tgtd) T 1 123 123 0", "T", true},
		{"123 (we ird) (name)) S 1 2", "S", true},
		{"123 (tgtd)", "", false},
		{"garbage", "", false},
	}
	for _, tc := range tests {
		got, err := parseProcState(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseProcState(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestChangesConfig(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"--op", "new", "--mode", "target", "--tid", "1", "--targetname", "x"}, true},
		{[]string{"--op", "bind", "--mode", "account", "--user", "u"}, true},
		{[]string{"-o", "update", "-m", "target", "--tid", "1"}, true},
		{[]string{"--op", "unbind", "--mode", "target"}, true},
		{[]string{"--op", "delete", "--mode", "target", "--tid", "1", "--force"}, true},
		{[]string{"--op", "delete", "--mode", "system"}, false},
		{[]string{"--op", "show", "--mode", "target"}, false},
		{[]string{"--op"}, false},
		{nil, false},
	}
	for _, tc := range tests {
		if got := changesConfig(tc.args); got != tc.want {
			t.Errorf("changesConfig(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
