#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmarks need on a Debian machine:
# tgtd (package tgt, the reference target), libiscsi's tools (package
# libiscsi-bin, the reference client), the NBD clients the NBD server is
# tested with (libnbd-bin: nbdinfo, nbdcopy; qemu-utils: qemu-img, qemu-io),
# what the FUSE tests run (fuse3, e2fsprogs, qemu-utils) and istgt (a second
# target for the conformance suite). Does nothing when all are present.
set -euo pipefail
need=()
command -v tgtd >/dev/null 2>&1 || need+=(tgt)
command -v iscsi-ls >/dev/null 2>&1 || need+=(libiscsi-bin)
# NBD clients for integration/nbd (our NBD server, cmd/iscsi-nbd).
command -v nbdinfo >/dev/null 2>&1 || need+=(libnbd-bin)
command -v qemu-io >/dev/null 2>&1 || need+=(qemu-utils)

# iscsi-fuse's tests (integration/fuse): fusermount3, and the programs they
# run on the mounted LUNs (mkfs.ext4 and e2fsck, qemu-img).
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
# istgt, a second target for the conformance suite (integration/conformance).
PATH="$PATH:/usr/sbin:/sbin" command -v istgt >/dev/null 2>&1 || need+=(istgt)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
timeout 600 $sudo apt-get update -qq
timeout 600 $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
