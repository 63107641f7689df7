// Package fuse tests cmd/iscsi-fuse against tgtd through the kernel's FUSE:
// programs no one here wrote (cat, md5sum, dd, cp, fallocate, mkfs.ext4,
// e2fsck, qemu-img) use the mounted LUN files, and the results are checked
// against tgtd's backing files. It needs /dev/fuse and fusermount3 (Debian
// fuse3) besides tgtd; scripts/install-deps.sh installs the packages.
package fuse
