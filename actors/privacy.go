package actors

import (
	"net/netip"
	"strings"
)

// IPCapture is a project's setting for the client addresses the service
// keeps: in recent events (sourceIp), log messages and webhooks. It is
// applied at the edge, before an event is published, so what the log holds
// is already reduced; dedupe keeps working from a keyed hash of the full
// address that the edge computes first (RenderEvent.IPKey).
type IPCapture string

const (
	// IPFull keeps the address as received: the render API document
	// defines sourceIp as the client address. The default.
	IPFull IPCapture = "full"
	// IPTruncated keeps the network only: IPv4 /24, IPv6 /48, the host
	// bits zeroed (203.0.113.7 → 203.0.113.0).
	IPTruncated IPCapture = "truncated"
	// IPNone keeps no address: sourceIp is null.
	IPNone IPCapture = "none"
)

// ParseIPCapture reads a setting; empty is the default, full. Anything else
// is an EInvalid error naming the allowed values.
func ParseIPCapture(s string) (IPCapture, error) {
	switch m := IPCapture(strings.TrimSpace(s)); m {
	case "":
		return IPFull, nil
	case IPFull, IPTruncated, IPNone:
		return m, nil
	}
	return "", &Error{Code: EInvalid, Message: "ipCapture must be one of full, truncated, none", Issues: &Issues{
		FormErrors: []string{}, FieldErrors: map[string][]string{"ipCapture": {"Expected 'full' | 'truncated' | 'none'"}},
	}}
}

// Apply returns the address to keep of ip under m: ip itself (full), its
// network (truncated), or nil (none, and for an address that does not
// parse under truncated, which cannot be reduced safely).
func (m IPCapture) Apply(ip string) *string {
	switch m {
	case IPNone:
		return nil
	case IPTruncated:
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil
		}
		a = a.Unmap()
		bits := 24
		if a.Is6() {
			bits = 48
		}
		p, _ := a.Prefix(bits) // cannot fail: bits fits either family
		s := p.Addr().String()
		return &s
	}
	return &ip
}
