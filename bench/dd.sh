#!/usr/bin/env bash
# bench/dd.sh: our iscsi-dd against qemu-img convert (libiscsi underneath),
# copying a LUN to a file, alternately, several rounds each.
#
# It starts its own tgtd (private IPC socket, a free port on 127.0.0.1, never
# 3260) with one LUN backed by a file of random data on tmpfs (/dev/shm), so
# that neither side waits for a disk. The copy goes to a file on tmpfs too.
# Each run is checked byte for byte against the backing file (cmp). It
# installs tgt, libiscsi-bin and qemu-utils + qemu-block-extra when missing,
# builds our iscsi-dd, and prints per tool the median and range (min-max) of
# seconds, MB/s (10^6 bytes) and the CPU seconds of the copying process
# (user+system), then ours/qemu-img.
#
# Environment:
#   ROUNDS=5        rounds (each runs both tools, the order swapped every round)
#   SIZE_MB=1024    LUN size in MiB
#   DD_ARGS="..."   extra arguments of iscsi-dd (default: none: 16 in flight, 1 MiB)
#   KEEP=1          keep the work directory (raw outputs) for inspection
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SIZE_MB=${SIZE_MB:-1024}
DD_ARGS=${DD_ARGS:-}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsi-dd-bench.XXXXXX")
shm_file=""
out_file=""
name=dd.sh
# shellcheck source=bench/tgtd.sh
. "$repo/bench/tgtd.sh"

