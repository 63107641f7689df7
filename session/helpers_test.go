package session_test

// Helpers shared by the tests of this package.

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

const tgtName = "iqn.2026-11.test:fake"

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func disk(blocks uint64) []faketarget.LUN {
	return []faketarget.LUN{{Number: 1, Blocks: blocks}}
}

func url(tg *faketarget.Target, userinfo string) string {
	if userinfo != "" {
		userinfo += "@"
	}
	return "iscsi://" + userinfo + tg.Addr() + "/" + tg.Name() + "/1"
}

func noViolations(t *testing.T, tg *faketarget.Target) {
	t.Helper()
	if v := tg.Violations(); len(v) > 0 {
		t.Fatalf("the target saw protocol violations:\n%s", strings.Join(v, "\n"))
	}
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func dial(t *testing.T, cfg faketarget.Config, scfg *session.Config) (*faketarget.Target, *session.Session) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = tgtName
	}
	if cfg.LUNs == nil {
		cfg.LUNs = disk(4096)
	}
	if cfg.OnViolation == nil {
		cfg.OnViolation = func(v string) { t.Errorf("target saw a violation: %s", v) }
	}
	tg := faketarget.Start(t, cfg)
	s, err := session.Dial(ctxT(t), url(tg, ""), scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return tg, s
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*31) + byte(i>>9)
	}
	return b
}

// withheld holds READ commands a hook kept from the normal flow.
type withheld struct {
	got chan *faketarget.Command
}

func newWithheld() *withheld { return &withheld{got: make(chan *faketarget.Command, 16)} }

func (w *withheld) hook(lba byte) func(c *faketarget.Command) faketarget.Verdict {
	return func(c *faketarget.Command) faketarget.Verdict {
		if c.CDB[0] == byte(scsi.OpRead16) || c.CDB[0] == byte(scsi.OpRead10) {
			if c.CDB[len(c.CDB)-7] == lba || c.CDB[5] == lba {
				cc := *c
				cc.CDB = append([]byte(nil), c.CDB...)
				w.got <- &cc
				return faketarget.Handled
			}
		}
		return faketarget.Proceed
	}
}

type pipeDialer struct{ c net.Conn }

func (d pipeDialer) DialContext(context.Context, string, string) (net.Conn, error) { return d.c, nil }

// fixedSense returns fixed-format sense data with key and ASC/ASCQ.
func fixedSense(key scsi.SenseKey, asc scsi.ASC) []byte {
	b := make([]byte, 18)
	b[0], b[2], b[7] = 0x70, byte(key), 10
	b[12], b[13] = byte(asc>>8), byte(asc)
	return b
}

// dialPipe is dial over a net.Pipe, for tests that run in a synctest
// bubble (no sockets: every wait is on the bubble's channels and timers).
func dialPipe(t *testing.T, cfg faketarget.Config, scfg *session.Config) (*faketarget.Target, *session.Session) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = tgtName
	}
	if cfg.LUNs == nil {
		cfg.LUNs = disk(4096)
	}
	if cfg.OnViolation == nil {
		cfg.OnViolation = func(v string) { t.Errorf("target saw a violation: %s", v) }
	}
	tg, nc := faketarget.Pipe(t, cfg)
	var c session.Config
	if scfg != nil {
		c = *scfg
	}
	c.Dialer = pipeDialer{nc}
	s, err := session.Dial(context.Background(), "iscsi://pipe/"+cfg.Name+"/1", &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return tg, s
}
