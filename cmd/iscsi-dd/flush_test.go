package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
)

// TestFlushAtEnd: a copy to a LUN sends SYNCHRONIZE CACHE after its last
// WRITE and before it reports success; --no-flush sends none; a flush the
// target fails fails the copy.
func TestFlushAtEnd(t *testing.T) {
	data := make([]byte, 1<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "src.img")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ops []scsi.OpCode
	var failSync bool
	tgt := faketarget.Start(t, faketarget.Config{
		LUNs: []faketarget.LUN{{Number: 1, BlockSize: 512, Blocks: uint64(len(data) / 512)}},
		Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
			op := scsi.OpCode(c.CDB[0])
			mu.Lock()
			defer mu.Unlock()
			switch op {
			case scsi.OpWrite10, scsi.OpWrite16, scsi.OpSynchronizeCache10, scsi.OpSynchronizeCache16:
				ops = append(ops, op)
			}
			if failSync && (op == scsi.OpSynchronizeCache10 || op == scsi.OpSynchronizeCache16) {
				sense := make([]byte, 18)
				sense[0], sense[2], sense[7], sense[12] = 0x70, byte(scsi.SenseMediumError), 10, 0x0c // WRITE ERROR
				c.Fail(scsi.StatusCheckCondition, sense)
			}
			return faketarget.Proceed
		}},
	})
	url := tgt.LUNURL(1)
	for _, c := range []struct {
		args    []string
		fail    bool
		code    int
		flushes int
	}{
		{nil, false, 0, 1},
		{[]string{"--no-flush"}, false, 0, 0},
		{nil, true, 10, 1},
	} {
		mu.Lock()
		ops, failSync = nil, c.fail
		mu.Unlock()
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, append(c.args, "--no-sparse", "-s", src, "-d", url), &stdout, &stderr, false)
		cancel()
		mu.Lock()
		got := append([]scsi.OpCode(nil), ops...)
		mu.Unlock()
		flushes, lastWrite, firstFlush := 0, -1, len(got)
		for i, op := range got {
			if op == scsi.OpSynchronizeCache10 || op == scsi.OpSynchronizeCache16 {
				flushes++
				firstFlush = min(firstFlush, i)
			} else {
				lastWrite = i
			}
		}
		if code != c.code || flushes != c.flushes || lastWrite < 0 || flushes > 0 && firstFlush < lastWrite {
			t.Errorf("%v (sync fails %v): exit %d, %d flushes (first at %d, last write at %d); want exit %d, %d flushes after the writes; stderr %q",
				c.args, c.fail, code, flushes, firstFlush, lastWrite, c.code, c.flushes, stderr.String())
		}
		if c.fail && !strings.Contains(stderr.String(), "SYNCHRONIZE CACHE") {
			t.Errorf("failed flush: stderr %q does not name SYNCHRONIZE CACHE", stderr.String())
		}
	}
}
