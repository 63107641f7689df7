package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseKey(t *testing.T) {
	for s, want := range map[string]uint64{"abc": 0xabc, "0xABC": 0xabc, "0X1": 1, "ffffffffffffffff": 1<<64 - 1} {
		if got, err := parseKey(s); err != nil || got != want {
			t.Errorf("parseKey(%q) = %#x, %v; want %#x", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0x", "xyz", "-1", "1ffffffffffffffff"} {
		if _, err := parseKey(s); err == nil {
			t.Errorf("parseKey(%q) accepted", s)
		}
	}
}

func TestFormat(t *testing.T) {
	var b bytes.Buffer
	printKeys(&b, &scsi.PRKeys{Generation: 0x1f, Keys: []uint64{0xabc, 1 << 63}})
	printReservation(&b, &scsi.PRReservation{Generation: 2})
	printReservation(&b, &scsi.PRReservation{Generation: 3, Reserved: true, Key: 0x123, Type: scsi.PRTypeExclusiveAccessAllRegistrants})
	printReservation(&b, &scsi.PRReservation{Generation: 3, Reserved: true, Key: 1, Scope: 2, Type: 2})
	printCapabilities(&b, &scsi.PRCapabilities{CRH: true, TMV: true, AllowCommands: 3, TypeMask: 0x8001})
	want := `  PR generation=0x1f, 2 registered reservation keys follow:
    0xabc
    0x8000000000000000
  PR generation=0x2, Reservation follows:
  PR generation=0x3, Reservation follows:
    Key=0x123
    scope: LU_SCOPE,  type: Exclusive Access, All Registrants
  PR generation=0x3, Reservation follows:
    Key=0x1
    scope: 2,  type: (null)
Report capabilities response:
  Compatible Reservation Handling(CRH): 0x1
  Specify Initiator Ports Capable(SIP_C): 0x0
  All Target Ports Capable(ATP_C): 0x0
  Persist Through Power Loss Capable(PTPL_C): 0x0
  Type Mask Valid(TMV): 0x1
  Allow Commands: 0x3
  Persist Through Power Loss Active(PTPL_A): 0x0
    Support indicated in Type mask:
      Exclusive Access, All Registrants
      Write Exclusive, All Registrants
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printFullStatus(&b, &scsi.PRFullStatus{Generation: 4, Descriptors: []scsi.PRStatusDescriptor{{Key: 5, Holder: true, Type: 1, RelativeTargetPortID: 1}}})
	if !strings.Contains(b.String(), "1 registrations follow:\n    Key=0x5\n      Relative target port: 0x1\n") || !strings.Contains(b.String(), "Reservation holder, scope: LU_SCOPE,  type: Write Exclusive\n") {
		t.Errorf("full status:\n%s", b.String())
	}
}

// TestRunErrors: usage errors before any connection, and a target that
// does not do persistent reservations (the in-process one) as one line.
func TestRunErrors(t *testing.T) {
	tgt := faketarget.Start(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 64}}})
	url := tgt.LUNURL(1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "iqn.x:a", url}, "one Persistent Reservation operation"},
		{[]string{"-i", "iqn.x:a", "-k", "-r", url}, "one Persistent Reservation operation"},
		{[]string{"-k", url}, "You must specify initiator"},
		{[]string{"-i", "iqn.x:a", "-G", "-S", "zz", url}, "--param-sark"},
		{[]string{"-i", "iqn.x:a", "-R", "-T", "16", url}, "--prout-type"},
		{[]string{"-i", "iqn.x:a", "-k"}, "You must specify the URL"},
		{[]string{"-i", "iqn.x:a", "-k", url}, "PERSISTENT RESERVE IN (READ KEYS) on LUN 1"},
		{[]string{"-i", "iqn.x:a", "-R", "-S", "1", "-T", "1", url}, "PR OUT command [register] failed"},
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, c.args, &stdout, &stderr)
		cancel()
		if code != 10 || stdout.Len() != 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 10 and %q", c.args, code, stdout.String(), stderr.String(), c.want)
		}
	}
}
