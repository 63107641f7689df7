package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// group is what report encodes of a target port group descriptor.
type group struct {
	Byte0, Flags uint8
	ID           uint16
	StatusCode   uint8
	Ports        []uint16
}

// report builds length-only RTPG data: per group byte 0, flags, ID,
// status code and ports.
func report(groups ...group) []byte {
	b := make([]byte, 4)
	for _, g := range groups {
		b = append(b, g.Byte0, g.Flags, byte(g.ID>>8), byte(g.ID), 0, g.StatusCode, 0, byte(len(g.Ports)))
		for _, p := range g.Ports {
			b = append(b, 0, 0, byte(p>>8), byte(p))
		}
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// answerRTPG answers REPORT TARGET PORT GROUPS with data (cut to the
// allocation length) and counts the commands.
func answerRTPG(data []byte, n *atomic.Int32) func(c *faketarget.Command) faketarget.Verdict {
	return func(c *faketarget.Command) faketarget.Verdict {
		if scsi.OpCode(c.CDB[0]) != scsi.OpMaintenanceIn || c.CDB[1]&0x1f != scsi.ServiceActionReportTargetPortGroups {
			return faketarget.Proceed
		}
		n.Add(1)
		alloc := int(binary.BigEndian.Uint32(c.CDB[6:10]))
		d := data[:min(alloc, len(data))]
		rsp := &pdu.DataIn{Final: true, HasStatus: true, ITT: c.ITT(), DataSegmentLength: uint32(len(d))}
		if r := int(c.Req.ExpectedDataTransferLength) - len(d); r > 0 {
			rsp.Underflow, rsp.ResidualCount = true, uint32(r)
		}
		c.Done()
		if err := c.Peer.Reply(rsp, d); err != nil {
			return faketarget.Close
		}
		return faketarget.Handled
	}
}

func runTool(t *testing.T, hook func(c *faketarget.Command) faketarget.Verdict, lun int) (int, string, string) {
	t.Helper()
	tgt := faketarget.Start(t, faketarget.Config{
		LUNs:  []faketarget.LUN{{Number: 1, Blocks: 2048}},
		Hooks: faketarget.Hooks{Command: hook},
	})
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, []string{tgt.LUNURL(uint32(lun))}, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRun(t *testing.T) {
	var n atomic.Int32
	data := report(
		group{Byte0: 0x80, Flags: 0x8f, ID: 1, Ports: []uint16{1, 2}},
		group{Byte0: 0x01, Flags: 0x0f, ID: 2, StatusCode: 1, Ports: []uint16{0x100}},
		group{Byte0: 0x0e, ID: 3},
	)
	code, out, errOut := runTool(t, answerRTPG(data, &n), 1)
	want := "RTPG retrieved 3 groups\n" +
		"Group 0x0001: preferred 1, format 0x00, ALUA state ACTIVE-OPTIMIZED,flags 0x8f, status code 0x00, port count 2\n" +
		"Ports: [ 0x1 0x2]\n" +
		"Group 0x0002: preferred 0, format 0x00, ALUA state ACTIVE-NONOPTIMIZED,flags 0x0f, status code 0x01, port count 1\n" +
		"Ports: [ 0x100]\n" +
		"Group 0x0003: preferred 0, format 0x00, ALUA state OFFLINE,flags 0x00, status code 0x00, port count 0\n" +
		"Ports: []\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	if n.Load() != 1 {
		t.Errorf("%d RTPG commands, want 1", n.Load())
	}
}

// TestRunLongReport: a report longer than the first allocation (512) is
// asked for again in full.
func TestRunLongReport(t *testing.T) {
	ports := make([]uint16, 200)
	for i := range ports {
		ports[i] = uint16(i + 1)
	}
	var n atomic.Int32
	code, out, errOut := runTool(t, answerRTPG(report(group{ID: 7, Ports: ports}), &n), 1)
	if code != 0 || !strings.Contains(out, "port count 200\n") || !strings.HasSuffix(out, " 0xc7 0xc8]\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if n.Load() != 2 {
		t.Errorf("%d RTPG commands, want 2", n.Load())
	}
}

// TestRunNoALUA: a target without REPORT TARGET PORT GROUPS gets one
// clear line and exit 10; so does a LUN that does not exist.
func TestRunNoALUA(t *testing.T) {
	code, out, errOut := runTool(t, nil, 1)
	if code != 10 || out != "" || !strings.Contains(errOut, "does not report target port groups") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runTool(t, nil, 5)
	if code != 10 || !strings.Contains(errOut, "LUN 5") {
		t.Errorf("missing LUN: exit %d, stderr %q", code, errOut)
	}
}

// TestRunIscsitest: the port groups of iscsitest, through a port of each
// group, printed as libiscsi prints them.
func TestRunIscsitest(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 2),
		iscsitest.WithPortGroup(0x20, scsi.ALUAStandby, 1))
	defer srv.Close()
	srv.SetPortGroupState(1, scsi.ALUAActiveNonOptimized)
	want := "RTPG retrieved 2 groups\n" +
		"Group 0x0001: preferred 0, format 0x00, ALUA state ACTIVE-NONOPTIMIZED,flags 0x8f, status code 0x00, port count 2\n" +
		"Ports: [ 0x1 0x2]\n" +
		"Group 0x0020: preferred 0, format 0x00, ALUA state STANDBY,flags 0x8f, status code 0x00, port count 1\n" +
		"Ports: [ 0x3]\n"
	for _, p := range srv.Ports() {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, []string{p.URL(1)}, &stdout, &stderr)
		cancel()
		if code != 0 || stdout.String() != want || stderr.Len() != 0 {
			t.Errorf("through port %d: exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", p.ID, code, stdout.String(), want, stderr.String())
		}
	}
}
