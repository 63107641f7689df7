package session

import (
	"github.com/iscsi-go/iscsi/internal/conn"
	"github.com/iscsi-go/iscsi/iovector"
)

// sumPieces appends to dst the CRC32C of each conn.PieceSize bytes of a
// write's data when the connection has data digests on, and returns it
// (dst unchanged when it has not). It runs on the caller's goroutine when
// the write is submitted, while the caller's buffer is likely still in its
// CPU's cache, rather than on the write path under the writer's lock: the
// Data-Out digests are then combined from these sums, whatever offsets
// the target's R2Ts ask for (conn.QueueVectorSums). A connection that
// turns digests on later (a reconnect) sums the data itself.
func (s *Session) sumPieces(dst []uint32, v *iovector.Vector) []uint32 {
	if c := s.cur.Load(); c == nil || !c.Digests().Data || v == nil {
		return dst
	}
	return conn.SumPieces(dst, v)
}
