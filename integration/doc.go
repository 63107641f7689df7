// Package integration holds the tests that run the initiator against a real
// target: private tgtd instances started by package integration/tgtd. The
// packages tgt and libiscsi-bin are installed by scripts/install-deps.sh
// (which scripts/test.sh and .ci/run call), never by the tests.
package integration
