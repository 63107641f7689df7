// Command quickstart is the smallest useful program on this SDK: it
// discovers the targets of a portal, logs in to the first one's LUN 1,
// writes a block, reads it back, and prints what it did.
//
//	go run ./examples/quickstart iscsi://127.0.0.1:3260
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/iscsi-go/iscsi/session"
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: quickstart iscsi://[user[%password]@]host[:port]\n")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(portal string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	targets, err := session.Discover(ctx, portal, nil)
	if err != nil {
		return err
	}
	for _, t := range targets {
		for _, p := range t.Portals {
			fmt.Printf("discovered %s at %s\n", t.Name, p.Address)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("no targets at %s", portal)
	}

	url := fmt.Sprintf("%s/%s/1", portal, targets[0].Name)
	s, err := session.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	g, err := s.Geometry(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("logged in to %s LUN 1: %d blocks of %d bytes (%d MiB), header digest %v, data digest %v\n",
		s.Target(), g.Blocks, g.BlockSize, g.Size()>>20, s.Params().HeaderDigest, s.Params().DataDigest)

	msg := []byte(fmt.Sprintf("hello from iscsi-go at %s", time.Now().Format(time.RFC3339)))
	const off = 4096 + 100 // unaligned on purpose: the session reads, modifies and writes the block
	if _, err := s.WriteAt(msg, off); err != nil {
		return err
	}
	fmt.Printf("wrote %d bytes at offset %d\n", len(msg), off)
	got := make([]byte, len(msg))
	if _, err := s.ReadAt(got, off); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("read back %q, wrote %q", got, msg)
	}
	fmt.Printf("read back: %q\n", got)
	if err := s.Sync(ctx); err != nil {
		return err
	}
	if err := s.Logout(ctx); err != nil {
		return err
	}
	fmt.Println("logged out")
	return nil
}
