package iscsitest

import (
	"fmt"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/internal/faketarget"
)

// DefaultTargetName is the target's name unless WithTargetName says
// otherwise.
const DefaultTargetName = "iqn.2026-11.com.github.iscsi-go:iscsitest"

// DefaultLUNSize is the size of the LUN a Server gets when no option adds
// one: LUN 1, 16 MiB of 512-byte blocks.
const DefaultLUNSize = 16 << 20

// An Option configures a Server.
type Option func(*config)

type config struct {
	address    string
	name       string
	luns       []faketarget.LUN
	chap       *chap.TargetConfig
	hd, dd     Digest
	queueDepth uint32
	xcopy      bool
	sanitize   bool
	groups     []groupSpec
	explicit   bool
	err        error
}

func (c *config) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("iscsitest: "+format, args...)
	}
}

// WithAddress makes the server listen on address instead of
// "127.0.0.1:0": "[::1]:0" for IPv6 loopback, or a fixed port.
func WithAddress(address string) Option {
	return func(c *config) { c.address = address }
}

// WithTargetName sets the target's IQN (default DefaultTargetName).
func WithTargetName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithLUN adds a LUN of size bytes, zeroed, held in memory. LUNs are
// numbered 1, 2, … in the order of the options (LUN 0 is absent, as the
// controller LUN of tgtd is for a disk). blockSize is a power of two from
// 512 to 65536; size must be a multiple of it.
func WithLUN(size int64, blockSize int) Option {
	return func(c *config) { c.addLUN(size, blockSize, nil, false) }
}

// WithLUNData adds a LUN that holds data (which the server writes into:
// the caller must not use it while the server runs). len(data) must be a
// multiple of blockSize.
func WithLUNData(data []byte, blockSize int) Option {
	return func(c *config) { c.addLUN(int64(len(data)), blockSize, data, false) }
}

// WithNullLUN adds a LUN of size bytes that stores nothing: reads return
// zeros and writes are discarded, as tgtd's null backing store does. It
// costs no memory, so it can be terabytes long (for benchmarks).
func WithNullLUN(size int64, blockSize int) Option {
	return func(c *config) { c.addLUN(size, blockSize, nil, true) }
}

func (c *config) addLUN(size int64, blockSize int, data []byte, null bool) {
	n := uint32(len(c.luns) + 1)
	switch {
	case blockSize < 512 || blockSize > 65536 || blockSize&(blockSize-1) != 0:
		c.fail("LUN %d: block size %d, want a power of two from 512 to 65536", n, blockSize)
		return
	case size <= 0 || size%int64(blockSize) != 0:
		c.fail("LUN %d: size %d is not a positive multiple of the block size %d", n, size, blockSize)
		return
	case !null && int64(int(size)) != size:
		c.fail("LUN %d: size %d does not fit in memory", n, size)
		return
	}
	c.luns = append(c.luns, faketarget.LUN{Number: n, BlockSize: blockSize, Blocks: uint64(size / int64(blockSize)), Data: data, Null: null})
}

// WithCHAP makes the server require one-way CHAP: the initiator must log in
// as user with secret (any of MD5, SHA-1, SHA-256, SHA3-256). Both are
// needed (tgtd and Windows want secrets of 12 to 16 bytes; any length
// works here).
func WithCHAP(user, secret string) Option {
	return func(c *config) {
		c.chap = &chap.TargetConfig{Username: user, Secret: auth.NewSecret(secret)}
	}
}

// WithMutualCHAP is WithCHAP plus the target's own account, which the
// server uses to prove itself when the initiator asks for mutual CHAP
// (libiscsi's target_user and target_password).
func WithMutualCHAP(user, secret, targetUser, targetSecret string) Option {
	return func(c *config) {
		c.chap = &chap.TargetConfig{Username: user, Secret: auth.NewSecret(secret),
			TargetUsername: targetUser, TargetSecret: auth.NewSecret(targetSecret)}
	}
}

// Digest is the server's stance on a digest (header or data).
type Digest int

const (
	// DigestOptional accepts CRC32C and None: the initiator's preference
	// wins (the default).
	DigestOptional Digest = iota
	// DigestRequired accepts CRC32C only: a login that does not settle on
	// it fails with status 0x0200 (initiator error).
	DigestRequired
	// DigestRefused accepts None only.
	DigestRefused
)

func (d Digest) keyValue() string {
	switch d {
	case DigestRequired:
		return "CRC32C"
	case DigestRefused:
		return "None"
	}
	return "None,CRC32C"
}

// WithHeaderDigest sets what the server accepts for HeaderDigest.
func WithHeaderDigest(d Digest) Option {
	return func(c *config) { c.hd = d }
}

// WithDataDigest sets what the server accepts for DataDigest.
func WithDataDigest(d Digest) Option {
	return func(c *config) { c.dd = d }
}

// WithQueueDepth sets the command window the server grants (MaxCmdSN -
// ExpCmdSN + 1); the default is 32.
func WithQueueDepth(n int) Option {
	return func(c *config) {
		if n < 1 || n > 1<<16 {
			c.fail("queue depth %d, want 1 to 65536", n)
			return
		}
		c.queueDepth = uint32(n)
	}
}

// WithExtendedCopy makes the server a copy manager, as LIO is (tgtd is
// not): it lists VPD page 0x8f, answers RECEIVE COPY RESULTS (operating
// parameters, copy status) and runs EXTENDED COPY (LID1) between its LUNs
// (Identification CSCD descriptors naming them by their NAA designator,
// block to block segments), so that offloaded copies are tested end to
// end: the data moves inside the server, never over the connection.
func WithExtendedCopy() Option {
	return func(c *config) { c.xcopy = true }
}

// WithSanitize makes the server run SANITIZE on its LUNs' memory, as a
// solid-state disk does: OVERWRITE (the pattern written over every block),
// BLOCK ERASE (every block zeroed and deallocated), CRYPTO ERASE (every
// block reads back as noise) and EXIT FAILURE MODE, each answered when
// done. With it come what an initiator checks around SANITIZE: REPORT
// SUPPORTED OPERATION CODES, software write protect (MODE SENSE and MODE
// SELECT (6) of the Control page: with SWP set, writes and SANITIZE are
// DATA PROTECT), the Block Device Characteristics page
// (non-rotating; reads after an erase succeed) and thin provisioning
// (READ CAPACITY (16) LBPME and LBPRZ, the Logical Block Provisioning page,
// GET LBA STATUS telling written blocks from deallocated ones).
func WithSanitize() Option {
	return func(c *config) { c.sanitize = true }
}
