package tgtd

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/iscsi-go/iscsi/auth"
)

// NullLUNSize is the size tgtd reports for a LUN with --bstype null: 1 TiB.
const NullLUNSize = 1 << 40

// Tgtadm runs "tgtadm -C N --lld iscsi args..." against this instance under
// a 10 s timeout and returns its combined output. It does not fail the test:
// use it when an error is the expected outcome. A command that succeeded and
// changed the configuration is recorded for Restart to replay.
func (i *Instance) Tgtadm(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := i.p.run(ctx, args...)
	if err == nil && changesConfig(args) {
		i.p.mu.Lock()
		i.p.journal = append(i.p.journal, append([]string(nil), args...))
		i.p.mu.Unlock()
	}
	return out, err
}

// changesConfig reports whether tgtadm args change the configuration that
// Restart must replay: --op new, delete, bind, unbind or update of anything
// but the system (deleting the system stops tgtd).
func changesConfig(args []string) bool {
	var op, mode string
	for k := 0; k+1 < len(args); k++ {
		switch args[k] {
		case "--op", "-o":
			op = args[k+1]
		case "--mode", "-m":
			mode = args[k+1]
		}
	}
	switch op {
	case "new", "delete", "bind", "unbind", "update":
		return mode != "system"
	}
	return false
}

// Admin runs tgtadm like Tgtadm and fails the test with tgtadm's output on
// error.
func (i *Instance) Admin(args ...string) string {
	i.tb.Helper()
	out, err := i.Tgtadm(args...)
	if err != nil {
		i.tb.Fatalf("tgtd %s: %v", i.Addr(), err)
	}
	return out
}

// NewTarget creates target tid (> 0) named iqn. A new target refuses every
// initiator until BindInitiatorAddress or BindInitiatorName allows some.
func (i *Instance) NewTarget(tid int, iqn string) {
	i.tb.Helper()
	i.Admin("--op", "new", "--mode", "target", "--tid", strconv.Itoa(tid), "--targetname", iqn)
}

// DeleteTarget deletes target tid even when initiators are logged in.
func (i *Instance) DeleteTarget(tid int) {
	i.tb.Helper()
	i.Admin("--op", "delete", "--mode", "target", "--tid", strconv.Itoa(tid), "--force")
}

// A LUNOption configures AddLUN.
type LUNOption func(*lunConfig)

type lunConfig struct {
	blockSize int
	null      bool
	readOnly  bool
	removable bool
}

// BlockSize sets the LUN's logical block size (e.g. 4096; tgtd's default is
// 512).
func BlockSize(n int) LUNOption { return func(c *lunConfig) { c.blockSize = n } }

// Null makes a LUN with --bstype null: it reports 1 TiB (NullLUNSize), stores
// nothing and reads back zeros; the backing path is only a name.
func Null() LUNOption { return func(c *lunConfig) { c.null = true } }

// ReadOnly makes the LUN read-only (--params readonly=1).
func ReadOnly() LUNOption { return func(c *lunConfig) { c.readOnly = true } }

// Removable makes the LUN's medium removable (--params removable=1): INQUIRY
// sets RMB, and START STOP UNIT with LOEJ ejects and loads it.
func Removable() LUNOption { return func(c *lunConfig) { c.removable = true } }

// AddLUN adds LUN lun (>= 1; LUN 0 is tgtd's controller) to target tid,
// backed by the file backing (see NewBackingFile). With Null, backing may be
// empty.
func (i *Instance) AddLUN(tid, lun int, backing string, opts ...LUNOption) {
	i.tb.Helper()
	var c lunConfig
	for _, o := range opts {
		o(&c)
	}
	if c.null && backing == "" {
		backing = fmt.Sprintf("/null-t%d-l%d", tid, lun)
	}
	if backing == "" {
		i.tb.Fatalf("tgtd: AddLUN(%d, %d): empty backing path (use NewBackingFile or Null)", tid, lun)
	}
	args := []string{"--op", "new", "--mode", "logicalunit", "--tid", strconv.Itoa(tid),
		"--lun", strconv.Itoa(lun), "--backing-store", backing}
	if c.null {
		args = append(args, "--bstype", "null")
	}
	if c.blockSize != 0 {
		args = append(args, "--blocksize", strconv.Itoa(c.blockSize))
	}
	i.Admin(args...)
	var params []string
	if c.readOnly {
		params = append(params, "readonly=1")
	}
	if c.removable {
		params = append(params, "removable=1")
	}
	if len(params) > 0 {
		i.Admin("--op", "update", "--mode", "logicalunit", "--tid", strconv.Itoa(tid),
			"--lun", strconv.Itoa(lun), "--params", strings.Join(params, ","))
	}
}

