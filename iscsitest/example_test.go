package iscsitest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

// A test dials the server like any target and reads back what it wrote.
func Example() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 4096))
	defer srv.Close()

	ctx := context.Background()
	s, err := session.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAt([]byte("hello, iSCSI"), 10000); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := s.ReadAt(buf, 10000); err != nil {
		log.Fatal(err)
	}
	g, _ := s.Geometry(ctx)
	fmt.Printf("%s; %d blocks of %d bytes\n", buf, g.Blocks, g.BlockSize)
	fmt.Printf("%q\n", srv.Contents(1)[10000:10005])
	// Output:
	// hello, iSCSI; 256 blocks of 4096 bytes
	// "hello"
}

// CHAP: the server requires the account, the initiator gives it in the URL
// (or in Config, or in LIBISCSI_CHAP_USERNAME and LIBISCSI_CHAP_PASSWORD).
func ExampleWithMutualCHAP() {
	srv := iscsitest.NewServer(iscsitest.WithMutualCHAP("alice", "alice-secret", "target", "target-secret"))
	defer srv.Close()

	url := "iscsi://alice%alice-secret@" + srv.Addr() + "/" + srv.TargetName() + "/1" +
		"?target_user=target&target_password=target-secret"
	s, err := session.Dial(context.Background(), url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("logged in to", s.Target())
	// Output: logged in to iqn.2026-11.com.github.iscsi-go:iscsitest
}

// A medium error on the second READ, as a failing disk would report it.
func ExampleServer_Inject() {
	srv := iscsitest.NewServer()
	defer srv.Close()
	s, err := session.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	srv.Inject(iscsitest.Fault{
		Match:  iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16),
		After:  1,
		Count:  1,
		Action: iscsitest.Respond,
		Status: scsi.StatusCheckCondition,
		Sense:  iscsitest.Sense(scsi.SenseMediumError, scsi.ASCUnrecoveredReadError),
	})
	buf := make([]byte, 512)
	for i := 0; i < 3; i++ {
		_, err := s.ReadAt(buf, 0)
		var se *scsi.StatusError
		if errors.As(err, &se) {
			fmt.Println("read", i, "failed:", se.Sense.Key, se.Sense.ASC.Name())
			continue
		}
		fmt.Println("read", i, "error:", err)
	}
	// Output:
	// read 0 error: <nil>
	// read 1 failed: MEDIUM ERROR UNRECOVERED READ ERROR
	// read 2 error: <nil>
}

// A target that stops answering: the command's context ends it, and the
// session aborts it on the target and goes on.
func ExampleAction() {
	srv := iscsitest.NewServer()
	defer srv.Close()
	s, err := session.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	srv.Inject(iscsitest.Fault{Match: iscsitest.Opcode(scsi.OpRead10, scsi.OpRead16), Count: 1, Action: iscsitest.Ignore})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = s.ReadAtContext(ctx, make([]byte, 512), 0)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	_, err = s.ReadAt(make([]byte, 512), 0)
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}

// Two port groups: I/O through the standby port is refused with the sense
// SPC-4 names, until the group becomes active.
func ExampleWithPortGroup() {
	srv := iscsitest.NewServer(
		iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1),
		iscsitest.WithPortGroup(2, scsi.ALUAStandby, 1))
	defer srv.Close()
	standby := srv.Ports()[1]
	s, err := session.Dial(context.Background(), standby.URL(1), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	g, _ := s.DefaultUnit().ReportTargetPortGroups(context.Background())
	for _, tpg := range g.Groups {
		fmt.Println("group", tpg.ID, tpg.State, "ports", tpg.Ports)
	}
	_, err = s.ReadAt(make([]byte, 512), 0)
	var se *scsi.StatusError
	if errors.As(err, &se) {
		fmt.Println(se.Sense.Key, se.Sense.ASC.Name())
	}
	srv.SetPortGroupState(2, scsi.ALUAActiveNonOptimized)
	_, err = s.ReadAt(make([]byte, 512), 0) // the session retries the unit attention once
	fmt.Println(err, srv.PortStats(standby.ID).Reads)
	// Output:
	// group 1 ACTIVE/OPTIMIZED ports [1]
	// group 2 STANDBY ports [2]
	// NOT READY LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE
	// <nil> 1
}
