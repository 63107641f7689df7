package session_test

import (
	"context"
	"io"
	"log"
	"os"

	"github.com/iscsi-go/iscsi/session"
)

// Copy a whole LUN to a file, and the file back to another LUN, at the
// speed of many commands in flight, with io.Copy.
func ExampleLogicalUnit_NewReader() {
	ctx := context.Background()
	s, err := session.Dial(ctx, "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	f, err := os.Create("disk1.img")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r := s.DefaultUnit().NewReader(ctx, 0, -1) // to the end of the LUN
	defer r.Close()
	if _, err := io.Copy(f, r); err != nil {
		log.Fatal(err)
	}

	u2, err := s.LogicalUnit(2)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		log.Fatal(err)
	}
	w := u2.NewWriter(ctx, 0)
	if _, err := io.Copy(w, f); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // the first error of any WRITE
		log.Printf("%d bytes written before the error: %v", w.Written(), err)
	}
}
