package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// A sparse copy: read only the mapped extents of a thin LUN, in chunks of
// at most 1 MiB (an extent may be the whole LUN), and write them at the
// same offsets of the copy.
func ExampleLogicalUnit_Extents() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(5<<20, 4096))
	defer srv.Close()
	ctx := context.Background()
	s, err := session.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	u := s.DefaultUnit()
	g, err := u.Geometry(ctx)
	if err != nil {
		log.Fatal(err)
	}
	copyFile, err := os.CreateTemp("", "lun-copy-*.img")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(copyFile.Name())
	defer copyFile.Close()
	if err := copyFile.Truncate(g.Size()); err != nil { // holes read as zeros
		log.Fatal(err)
	}
	buf := make([]byte, 1<<20) // the only buffer, whatever the extents
	reads := 0
	for e, err := range u.Extents(ctx, 0, g.Blocks) {
		if err != nil {
			log.Fatal(err)
		}
		if !e.Mapped() {
			continue // deallocated: a hole in the copy
		}
		for off := e.Offset; off < e.Offset+e.Length; {
			p := buf[:min(int64(len(buf)), e.Offset+e.Length-off)]
			if _, err := u.ReadAtContext(ctx, p, off); err != nil {
				log.Fatal(err)
			}
			if _, err := copyFile.WriteAt(p, off); err != nil {
				log.Fatal(err)
			}
			off += int64(len(p))
			reads++
		}
	}
	fmt.Printf("copied %d bytes in %d reads\n", g.Size(), reads)
	// Output: copied 5242880 bytes in 5 reads
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

// Fencing a closed session: its writes may still land (the error of one
// in flight at Close matches ErrMayHaveExecuted). Dialing the next session
// with the old ISID reinstates the old one on the target, and Dial's
// barrier waits for whatever the target still executes on the URL's LUN;
// Barrier does the same for another LUN the old session wrote to.
func ExampleLogicalUnit_Barrier() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithLUN(1<<20, 512))
	defer srv.Close()
	ctx := context.Background()
	old, err := session.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	isid := old.ISID()
	old.Close()

	s, err := session.Dial(ctx, srv.URL(), &session.Config{ISID: isid}) // barrier on the URL's LUN
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	other, err := s.LogicalUnit(2)
	if err != nil {
		log.Fatal(err)
	}
	if err := other.Barrier(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("nothing of the old session lands after this point")
	// Output: nothing of the old session lands after this point
}
