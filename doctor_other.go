//go:build !linux

package localdev

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
)

// hostsSyncCommand is the command that writes route names into the hosts
// file: from an administrator's terminal on Windows.
var hostsSyncCommand = func() string {
	if runtime.GOOS == "windows" {
		return "caddy localdev hosts sync (in a terminal run as administrator)"
	}
	return "sudo caddy localdev hosts sync"
}()

// nssMyhostnameFix is Linux's only.
const nssMyhostnameFix = ""

// resolveByHand is a command that resolves name with the system resolver.
func resolveByHand(name string) string {
	if runtime.GOOS == "windows" {
		return "Resolve-DnsName " + name
	}
	return "dscacheutil -q host -a name " + name
}

// errNotFound is a name the resolver does not know.
var errNotFound = errors.New("not found")

// osResolve resolves name as other programs on this machine do: Go's
// default resolver asks the system's on macOS (getaddrinfo in libSystem,
// which honours /etc/resolver and the hosts file) and on Windows
// (GetAddrInfoW), unless GODEBUG=netdns=go says otherwise.
func osResolve(ctx context.Context, name string) ([]netip.Addr, string, error) {
	how := "the system resolver"
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok && dnsErr.IsNotFound {
		return nil, how, errNotFound
	}
	if err != nil {
		return nil, how, err
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, how, nil
}
