package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/iscsitest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func raw(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func TestHexDump(t *testing.T) {
	var b bytes.Buffer
	hexDump(&b, []byte("\x00\x00\x05\x12=\x00\x00\x02IET     VIRTUAL-DISK    0001\x00\x00"))
	want := " 00     00 00 05 12 3d 00 00 02  49 45 54 20 20 20 20 20    ....=...IET     \n" +
		" 10     56 49 52 54 55 41 4c 2d  44 49 53 4b 20 20 20 20    VIRTUAL-DISK    \n" +
		" 20     30 30 30 31 00 00                                   0001..\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestAgainstIscsitest(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer srv.Close()
	url := srv.URL()

	// INQUIRY, 96 bytes asked: the status, then the data as a hex dump.
	_, stderr, code := raw(t, "", url, "12", "00", "00", "00", "60", "00", "-r", "96")
	if code != catClean || !strings.HasPrefix(stderr, "SCSI Status: Good \n\nReceived ") || !strings.Contains(stderr, "\n 00     00 ") {
		t.Errorf("INQUIRY: exit %d\n%s", code, stderr)
	}
	// READ(10) past the end: CHECK CONDITION, the sense decoded, sg3's
	// status 22 (LBA out of range).
	_, stderr, code = raw(t, "", url, "28", "00", "ff", "ff", "ff", "ff", "00", "00", "01", "00", "-r", "512")
	if code != catLBARange || !strings.Contains(stderr, "Sense key: Illegal Request\nAdditional sense: Logical block address out of range") {
		t.Errorf("READ past the end: exit %d\n%s", code, stderr)
	}
	// An unknown opcode: status 9.
	if _, _, code = raw(t, "", url, "d9", "00", "00", "00", "00", "00"); code != catInvalidOp {
		t.Errorf("unknown opcode: exit %d, want %d", code, catInvalidOp)
	}
	// A WRITE with data from stdin needs --yes; from a file it does not.
	write := []string{url, "2a", "00", "00", "00", "00", "02", "00", "00", "01", "00", "-s", "512"}
	if _, stderr, code = raw(t, strings.Repeat("x", 512), write...); code != catContradict || !strings.Contains(stderr, "--yes") {
		t.Errorf("WRITE without --yes: exit %d\n%s", code, stderr)
	}
	if _, stderr, code = raw(t, strings.Repeat("y", 512), append(write, "--yes")...); code != catClean {
		t.Errorf("WRITE --yes: exit %d\n%s", code, stderr)
	}
	if got := string(srv.Contents(1)[2*512 : 3*512]); got != strings.Repeat("y", 512) {
		t.Errorf("LBA 2 holds %q after the WRITE", got[:8])
	}
	f := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(f, bytes.Repeat([]byte("z"), 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code = raw(t, "", append(write, "-i", f, "-k", "512")...); code != catClean {
		t.Errorf("WRITE -i: exit %d\n%s", code, stderr)
	}
	if got := string(srv.Contents(1)[2*512 : 3*512]); got != strings.Repeat("z", 512) {
		t.Errorf("LBA 2 holds %q after the WRITE from a file", got[:8])
	}
	// -b: the data in binary on stdout; -o: in a file.
	stdout, stderr, code := raw(t, "", url, "28", "00", "00", "00", "00", "02", "00", "00", "01", "00", "-r", "512", "-b")
	if code != catClean || stdout != strings.Repeat("z", 512) || !strings.Contains(stderr, "Writing 512 bytes of data to stdout") {
		t.Errorf("-b: exit %d, %d bytes\n%s", code, len(stdout), stderr)
	}
	of := filepath.Join(t.TempDir(), "out")
	if _, _, code = raw(t, "", url, "28", "00", "00", "00", "00", "02", "00", "00", "01", "00", "-r", "512", "-o", of); code != catClean {
		t.Errorf("-o: exit %d", code)
	}
	if b, _ := os.ReadFile(of); string(b) != strings.Repeat("z", 512) {
		t.Errorf("-o wrote %d bytes", len(b))
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"iscsi://h/iqn.x/1", "12", "00"},
		{"iscsi://h/iqn.x/1", "12", "zz", "00", "00", "60", "00"},
		{"iscsi://h/iqn.x/1", "12", "00", "00", "00", "60", "00", "-r", "1q"},
		{"--no-such-flag"},
	} {
		if _, _, code := raw(t, "", args...); code != catSyntax {
			t.Errorf("%q: exit %d, want %d", args, code, catSyntax)
		}
	}
	for _, c := range []struct {
		s string
		n int
	}{{"96", 96}, {"1k", 1024}, {"0x10", 16}, {"2m", 2 << 20}} {
		if n, err := parseLen(c.s); err != nil || n != c.n {
			t.Errorf("parseLen(%q) = %d, %v; want %d", c.s, n, err, c.n)
		}
	}
}
