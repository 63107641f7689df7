#!/usr/bin/env bash
# bench/compare.sh: libiscsi's iscsi-perf against ours (cmd/iscsi-perf), side
# by side against the same private tgtd, alternately, several rounds each.
#
# It starts its own tgtd (private IPC socket, a free port on 127.0.0.1, never
# 3260) with two LUNs: LUN 1 is --bstype null (stores nothing, so only the
# initiators and tgtd's protocol work are measured), LUN 2 a file on tmpfs
# (/dev/shm). It installs tgt and libiscsi-bin when missing, builds our
# iscsi-perf, runs every workload with each initiator once per round (the
# order swapped every round), and prints, for each workload and initiator, the
# median and the range (min-max) of IOPS, MB/s (10^6 bytes), the CPU seconds
# the initiator process used (user+system, whole process including login),
# the initiator's CPU per I/O and tgtd's CPU per I/O; then ours/libiscsi.
#
# Environment:
#   ROUNDS=5          rounds (each runs every workload with both initiators)
#   SECS=5            seconds per run (-t)
#   WORKLOADS="..."   names from the list below (default: all)
#   KEEP=1            keep the work directory (raw outputs) for inspection
#   OURS=path         use this build of cmd/iscsi-perf instead of building one
#   BEFORE=path       also run this other build of cmd/iscsi-perf ("before"),
#                     in the same rounds, in turn with the others: a before/after
#                     comparison that the machine's load drifts cannot bias
#   TARGET=istgt      against a private istgt (Debian istgt, a multi-threaded
#                     target) instead of tgtd: one LUN 0, a file on tmpfs, which
#                     every workload uses (istgt has no null LUN); the last
#                     column is then istgt's CPU per I/O
#
# Workloads (name: LUN, blocks of 512 bytes, queue depth, pattern):
#   4k-rand-qd1        null LUN, 4 KiB random reads, QD1
#   4k-rand-qd32       null LUN, 4 KiB random reads, QD32
#   128k-seq-qd32      null LUN, 128 KiB sequential reads, QD32
#   tmpfs-4k-rand-qd32 tmpfs LUN (256 MiB), 4 KiB random reads, QD32
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
WORKLOADS=${WORKLOADS:-"4k-rand-qd1 4k-rand-qd32 128k-seq-qd32 tmpfs-4k-rand-qd32"}
TMPFS_MB=256
TARGET=${TARGET:-tgtd}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsi-compare.XXXXXX")
shm_file=""
name=compare.sh
# shellcheck source=bench/tgtd.sh
. "$repo/bench/tgtd.sh"

cleanup() {
  local rc=$?
  stop_tgtd
  [ -n "$shm_file" ] && rm -f "$shm_file"
  if [ "${KEEP:-0}" = 1 ]; then
    log "raw outputs kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- prerequisites ---------------------------------------------------------
"$repo/scripts/install-deps.sh"
export PATH="$PATH:/usr/sbin:/sbin"
for t in tgtd tgtadm iscsi-perf timeout go awk sort; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found (tgtd, tgtadm: package tgt; iscsi-perf: libiscsi-bin; go: https://go.dev/dl)"
done
case "$TARGET" in
  tgtd) ;;
  istgt) command -v istgt >/dev/null 2>&1 || die "istgt not found (package istgt)" ;;
  *) die "TARGET=$TARGET: tgtd or istgt" ;;
esac
libperf=$(command -v iscsi-perf)
if [ -n "${OURS:-}" ]; then
  ours=$(realpath "$OURS")
  [ -x "$ours" ] || die "OURS=$OURS is not an executable"
else
  ours="$work/iscsi-perf-go"
  log "building cmd/iscsi-perf"
  (cd "$repo" && timeout 300 go build -o "$ours" ./cmd/iscsi-perf) || die "go build ./cmd/iscsi-perf failed"
fi
before="" before_tool=""
if [ -n "${BEFORE:-}" ]; then
  before=$(realpath "$BEFORE")
  [ -x "$before" ] || die "BEFORE=$BEFORE is not an executable"
  before_tool=before
fi
clk=$(getconf CLK_TCK)

# --- tgtd ------------------------------------------------------------------

