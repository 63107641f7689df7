#!/usr/bin/env bash
# The main job on a fresh Debian machine: install tgtd when missing, start a
# private tgtd on 127.0.0.1 with a 64 MiB demo LUN, run the quickstart example
# against it (discover, log in, write, read back), and stop tgtd again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

dir=$(mktemp -d /tmp/iscsi-demo.XXXXXX)
ctl=$(( (RANDOM % 30000) + 1000 ))
export TGT_IPC_SOCKET="$dir/sock"
port=""
for p in $(seq 13260 13399); do
  if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "demo: no free port in 13260-13399" >&2; exit 1; }

pid=""
cleanup() {
  if [ -n "$pid" ]; then
    timeout 10 tgtadm -C "$ctl" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
    timeout 10 tgtadm -C "$ctl" --lld iscsi --op delete --mode system >/dev/null 2>&1 || true
    sleep 0.2
    kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

setsid tgtd -f -C "$ctl" --iscsi "portal=127.0.0.1:$port" >"$dir/tgtd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.05
done
adm() { timeout 10 tgtadm -C "$ctl" --lld iscsi "$@"; }
truncate -s 64M "$dir/demo.img"
adm --op new --mode target --tid 1 -T iqn.2026-11.com.github.iscsi-go:demo
adm --op new --mode logicalunit --tid 1 --lun 1 -b "$dir/demo.img"
adm --op bind --mode target --tid 1 -I ALL
echo "tgtd listening on 127.0.0.1:$port"

timeout 120 go run ./examples/quickstart "iscsi://127.0.0.1:$port"
