package session_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// FuzzHostileTarget logs in to a scripted target that then answers two
// reads in flight with arbitrary bytes. Whatever the bytes: no panic, both
// reads end (with data or an error), nothing is written outside the
// caller's buffers, and the session and its goroutines end on Close.
func FuzzHostileTarget(f *testing.F) {
	// The first two tasks of a session get ITTs 0x10000 and 0x10001.
	din := func(itt, off uint32, n int, status bool) []byte {
		return pdu.Append(nil, &pdu.DataIn{ITT: itt, BufferOffset: off, Final: status, HasStatus: status}, nil, bytes.Repeat([]byte{7}, n), pdu.Digests{})
	}
	f.Add(append(din(0x10000, 0, 4096, true), din(0x10001, 0, 4096, true)...))
	f.Add(append(din(0x10000, 0, 2048, false), din(0x10000, 2048, 2048, true)...))
	f.Add(din(0x10000, 4000, 4096, true))
	f.Add(pdu.Append(nil, &pdu.SCSIResponse{ITT: 0x10001, Status: 2}, nil, []byte{0, 8, 0x70, 0, 5, 0, 0, 0, 0, 0}, pdu.Digests{}))
	f.Add(pdu.Append(nil, &pdu.R2T{ITT: 0x10000, TTT: 1, DesiredDataTransferLength: 512}, nil, nil, pdu.Digests{}))
	f.Add(pdu.Append(nil, &pdu.Reject{Reason: 9}, nil, make([]byte, 48), pdu.Digests{}))
	f.Add(pdu.Append(nil, &pdu.AsyncMessage{AsyncEvent: 1}, nil, nil, pdu.Digests{}))
	f.Add(pdu.Append(nil, &pdu.NOPIn{ITT: pdu.ReservedITT, TTT: 9}, nil, nil, pdu.Digests{}))
	f.Add([]byte{0x25, 0x81, 0, 0, 0, 0xff, 0xff, 0xff})
	f.Fuzz(fuzzOnce)
}

func fuzzOnce(t *testing.T, hostile []byte) {
	{
		cfg := faketarget.Config{Name: tgtName, LUNs: disk(64), OnViolation: func(string) {},
			Script: func(p *faketarget.Peer) error {
				for i := 0; i < 2; i++ {
					if _, _, _, err := p.Recv(); err != nil {
						return err
					}
				}
				if err := p.WriteRaw(hostile); err != nil {
					return err
				}
				for { // drain what the initiator sends until it closes
					if _, _, _, err := p.Recv(); err != nil {
						return nil
					}
				}
			}}
		_, nc := faketarget.Pipe(t, cfg)
		s, err := session.Dial(context.Background(), "iscsi://fake:3260/"+tgtName+"/1", &session.Config{
			Dialer: pipeDialer{nc}, AbortTimeout: 20 * time.Millisecond, SkipTestUnitReady: true, LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		bufs := [2][]byte{make([]byte, 4096+64), make([]byte, 4096+64)}
		var fs [2]session.Future
		for i := range fs {
			fs[i] = s.Execute(ctx, s.LUN(), scsi.Read10(uint32(i)*8, 8, 0), session.DirRead, iovector.New(bufs[i][:4096]))
		}
		for i := range fs {
			_, _ = fs[i].Wait()
		}
		s.Close()
		for i := range bufs {
			for _, b := range bufs[i][4096:] {
				if b != 0 {
					t.Fatal("bytes written beyond the caller's buffer")
				}
			}
		}
	}
}
