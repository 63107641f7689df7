// Command iscsi-fuse shows LUNs as files, through FUSE, so that any program
// that takes a path (cat, dd, cp, mkfs, fsck, qemu-img) reads and writes
// them without an initiator in the kernel:
//
//	iscsi-fuse [-o ro] [--allow-other] [--direct-io] [-i initiator-name] [-d] URL MOUNTPOINT
//
// A LUN URL (iscsi://host[:port]/target-iqn/lun) shows one file, lun<N>;
// a target URL (iscsi://host[:port]/target-iqn) a file per disk LUN; a
// portal URL (iscsi://host[:port]) a directory per target holding its
// files. It stays in the foreground until the file system is unmounted
// (fusermount3 -u MOUNTPOINT) or it gets SIGINT or SIGTERM, which unmount
// it and log out. It runs on Linux only. See docs/TOOLS.md and package
// internal/lunfs.
package main
