package session_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// FuzzExtents: a thin LUN answers every GET LBA STATUS with arbitrary
// bytes. Extents never panics, ends, and whatever it yields before an
// error is a run of extents, in order and without gaps, from the start
// asked for and within the range.
func FuzzExtents(f *testing.F) {
	desc := func(lba uint64, blocks uint32, st byte) []byte {
		d := make([]byte, 16)
		binary.BigEndian.PutUint64(d, lba)
		binary.BigEndian.PutUint32(d[8:], blocks)
		d[12] = st
		return d
	}
	status := func(ds ...[]byte) []byte {
		b := make([]byte, 8)
		for _, d := range ds {
			b = append(b, d...)
		}
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		return b
	}
	f.Add(status(desc(5, 10, 0), desc(15, 100, 1)))
	f.Add(status(desc(0, 64, 1)))
	f.Add(status(desc(5, 1, 0), desc(7, 1, 1)))
	f.Add(status(desc(1<<63, 0xffffffff, 2)))
	f.Add(status())
	f.Add([]byte{0, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 3})
	f.Fuzz(func(t *testing.T, answer []byte) {
		cfg := faketarget.Config{Name: tgtName, LUNs: disk(64), OnViolation: func(string) {},
			Hooks: faketarget.Hooks{Command: func(c *faketarget.Command) faketarget.Verdict {
				if c.CDB[0] != byte(scsi.OpServiceActionIn16) {
					return faketarget.Proceed
				}
				switch c.CDB[1] & 0x1f {
				case scsi.ServiceActionReadCapacity16:
					b := make([]byte, 32)
					binary.BigEndian.PutUint64(b, 63)
					binary.BigEndian.PutUint32(b[8:], 512)
					b[14] = 0x80 // LBPME
					return answerIn(c, b)
				case 0x12: // GET LBA STATUS
					return answerIn(c, answer)
				}
				return faketarget.Proceed
			}}}
		_, nc := faketarget.Pipe(t, cfg)
		s, err := session.Dial(context.Background(), "iscsi://fake:3260/"+tgtName+"/1", session.WithEnv(&session.Config{
			Dialer: pipeDialer{nc}, SkipTestUnitReady: true, DisableRecovery: true}, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		next := uint64(5)
		for e, err := range s.DefaultUnit().Extents(ctx, 5, 60) {
			if err != nil {
				break
			}
			if e.LBA != next || e.Blocks == 0 || e.LBA+e.Blocks > 60 {
				t.Fatalf("extent %+v, expected one from %d within 60", e, next)
			}
			if e.Offset != int64(e.LBA)*512 || e.Length != int64(e.Blocks)*512 {
				t.Fatalf("extent %+v: bytes do not match its blocks of 512 bytes", e)
			}
			next += e.Blocks
		}
	})
}
