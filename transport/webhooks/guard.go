package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Guard refuses webhook URLs that would make the service a proxy into its
// own network (server-side request forgery): addresses that are loopback,
// private, link-local (cloud metadata at 169.254.169.254 among them),
// unspecified, multicast or otherwise not globally routable. It checks at
// creation (CheckURL) and again on every connection (Control), since a
// name's DNS answer can change between the two. The operator's allow-list
// admits named hosts or address ranges, for tests and private deployments.
type Guard struct {
	hosts    map[string]bool // lower-case host names allowed whatever they resolve to
	prefixes []netip.Prefix  // address ranges allowed even if not global
	resolver *net.Resolver
}

// ErrForbidden says that a webhook URL names, or resolves to, an address
// the guard refuses.
var ErrForbidden = errors.New("webhook URL resolves to a loopback, private, link-local or unspecified address")

// NewGuard builds a guard from the allow-list (ENGAGED_WEBHOOKS_ALLOW_HOSTS):
// each entry a host name, an IP address or a CIDR.
func NewGuard(allow []string) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}, resolver: net.DefaultResolver}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if p, err := netip.ParsePrefix(a); err == nil {
			g.prefixes = append(g.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			g.prefixes = append(g.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if strings.ContainsAny(a, "/:@ ") {
			return nil, fmt.Errorf("%q is not a host name, an IP address or a CIDR", a)
		}
		g.hosts[strings.ToLower(a)] = true
	}
	return g, nil
}

// allowedAddr reports whether connecting to a is allowed.
func (g *Guard) allowedAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return public(a)
}

// public reports whether a is a globally routable unicast address.
func public(a netip.Addr) bool {
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic are ranges the netip predicates do not cover: "this network",
// shared address space (carrier NAT), IETF protocol assignments, the
// documentation and benchmarking ranges, and NAT64/6to4 forms that embed an
// IPv4 address.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
}

// CheckURL checks a webhook URL at creation: http or https, a host, no
// user info, and every address the host resolves to allowed.
func (g *Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
		return nil, errors.New("url must be an absolute http(s) URL without user info or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if g.hosts[host] {
		return u, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !g.allowedAddr(a) {
			return nil, ErrForbidden
		}
		return u, nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("url host %s does not resolve", host)
	}
	for _, a := range addrs {
		if !g.allowedAddr(a) {
			return nil, ErrForbidden
		}
	}
	return u, nil
}

// control is the net.Dialer Control hook of deliveries: it sees the address
// actually connected to, after resolution, so a name that resolved to a
// public address at creation and to a private one now is still refused.
// host is the name the request was for; an allow-listed name may connect
// anywhere.
func (g *Guard) control(host string) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if g.hosts[strings.ToLower(host)] {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !g.allowedAddr(ap.Addr()) {
			return ErrForbidden
		}
		return nil
	}
}
