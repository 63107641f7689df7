// Package nbd serves block devices, LUNs above all, over the Network Block
// Device protocol (NetworkBlockDevice/nbd, doc/proto.md), so that any NBD
// client (qemu, nbdcopy, nbdinfo, nbdfuse, the kernel's nbd-client) can
// read and write a LUN through this initiator.
//
// A Server speaks the fixed newstyle handshake (NBD_OPT_GO, INFO, LIST,
// ABORT, and EXPORT_NAME for old clients), structured replies, and the
// base:allocation meta context; in transmission it serves READ, WRITE
// (FUA as a WRITE with the FUA bit), FLUSH (SYNCHRONIZE CACHE), TRIM
// (UNMAP), WRITE_ZEROES (WRITE SAME, with or without UNMAP as
// NBD_CMD_FLAG_NO_HOLE says) and BLOCK_STATUS (GET LBA STATUS). Requests
// are served concurrently, each on its own goroutine, so the client's
// queue depth reaches the target; the bytes in flight per connection and
// the size of one request are bounded. Exports advertise
// NBD_FLAG_CAN_MULTI_CONN: connections share the device (one iSCSI
// session) and the server caches nothing.
//
// Anything that implements Device can be served; *session.LogicalUnit
// does, with every optional ability (Discarder, Zeroer, SameWriter,
// ExtentLister, FlagWriter):
//
//	s, _ := session.Dial(ctx, "iscsi://127.0.0.1/iqn.2003-01.org.example:disk1/1", nil)
//	srv := &nbd.Server{Exports: []nbd.Export{{Name: "1", Device: s.DefaultUnit()}}, Default: "1"}
//	l, _ := net.Listen("tcp", "127.0.0.1:10809")
//	go srv.Serve(l)
//	// nbdcopy nbd://127.0.0.1 disk.img
//
// cmd/iscsi-nbd is that program, with a target's LUNs as exports.
//
// TLS (NBD_OPT_STARTTLS) and extended headers are not offered; the
// handshake refuses them politely and clients go on without.
package nbd
