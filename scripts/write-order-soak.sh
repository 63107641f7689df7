#!/usr/bin/env bash
# The write-ordering soak (integration/soak_test.go, issue 23) for longer
# than CI's 60 s: two sessions through a fault proxy to tgtd, tagged writes
# on disjoint and overlapping ranges, cancellations, Close/Logout and
# re-dial with the ISID fence, cuts, resets, stalls, delays, bit flips
# (digests on) and tgtd restarts; it fails on any lost acknowledged byte.
# The numbers are printed at the end. Usage: scripts/write-order-soak.sh
# [DURATION] (90s, 15m, 1h or seconds; default 10m). RACE=0 runs it without the
# race detector (more I/O per second).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10m}
case "$dur" in
  *h) secs=$((${dur%h} * 3600)) ;;
  *m) secs=$((${dur%m} * 60)) ;;
  *s) secs=${dur%s} ;;
  *) secs=$dur; dur=${dur}s ;;
esac
scripts/install-deps.sh
race=-race
[ "${RACE:-1}" = 0 ] && race=
ISCSI_REQUIRE_TGTD=1 ISCSI_SOAK_DURATION="$dur" timeout $((secs + 900)) \
  go test $race -count=1 -v -timeout "$((secs + 600))s" -run '^TestWriteOrderSoak$' ./integration/ |
  grep -v '^        tgtd: '
