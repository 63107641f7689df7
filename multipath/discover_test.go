package multipath_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/iscsi-go/iscsi/internal/faketarget"
	"github.com/iscsi-go/iscsi/multipath"
)

// Discover turns the SendTargets answer of the first portal into the path
// list: the URL's own portal first, then the target's other portals (each
// once, other targets' left out), and Dial takes the list.
func TestDiscover(t *testing.T) {
	lun := []faketarget.LUN{{Number: 1, BlockSize: bs, Blocks: lunSize / bs}}
	b := faketarget.Start(t, faketarget.Config{LUNs: lun})
	other := faketarget.Start(t, faketarget.Config{LUNs: lun})
	name := b.Name()
	a := faketarget.Start(t, faketarget.Config{LUNs: lun, Discovery: []faketarget.DiscoveryEntry{
		{Name: "iqn.2024-01.test:another", Addresses: []string{other.Addr() + ",1"}},
		{Name: name, Addresses: []string{b.Addr() + ",1", b.Addr() + ",2"}},
	}})
	ctx := testCtx(t)
	first := "iscsi://" + a.Addr() + "/" + name + "/1?header_digest=none"
	urls, err := multipath.Discover(ctx, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{first, "iscsi://" + b.Addr() + "/" + name + "/1?header_digest=none"}; !slices.Equal(urls, want) {
		t.Fatalf("Discover = %q, want %q", urls, want)
	}
	d, err := multipath.Dial(ctx, urls, &multipath.Config{CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st := d.Stats()
	if len(st.Paths) != 2 || st.Paths[0].Portal != a.Addr() || st.Paths[1].Portal != b.Addr() || st.Paths[1].State != multipath.PathReady {
		t.Fatalf("paths %+v, want %s and %s, ready", st.Paths, a.Addr(), b.Addr())
	}
	if _, err := multipath.Discover(ctx, "iscsi://"+a.Addr()+"/iqn.2024-01.test:none/1", nil); !errors.Is(err, multipath.ErrNotDiscovered) {
		t.Fatalf("Discover of a target not listed: %v, want ErrNotDiscovered", err)
	}
}
