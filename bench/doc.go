// Package bench holds the benchmarks that measure the initiator against
// fixed yardsticks, and bench/compare.sh, which compares cmd/iscsi-perf with
// libiscsi's iscsi-perf against tgtd (TARGET=istgt: against istgt, a
// second, multi-threaded target). bench/pstat.sh runs builds of either
// in turn under perf stat and prints their system calls and context
// switches per I/O.
//
// BenchmarkDistance measures, in the same run, (a) the raw loopback round
// trip of package rawrt (a zero-work server, 48-byte requests, 48-byte
// headers plus 4 KiB or 128 KiB of payload, 32 outstanding) and (b) a
// session reading the same sizes at queue depth 32 from an in-process null
// target (internal/faketarget) over loopback TCP, and reports (b)/(a): the
// share of the machine's loopback round-trip rate that survives iSCSI.
//
//	go test ./bench -run '^$' -bench Distance -benchtime 3s -count 5
//
// bench/bulk.sh runs session's BenchmarkBulk (in-process target) and
// integration's BenchmarkBulkTgtd (tgtd null LUN) in interleaved rounds:
// 64 MiB through io.Copy and the LogicalUnit Reader and Writer, one large
// ReadAt or WriteAt, a hand-written 8-goroutine copy, one command at a
// time, and a 32 KiB io.SectionReader, median MB/s of each.
package bench