cleanup() {
  local rc=$?
  stop_tgtd
  [ -n "$shm_file" ] && rm -f "$shm_file"
  [ -n "$out_file" ] && rm -f "$out_file"
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
if ! command -v qemu-img >/dev/null 2>&1 || ! ls /usr/lib/*/qemu/block-iscsi.so >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing qemu-utils and qemu-block-extra"
  timeout 600 $sudo apt-get install -y -qq --no-install-recommends qemu-utils qemu-block-extra >/dev/null ||
    { timeout 600 $sudo apt-get update -qq && timeout 600 $sudo apt-get install -y -qq --no-install-recommends qemu-utils qemu-block-extra >/dev/null; } ||
    die "could not install qemu-utils qemu-block-extra"
fi
for t in tgtd tgtadm qemu-img timeout go awk sort cmp; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
ours="$work/iscsi-dd"
log "building cmd/iscsi-dd"
(cd "$repo" && timeout 300 go build -o "$ours" ./cmd/iscsi-dd) || die "go build ./cmd/iscsi-dd failed"
clk=$(getconf CLK_TCK)

# --- tgtd ------------------------------------------------------------------

start_tgtd
iqn="iqn.2026-11.com.github.iscsi-go:dd-bench"
shm_file=$(mktemp /dev/shm/iscsi-dd-bench-lun.XXXXXX)
out_file=$(mktemp -u /dev/shm/iscsi-dd-bench-out.XXXXXX)
log "filling $shm_file with $SIZE_MB MiB of random data"
timeout 300 head -c "$((SIZE_MB << 20))" /dev/urandom >"$shm_file"
tgtadm_ --op new --mode target --tid 1 --targetname "$iqn"
tgtadm_ --op new --mode logicalunit --tid 1 --lun 1 -b "$shm_file"
tgtadm_ --op bind --mode target --tid 1 -I ALL
url="iscsi://127.0.0.1:$PORT/$iqn/1"
log "tgtd pid $tgtd_pid on 127.0.0.1:$PORT; LUN 1 $shm_file ($SIZE_MB MiB)"

# --- runs ------------------------------------------------------------------
# cpu_of FILE: the children's user+system seconds from bash's `times`.
cpu_of() {
  awk 'NR==2 { n=split($0, f, " "); s=0; for (i=1;i<=n;i++) { split(f[i], ms, "m"); sub("s","",ms[2]); s += ms[1]*60 + ms[2] } print s }' "$1"
}

tgtd_ticks() { awk '{print $14 + $15}' "/proc/$tgtd_pid/stat"; }

# run_one TOOL ROUND: appends "tool secs mbps cpu_s tgtd_cpu_s".
run_one() {
  local tool=$1 round=$2 cmd
  local base="$work/$tool.$round"
  rm -f "$out_file"
  if [ "$tool" = qemu-img ]; then
    cmd=(qemu-img convert -O raw "$url" "$out_file")
  else
    # shellcheck disable=SC2206
    cmd=("$ours" $DD_ARGS -s "$url" -d "$out_file")
  fi
  local t0 t1 k0 k1 rc=0
  k0=$(tgtd_ticks)
  t0=$(date +%s.%N)
  (
    rc=0
    timeout -k 5 600 "${cmd[@]}" >"$base.out" 2>"$base.err" || rc=$?
    times >"$base.times"
    exit "$rc"
  ) || rc=$?
  t1=$(date +%s.%N)
  k1=$(tgtd_ticks)
  [ "$rc" = 0 ] || { cat "$base.err" >&2; die "$tool round $round failed (exit $rc)"; }
  cmp -s "$shm_file" "$out_file" || die "$tool round $round: the copy differs from the LUN"
  awk -v tool="$tool" -v t0="$t0" -v t1="$t1" -v bytes=$((SIZE_MB << 20)) -v cpu="$(cpu_of "$base.times")" \
    -v kt=$((k1 - k0)) -v clk="$clk" 'BEGIN {
      s = t1 - t0
      printf "%s %.3f %.1f %.2f %.2f\n", tool, s, bytes / s / 1e6, cpu, kt / clk
    }' >>"$work/results"
  log "round $round: $(tail -1 "$work/results")"
}

: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "load before: $load_before; $ROUNDS rounds; columns: tool seconds MB/s cpu_s tgtd_cpu_s"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="qemu-img iscsi-dd"; else order="iscsi-dd qemu-img"; fi
  for tool in $order; do
    run_one "$tool" "$round"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table -----------------------------------------------------------------
stats() { # TOOL COLUMN -> "median min max"
  awk -v tool="$1" -v c="$2" '$1 == tool { print $c }' "$work/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

echo
echo "LUN → file, $SIZE_MB MiB of random data, tmpfs on both sides: $ROUNDS rounds, tgtd $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?'), qemu-img $(qemu-img --version | awk 'NR==1 {print $3}'), libiscsi $(dpkg-query -W -f '${Version}' libiscsi7 2>/dev/null || echo '?'), $(go version | awk '{print $3}'), $(nproc) CPUs; load average before: $load_before, after: $load_after"
echo "iscsi-dd ${DD_ARGS:-(defaults: -m 16, 1 MiB per command)}; qemu-img convert -O raw (defaults); median (min-max); MB/s = 10^6 bytes/s; CPU = user+system of the copying process"
echo
printf '| %-9s | %-24s | %-24s | %-22s | %-22s |\n' tool seconds "MB/s" "CPU s" "tgtd CPU s"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})"
declare -A med=()
for tool in qemu-img iscsi-dd; do
  row=()
  for c in 2 3 4 5; do
    read -r m lo hi <<<"$(stats "$tool" "$c")"
    med[$tool.$c]=$m
    row+=("$(printf '%s (%s-%s)' "$(printf '%.4g' "$m")" "$(printf '%.4g' "$lo")" "$(printf '%.4g' "$hi")")")
  done
  printf '| %-9s | %-24s | %-24s | %-22s | %-22s |\n' "$tool" "${row[@]}"
done
ratio() { awk -v a="${med[iscsi-dd.$1]}" -v b="${med[qemu-img.$1]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
printf '| %-9s | %-24s | %-24s | %-22s | %-22s |\n' "ours/qemu" "$(ratio 2)" "$(ratio 3)" "$(ratio 4)" "$(ratio 5)"
