// Package blockcopy copies block devices: a LUN to a file, a file to a LUN,
// a LUN to a LUN, a file to a file, or any io.ReaderAt to any io.WriterAt.
// It is what backup, restore, migration and clone code is made of, the way
// aws-sdk-go-v2's S3 transfer manager is for objects.
//
// Copy reads and writes chunks with many commands in flight, keeps holes
// (it does not read what the source says is deallocated, and makes zeros at
// the destination without writing them where it can), hashes the logical
// content in order while the I/O runs in parallel (so the sum equals
// sha256sum or md5sum of the image), and can verify, resume, copy
// incrementally against a base, go on past unreadable ranges, and flush the
// destination before it reports success.
//
// # Endpoints
//
// The source is an io.ReaderAt and the destination an io.WriterAt. Copy
// looks for more in them, as io.Copy looks for io.WriterTo:
//
//   - *session.LogicalUnit and *session.Session (its default unit): the size
//     and block size from Geometry; I/O with ReadAtContext and
//     WriteAtContext; where data is from GET LBA STATUS (Extents) when the
//     LUN is thin provisioned and deallocated blocks read as zeros (LBPRZ);
//     zeros made with UNMAP (Discard) or WRITE SAME (WriteZeroes) on such a
//     LUN; SYNCHRONIZE CACHE (Sync) at the end.
//   - *os.File: the size from Stat (or by seeking to the end of a device);
//     on Linux, holes of a regular file found with SEEK_DATA/SEEK_HOLE and
//     zeros made by punching holes (fallocate); a regular destination
//     shorter than the source is extended first; fsync at the end.
//   - Anything else: the size from a Size() int64 method (bytes.Reader,
//     io.SectionReader) or Options.Size; the optional interfaces Mapper
//     (where the data is), Zeroer (make a range zero without writing it),
//     BlockSizer, ContextReaderAt, ContextWriterAt and a Sync method. A
//     multipath handle or a network block device plugs in this way.
//
// # Holes and zeros
//
// A byte range the source maps as a hole is not read: it is hashed as
// zeros, and at the destination it is left alone when the destination is
// known to read as zeros (Options.DstZeroed, or a regular file that Copy
// found empty), made zero with the destination's cheap way (UNMAP, WRITE
// SAME, a punched hole) when it has one, and written as zeros otherwise.
// With Options.ZeroDetect, zeros read from the source (a whole chunk, or a
// run of 64 KiB and more within one) are treated as a hole at the
// destination. Options.Dense turns all of this off: every byte is read and
// written.
//
// # Offload
//
// With Options.XCopy, between two LUNs of one target that is a copy
// manager (VPD page 0x8f), the target copies the data itself (EXTENDED
// COPY): none of it crosses the network. Otherwise, or when the target
// refuses, the data is streamed; Result.NoOffload says why.
//
// # Ordering
//
// Chunks are read and written by Options.Concurrency workers in any order;
// the hash and Result.Completed advance in order. A Copy that fails or is
// cancelled reports in Result.Completed the offset up to which every byte
// is at the destination: Options.Resume from there finishes the job.
package blockcopy
