package multipath_test

import (
	"context"
	"fmt"
	"log"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/scsi"
)

// Two portals of one LUN (here two in-process targets that report the same
// device identity), used as one device.
func Example() {
	a := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer a.Close()
	b := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer b.Close()

	ctx := context.Background()
	d, err := multipath.Dial(ctx, []string{a.URL(), b.URL()}, &multipath.Config{Selector: multipath.RoundRobin})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	for i := range 4 {
		if err := d.TestUnitReady(ctx); err != nil {
			log.Fatal(i, err)
		}
	}
	for _, p := range d.Stats().Paths {
		fmt.Println(p.State, p.Commands)
	}
	// Output:
	// ready 2
	// ready 2
}

// A target with two port groups (ALUA): the I/O goes to the optimized
// path, and follows the groups when their states change.
func Example_alua() {
	srv := iscsitest.NewServer(
		iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1),
		iscsitest.WithPortGroup(2, scsi.ALUAStandby, 1))
	defer srv.Close()
	ports := srv.Ports()

	ctx := context.Background()
	d, err := multipath.Dial(ctx, []string{ports[0].URL(1), ports[1].URL(1)}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	show := func() {
		for i, p := range d.Stats().Paths {
			fmt.Printf("path %d: group %d %v, %d commands\n", i, p.ALUA.Group, p.ALUA.State, p.Commands)
		}
	}
	if err := d.TestUnitReady(ctx); err != nil {
		log.Fatal(err)
	}
	show()
	srv.SetPortGroupState(1, scsi.ALUAStandby)
	srv.SetPortGroupState(2, scsi.ALUAActiveOptimized)
	// The next command meets the unit attention of the change on path 0;
	// the Device reads the groups again and sends it on path 1, where it
	// meets that nexus's unit attention, then goes through.
	if err := d.TestUnitReady(ctx); err != nil {
		log.Fatal(err)
	}
	show()
	// Output:
	// path 0: group 1 ACTIVE/OPTIMIZED, 1 commands
	// path 1: group 2 STANDBY, 0 commands
	// path 0: group 1 STANDBY, 2 commands
	// path 1: group 2 ACTIVE/OPTIMIZED, 2 commands
}
