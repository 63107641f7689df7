#!/usr/bin/env bash
# A longer run of the recovery tests than CI's: the tgtd matrix
# (integration/recovery_test.go) and the in-process recovery tests, N times
# each (default 10), with the race detector. Every fault × workload must pass
# every time; Close is raced with recoveries 3000 times per run
# (TestCloseRacesRecovery). Usage: scripts/recovery-soak.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
scripts/install-deps.sh
ISCSI_CLOSE_RACE_ROUNDS=3000 ISCSI_REQUIRE_TGTD=1 timeout $((n * 180 + 600)) go test -race -count="$n" -timeout 0 \
  -run 'TestRecovery|TestKeepalive|TestAbortEscalates|TestCloseRaces|TestReconnectStorm|TestR2TBounds' ./session/ ./integration/
