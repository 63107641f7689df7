package blockcopy_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/iscsi-go/iscsi/blockcopy"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/session"
)

// A backup of a LUN to a sparse image file, with its SHA-256 (what
// sha256sum of the image prints), then a restore to another LUN.
func Example() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(4<<20, 512), iscsitest.WithLUN(4<<20, 4096))
	defer srv.Close()
	ctx := context.Background()
	s, err := session.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	lun := s.DefaultUnit()
	if _, err := lun.WriteAt([]byte("hello, world"), 1<<20); err != nil {
		log.Fatal(err)
	}

	// Backup: LUN 1 → file.
	dir, err := os.MkdirTemp("", "blockcopy")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	img, err := os.Create(filepath.Join(dir, "lun1.img"))
	if err != nil {
		log.Fatal(err)
	}
	defer img.Close()
	res, err := blockcopy.Copy(ctx, img, lun, &blockcopy.Options{
		ZeroDetect: true,         // leave the zeros of a thick LUN as holes
		Hash:       sha256.New(), // holes hashed as zeros
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("backup: %d bytes, %d written, sha256 %x\n", res.Bytes, res.Written, res.Sum[:8])

	// Restore: file → LUN 2 (4096-byte blocks), read back and compared.
	lun2, err := s.LogicalUnit(2)
	if err != nil {
		log.Fatal(err)
	}
	res, err = blockcopy.Copy(ctx, lun2, img, &blockcopy.Options{Verify: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("restore: %d bytes, %d of holes not read\n", res.Bytes, res.Skipped)
	// Output:
	// backup: 4194304 bytes, 4096 written, sha256 4ce8d13b6273f1ef
	// restore: 4194304 bytes, 4190208 of holes not read
}
