package localdev

import (
	"context"
	"net/netip"
)

// adminDomains returns the localdev domains of the running Caddy.
func adminDomains(ctx context.Context, addr string) ([]string, error) {
	return nil, nil
}

// adminPut adds the route full -> target owned by owner and returns its URL.
func adminPut(ctx context.Context, addr, full, target, owner string, replace bool) (string, error) {
	r, err := addRoute(addr, full, target, replace)
	return r.URL, err
}

// adminDelete removes the route full while owner holds it.
func adminDelete(ctx context.Context, addr, full, target, owner string) error {
	return removeRoute(addr, full, target)
}

// exposedAddrs returns the non-loopback addresses where port is open.
func exposedAddrs(ctx context.Context, port int) ([]netip.AddrPort, error) {
	return nil, nil
}