for wl in $WORKLOADS; do
  case "$wl" in
    4k-rand-qd1 | 4k-rand-qd32 | 128k-seq-qd32 | tmpfs-4k-rand-qd32) ;;
    *) die "unknown workload $wl (known: 4k-rand-qd1 4k-rand-qd32 128k-seq-qd32 tmpfs-4k-rand-qd32)" ;;
  esac
done

shm_file=$(mktemp /dev/shm/iscsi-compare.XXXXXX)
fallocate -l "${TMPFS_MB}M" "$shm_file" 2>/dev/null || dd if=/dev/zero of="$shm_file" bs=1M count="$TMPFS_MB" status=none
if [ "$TARGET" = istgt ]; then
  start_istgt "$shm_file"
  iqn="iqn.2026-12.com.github.iscsi-go.compare:disk1"
  log "istgt pid $tgtd_pid on 127.0.0.1:$PORT; LUN 0 $shm_file (${TMPFS_MB} MiB) for every workload"
else
  start_tgtd
  iqn="iqn.2026-11.com.github.iscsi-go:compare"
  tgtadm_ --op new --mode target --tid 1 --targetname "$iqn"
  tgtadm_ --op new --mode logicalunit --tid 1 --lun 1 --bstype null -b /compare-null
  tgtadm_ --op new --mode logicalunit --tid 1 --lun 2 -b "$shm_file"
  tgtadm_ --op bind --mode target --tid 1 -I ALL
  log "tgtd pid $tgtd_pid on 127.0.0.1:$PORT; LUN 1 null, LUN 2 $shm_file (${TMPFS_MB} MiB)"
fi

# --- runs ------------------------------------------------------------------
workload_args() { # name -> "lun blocks qd random(0/1)"
  case "$1" in
    4k-rand-qd1) echo "1 8 1 1" ;;
    4k-rand-qd32) echo "1 8 32 1" ;;
    128k-seq-qd32) echo "1 256 32 0" ;;
    tmpfs-4k-rand-qd32) echo "2 8 32 1" ;;
    *) die "unknown workload $1" ;;
  esac
}

tgtd_ticks() { awk '{print $14 + $15}' "/proc/$tgtd_pid/stat"; }

# cpu_of FILE: the children's user+system seconds from bash's `times`.
cpu_of() {
  awk 'NR==2 { n=split($0, f, " "); s=0; for (i=1;i<=n;i++) { split(f[i], ms, "m"); sub("s","",ms[2]); s += ms[1]*60 + ms[2] } print s }' "$1"
}

# run_one TOOL WORKLOAD ROUND: appends "workload tool iops mbps cpu_s cpu_us_per_io tgtd_us_per_io".
run_one() {
  local tool=$1 wl=$2 round=$3 lun blocks qd rnd
  read -r lun blocks qd rnd <<<"$(workload_args "$wl")"
  [ "$TARGET" = istgt ] && lun=0
  local url="iscsi://127.0.0.1:$PORT/$iqn/$lun"
  local args=(-t "$SECS" -m "$qd" -b "$blocks")
  [ "$rnd" = 1 ] && args+=(-r)
  local base="$work/$wl.$tool.$round" cmd
  if [ "$tool" = libiscsi ]; then
    cmd=("$libperf" "${args[@]}" "$url")
  elif [ "$tool" = before ]; then
    cmd=("$before" "${args[@]}" --json "$url")
  else
    cmd=("$ours" "${args[@]}" --json "$url")
  fi
  local t0 t1 rc=0
  t0=$(tgtd_ticks)
  (
    rc=0
    timeout -k 5 $((SECS + 30)) "${cmd[@]}" >"$base.out" 2>"$base.err" || rc=$?
    times >"$base.times"
    exit "$rc"
  ) || rc=$?
  t1=$(tgtd_ticks)
  [ "$rc" = 0 ] || { cat "$base.err" >&2; die "$tool $wl round $round failed (exit $rc); output in $base.out"; }
  local iops
  if [ "$tool" = libiscsi ]; then
    iops=$(tr '\r' '\n' <"$base.out" | awk '/^iops average/ { v=$3 } END { print v }')
  else
    iops=$(sed -n 's/.*"iops":\([0-9.e+]*\).*/\1/p' "$base.out" | tail -1)
  fi
  [ -n "$iops" ] || die "no IOPS in the output of $tool $wl round $round ($base.out)"
  local cpu
  cpu=$(cpu_of "$base.times")
  awk -v wl="$wl" -v tool="$tool" -v iops="$iops" -v bytes=$((blocks * 512)) -v secs="$SECS" \
    -v cpu="$cpu" -v tt=$((t1 - t0)) -v clk="$clk" 'BEGIN {
      ios = iops * secs
      printf "%s %s %.0f %.2f %.3f %.2f %.2f\n", wl, tool, iops, iops * bytes / 1e6, cpu,
        (ios > 0 ? cpu / ios * 1e6 : 0), (ios > 0 ? tt / clk / ios * 1e6 : 0)
    }' >>"$work/results"
  log "$(tail -1 "$work/results")"
}

