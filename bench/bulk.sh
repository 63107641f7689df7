#!/usr/bin/env bash
# bench/bulk.sh: the bulk I/O benchmarks (session's BenchmarkBulk against the
# in-process target, integration's BenchmarkBulkTgtd against a private tgtd
# null LUN), run in interleaved rounds so that the load of a shared machine
# falls on every case alike. Prints, per case, the median and range
# (min-max) of MB/s (10^6 bytes per second) over the rounds.
#
# Environment:
#   ROUNDS=7      rounds; each runs every case once
#   N=10          operations (of 64 MiB) per case per round
#   WHICH="session integration"   the packages to run
#   KEEP=1        keep the work directory (raw benchmark lines)
set -euo pipefail

ROUNDS=${ROUNDS:-7}
N=${N:-10}
WHICH=${WHICH:-session integration}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsi-bulk-bench.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

for pkg in $WHICH; do
	case $pkg in
	session) bench=BenchmarkBulk ;;
	integration) bench=BenchmarkBulkTgtd ;;
	*) echo "unknown package $pkg" >&2; exit 2 ;;
	esac
	(cd "$repo" && go test -c -o "$work/$pkg.test" "./$pkg/")
	for r in $(seq "$ROUNDS"); do
		(cd "$repo/$pkg" && timeout 900 "$work/$pkg.test" -test.run '^$' -test.bench "^$bench\$" \
			-test.benchtime "${N}x" -test.benchmem) | grep '^Benchmark' >>"$work/$pkg.txt"
	done
done

cat "$work"/*.txt | python3 -c '
import sys, statistics, collections
mbs = collections.OrderedDict()
for line in sys.stdin:
    f = line.split()
    name = f[0].rsplit("-", 1)[0]
    i = f.index("MB/s")
    mbs.setdefault(name, []).append(float(f[i-1]))
w = max(len(n) for n in mbs)
print("case".ljust(w), " median MB/s", " range")
for n, v in mbs.items():
    print(f"{n:<{w}}  {statistics.median(v):>11.0f}  {min(v):.0f}-{max(v):.0f}")
'
