#!/usr/bin/env bash
# bench/fuse.sh: sequential reads of a LUN through an iscsi-fuse mount
# (dd bs=1M, in the cached mode and with --direct-io) against iscsi-dd
# reading the same LUN, alternately, several rounds each, in one run.
#
# It starts its own tgtd (private IPC socket, a free port on 127.0.0.1) with
# one LUN backed by a file of random data on tmpfs (/dev/shm), mounts it
# twice with our iscsi-fuse (cached, --direct-io), and copies the LUN to a
# file on tmpfs with `dd if=MOUNT/lun1 of=OUT bs=1M` and with `iscsi-dd -s
# URL -d OUT`. Each copy is checked against the backing file (cmp). It
# prints per path the median and range (min-max) of seconds, MB/s (10^6
# bytes), the CPU seconds of the copying process and of iscsi-fuse
# (user+system), and each path's MB/s as a fraction of iscsi-dd's.
#
# Environment:
#   ROUNDS=3        rounds (each runs every path, the order rotated every round)
#   SIZE_MB=1024    LUN size in MiB
#   KEEP=1          keep the work directory (raw outputs) for inspection
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SIZE_MB=${SIZE_MB:-1024}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsi-fuse-bench.XXXXXX")
shm_file=""
out_file=""
name=fuse.sh
fuse_pids=()
mounts=()
# shellcheck source=bench/tgtd.sh
. "$repo/bench/tgtd.sh"

cleanup() {
  local rc=$? p m
  for p in "${fuse_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${fuse_pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
  done
  for m in "${mounts[@]}"; do
    if grep -q " $m " /proc/mounts; then
      timeout 10 fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    fi
  done
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
for t in tgtd tgtadm fusermount3 timeout go awk sort cmp dd; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
[ -e /dev/fuse ] || die "/dev/fuse missing (modprobe fuse)"
log "building cmd/iscsi-dd and cmd/iscsi-fuse"
(cd "$repo" && timeout 300 go build -o "$work/iscsi-dd" ./cmd/iscsi-dd && timeout 300 go build -o "$work/iscsi-fuse" ./cmd/iscsi-fuse) ||
  die "go build failed"
clk=$(getconf CLK_TCK)

# --- tgtd and the mounts ---------------------------------------------------
start_tgtd
iqn="iqn.2026-11.com.github.iscsi-go:fuse-bench"
shm_file=$(mktemp /dev/shm/iscsi-fuse-bench-lun.XXXXXX)
out_file=$(mktemp -u /dev/shm/iscsi-fuse-bench-out.XXXXXX)
log "filling $shm_file with $SIZE_MB MiB of random data"
timeout 300 head -c "$((SIZE_MB << 20))" /dev/urandom >"$shm_file"
tgtadm_ --op new --mode target --tid 1 --targetname "$iqn"
tgtadm_ --op new --mode logicalunit --tid 1 --lun 1 -b "$shm_file"
tgtadm_ --op bind --mode target --tid 1 -I ALL
url="iscsi://127.0.0.1:$PORT/$iqn/1"
log "tgtd pid $tgtd_pid on 127.0.0.1:$PORT; LUN 1 $shm_file ($SIZE_MB MiB)"

declare -A fuse_pid=()
# mount_fuse MODE [ARGS...]: mounts the LUN on $work/MODE.
mount_fuse() {
  local mode=$1 dir="$work/$1"
  shift
  mkdir -p "$dir"
  setsid timeout -k 5 3600 "$work/iscsi-fuse" "$@" "$url" "$dir" >"$work/iscsi-fuse.$mode.log" 2>&1 </dev/null &
  local pid=$!
  fuse_pids+=("$pid")
  mounts+=("$dir")
  for _ in $(seq 100); do
    if grep -q " $dir " /proc/mounts; then
      # timeout's child is iscsi-fuse: measure its CPU.
      fuse_pid[$mode]=$(pgrep -P "$pid" | head -1)
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/iscsi-fuse.$mode.log" >&2
  die "iscsi-fuse $* did not mount"
}
mount_fuse fuse-cached
mount_fuse fuse-direct --direct-io

# --- runs ------------------------------------------------------------------
cpu_of() {
  awk 'NR==2 { n=split($0, f, " "); s=0; for (i=1;i<=n;i++) { split(f[i], ms, "m"); sub("s","",ms[2]); s += ms[1]*60 + ms[2] } print s }' "$1"
}
ticks() { if [ -n "${1:-}" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }

# run_one PATH ROUND: appends "path secs mbps cpu_s fuse_cpu_s tgtd_cpu_s".
run_one() {
  local path=$1 round=$2 cmd fpid=""
  local base="$work/$path.$round"
  rm -f "$out_file"
  case $path in
  iscsi-dd) cmd=("$work/iscsi-dd" -s "$url" -d "$out_file") ;;
  fuse-*)
    cmd=(dd if="$work/$path/lun1" of="$out_file" bs=1M status=none)
    fpid=${fuse_pid[$path]}
    ;;
  esac
  local t0 t1 k0 k1 f0 f1 rc=0
  k0=$(ticks "$tgtd_pid")
  f0=$(ticks "$fpid")
  t0=$(date +%s.%N)
  (
    rc=0
    timeout -k 5 600 "${cmd[@]}" >"$base.out" 2>"$base.err" || rc=$?
    times >"$base.times"
    exit "$rc"
  ) || rc=$?
  t1=$(date +%s.%N)
  k1=$(ticks "$tgtd_pid")
  f1=$(ticks "$fpid")
  [ "$rc" = 0 ] || { cat "$base.err" >&2; die "$path round $round failed (exit $rc)"; }
  cmp -s "$shm_file" "$out_file" || die "$path round $round: the copy differs from the LUN"
  awk -v path="$path" -v t0="$t0" -v t1="$t1" -v bytes=$((SIZE_MB << 20)) -v cpu="$(cpu_of "$base.times")" \
    -v ft=$((f1 - f0)) -v kt=$((k1 - k0)) -v clk="$clk" 'BEGIN {
      s = t1 - t0
      printf "%s %.3f %.1f %.2f %.2f %.2f\n", path, s, bytes / s / 1e6, cpu, ft / clk, kt / clk
    }' >>"$work/results"
  log "round $round: $(tail -1 "$work/results")"
}

