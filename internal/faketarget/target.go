package faketarget

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

// Errors returned by Serve.
var (
	// ErrClosedByHook: a hook returned Close.
	ErrClosedByHook = errors.New("faketarget: connection closed by a hook")
	// ErrLoginFailed: the target refused the login (the status was sent).
	ErrLoginFailed = errors.New("faketarget: login refused")
	// ErrProtocol: the initiator broke the protocol so badly that the
	// target cannot go on (the violation is recorded too).
	ErrProtocol = errors.New("faketarget: initiator protocol error")
)

// DefaultName is the target name used when Config.Name is empty.
const DefaultName = "iqn.2024-01.test.faketarget:target"

// Target is an in-process iSCSI target. One Target serves any number of
// connections at once; its LUNs are shared by all of them.
type Target struct {
	cfg  Config
	luns []*lun

	tsih atomic.Uint32

	vmu        sync.Mutex
	violations []string

	// Set by Start.
	addr string
}

type lun struct {
	LUN
	mu       sync.RWMutex // guards data between connections
	wireLUN  uint64
	blockLen uint64
	// mapped says which blocks were written since the last BLOCK ERASE
	// (Config.Sanitize only; nil otherwise); erasures counts CRYPTO
	// ERASEs. Both under mu.
	mapped   []bool
	erasures int
	// swp is software write protect (Config.Sanitize: MODE SELECT).
	swp atomic.Bool
}

// New checks cfg and returns a Target.
func New(cfg Config) (*Target, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.TargetPortalGroupTag == 0 {
		cfg.TargetPortalGroupTag = 1
	}
	if cfg.MaxRecvDataSegmentLength == 0 {
		cfg.MaxRecvDataSegmentLength = 8192
	}
	if cfg.FirstBurstLength == 0 {
		cfg.FirstBurstLength = 65536
	}
	if cfg.MaxBurstLength == 0 {
		cfg.MaxBurstLength = 262144
	}
	if cfg.MaxOutstandingR2T == 0 {
		cfg.MaxOutstandingR2T = 1
	}
	if cfg.QueueDepth == 0 {
		cfg.QueueDepth = 32
	}
	if cfg.HeaderDigest == "" {
		cfg.HeaderDigest = "None,CRC32C"
	}
	if cfg.DataDigest == "" {
		cfg.DataDigest = "None,CRC32C"
	}
	for _, k := range []struct{ name, v string }{{keys.KeyHeaderDigest, cfg.HeaderDigest}, {keys.KeyDataDigest, cfg.DataDigest}} {
		r, _ := keys.Lookup(k.name)
		if err := r.Validate(k.v); err != nil {
			return nil, fmt.Errorf("faketarget: %s: %w", k.name, err)
		}
	}
	if cfg.CHAP != nil {
		if err := cfg.CHAP.Validate(); err != nil {
			return nil, err
		}
	}
	t := &Target{cfg: cfg}
	seen := map[uint32]bool{}
	for _, l := range cfg.LUNs {
		if l.BlockSize == 0 {
			l.BlockSize = 512
		}
		if l.BlockSize < 512 || l.BlockSize > 65536 || l.BlockSize&(l.BlockSize-1) != 0 {
			return nil, fmt.Errorf("faketarget: LUN %d: block size %d, want a power of two from 512 to 65536", l.Number, l.BlockSize)
		}
		if seen[l.Number] {
			return nil, fmt.Errorf("faketarget: LUN %d configured twice", l.Number)
		}
		seen[l.Number] = true
		if l.Number >= 16384 {
			return nil, fmt.Errorf("faketarget: LUN %d out of range", l.Number)
		}
		size := uint64(l.BlockSize) * l.Blocks
		switch {
		case l.Null:
			l.Data = nil
		case l.Data == nil:
			l.Data = make([]byte, size)
		case uint64(len(l.Data)) != size:
			return nil, fmt.Errorf("faketarget: LUN %d: Data is %d bytes, want %d", l.Number, len(l.Data), size)
		}
		x := &lun{LUN: l, wireLUN: wireLUN(l.Number), blockLen: uint64(l.BlockSize)}
		if cfg.Sanitize && !l.Null {
			x.mapped = make([]bool, l.Blocks)
		}
		t.luns = append(t.luns, x)
	}
	return t, nil
}

