#!/usr/bin/env bash
# bench/dd.sh: our iscsi-dd against qemu-img convert (libiscsi underneath)
# and, with OLD_REV, against the iscsi-dd of an older revision, copying a LUN
# to a file and a file to a LUN, alternately, several rounds each.
#
# It starts its own tgtd (private IPC socket, a free port on 127.0.0.1, never
# 3260) with LUNs backed by files on tmpfs (/dev/shm), so that neither side
# waits for a disk, and the copies go to files on tmpfs too:
#   dense: SIZE_MB MiB of random data (thin provisioning off);
#   thin:  a thin LUN of SIZE_MB MiB holding EXTENTS scattered 4 KiB extents of
#          random data, holes elsewhere (GET LBA STATUS, UNMAP).
# Each case runs LUN → file and file → LUN (the file being the LUN's image);
# a file → LUN destination is emptied before each run. Each copy is checked
# byte for byte (cmp). It installs tgt, libiscsi-bin and qemu-utils +
# qemu-block-extra when missing, builds our iscsi-dd (and the old one), and
# prints per case and tool the median and range (min-max) of seconds, MB/s
# (10^6 bytes of the LUN per second) and the CPU seconds of the copying
# process (user+system) and of tgtd, then ours/qemu-img and ours/old.
#
# Environment:
#   ROUNDS=3        rounds (each runs every tool, the order rotated every round)
#   SIZE_MB=1024    LUN size in MiB
#   EXTENTS=2048    4 KiB extents of data in the thin case
#   CASES="dense:lun2file dense:file2lun thin:lun2file thin:file2lun"
#   DD_ARGS="..."   extra arguments of both iscsi-dd (default: none: 16 in flight, 1 MiB)
#   OLD_REV=rev     also run cmd/iscsi-dd as of this git revision ("old")
#   KEEP=1          keep the work directory (raw outputs) for inspection
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SIZE_MB=${SIZE_MB:-1024}
EXTENTS=${EXTENTS:-2048}
CASES=${CASES:-dense:lun2file dense:file2lun thin:lun2file thin:file2lun}
DD_ARGS=${DD_ARGS:-}
OLD_REV=${OLD_REV:-}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsi-dd-bench.XXXXXX")
shm=""
name=dd.sh
# shellcheck source=bench/tgtd.sh
. "$repo/bench/tgtd.sh"

cleanup() {
  local rc=$?
  stop_tgtd
  [ -n "$shm" ] && rm -rf "$shm"
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
for t in tgtd tgtadm qemu-img timeout go awk sort cmp dd truncate; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found"
done
tools="qemu-img iscsi-dd"
log "building cmd/iscsi-dd"
(cd "$repo" && timeout 300 go build -o "$work/iscsi-dd" ./cmd/iscsi-dd) || die "go build ./cmd/iscsi-dd failed"
if [ -n "$OLD_REV" ]; then
  log "building cmd/iscsi-dd as of $OLD_REV"
  mkdir "$work/old-src"
  git -C "$repo" archive "$OLD_REV" | tar -x -C "$work/old-src" || die "git archive $OLD_REV failed"
  (cd "$work/old-src" && timeout 300 go build -o "$work/old-iscsi-dd" ./cmd/iscsi-dd) || die "building the old iscsi-dd failed"
  tools="$tools old-iscsi-dd"
fi
clk=$(getconf CLK_TCK)

# --- images and tgtd -------------------------------------------------------
shm=$(mktemp -d /dev/shm/iscsi-dd-bench.XXXXXX)
size=$((SIZE_MB << 20))
log "filling $shm/dense.img with $SIZE_MB MiB of random data"
timeout 300 head -c "$size" /dev/urandom >"$shm/dense.img"
log "writing $EXTENTS scattered 4 KiB extents into $shm/thin.img"
truncate -s "$size" "$shm/thin.img"
blocks=$((size / 4096))
# Block i*2654435761 mod blocks: distinct for a power-of-two block count.
awk -v n="$EXTENTS" -v b="$blocks" 'BEGIN { for (i = 0; i < n; i++) print (i * 2654435761) % b }' |
  while read -r blk; do
    dd if=/dev/urandom of="$shm/thin.img" bs=4096 seek="$blk" count=1 conv=notrunc status=none
  done
cp "$shm/dense.img" "$shm/dense-lun.img"
cp --sparse=always "$shm/thin.img" "$shm/thin-lun.img"
truncate -s "$size" "$shm/dense-dst.img" "$shm/thin-dst.img"

start_tgtd
iqn="iqn.2026-11.com.github.iscsi-go:dd-bench"
tgtadm_ --op new --mode target --tid 1 --targetname "$iqn"
tgtadm_ --op new --mode logicalunit --tid 1 --lun 1 -b "$shm/dense-lun.img"
tgtadm_ --op new --mode logicalunit --tid 1 --lun 2 -b "$shm/thin-lun.img"
tgtadm_ --op new --mode logicalunit --tid 1 --lun 3 -b "$shm/dense-dst.img"
tgtadm_ --op new --mode logicalunit --tid 1 --lun 4 -b "$shm/thin-dst.img"
for lun in 2 4; do
  tgtadm_ --op update --mode logicalunit --tid 1 --lun "$lun" --params thin_provisioning=1
done
tgtadm_ --op bind --mode target --tid 1 -I ALL
url() { echo "iscsi://127.0.0.1:$PORT/$iqn/$1"; }
log "tgtd pid $tgtd_pid on 127.0.0.1:$PORT"

# --- runs ------------------------------------------------------------------
# cpu_of FILE: the children's user+system seconds from bash's `times`.
cpu_of() {
  awk 'NR==2 { n=split($0, f, " "); s=0; for (i=1;i<=n;i++) { split(f[i], ms, "m"); sub("s","",ms[2]); s += ms[1]*60 + ms[2] } print s }' "$1"
}

tgtd_ticks() { awk '{print $14 + $15}' "/proc/$tgtd_pid/stat"; }

# run_one CASE TOOL ROUND: appends "case tool secs mbps cpu_s tgtd_cpu_s".
run_one() {
  local case=$1 tool=$2 round=$3 kind=${1%%:*} dir=${1#*:}
  local base="$work/${case/:/-}.$tool.$round" src dst img lun dstfile
  img="$shm/$kind.img"
  if [ "$kind" = dense ]; then lun=1; else lun=2; fi
  if [ "$dir" = lun2file ]; then
    src=$(url "$lun")
    dst="$shm/out.img"
    rm -f "$dst"
    dstfile=$dst
  else
    src=$img
    if [ "$kind" = dense ]; then lun=3; else lun=4; fi
    dst=$(url "$lun")
    dstfile="$shm/$kind-dst.img"
    # An empty destination (tgtd keeps its descriptor: the file is emptied
    # in place).
    truncate -s 0 "$dstfile"
    truncate -s "$size" "$dstfile"
  fi
  local cmd
  case $tool in
  qemu-img)
    if [ "$dir" = lun2file ]; then
      cmd=(qemu-img convert -O raw "$src" "$dst")
    else
      cmd=(qemu-img convert -n -f raw -O raw "$src" "$dst")
    fi
    ;;
  # shellcheck disable=SC2206
  iscsi-dd) cmd=("$work/iscsi-dd" $DD_ARGS -s "$src" -d "$dst") ;;
  # shellcheck disable=SC2206
  old-iscsi-dd) cmd=("$work/old-iscsi-dd" $DD_ARGS -s "$src" -d "$dst") ;;
  esac
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
  [ "$rc" = 0 ] || { cat "$base.err" >&2; die "$case $tool round $round failed (exit $rc)"; }
  cmp -s "$img" "$dstfile" || die "$case $tool round $round: the copy differs from the source"
  awk -v c="$case" -v tool="$tool" -v t0="$t0" -v t1="$t1" -v bytes="$size" -v cpu="$(cpu_of "$base.times")" \
    -v kt=$((k1 - k0)) -v clk="$clk" 'BEGIN {
      s = t1 - t0
      printf "%s %s %.3f %.1f %.2f %.2f\n", c, tool, s, bytes / s / 1e6, cpu, kt / clk
    }' >>"$work/results"
  log "round $round: $(tail -1 "$work/results")"
}