// NewBackingFile creates a sparse file of size bytes (reading as zeros) in
// the instance's directory and returns its path.
func (i *Instance) NewBackingFile(size int64) string {
	i.tb.Helper()
	f, err := os.CreateTemp(i.p.dir, "lun-*.img")
	if err != nil {
		i.tb.Fatalf("tgtd: creating backing file: %v", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		i.tb.Fatalf("tgtd: sizing backing file %s to %d: %v", f.Name(), size, err)
	}
	return f.Name()
}

// NewRandomBackingFile creates a file of size random bytes in the instance's
// directory and returns its path; read it back to verify data.
func (i *Instance) NewRandomBackingFile(size int64) string {
	i.tb.Helper()
	f, err := os.CreateTemp(i.p.dir, "lun-*.img")
	if err != nil {
		i.tb.Fatalf("tgtd: creating backing file: %v", err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		i.tb.Fatalf("tgtd: filling backing file %s: %v", f.Name(), err)
	}
	return f.Name()
}

// ReadBacking returns the n bytes at off of a backing file, to check what
// the target stored; it fails tb when they cannot be read.
func ReadBacking(tb testing.TB, path string, off int64, n int) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		tb.Fatalf("tgtd: reading backing file %s: %v", path, err)
	}
	return b
}

// BindInitiatorAddress allows initiators from addr to log in to target tid:
// "ALL", an IP address, or a CIDR such as "127.0.0.0/8". tgtd refuses every
// initiator of a target with no binding at all (it then also hides the
// target from SendTargets).
func (i *Instance) BindInitiatorAddress(tid int, addr string) {
	i.tb.Helper()
	i.Admin("--op", "bind", "--mode", "target", "--tid", strconv.Itoa(tid), "--initiator-address", addr)
}

// UnbindInitiatorAddress removes a binding made by BindInitiatorAddress.
func (i *Instance) UnbindInitiatorAddress(tid int, addr string) {
	i.tb.Helper()
	i.Admin("--op", "unbind", "--mode", "target", "--tid", strconv.Itoa(tid), "--initiator-address", addr)
}

// BindInitiatorName allows the initiator named iqn to log in to target tid.
func (i *Instance) BindInitiatorName(tid int, iqn string) {
	i.tb.Helper()
	i.Admin("--op", "bind", "--mode", "target", "--tid", strconv.Itoa(tid), "--initiator-name", iqn)
}

// NewAccount creates a CHAP account. tgtadm receives the password on its
// command line (visible in ps): use test secrets only. Errors never show it.
func (i *Instance) NewAccount(user string, password auth.Secret) {
	i.tb.Helper()
	i.Admin("--op", "new", "--mode", "account", "--user", user, "--password", password.Reveal())
}

// BindAccount requires initiators logging in to target tid to authenticate
// as user with CHAP.
func (i *Instance) BindAccount(tid int, user string) {
	i.tb.Helper()
	i.Admin("--op", "bind", "--mode", "account", "--tid", strconv.Itoa(tid), "--user", user)
}

// BindOutgoingAccount makes target tid answer mutual CHAP as user. tgtd does
// not require the initiator to ask for it.
func (i *Instance) BindOutgoingAccount(tid int, user string) {
	i.tb.Helper()
	i.Admin("--op", "bind", "--mode", "account", "--tid", strconv.Itoa(tid), "--user", user, "--outgoing")
}

// BindDiscoveryAccount requires CHAP as user for discovery sessions
// (SendTargets) on the whole instance.
func (i *Instance) BindDiscoveryAccount(user string) {
	i.tb.Helper()
	i.Admin("--op", "bind", "--mode", "account", "--user", user)
}

// BindDiscoveryOutgoingAccount makes discovery sessions answer mutual CHAP
// as user. An initiator that asks for mutual CHAP in discovery (iscsi-ls with
// LIBISCSI_CHAP_TARGET_USERNAME set) fails without it.
func (i *Instance) BindDiscoveryOutgoingAccount(user string) {
	i.tb.Helper()
	i.Admin("--op", "bind", "--mode", "account", "--user", user, "--outgoing")
}

// SetParam sets a negotiation key of target tid, e.g. MaxRecvDataSegmentLength,
// FirstBurstLength, MaxBurstLength, ImmediateData, InitialR2T, HeaderDigest,
// DataDigest. Unknown keys fail the test.
func (i *Instance) SetParam(tid int, key, value string) {
	i.tb.Helper()
	i.Admin("--op", "update", "--mode", "target", "--tid", strconv.Itoa(tid), "--name", key, "--value", value)
}