// wireLUN encodes a LUN number as the 8-byte LUN field (SAM single level).
func wireLUN(n uint32) uint64 {
	if n < 256 {
		return uint64(n) << 48
	}
	return (0x4000 | uint64(n)) << 48
}

func (t *Target) findLUN(wire uint64) *lun {
	for _, l := range t.luns {
		if l.wireLUN == wire {
			return l
		}
	}
	return nil
}

// Name returns the target's IQN.
func (t *Target) Name() string { return t.cfg.Name }

// Addr returns the address Start listens on ("127.0.0.1:port"), or "" for a
// Target made with New.
func (t *Target) Addr() string { return t.addr }

// LUNURL returns the iSCSI URL of LUN lun of a Target made with Start:
// "iscsi://127.0.0.1:port/<name>/<lun>" (as iscsitest.Server.LUNURL).
func (t *Target) LUNURL(lun uint32) string {
	return "iscsi://" + t.addr + "/" + t.cfg.Name + "/" + strconv.FormatUint(uint64(lun), 10)
}

// LUNData returns a copy of the content of a RAM LUN, for tests to check
// what a WRITE stored; nil for a null or unknown LUN. (Preload data with
// LUN.Data.)
func (t *Target) LUNData(number uint32) []byte {
	for _, l := range t.luns {
		if l.Number == number && !l.Null {
			l.mu.RLock()
			defer l.mu.RUnlock()
			return append([]byte(nil), l.Data...)
		}
	}
	return nil
}

// Violations returns the protocol violations recorded so far, oldest first.
func (t *Target) Violations() []string {
	t.vmu.Lock()
	defer t.vmu.Unlock()
	return append([]string(nil), t.violations...)
}

func (t *Target) violate(format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	t.vmu.Lock()
	t.violations = append(t.violations, v)
	t.vmu.Unlock()
	if t.cfg.OnViolation != nil {
		t.cfg.OnViolation(v)
	}
}

// Start makes a Target from cfg, listens on 127.0.0.1:0 and serves every
// connection in its own goroutine until the test ends: tb.Cleanup closes the
// listener and every connection and waits for all goroutines.
func Start(tb testing.TB, cfg Config) *Target {
	tb.Helper()
	return StartOn(tb, cfg, "127.0.0.1:0")
}

// StartIPv6 is Start on [::1]:0. It skips the test when IPv6 loopback is
// not available.
func StartIPv6(tb testing.TB, cfg Config) *Target {
	tb.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		tb.Skipf("no IPv6 loopback: %v", err)
	}
	return serveListener(tb, cfg, ln)
}

// StartOn is Start on the given address.
func StartOn(tb testing.TB, cfg Config, address string) *Target {
	tb.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		tb.Fatalf("faketarget: listen: %v", err)
	}
	return serveListener(tb, cfg, ln)
}

func serveListener(tb testing.TB, cfg Config, ln net.Listener) *Target {
	tb.Helper()
	t, err := New(cfg)
	if err != nil {
		ln.Close()
		tb.Fatalf("faketarget: %v", err)
	}
	t.addr = ln.Addr().String()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		done  bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if done {
				mu.Unlock()
				nc.Close()
				return
			}
			conns[nc] = struct{}{}
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				_ = t.Serve(nc)
				mu.Lock()
				delete(conns, nc)
				mu.Unlock()
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		done = true
		for nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return t
}

// Pipe makes a Target from cfg and serves one end of a net.Pipe; it returns
// the other end for the initiator. tb.Cleanup closes both and waits.
func Pipe(tb testing.TB, cfg Config) (*Target, net.Conn) {
	tb.Helper()
	t, err := New(cfg)
	if err != nil {
		tb.Fatalf("faketarget: %v", err)
	}
	ini, tgt := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = t.Serve(tgt)
	}()
	tb.Cleanup(func() {
		ini.Close()
		tgt.Close()
		<-done
	})
	return t, ini
}
