#!/usr/bin/env bash
# bench/nbd.sh: copying a LUN to a file through our NBD server (cmd/iscsi-nbd,
# read by libnbd's nbdcopy) against iscsi-dd and qemu-img convert from
# iscsi:// (libiscsi underneath), alternately, several rounds each.
#
# It starts its own tgtd (private IPC socket, a free port on 127.0.0.1) with
# one LUN backed by a file of random data on tmpfs (/dev/shm), and one
# iscsi-nbd on a Unix socket in front of it for the whole run (one session;
# nbdcopy opens its connections to it each round). The copy goes to tmpfs.
# Each copy is compared with the backing file (cmp). Per path it prints the
# median and range of seconds, MB/s (10^6 bytes/s), the CPU seconds of the
# copying process (for nbdcopy: nbdcopy plus iscsi-nbd), and tgtd's CPU;
# then each path's MB/s as a fraction of iscsi-dd's.
#
# Environment:
#   ROUNDS=5        rounds (the order of the paths rotates every round)
#   SIZE_MB=1024    LUN size in MiB
#   NBDCOPY_ARGS="" extra arguments of nbdcopy (default: its own defaults)
#   KEEP=1          keep the work directory (raw outputs)
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SIZE_MB=${SIZE_MB:-1024}
NBDCOPY_ARGS=${NBDCOPY_ARGS:-}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsi-nbd-bench.XXXXXX")
shm_file=""
out_file=""
nbd_pid=""
name=nbd.sh
# shellcheck source=bench/tgtd.sh
. "$repo/bench/tgtd.sh"

