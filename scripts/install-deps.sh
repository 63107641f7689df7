#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmarks need on a Debian machine:
# tgtd (package tgt, the reference target), libiscsi's tools (package
# libiscsi-bin, the reference client), and the NBD clients the NBD server is
# tested with (libnbd-bin: nbdinfo, nbdcopy; qemu-utils: qemu-img, qemu-io).
# Does nothing when all are present.
set -euo pipefail
need=()
command -v tgtd >/dev/null 2>&1 || need+=(tgt)
command -v iscsi-ls >/dev/null 2>&1 || need+=(libiscsi-bin)
# NBD clients for integration/nbd (our NBD server, cmd/iscsi-nbd).
command -v nbdinfo >/dev/null 2>&1 || need+=(libnbd-bin)
command -v qemu-io >/dev/null 2>&1 || need+=(qemu-utils)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
timeout 600 $sudo apt-get update -qq
timeout 600 $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
