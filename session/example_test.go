package session_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

// A LUN as an io.ReaderAt and io.WriterAt. Credentials can also come from
// LIBISCSI_CHAP_USERNAME and LIBISCSI_CHAP_PASSWORD, so that they do not
// show in ps.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, "iscsi://user%secret@192.0.2.10:3260/iqn.2003-01.org.example:disk1/1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 1000)
	if _, err := s.ReadAt(buf, 12345); err != nil { // any offset and length
		log.Fatal(err)
	}
	if _, err := s.WriteAt(buf, 1<<20); err != nil {
		log.Fatal(err)
	}
	if err := s.Logout(ctx); err != nil {
		log.Fatal(err)
	}
}

// Commands as futures filling your own buffers: no allocation per command.
// Cancelling the context aborts the command on the target.
func ExampleSession_Read() {
	ctx := context.Background()
	s, err := session.Dial(ctx, "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	g, err := s.Geometry(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// Four reads in flight at once, each of 16 blocks into two buffers of
	// the caller (a scatter-gather vector).
	futures := make([]session.Future, 4)
	for i := range futures {
		a := make([]byte, 8*int(g.BlockSize))
		b := make([]byte, 8*int(g.BlockSize))
		futures[i] = s.Read(ctx, uint64(i)*16, 16, iovector.New(a, b))
	}
	for i := range futures {
		if _, err := futures[i].Wait(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("read 64 blocks")
}

func ExampleDiscover() {
	targets, err := session.Discover(context.Background(), "iscsi://192.0.2.10", nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range targets {
		for _, p := range t.Portals {
			fmt.Printf("Target:%s Portal:%s\n", t.Name, p.Address)
		}
	}
}