paths=(iscsi-dd fuse-cached fuse-direct)
: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "load before: $load_before; $ROUNDS rounds; columns: path seconds MB/s cpu_s fuse_cpu_s tgtd_cpu_s"
for round in $(seq "$ROUNDS"); do
  n=${#paths[@]}
  for i in $(seq 0 $((n - 1))); do
    run_one "${paths[$(((i + round) % n))]}" "$round"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table -----------------------------------------------------------------
stats() { # PATH COLUMN -> "median min max"
  awk -v p="$1" -v c="$2" '$1 == p { print $c }' "$work/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

echo
echo "LUN → file on tmpfs, $SIZE_MB MiB of random data on tmpfs: $ROUNDS rounds, tgtd $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?'), $(uname -r), $(go version | awk '{print $3}'), $(nproc) CPUs; load average before: $load_before, after: $load_after"
echo "iscsi-dd defaults (16 READs of 1 MiB in flight); fuse-*: dd bs=1M through iscsi-fuse (cached: page cache and readahead; direct: --direct-io); median (min-max); MB/s = 10^6 bytes/s; CPU = user+system"
echo
printf '| %-11s | %-22s | %-22s | %-18s | %-18s | %-18s | %-8s |\n' path seconds "MB/s" "CPU s (copier)" "CPU s (iscsi-fuse)" "tgtd CPU s" "vs dd"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..10})"
declare -A med=()
for path in "${paths[@]}"; do
  read -r m _ _ <<<"$(stats "$path" 3)"
  med[$path]=$m
done
for path in "${paths[@]}"; do
  row=()
  for c in 2 3 4 5 6; do
    read -r m lo hi <<<"$(stats "$path" "$c")"
    row+=("$(printf '%s (%s-%s)' "$(printf '%.4g' "$m")" "$(printf '%.4g' "$lo")" "$(printf '%.4g' "$hi")")")
  done
  r=$(awk -v a="${med[$path]}" -v b="${med[iscsi-dd]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf '| %-11s | %-22s | %-22s | %-18s | %-18s | %-18s | %-8s |\n' "$path" "${row[@]}" "$r"
done
