package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/internal/syncbuf"
	"github.com/iscsi-go/iscsi/iscsitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "You must specify the URL"},
		{[]string{"--unix", "/tmp/x", "--listen", "127.0.0.1:1", "iscsi://127.0.0.1/iqn.x/1"}, "exclude each other"},
		{[]string{"--bogus"}, "unknown flag"},
	} {
		var stdout, stderr syncbuf.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != 10 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 10 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// TestServeUnixSocket: the target's two LUNs are listed as exports "1"
// and "2", the default export is the URL's LUN 2, a read returns the LUN's
// bytes, and cancelling (as SIGTERM does) ends the run with status 0.
func TestServeUnixSocket(t *testing.T) {
	data := bytes.Repeat([]byte("lun two "), 8192)
	tgt := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithLUNData(data, 512))
	defer tgt.Close()
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"--unix", sock, tgt.LUNURL(2)}, &stdout, &stderr) }()

	deadline := time.Now().Add(20 * time.Second)
	var nc net.Conn
	for {
		var err error
		if nc, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no socket: %v; stderr:\n%s", err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	read := func(n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(nc, b); err != nil {
			t.Fatalf("read: %v", err)
		}
		return b
	}
	option := func(code uint32, data []byte) {
		b := binary.BigEndian.AppendUint64(nil, 0x49484156454f5054)
		b = binary.BigEndian.AppendUint32(b, code)
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		nc.Write(append(b, data...))
	}
	// reply returns an option reply's type and data.
	reply := func() (uint32, []byte) {
		h := read(20)
		return binary.BigEndian.Uint32(h[12:]), read(int(binary.BigEndian.Uint32(h[16:])))
	}
	read(18)
	nc.Write([]byte{0, 0, 0, 3})
	option(3, nil) // NBD_OPT_LIST
	var names []string
	for typ, d := reply(); typ != 1; typ, d = reply() {
		names = append(names, string(d[4:4+binary.BigEndian.Uint32(d)]))
	}
	if strings.Join(names, ",") != "1,2" {
		t.Errorf("exports %v, want 1,2", names)
	}
	option(7, []byte{0, 0, 0, 0, 0, 0}) // NBD_OPT_GO "" without info requests
	var size uint64
	for typ, d := reply(); typ != 1; typ, d = reply() {
		if typ != 3 {
			t.Fatalf("GO: reply %#x %q", typ, d)
		}
		if binary.BigEndian.Uint16(d) == 0 {
			size = binary.BigEndian.Uint64(d[2:])
		}
	}
	if size != uint64(len(data)) {
		t.Errorf("default export of %d bytes, want LUN 2's %d", size, len(data))
	}
	req := binary.BigEndian.AppendUint32(nil, 0x25609513)
	req = binary.BigEndian.AppendUint32(req, 0) // flags, NBD_CMD_READ
	req = binary.BigEndian.AppendUint64(req, 42)
	req = binary.BigEndian.AppendUint64(req, 1000)
	req = binary.BigEndian.AppendUint32(req, 24)
	nc.Write(req)
	h := read(16)
	if binary.BigEndian.Uint32(h[4:]) != 0 || binary.BigEndian.Uint64(h[8:]) != 42 {
		t.Fatalf("read reply % x", h)
	}
	if got := read(24); !bytes.Equal(got, data[1000:1024]) {
		t.Errorf("read %q", got)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if e := stderr.String(); !strings.Contains(e, "serving LUN 1, 2 of "+tgt.TargetName()) || !strings.Contains(e, "default export: LUN 2") {
		t.Errorf("stderr:\n%s", e)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
