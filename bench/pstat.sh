#!/usr/bin/env bash
# bench/pstat.sh: where an initiator's CPU goes, per I/O. Runs iscsi-perf
# builds (and libiscsi's iscsi-perf) in turn against one private tgtd null
# LUN under `perf stat`, and prints for each the median over the rounds of:
# IOPS, task-clock µs per I/O (the whole process, login included), context
# switches per I/O, and system calls per I/O (read, recvfrom, readv, writev,
# sendmsg, sendto, epoll_pwait, futex, nanosleep, poll).
#
# Usage: bench/pstat.sh name=command [name=command ...]
#   Each command is an iscsi-perf (ours or libiscsi's, with any options of
#   its own, e.g. "ours=/tmp/iscsi-perf --blocking-socket"); "libiscsi" alone
#   stands for libiscsi's iscsi-perf. Ours must print --json (added here).
# Environment:
#   ROUNDS=5 SECS=3 WORKLOAD="1 256 32 0" (blocks of 512 bytes, queue depth,
#   sequential 0 / random 1; the first field, the LUN, is always 1)
#   TARGET=istgt   against a private istgt (one LUN 0, a 256 MiB file on
#   tmpfs, as in compare.sh) instead of tgtd's null LUN
# Installs perf (Debian linux-perf) when it is missing; needs its syscalls
# tracepoints. tgtd as in compare.sh (bench/tgtd.sh).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-3}
WORKLOAD=${WORKLOAD:-"1 256 32 0"}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsi-pstat.XXXXXX")
name=pstat.sh
# shellcheck source=bench/tgtd.sh
. "$repo/bench/tgtd.sh"
TARGET=${TARGET:-tgtd}
shm_file=""
cleanup() {
  local rc=$?
  stop_tgtd
  rm -rf "$work"
  [ -n "$shm_file" ] && rm -f "$shm_file"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ $# -gt 0 ] || die "usage: $0 name=command [name=command ...]"
"$repo/scripts/install-deps.sh"
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v perf >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing linux-perf"
  DEBIAN_FRONTEND=noninteractive timeout 600 $sudo apt-get install -y -qq linux-perf >/dev/null ||
    die "perf not found and linux-perf could not be installed"
fi
events=task-clock,context-switches
calls="read recvfrom readv writev sendmsg sendto epoll_pwait futex nanosleep poll"
for c in $calls; do events="$events,syscalls:sys_enter_$c"; done

case "$TARGET" in
  tgtd)
    start_tgtd
    iqn="iqn.2026-12.com.github.iscsi-go:pstat"
    tgtadm_ --op new --mode target --tid 1 --targetname "$iqn"
    tgtadm_ --op new --mode logicalunit --tid 1 --lun 1 --bstype null -b /pstat-null
    tgtadm_ --op bind --mode target --tid 1 -I ALL
    url="iscsi://127.0.0.1:$PORT/$iqn/1"
    ;;
  istgt)
    command -v istgt >/dev/null 2>&1 || die "istgt not found (package istgt)"
    shm_file=$(mktemp /dev/shm/iscsi-pstat.XXXXXX)
    fallocate -l 256M "$shm_file" 2>/dev/null || dd if=/dev/zero of="$shm_file" bs=1M count=256 status=none
    start_istgt "$shm_file"
    url="iscsi://127.0.0.1:$PORT/iqn.2026-12.com.github.iscsi-go.compare:disk1/0"
    ;;
  *) die "TARGET=$TARGET: tgtd or istgt" ;;
esac
read -r lun blocks qd rnd <<<"$WORKLOAD"
args=(-t "$SECS" -m "$qd" -b "$blocks")
[ "$rnd" = 1 ] && args+=(-r)

: >"$work/results"
echo "pstat: $ROUNDS rounds x $SECS s, blocks $blocks x 512, QD $qd, random $rnd; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  specs=("$@")
  [ $((round % 2)) = 0 ] && specs=($(printf '%s\n' "$@" | tac)) # alternate the order
  for spec in "${specs[@]}"; do
    tool=${spec%%=*} cmd=${spec#*=}
    [ "$spec" = libiscsi ] && tool=libiscsi cmd=libiscsi
    out="$work/$tool.$round"
    if [ "$cmd" = libiscsi ]; then
      timeout -k 5 $((SECS + 30)) perf stat -x, -o "$out.perf" -e "$events" iscsi-perf "${args[@]}" "$url" >"$out.out" 2>&1 || die "$tool failed: $(tail -3 "$out.out")"
      iops=$(tr '\r' '\n' <"$out.out" | awk '/^iops average/ { v=$3 } END { print v }')
    else
      # shellcheck disable=SC2086
      timeout -k 5 $((SECS + 30)) perf stat -x, -o "$out.perf" -e "$events" $cmd "${args[@]}" --json "$url" >"$out.out" 2>&1 || die "$tool failed: $(tail -3 "$out.out")"
      iops=$(sed -n 's/.*"iops":\([0-9.e+]*\).*/\1/p' "$out.out" | tail -1)
    fi
    [ -n "$iops" ] || die "no IOPS from $tool"
    awk -F, -v tool="$tool" -v iops="$iops" -v secs="$SECS" '
      $3 == "task-clock" { v["cpu"] = $1 * 1000 } # msec -> usec
      $3 == "context-switches" { v["cs"] = $1 }
      $3 ~ /^syscalls:sys_enter_/ { n = $3; sub("syscalls:sys_enter_", "", n); v[n] = $1 }
      END {
        ios = iops * secs
        printf "%s %.0f %.2f %.2f", tool, iops, v["cpu"] / ios, v["cs"] / ios
        split("read recvfrom readv writev sendmsg sendto epoll_pwait futex nanosleep poll", c, " ")
        for (i = 1; i <= 10; i++) printf " %.2f", v[c[i]] / ios
        printf "\n"
      }' "$out.perf" >>"$work/results"
    log "round $round: $(tail -1 "$work/results")"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); medians per I/O:"
printf '%-10s %8s %7s %5s' tool IOPS cpu_us ctxsw
for c in $calls; do printf ' %6.6s' "$c"; done
printf '\n'
for tool in $(awk '{print $1}' "$work/results" | awk '!seen[$0]++'); do
  awk -v t="$tool" '$1 == t' "$work/results" | awk '
    { n++; for (i = 2; i <= NF; i++) col[i, n] = $i; nf = NF }
    END {
      printf "%-10s", $1
      for (i = 2; i <= nf; i++) {
        m = 0; delete a
        for (j = 1; j <= n; j++) a[j] = col[i, j]
        # insertion sort, then the median
        for (j = 2; j <= n; j++) { x = a[j]; k = j - 1; while (k > 0 && a[k] > x) { a[k + 1] = a[k]; k-- } a[k + 1] = x }
        m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        if (i == 2) printf " %8.0f", m; else if (i == 3) printf " %7.2f", m; else if (i == 4) printf " %5.2f", m; else printf " %6.2f", m
      }
      printf "\n"
    }'
done
