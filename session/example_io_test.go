package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// ReadAt and WriteAt take any offset and length: a LUN is an
// io.ReaderAt and io.WriterAt (an io.SectionReader makes it an io.Reader).
func ExampleSession_ReadAt() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer srv.Close()
	s, err := session.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if _, err := s.WriteAt([]byte("unaligned bytes"), 1000); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 15)
	n, err := s.ReadAt(buf, 1000)
	fmt.Println(n, err, string(buf))
	// Output: 15 <nil> unaligned bytes
}

// Another LUN of the same target, through its own handle.
func ExampleSession_LogicalUnit() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512), iscsitest.WithLUN(8<<20, 4096))
	defer srv.Close()
	s, err := session.Dial(context.Background(), srv.URL(), nil) // the URL names LUN 1
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	lun2, err := s.LogicalUnit(2)
	if err != nil {
		log.Fatal(err)
	}
	g, err := lun2.Geometry(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("LUN %v: %d blocks of %d bytes\n", lun2.LUN(), g.Blocks, g.BlockSize)
	// Output: LUN 2: 2048 blocks of 4096 bytes
}

// Cancelling a command's context aborts it on the target (ABORT TASK);
// Wait returns the context's error and the buffer is no longer touched.
func ExampleFuture_Wait_cancel() {
	srv := iscsitest.NewServer()
	defer srv.Close()
	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), Count: 1,
		Action: iscsitest.Ignore}) // the target sits on the next READ
	s, err := session.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	buf := make([]byte, 4096)
	_, err = s.Read(ctx, 0, 8, iovector.New(buf)).Wait()
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// The session goes on.
	_, err = s.ReadAt(buf, 0)
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}

// Credentials from the environment keep the password out of the command
// line and the URL, as with libiscsi. Config's credentials, when set, win
// over the environment; the URL's win over both.
func ExampleDial_chapFromEnvironment() {
	srv := iscsitest.NewServer(iscsitest.WithCHAP("alice", "alice-secret"))
	defer srv.Close()
	os.Setenv("LIBISCSI_CHAP_USERNAME", "alice")
	os.Setenv("LIBISCSI_CHAP_PASSWORD", "alice-secret")
	defer os.Unsetenv("LIBISCSI_CHAP_USERNAME")
	defer os.Unsetenv("LIBISCSI_CHAP_PASSWORD")

	s, err := session.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("logged in with CHAP")
	// Output: logged in with CHAP
}

// Callbacks keep many commands in flight without a goroutine per command,
// the way libiscsi's event loop does: each callback issues the next read
// of its chain. A callback must not block; here it only counts and
// reissues, and the last one of each chain signals the WaitGroup.
func ExampleSession_ReadFunc() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer srv.Close()
	s, err := session.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	const chains, perChain, blocks = 4, 16, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done, failed int
	for c := range chains {
		wg.Add(1)
		v := iovector.New(make([]byte, blocks*512))
		next := uint64(c * perChain * blocks)
		n := 0
		var read func()
		read = func() {
			s.ReadFunc(context.Background(), next, blocks, v, func(_ session.Result, err error) {
				mu.Lock()
				if err != nil {
					failed++
				} else {
					done++
				}
				mu.Unlock()
				if n++; err != nil || n == perChain {
					wg.Done()
					return
				}
				next += blocks
				read() // issue the next command from the callback
			})
		}
		read()
	}
	wg.Wait()
	fmt.Println(done, "reads,", failed, "failed")
	// Output: 64 reads, 0 failed
}
