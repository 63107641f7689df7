package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/internal/faketarget"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	data := make([]byte, 5<<20+4096)
	rand.Read(data)
	tgt := faketarget.Start(t, faketarget.Config{
		LUNs: []faketarget.LUN{{Number: 1, BlockSize: 4096, Blocks: uint64(len(data) / 4096), Data: data}},
	})
	url := tgt.LUNURL(1)
	for _, c := range []struct {
		args []string
		want []byte
	}{
		{nil, data},
		{[]string{"-m", "1"}, data},
		{[]string{"-o", "100", "-l", "3000000", "-m", "3"}, data[100 : 100+3000000]},
		{[]string{"--offset=0x100000", "--length", "999999999"}, data[1<<20:]},
		{[]string{"-o", fmt.Sprint(len(data))}, nil},
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, append(c.args, url), &stdout, &stderr)
		cancel()
		sum := md5.Sum(c.want)
		if want := hex.EncodeToString(sum[:]) + "  " + url + "\n"; code != 0 || stdout.String() != want {
			t.Errorf("%v: exit %d, %q, want %q (stderr %s)", c.args, code, stdout.String(), want, stderr.String())
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "99999999", url}, "past the end"},
		{[]string{"-o", "-5", url}, "invalid --offset"},
		{[]string{"-m", "0", url}, "invalid --max"},
		{[]string{strings.TrimSuffix(url, "/1") + "/7"}, "LUN 7"},
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
