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

// TestCHAPPolicy: against a target without CHAP, one-way credentials log
// in (the target need not ask who we are), and mutual CHAP fails: the
// target cannot prove itself, and the tools never downgrade it.
func TestCHAPPolicy(t *testing.T) {
	tgt := faketarget.Start(t, faketarget.Config{LUNs: []faketarget.LUN{{Number: 1, Blocks: 64}}})
	base := fmt.Sprintf("%s/%s/1", tgt.Addr(), tgt.Name())
	for _, c := range []struct {
		url  string
		code int
		want string
	}{
		{"iscsi://ini%inisecret-123@" + base, 0, ""},
		{"iscsi://ini%inisecret-123@" + base + "?target_user=tgt&target_password=tgtsecret-456", 10, "mutual CHAP"},
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, []string{c.url}, &stdout, &stderr)
		cancel()
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.url, code, stderr.String(), c.code, c.want)
		}
		for _, secret := range []string{"inisecret-123", "tgtsecret-456"} {
			if strings.Contains(stdout.String()+stderr.String(), secret) {
				t.Errorf("%s: output shows a secret", c.url)
			}
		}
	}
}

// TestURLErrorHidesPassword: a password holding '@', '?' or '&' does not
// show in the tool's error, whatever the parser made of it.
func TestURLErrorHidesPassword(t *testing.T) {
	for _, url := range []string{
		"iscsi://alice%a@bSECRET@127.0.0.1/iqn.x/1",
		"iscsi://alice%pa?ssSECRET@127.0.0.1/iqn.x/1",
		"iscsi://alice%pw@127.0.0.1/iqn.x/1&target_password=SECRET",
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{url}, &stdout, &stderr)
		if code != 10 || strings.Contains(stdout.String()+stderr.String(), "SECRET") {
			t.Errorf("%s: exit %d, stderr %q; want 10 and no password", url, code, stderr.String())
		}
	}
}
