// Package exposure tells whether an app that localdev routes on loopback
// can also be reached beyond it: a dev server listening on 0.0.0.0, ::
// or a network address is open to everyone on the network, around
// localdev's client check. It asks the way a neighbour would: by
// connecting to the port on each of this machine's own non-loopback
// addresses.
package exposure

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DialTimeout bounds each connection attempt. A local address answers at
// once, open or closed; only a firewall that drops packets makes one wait.
const DialTimeout = 300 * time.Millisecond

// Addrs returns this machine's non-loopback unicast addresses (link-local
// IPv6 addresses with their zone).
func Addrs() ([]netip.Addr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			prefix, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := prefix.Addr().Unmap()
			if ip.IsLoopback() || ip.IsMulticast() || ip.IsUnspecified() {
				continue
			}
			if ip.Is6() && ip.IsLinkLocalUnicast() {
				ip = ip.WithZone(ifi.Name)
			}
			out = append(out, ip)
		}
	}
	return out, nil
}

// Check returns the addresses among Addrs where port accepts a TCP
// connection, sorted. An empty answer means the port is open on loopback
// at most.
func Check(ctx context.Context, port int) ([]netip.AddrPort, error) {
	addrs, err := Addrs()
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		open []netip.AddrPort
		wg   sync.WaitGroup
	)
	d := net.Dialer{Timeout: DialTimeout}
	for _, ip := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
			if err != nil {
				return
			}
			_ = conn.Close()
			mu.Lock()
			open = append(open, netip.AddrPortFrom(ip, uint16(port)))
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(open, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return open, ctx.Err()
}