// Show returns "tgtadm --op show --mode target": every target with its LUNs,
// accounts, ACLs and connected initiators.
func (i *Instance) Show() string {
	i.tb.Helper()
	return i.Admin("--op", "show", "--mode", "target")
}

// ShowParams returns "tgtadm --op show --mode target --tid tid": the target's
// negotiation keys as KEY=VALUE lines.
func (i *Instance) ShowParams(tid int) string {
	i.tb.Helper()
	return i.Admin("--op", "show", "--mode", "target", "--tid", strconv.Itoa(tid))
}

// TargetSpec describes a target for Apply.
type TargetSpec struct {
	TID int    // > 0
	IQN string // target name
	// Initiators are bound with BindInitiatorAddress; nil means "ALL".
	Initiators []string
	LUNs       []LUNSpec // numbered from 1
}

// LUNSpec describes a LUN for Apply.
type LUNSpec struct {
	Size      int64 // bytes; ignored with Null
	Random    bool  // fill with random bytes instead of sparse zeros
	Null      bool  // --bstype null (1 TiB, stores nothing)
	BlockSize int   // 0 means tgtd's default, 512
	ReadOnly  bool
	Removable bool
}

// Target is a target made by Apply.
type Target struct {
	TID  int
	IQN  string
	LUNs []LUN
}

// LUN is a LUN made by Apply.
type LUN struct {
	Number int
	Path   string // backing file; "" for Null LUNs
	Size   int64
}

// Apply creates the targets and LUNs described by specs and returns where
// each LUN lives.
func (i *Instance) Apply(specs ...TargetSpec) []Target {
	i.tb.Helper()
	out := make([]Target, 0, len(specs))
	for _, s := range specs {
		i.NewTarget(s.TID, s.IQN)
		t := Target{TID: s.TID, IQN: s.IQN}
		for k, l := range s.LUNs {
			num := k + 1
			var opts []LUNOption
			lun := LUN{Number: num, Size: l.Size}
			switch {
			case l.Null:
				opts = append(opts, Null())
				lun.Size = NullLUNSize
			case l.Random:
				lun.Path = i.NewRandomBackingFile(l.Size)
			default:
				lun.Path = i.NewBackingFile(l.Size)
			}
			if l.BlockSize != 0 {
				opts = append(opts, BlockSize(l.BlockSize))
			}
			if l.ReadOnly {
				opts = append(opts, ReadOnly())
			}
			if l.Removable {
				opts = append(opts, Removable())
			}
			i.AddLUN(s.TID, num, lun.Path, opts...)
			t.LUNs = append(t.LUNs, lun)
		}
		inits := s.Initiators
		if inits == nil {
			inits = []string{"ALL"}
		}
		for _, a := range inits {
			i.BindInitiatorAddress(s.TID, a)
		}
		out = append(out, t)
	}
	return out
}

// IQN returns the name StartWithTargets gives target n (1-based).
func IQN(n int) string { return fmt.Sprintf("iqn.2024-01.io.github.iscsi-go:target%d", n) }

// StartWithTargets starts an instance with targets 1..targets named IQN(n),
// each with lunsPerTarget sparse file-backed LUNs of lunSize bytes (LUNs
// 1..lunsPerTarget) and open to every initiator.
func StartWithTargets(tb testing.TB, targets, lunsPerTarget int, lunSize int64, opts ...Option) (*Instance, []Target) {
	tb.Helper()
	inst := Start(tb, opts...)
	specs := make([]TargetSpec, targets)
	for n := range specs {
		specs[n] = TargetSpec{TID: n + 1, IQN: IQN(n + 1), LUNs: make([]LUNSpec, lunsPerTarget)}
		for l := range specs[n].LUNs {
			specs[n].LUNs[l] = LUNSpec{Size: lunSize}
		}
	}
	return inst, inst.Apply(specs...)
}

// AddPortal makes tgtd listen on one more portal, a free port of the
// instance's host, and returns it as host:port. Every portal of a tgtd is
// in one target portal group and serves every target: a LUN reached
// through either is the same device (what multipath tests need). Restart
// replays it with the rest of the configuration.
func (i *Instance) AddPortal() string {
	i.tb.Helper()
	var last error
	for range 8 {
		port, err := freePort(i.p.host)
		if err != nil {
			last = err
			continue
		}
		addr := net.JoinHostPort(i.p.host, strconv.Itoa(port))
		if _, err := i.Tgtadm("--op", "new", "--mode", "portal", "--param", "portal="+addr); err != nil {
			last = err
			continue
		}
		return addr
	}
	i.tb.Fatalf("tgtd %s: no new portal: %v", i.Addr(), last)
	return ""
}
