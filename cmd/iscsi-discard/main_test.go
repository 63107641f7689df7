package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunErrors: the in-process target has no UNMAP (a MAXIMUM UNMAP LBA
// COUNT of 0); bad ranges are refused before any UNMAP is sent.
func TestRunErrors(t *testing.T) {
	tgt := faketarget.Start(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, BlockSize: 4096, Blocks: 64}}})
	url := tgt.LUNURL(1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{url}, "UNMAP on LUN 1: operation not supported"},
		{[]string{"-o", "512", url}, "offset 512 is not a multiple of the block size (4096)"},
		{[]string{"-l", "6000", url}, "length 6000 is not a multiple"},
		{[]string{"-o", "0x100000", url}, "past the end"},
		{[]string{"-o", "x", url}, "invalid --offset"},
		{[]string{"-l", "-1", url}, "invalid --length"},
		{[]string{strings.TrimSuffix(url, "/1") + "/3"}, "LUN 3"},
		{nil, "You must specify the URL"},
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

// limitsTarget answers VPD 0xb0 with the UNMAP limits given and records
// the descriptors of every UNMAP (answered GOOD).
type limitsTarget struct {
	maxLBA, maxDesc uint32
	maxWS           uint64
	mu              sync.Mutex
	unmaps          [][]scsi.UnmapDescriptor
	writeSames      [][2]uint64 // lba, blocks
}

func (lt *limitsTarget) hook(c *faketarget.Command) faketarget.Verdict {
	switch scsi.OpCode(c.CDB[0]) {
	case scsi.OpInquiry:
		if c.CDB[1]&1 == 0 || c.CDB[2] != scsi.VPDBlockLimits {
			return faketarget.Proceed
		}
		page := make([]byte, 64)
		page[1], page[3] = scsi.VPDBlockLimits, 0x3c
		binary.BigEndian.PutUint32(page[20:], lt.maxLBA)
		binary.BigEndian.PutUint32(page[24:], lt.maxDesc)
		binary.BigEndian.PutUint64(page[36:], lt.maxWS)
		alloc := int(binary.BigEndian.Uint16(c.CDB[3:5]))
		d := page[:min(alloc, len(page))]
		rsp := &pdu.DataIn{Final: true, HasStatus: true, ITT: c.ITT(), DataSegmentLength: uint32(len(d))}
		c.Done()
		if err := c.Peer.Reply(rsp, d); err != nil {
			return faketarget.Close
		}
		return faketarget.Handled
	case scsi.OpUnmap:
		ds, err := scsi.ParseUnmapParameters(c.ImmediateData)
		if err != nil {
			c.Respond(scsi.StatusCheckCondition, faketarget.FixedSense(scsi.SenseIllegalRequest, scsi.ASCInvalidFieldInCDB))
			return faketarget.Handled
		}
		lt.mu.Lock()
		lt.unmaps = append(lt.unmaps, ds)
		lt.mu.Unlock()
	case scsi.OpWriteSame16:
		lt.mu.Lock()
		lt.writeSames = append(lt.writeSames, [2]uint64{binary.BigEndian.Uint64(c.CDB[2:]), uint64(binary.BigEndian.Uint32(c.CDB[10:]))})
		lt.mu.Unlock()
	default:
		return faketarget.Proceed
	}
	if err := c.Respond(scsi.StatusGood, nil); err != nil {
		return faketarget.Close
	}
	return faketarget.Handled
}

// TestLimits: UNMAP and WRITE SAME stay within the Block Limits and cover
// exactly the range asked for.
func TestLimits(t *testing.T) {
	for _, c := range []struct {
		maxLBA, maxDesc uint32
		maxWS           uint64
		args            []string
		from, to        uint64 // blocks expected
		zero            bool
	}{
		{maxLBA: 100, maxDesc: 2, args: []string{"-o", "512", "-l", "512000"}, from: 1, to: 1001},
		{maxLBA: 0xffffffff, maxDesc: 1, args: nil, from: 0, to: 4096},
		{maxLBA: 7, maxDesc: 64, args: []string{"-o", "1024", "-l", "0x4000"}, from: 2, to: 34},
		{maxLBA: 0, maxDesc: 0, maxWS: 300, args: []string{"-z", "-o", "0", "-l", "1048576"}, from: 0, to: 2048, zero: true},
		{maxLBA: 0, maxDesc: 0, maxWS: 0, args: []string{"-z", "-o", "4096"}, from: 8, to: 4096, zero: true},
	} {
		lt := &limitsTarget{maxLBA: c.maxLBA, maxDesc: c.maxDesc, maxWS: c.maxWS}
		tgt := faketarget.Start(t, faketarget.Config{
			LUNs:  []faketarget.LUN{{Number: 1, Blocks: 4096, Null: true}},
			Hooks: faketarget.Hooks{Command: lt.hook},
		})
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, append(c.args, tgt.LUNURL(1)), &stdout, &stderr)
		cancel()
		if code != 0 {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr.String())
			continue
		}
		lt.mu.Lock()
		next := c.from
		if c.zero {
			for _, ws := range lt.writeSames {
				if ws[0] != next || c.maxWS > 0 && ws[1] > c.maxWS {
					t.Errorf("%v: WRITE SAME of %d blocks at %d, expected LBA %d, at most %d", c.args, ws[1], ws[0], next, c.maxWS)
				}
				next = ws[0] + ws[1]
			}
		} else {
			for _, ds := range lt.unmaps {
				var sum uint64
				for _, d := range ds {
					if d.LBA != next {
						t.Errorf("%v: UNMAP descriptor at %d, expected %d", c.args, d.LBA, next)
					}
					next = d.LBA + uint64(d.Blocks)
					sum += uint64(d.Blocks)
				}
				if len(ds) > int(c.maxDesc) || c.maxLBA != 0xffffffff && sum > uint64(c.maxLBA) {
					t.Errorf("%v: UNMAP with %d descriptors and %d blocks; limits %d and %d", c.args, len(ds), sum, c.maxDesc, c.maxLBA)
				}
			}
		}
		if next != c.to {
			t.Errorf("%v: covered up to block %d, want %d", c.args, next, c.to)
		}
		lt.mu.Unlock()
	}
}
