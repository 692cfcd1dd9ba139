//go:build linux

package localdev

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/localdev/localdev/internal/exposure"
)

// TestExposure: an app listening on a non-loopback address of this
// machine (a test namespace's veth address stands for the network) is
// found exposed on that address; one on loopback only is not.
func TestExposure(t *testing.T) {
	n := setupNetns(t)
	addrs, err := exposure.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(addrs, n.hostV4) || !slices.Contains(addrs, n.hostV6) {
		t.Fatalf("Addrs() = %v; want the veth addresses %s and %s", addrs, n.hostV4, n.hostV6)
	}

	local, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	port := local.Addr().(*net.TCPAddr).Port
	if open, err := exposure.Check(context.Background(), port); err != nil || len(open) != 0 {
		t.Errorf("loopback-only app: Check = %v, %v; want nothing", open, err)
	}

	// The same port on the veth address too, as a dev server bound to a
	// network address would be.
	exposed, err := net.Listen("tcp", netip.AddrPortFrom(n.hostV4, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer exposed.Close()
	open, err := exposure.Check(context.Background(), port)
	if err != nil || !slices.Contains(open, netip.AddrPortFrom(n.hostV4, uint16(port))) {
		t.Errorf("exposed app: Check = %v, %v; want %s:%d", open, err, n.hostV4, port)
	}
}