cleanup() {
  local rc=$?
  if [ -n "$nbd_pid" ]; then
    kill -TERM "$nbd_pid" 2>/dev/null || true
    wait "$nbd_pid" 2>/dev/null || true
  fi
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
if ! ls /usr/lib/*/qemu/block-iscsi.so >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing qemu-block-extra (qemu-img's iscsi://)"
  timeout 600 $sudo apt-get install -y -qq --no-install-recommends qemu-block-extra >/dev/null ||
    die "could not install qemu-block-extra"
fi
for t in tgtd tgtadm qemu-img nbdcopy timeout go awk sort cmp; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
log "building cmd/iscsi-dd and cmd/iscsi-nbd"
(cd "$repo" && timeout 300 go build -o "$work/iscsi-dd" ./cmd/iscsi-dd && timeout 300 go build -o "$work/iscsi-nbd" ./cmd/iscsi-nbd) ||
  die "go build failed"
clk=$(getconf CLK_TCK)

# --- tgtd and iscsi-nbd ------------------------------------------------------
start_tgtd
iqn="iqn.2026-12.com.github.iscsi-go:nbd-bench"
shm_file=$(mktemp /dev/shm/iscsi-nbd-bench-lun.XXXXXX)
out_file=$(mktemp -u /dev/shm/iscsi-nbd-bench-out.XXXXXX)
log "filling $shm_file with $SIZE_MB MiB of random data"
timeout 300 head -c "$((SIZE_MB << 20))" /dev/urandom >"$shm_file"
tgtadm_ --op new --mode target --tid 1 --targetname "$iqn"
tgtadm_ --op new --mode logicalunit --tid 1 --lun 1 -b "$shm_file"
tgtadm_ --op bind --mode target --tid 1 -I ALL
url="iscsi://127.0.0.1:$PORT/$iqn/1"
sock="$work/nbd.sock"
"$work/iscsi-nbd" --unix "$sock" "$url" 2>"$work/iscsi-nbd.log" &
nbd_pid=$!
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  kill -0 "$nbd_pid" 2>/dev/null || { cat "$work/iscsi-nbd.log" >&2; die "iscsi-nbd exited"; }
  sleep 0.1
done
[ -S "$sock" ] || die "iscsi-nbd did not listen"
log "tgtd pid $tgtd_pid on 127.0.0.1:$PORT; LUN 1 $shm_file ($SIZE_MB MiB); iscsi-nbd pid $nbd_pid on $sock"

# --- runs ------------------------------------------------------------------
cpu_of() {
  awk 'NR==2 { n=split($0, f, " "); s=0; for (i=1;i<=n;i++) { split(f[i], ms, "m"); sub("s","",ms[2]); s += ms[1]*60 + ms[2] } print s }' "$1"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_one PATH ROUND: appends "path secs mbps cpu_s tgtd_cpu_s".
run_one() {
  local path=$1 round=$2 cmd
  local base="$work/$path.$round"
  rm -f "$out_file"
  case $path in
  qemu-img) cmd=(qemu-img convert -O raw "$url" "$out_file") ;;
  iscsi-dd) cmd=("$work/iscsi-dd" -s "$url" -d "$out_file") ;;
  # shellcheck disable=SC2206
  nbdcopy) cmd=(nbdcopy $NBDCOPY_ARGS "nbd+unix:///1?socket=$sock" "$out_file") ;;
  esac
  local t0 t1 k0 k1 n0 n1 rc=0
  k0=$(ticks "$tgtd_pid")
  n0=$(ticks "$nbd_pid")
  t0=$(date +%s.%N)
  (
    rc=0
    timeout -k 5 600 "${cmd[@]}" >"$base.out" 2>"$base.err" || rc=$?
    times >"$base.times"
    exit "$rc"
  ) || rc=$?
  t1=$(date +%s.%N)
  k1=$(ticks "$tgtd_pid")
  n1=$(ticks "$nbd_pid")
  [ "$rc" = 0 ] || { cat "$base.err" >&2; die "$path round $round failed (exit $rc)"; }
  cmp -s "$shm_file" "$out_file" || die "$path round $round: the copy differs from the LUN"
  local server=0
  [ "$path" = nbdcopy ] && server=$((n1 - n0))
  awk -v p="$path" -v t0="$t0" -v t1="$t1" -v bytes=$((SIZE_MB << 20)) -v cpu="$(cpu_of "$base.times")" \
    -v st="$server" -v kt=$((k1 - k0)) -v clk="$clk" 'BEGIN {
      s = t1 - t0
      printf "%s %.3f %.1f %.2f %.2f\n", p, s, bytes / s / 1e6, cpu + st / clk, kt / clk
    }' >>"$work/results"
  log "round $round: $(tail -1 "$work/results")"
}

: >"$work/results"
paths=(iscsi-dd qemu-img nbdcopy)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "load before: $load_before; $ROUNDS rounds; columns: path seconds MB/s cpu_s tgtd_cpu_s"
for round in $(seq "$ROUNDS"); do
  k=$((round % 3))
  for i in 0 1 2; do
    run_one "${paths[$(((i + k) % 3))]}" "$round"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table -----------------------------------------------------------------
stats() { # PATH COLUMN -> "median min max"
  awk -v p="$1" -v c="$2" '$1 == p { print $c }' "$work/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

echo
echo "LUN → file, $SIZE_MB MiB of random data, tmpfs on both sides: $ROUNDS rounds, tgtd $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?'), qemu-img $(qemu-img --version | awk 'NR==1 {print $3}'), nbdcopy $(nbdcopy --version | awk 'NR==1 {print $2}'), $(go version | awk '{print $3}'), $(nproc) CPUs; load average before: $load_before, after: $load_after"
echo "iscsi-dd (defaults: 16 in flight, 1 MiB); qemu-img convert -O raw iscsi://; nbdcopy ${NBDCOPY_ARGS:-(defaults)} from iscsi-nbd on a Unix socket (CPU: nbdcopy + iscsi-nbd); median (min-max); MB/s = 10^6 bytes/s"
echo
printf '| %-9s | %-24s | %-24s | %-22s | %-22s | %-12s |\n' path seconds "MB/s" "CPU s" "tgtd CPU s" "vs iscsi-dd"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..14})"
read -r dd_mbps _ _ <<<"$(stats iscsi-dd 3)"
for p in "${paths[@]}"; do
  row=()
  for c in 2 3 4 5; do
    read -r m lo hi <<<"$(stats "$p" "$c")"
    row+=("$(printf '%s (%s-%s)' "$(printf '%.4g' "$m")" "$(printf '%.4g' "$lo")" "$(printf '%.4g' "$hi")")")
  done
  read -r mb _ _ <<<"$(stats "$p" 3)"
  printf '| %-9s | %-24s | %-24s | %-22s | %-22s | %-12s |\n' "$p" "${row[@]}" "$(awk -v a="$mb" -v b="$dd_mbps" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
done
