// Package lunfs shows LUNs as files through FUSE (github.com/hanwen/go-fuse/v2):
// what cmd/iscsi-fuse mounts. A LUN URL gives one file, lun<N>; a target
// URL a file per disk LUN; a portal URL a directory per target, named
// after it, holding its LUNs' files.
//
// A file's size is the LUN's capacity, read again on each stat so that a
// resized LUN shows its new size. Reads and writes go through
// session.LogicalUnit's ReadAtContext and WriteAtContext (any offset and
// length; partial blocks read, modified and written), fsync sends
// SYNCHRONIZE CACHE, fallocate(PUNCH_HOLE|KEEP_SIZE) and ZERO_RANGE zero
// the range with WRITE SAME (with UNMAP where the LUN allows), lseek's
// SEEK_DATA and SEEK_HOLE follow GET LBA STATUS, and st_blocks counts the
// mapped blocks of a thin LUN, so that cp --sparse and qemu-img keep holes.
// Errors become errno values (see Errno); the SCSI sense of a failure is
// logged. A request the kernel interrupts (a signal to the program) still
// completes, as on a local disk.
//
// The package builds on 64-bit Linux only: go-fuse v2.12.1 does not
// compile for 32-bit Linux, and FreeBSD's and macOS's FUSE lack what the
// files need (lseek, fallocate).
package lunfs