: >"$work/results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "load before: $load_before; $ROUNDS rounds; columns: case tool seconds MB/s cpu_s tgtd_cpu_s"
read -r -a tool_list <<<"$tools"
for round in $(seq "$ROUNDS"); do
  for case in $CASES; do
    # Rotate the order every round.
    n=${#tool_list[@]}
    for i in $(seq 0 $((n - 1))); do
      run_one "$case" "${tool_list[$(((i + round) % n))]}" "$round"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- tables ----------------------------------------------------------------
stats() { # CASE TOOL COLUMN -> "median min max"
  awk -v c="$1" -v tool="$2" -v col="$3" '$1 == c && $2 == tool { print $col }' "$work/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

echo
echo "$SIZE_MB MiB LUNs on tmpfs (dense: random data; thin: $EXTENTS scattered 4 KiB extents), $ROUNDS rounds, tgtd $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?'), qemu-img $(qemu-img --version | awk 'NR==1 {print $3}'), libiscsi $(dpkg-query -W -f '${Version}' libiscsi7 2>/dev/null || echo '?'), $(go version | awk '{print $3}'), $(nproc) CPUs; load average before: $load_before, after: $load_after"
echo "iscsi-dd ${DD_ARGS:-(defaults: -m 16, 1 MiB per command)}${OLD_REV:+; old-iscsi-dd: cmd/iscsi-dd at $OLD_REV}; qemu-img convert -O raw (file → LUN: -n); median (min-max); MB/s = LUN bytes / 10^6 / s; CPU = user+system of the copying process"
for case in $CASES; do
  echo
  echo "$case:"
  echo
  printf '| %-12s | %-24s | %-24s | %-22s | %-22s |\n' tool seconds "MB/s" "CPU s" "tgtd CPU s"
  printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})"
  declare -A med=()
  for tool in $tools; do
    row=()
    for c in 3 4 5 6; do
      read -r m lo hi <<<"$(stats "$case" "$tool" "$c")"
      med[$tool.$c]=$m
      row+=("$(printf '%s (%s-%s)' "$(printf '%.4g' "$m")" "$(printf '%.4g' "$lo")" "$(printf '%.4g' "$hi")")")
    done
    printf '| %-12s | %-24s | %-24s | %-22s | %-22s |\n' "$tool" "${row[@]}"
  done
  ratio() { awk -v a="${med[iscsi-dd.$2]}" -v b="${med[$1.$2]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
  printf '| %-12s | %-24s | %-24s | %-22s | %-22s |\n' "ours/qemu" "$(ratio qemu-img 3)" "$(ratio qemu-img 4)" "$(ratio qemu-img 5)" "$(ratio qemu-img 6)"
  if [ -n "$OLD_REV" ]; then
    printf '| %-12s | %-24s | %-24s | %-22s | %-22s |\n' "ours/old" "$(ratio old-iscsi-dd 3)" "$(ratio old-iscsi-dd 4)" "$(ratio old-iscsi-dd 5)" "$(ratio old-iscsi-dd 6)"
  fi
  unset med
done
