// Package tgtd starts private instances of tgtd, the Linux SCSI target
// daemon (Debian package tgt), for integration tests, configures them with
// tgtadm, and runs libiscsi's command-line tools (Debian package
// libiscsi-bin) for parity checks.
//
// Every instance listens on a free port of 127.0.0.1 or ::1 (never the
// default 3260), talks to tgtadm through an IPC socket in its own temporary
// directory (never the default /var/run/tgtd socket), and is stopped by a
// t.Cleanup registered by [Start]: targets and the system are deleted through
// tgtadm, and the process group is killed with SIGKILL if tgtd has not exited
// after a short grace. tgtd is also started with a parent-death signal so it
// dies with the test binary even when cleanups cannot run (a test timeout).
//
// A test fails (never skips) when tgtd or tgtadm is not installed; run
// scripts/install-deps.sh or apt-get install tgt libiscsi-bin.
//
// Instance methods that configure the target fail the test they are bound
// to with tgtadm's output; use [Instance.For] to bind a shared instance to a
// subtest, and [Instance.Tgtadm] when an error is the expected outcome.
package tgtd
