package nbd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// lunServer serves LUN 1 of an in-process target through a real session.
func lunServer(t *testing.T, opts ...iscsitest.Option) (*iscsitest.Server, string) {
	t.Helper()
	tgt := iscsitest.NewServer(opts...)
	t.Cleanup(tgt.Close)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	s, err := session.Dial(ctx, tgt.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := &Server{Exports: []Export{{Name: "1", Device: s.DefaultUnit()}}, Default: "1"}
	return tgt, start(t, srv)
}

func TestLogicalUnit(t *testing.T) {
	tgt, addr := lunServer(t, iscsitest.WithLUN(1<<20, 4096))
	c := dial(t, addr)
	size, flags := c.goExport("", true, false)
	if size != 1<<20 || flags&tfSendTrim != 0 {
		t.Fatalf("size %d flags %#x (not thin: no TRIM)", size, flags)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB
	c.request(cmdWrite, 0, 1, 64<<10, uint32(len(data)), data)
	// Unaligned: read-modify-write of the edges.
	c.request(cmdWrite, 0, 2, 100, 5, []byte("hello"))
	for range 2 {
		if r := c.chunk(); r.errno != 0 {
			t.Fatalf("write: %v", r)
		}
	}
	got := tgt.Contents(1)
	if !bytes.Equal(got[64<<10:64<<10+len(data)], data) || string(got[100:105]) != "hello" {
		t.Fatal("the LUN does not hold what was written")
	}
	c.request(cmdRead, 0, 3, 96, 16, nil)
	if _, b := c.readReply(true, 16); !bytes.Equal(b, got[96:112]) {
		t.Fatalf("read %q", b)
	}
	// Block status on a LUN that is not thin: all allocated, nothing asked.
	c.request(cmdWriteZeroes, 0, 4, 64<<10, 8192, nil)
	if r := c.chunk(); r.errno != 0 {
		t.Fatalf("write zeroes: %v", r)
	}
	if !bytes.Equal(tgt.Contents(1)[64<<10:72<<10], make([]byte, 8192)) {
		t.Fatal("write zeroes left data")
	}
}

// TestFUAReachesTheTarget: a write with NBD_CMD_FLAG_FUA is a WRITE with
// the FUA bit. The target refuses such writes here, so the client sees
// the target's error only if the bit went out.
func TestFUAReachesTheTarget(t *testing.T) {
	tgt, addr := lunServer(t, iscsitest.WithLUN(1<<20, 512))
	tgt.Inject(iscsitest.Fault{
		Match: func(cdb []byte) bool {
			op := scsi.OpCode(cdb[0])
			return (op == scsi.OpWrite10 || op == scsi.OpWrite16) && cdb[1]&byte(scsi.FUA) != 0
		},
		Action: iscsitest.Respond, Status: scsi.StatusCheckCondition,
		Sense: iscsitest.Sense(scsi.SenseDataProtect, scsi.ASCWriteProtected),
	})
	c := dial(t, addr)
	c.goExport("1", true, false)
	c.request(cmdWrite, 0, 1, 0, 512, make([]byte, 512))
	if r := c.chunk(); r.errno != 0 {
		t.Fatalf("write without FUA: %v", r)
	}
	c.request(cmdWrite, cmdFlagFUA, 2, 0, 512, make([]byte, 512))
	if r := c.chunk(); r.errno != errPerm || r.msg == "" {
		t.Fatalf("write with FUA: %v, want EPERM from the target's DATA PROTECT", r)
	}
}

// TestTargetErrorsReachTheClient: a MEDIUM ERROR on a READ is EIO with the
// SCSI error as the message; the connection goes on.
func TestTargetErrorsReachTheClient(t *testing.T) {
	tgt, addr := lunServer(t, iscsitest.WithLUN(1<<20, 512))
	tgt.Inject(iscsitest.Fault{
		Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), Count: 1,
		Action: iscsitest.Respond, Status: scsi.StatusCheckCondition,
		Sense: iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError),
	})
	c := dial(t, addr)
	c.goExport("1", true, false)
	c.request(cmdRead, 0, 1, 4096, 4096, nil)
	if r := c.chunk(); r.typ != replyTypeError || r.errno != errIO || !strings.Contains(r.msg, "MEDIUM ERROR") {
		t.Fatalf("read with a medium error: %v, want EIO naming the sense", r)
	}
	c.request(cmdRead, 0, 2, 4096, 4096, nil)
	if r, data := c.readReply(true, 4096); r.errno != 0 || len(data) != 4096 {
		t.Fatalf("the next read: %v", r)
	}
}
