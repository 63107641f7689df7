package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// A sparse copy: read only the mapped extents of a thin LUN.
func ExampleLogicalUnit_Extents() {
	ctx := context.Background()
	s, err := session.Dial(ctx, "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	u := s.DefaultUnit()
	g, err := u.Geometry(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for e, err := range u.Extents(ctx, 0, g.Blocks) {
		if err != nil {
			log.Fatal(err)
		}
		if !e.Mapped() {
			continue // a hole: nothing to copy
		}
		buf := make([]byte, e.Blocks*uint64(g.BlockSize))
		if _, err := u.ReadAtContext(ctx, buf, int64(e.LBA)*int64(g.BlockSize)); err != nil {
			log.Fatal(err)
		}
		// ... write buf at the same offset of the copy.
	}
}

// Fencing with a persistent reservation: register a key, take a write
// exclusive reservation; another host's writes then fail with
// RESERVATION CONFLICT.
func ExampleLogicalUnit_PRReserve() {
	ctx := context.Background()
	s, err := session.Dial(ctx, "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1",
		&session.Config{InitiatorName: "iqn.2003-01.org.example:host-a"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	u := s.DefaultUnit()
	const key = 0x1234
	if err := u.PRRegisterAndIgnore(ctx, key); err != nil {
		log.Fatal(err)
	}
	err = u.PRReserve(ctx, key, scsi.PRTypeWriteExclusive)
	if errors.Is(err, scsi.ErrReservationConflict) {
		r, _ := u.PRReadReservation(ctx)
		fmt.Printf("held by key %#x\n", r.Key)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
}

// Aborting one command: its Future's Wait then says it was aborted.
func ExampleSession_Abort() {
	ctx := context.Background()
	s, err := session.Dial(ctx, "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	u := s.DefaultUnit()
	f := u.Execute(ctx, scsi.SynchronizeCache16(0, 0, false), session.DirNone, nil)
	if err := s.Abort(ctx, f); err != nil {
		log.Fatal(err)
	}
	if _, err := f.Wait(); errors.Is(err, session.ErrAborted) {
		fmt.Println("aborted")
	}
}
