package multipath_test

import (
	"slices"
	"testing"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/multipath"
	"github.com/iscsi-go/iscsi/scsi"
)

// Discover lists both ports of a target with port groups; with the first
// path down at Dial, the Device still finds the target's ALUA through the
// path that logged in, and sends its I/O there.
func TestALUADiscoverAndDeadFirstPath(t *testing.T) {
	srv := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs),
		iscsitest.WithPortGroup(1, scsi.ALUAActiveOptimized, 1), iscsitest.WithPortGroup(2, scsi.ALUAActiveNonOptimized, 1))
	defer srv.Close()
	ports := srv.Ports()
	ctx := testCtx(t)
	urls, err := multipath.Discover(ctx, ports[0].URL(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ports[0].URL(1), ports[1].URL(1)}; !slices.Equal(urls, want) {
		t.Fatalf("Discover = %q, want %q", urls, want)
	}
	gone := iscsitest.NewServer(iscsitest.WithLUN(lunSize, bs))
	dead := gone.URL()
	gone.Close()
	d, err := multipath.Dial(ctx, []string{dead, urls[1]}, &multipath.Config{CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st := d.Stats()
	if !st.ALUA || st.Paths[0].State != multipath.PathDown {
		t.Fatalf("stats %+v: want ALUA seen through path 1, path 0 down", st)
	}
	waitFor(t, "path 1's group", func() bool {
		a := d.Stats().Paths[1].ALUA
		return a.Known && a.Group == 2 && a.State == scsi.ALUAActiveNonOptimized
	})
	if err := d.TestUnitReady(ctx); err != nil {
		t.Fatal(err)
	}
}
