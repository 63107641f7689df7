package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/internal/faketarget"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunErrors: the in-process target has no UNMAP (a MAXIMUM UNMAP LBA
// COUNT of 0); bad ranges are refused before any UNMAP is sent.
func TestRunErrors(t *testing.T) {
	tgt := faketarget.Start(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, BlockSize: 4096, Blocks: 64}}})
	url := fmt.Sprintf("iscsi://%s/%s/1", tgt.Addr(), tgt.Name())
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