: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "load before: $load_before; $ROUNDS rounds x $SECS s; columns: workload initiator IOPS MB/s cpu_s cpu_us/io tgtd_us/io"
for round in $(seq "$ROUNDS"); do
  for wl in $WORKLOADS; do
    if [ -n "$before" ]; then
      case $((round % 3)) in
        1) order="libiscsi before ours" ;;
        2) order="ours libiscsi before" ;;
        *) order="before ours libiscsi" ;;
      esac
    elif [ $((round % 2)) = 1 ]; then order="libiscsi ours"; else order="ours libiscsi"; fi
    for tool in $order; do
      run_one "$tool" "$wl" "$round"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table -----------------------------------------------------------------
# stats WORKLOAD TOOL COLUMN -> "median min max"
stats() {
  awk -v wl="$1" -v tool="$2" -v c="$3" '$1 == wl && $2 == tool { print $c }' "$work/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

echo
target=$TARGET
[ "$TARGET" = istgt ] && target="$TARGET $(dpkg-query -W -f '${Version}' istgt 2>/dev/null || echo '?') (LUN 0 on tmpfs)"
[ "$TARGET" = tgtd ] && target="tgtd $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?')"
echo "iscsi-perf comparison: $ROUNDS rounds x $SECS s, $target, libiscsi-bin $(dpkg-query -W -f '${Version}' libiscsi-bin 2>/dev/null || echo '?'), $(go version | awk '{print $3}'), $(nproc) CPUs; load average (1/5/15 min) before: $load_before, after: $load_after"
echo "median (min-max); MB/s = 10^6 bytes/s; CPU = user+system of the whole initiator process; per-I/O CPU over IOPS x $SECS s"
echo
printf '| %-18s | %-9s | %-24s | %-22s | %-20s | %-22s | %-12s |\n' workload initiator IOPS "MB/s" "CPU s" "CPU us/I/O" "$TARGET us/I/O"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..22})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..14})"
for wl in $WORKLOADS; do
  declare -A med=()
  for tool in libiscsi $before_tool ours; do
    row=()
    for c in 3 4 5 6 7; do
      read -r m lo hi <<<"$(stats "$wl" "$tool" "$c")"
      med[$tool.$c]=$m
      if [ "$c" = 7 ]; then
        row+=("$(printf '%.2f' "$m")")
      else
        row+=("$(printf '%s (%s-%s)' "$(printf '%.6g' "$m")" "$(printf '%.6g' "$lo")" "$(printf '%.6g' "$hi")")")
      fi
    done
    printf '| %-18s | %-9s | %-24s | %-22s | %-20s | %-22s | %-12s |\n' "$wl" "$tool" "${row[@]}"
  done
  ratio() { awk -v a="${med[ours.$1]}" -v b="${med[libiscsi.$1]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
  printf '| %-18s | %-9s | %-24s | %-22s | %-20s | %-22s | %-12s |\n' "$wl" "ours/lib" "$(ratio 3)" "$(ratio 4)" "$(ratio 5)" "$(ratio 6)" "$(ratio 7)"
  if [ -n "$before" ]; then
    ratio() { awk -v a="${med[ours.$1]}" -v b="${med[before.$1]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
    printf '| %-18s | %-9s | %-24s | %-22s | %-20s | %-22s | %-12s |\n' "$wl" "ours/bef." "$(ratio 3)" "$(ratio 4)" "$(ratio 5)" "$(ratio 6)" "$(ratio 7)"
  fi
  unset med
done
