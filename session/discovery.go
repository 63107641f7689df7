package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/iscsi-go/iscsi/iscsiurl"
	"github.com/iscsi-go/iscsi/pdu/keys"
)

// DiscoveredTarget is one target of a SendTargets answer.
type DiscoveredTarget struct {
	Name    string
	Portals []DiscoveredPortal
}

// DiscoveredPortal is one TargetAddress of a target.
type DiscoveredPortal struct {
	// Address is the TargetAddress exactly as the target sent it,
	// "host:port,tpgt" ("[v6]:port,tpgt" for IPv6).
	Address string
	// Host and Port are where to connect; TPGT is the portal group tag, -1 if none.
	Host string
	Port int
	TPGT int
}

// HostPort returns the portal as host:port, with brackets for IPv6.
func (p DiscoveredPortal) HostPort() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Discover opens a discovery session to the portal of rawURL
// (iscsi://[user[%password]@]host[:port]), asks for SendTargets=All, logs
// out, and returns the targets in the order the target listed them.
func Discover(ctx context.Context, rawURL string, cfg *Config) ([]DiscoveredTarget, error) {
	c := cfg.withDefaults()
	u, err := c.parser().ParsePortal(rawURL)
	if err != nil {
		return nil, err
	}
	return DiscoverURL(ctx, u, &c)
}

// DiscoverURL is Discover for a URL already parsed.
func DiscoverURL(ctx context.Context, u *iscsiurl.URL, cfg *Config) ([]DiscoveredTarget, error) {
	c := cfg.withDefaults()
	// The whole discovery is bounded, not only the login.
	ctx, cancel := context.WithTimeout(ctx, c.LoginTimeout+c.CommandTimeout)
	defer cancel()
	s, err := dialURL(ctx, u, &c, true)
	if err != nil {
		return nil, err
	}
	text, err := s.SendTargets(ctx, "All")
	if lerr := s.Logout(ctx); err == nil && lerr != nil && !errors.Is(lerr, ErrSessionClosed) {
		s.log.Debug("iscsi: discovery logout", "err", lerr)
	}
	if err != nil {
		return nil, err
	}
	return parseSendTargets(text)
}

// SendTargets sends a Text Request SendTargets=<what> ("All", a target
// name, or "" for the session's target) and returns the answer's key=value
// pairs, gathered over as many Text Responses as the target needs.
func (s *Session) SendTargets(ctx context.Context, what string) ([]keys.Pair, error) {
	t := s.getTask()
	t.kind = kindText
	t.data = keys.AppendPairs(nil, keys.Pair{Key: "SendTargets", Value: what})
	text, err := s.submit(ctx, t).waitText()
	if err != nil {
		return nil, err
	}
	pairs, err := keys.Parse(text)
	if err != nil {
		return nil, protoErr("Text Response", "SendTargets answer: %v", err)
	}
	return pairs, nil
}

func parseSendTargets(pairs []keys.Pair) ([]DiscoveredTarget, error) {
	var out []DiscoveredTarget
	for _, p := range pairs {
		switch p.Key {
		case "TargetName":
			out = append(out, DiscoveredTarget{Name: p.Value})
		case "TargetAddress":
			if len(out) == 0 {
				return nil, protoErr("Text Response", "TargetAddress %q before any TargetName", p.Value)
			}
			portal, err := parseTargetAddress(p.Value, "Text Response")
			if err != nil {
				return nil, err
			}
			last := &out[len(out)-1]
			last.Portals = append(last.Portals, portal)
		case "TargetAlias":
		default:
			return nil, protoErr("Text Response", "unexpected key %s in a SendTargets answer", p.Key)
		}
	}
	return out, nil
}

// parseTargetAddress splits a TargetAddress "host:port,tpgt" (RFC 7143
// §13.9); the port and the tag may be missing. what names the PDU it came in.
func parseTargetAddress(v, what string) (DiscoveredPortal, error) {
	p := DiscoveredPortal{Address: v, TPGT: -1}
	addr := v
	if i := strings.LastIndexByte(v, ','); i >= 0 && !strings.Contains(v[i:], "]") {
		tpgt, err := strconv.Atoi(v[i+1:])
		if err != nil || tpgt < 0 || tpgt > 65535 {
			return p, protoErr(what, "TargetAddress %q has a bad portal group tag", v)
		}
		p.TPGT, addr = tpgt, v[:i]
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: the default one.
		host, port = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"), "3260"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 || host == "" {
		return p, protoErr(what, "TargetAddress %q is not host:port", v)
	}
	p.Host, p.Port = host, n
	return p, nil
}

// String prints the portal as "host:port,tpgt".
func (p DiscoveredPortal) String() string {
	if p.TPGT < 0 {
		return p.HostPort()
	}
	return fmt.Sprintf("%s,%d", p.HostPort(), p.TPGT)
}
