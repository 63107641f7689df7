package multipath

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/session"
)

// ErrNotDiscovered: the portal's SendTargets answer does not list the
// URL's target.
var ErrNotDiscovered = errors.New("multipath: the target is not in the portal's SendTargets answer")

// Discover builds the path list of a LUN from its target's portals: it
// opens a discovery session to the portal of rawURL (with cfg, and the
// URL's credentials, as session.Discover does), asks SendTargets=All, and
// returns rawURL followed by one URL per other portal the answer lists for
// the URL's target (its TargetAddress entries, in the target's order):
// rawURL with only the host and port replaced, so credentials and
// arguments go to every path. Hand the list to Dial, which checks that
// every path reaches the same device.
//
// Portals listed twice and the URL's own portal are left out. A target
// that is not listed is ErrNotDiscovered. A portal is returned whatever
// its portal group: Dial's identity check, not the group, decides what is
// the same LUN.
func Discover(ctx context.Context, rawURL string, cfg *session.Config) ([]string, error) {
	u, err := iscsiurl.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	targets, err := session.DiscoverURL(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	urls := []string{rawURL}
	seen := map[string]bool{u.Portal(): true}
	found := false
	for _, t := range targets {
		if t.Name != u.Target {
			continue
		}
		found = true
		for _, p := range t.Portals {
			hp := p.HostPort()
			if seen[hp] {
				continue
			}
			seen[hp] = true
			other, err := withPortal(rawURL, u, hp)
			if err != nil {
				return nil, err
			}
			urls = append(urls, other)
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: %s at %s", ErrNotDiscovered, u.Target, u.Portal())
	}
	return urls, nil
}

// withPortal returns rawURL (parsed as u) with its host and port replaced
// by portal ("host:port", "[v6]:port"), everything else as it was. The
// result is parsed back and compared with u, so that a URL the rewrite
// would change in another way (a password holding a '/', say) is refused
// rather than dialed wrong.
func withPortal(rawURL string, u *iscsiurl.URL, portal string) (string, error) {
	rest, _ := strings.CutPrefix(rawURL, "iscsi://")
	main, query, hasQuery := strings.Cut(rest, "?")
	userinfo, hostPath, hasUser := strings.Cut(main, "@")
	if !hasUser {
		hostPath = main
	}
	_, path, _ := strings.Cut(hostPath, "/")
	var b strings.Builder
	b.WriteString("iscsi://")
	if hasUser {
		b.WriteString(userinfo + "@")
	}
	b.WriteString(portal + "/" + path)
	if hasQuery {
		b.WriteString("?" + query)
	}
	out := b.String()
	v, err := iscsiurl.Parse(out)
	if err == nil {
		w := *u
		w.Host, w.Port = v.Host, v.Port
		if v.Portal() != portal || !reflect.DeepEqual(*v, w) {
			err = errors.New("the URL changed beyond its portal")
		}
	}
	if err != nil {
		return "", fmt.Errorf("multipath: %s with portal %s: %w", u, portal, err)
	}
	return out, nil
}
