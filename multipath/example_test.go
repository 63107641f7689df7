package multipath_test

import (
	"context"
	"fmt"
	"log"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
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
