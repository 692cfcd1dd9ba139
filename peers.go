package localdev

import (
	"net"
	"net/http"
	"net/netip"
	"slices"

	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

// peer is what the client check knows about a connection.
type peer uint8

const (
	// peerOutside is neither this machine nor an allowed range: refused.
	peerOutside peer = iota
	// peerLocal is this machine (loopback): every route.
	peerLocal
	// peerInRange is a client of an allow range (or of a Unix socket with
	// allow unix): only the routes of the handler that allows it.
	peerInRange
)

// peerOf classifies the request's connection. It reads only the
// connection's peer address: headers such as X-Forwarded-For, Forwarded
// and X-Real-IP change nothing.
func (h *Handler) peerOf(r *http.Request) peer {
	if unixPeer(r) {
		return h.unixSocketPeer()
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return peerOutside
	}
	return h.peerIP(ap.Addr())
}

// peerAllowed reports whether the connection comes from this machine or
// an allowed range.
func (h *Handler) peerAllowed(r *http.Request) bool { return h.peerOf(r) != peerOutside }

// peerAt is peerOf for a connection's remote address, as the TLS
// handshake sees it.
func (h *Handler) peerAt(addr net.Addr) peer {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return peerOutside
		}
		return h.peerIP(ip)
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return peerOutside
		}
		return h.peerIP(ip)
	case *net.UnixAddr:
		return h.unixSocketPeer()
	}
	return peerOutside
}

// peerIP classifies a client address: loopback, in an allowed range, or
// outside.
func (h *Handler) peerIP(ip netip.Addr) peer {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return peerLocal
	}
	for _, p := range h.allow {
		if p.Contains(ip) {
			return peerInRange
		}
	}
	return peerOutside
}

// unixSocketPeer classifies a client on a Unix socket: like an allowed range
// with allow unix (whoever may open the socket is let in, to this
// handler's routes), refused without.
func (h *Handler) unixSocketPeer() peer {
	if h.allowUDS {
		return peerInRange
	}
	return peerOutside
}

// admitsTo reports whether the handler serves route to a client it
// classified as p. Loopback clients get every route; a client of an allow
// range gets only this handler's own routes (see owns).
func (h *Handler) admitsTo(p peer, route *routes.Route) bool {
	return p == peerLocal || p == peerInRange && h.owns(route)
}

// owns reports whether route belongs to this handler: set by its
// configuration, or read from one of its own folders. A configured route
// is also its own when another configuration (the same site's other
// scheme, or the next configuration during a reload) won the name with
// the same target. API routes belong to no handler.
func (h *Handler) owns(route *routes.Route) bool {
	switch route.Source {
	case routes.SourceConfig:
		if route.Config == h.owner {
			return true
		}
		target, ok := h.configured[route.Name]
		return ok && target == route.Target.Raw
	case routes.SourceDir:
		return slices.Contains(h.dirPaths, route.Origin)
	}
	return false
}

// unixPeer reports whether the request came in on a Unix socket.
func unixPeer(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && (local.Network() == "unix" || local.Network() == "unixpacket")
}

// Refusal log messages: a client outside every allowed range, and a
// client of an allow range asking for a route that is not its handler's.
const (
	refusedOutside = "refused client that is not on this machine"
	refusedRoute   = "refused client of an allowed range: the route belongs to another site or to the admin API"
)

// refuse answers a client that is not on this machine, or an allowed
// client asking for a route that is not its handler's: 403, a short body
// that names nothing, and a sampled log line with its address.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, why string) error {
	metrics.refused.Inc()
	if c := h.refusals.Check(zap.WarnLevel, why); c != nil {
		c.Write(zap.String("peer", r.RemoteAddr), zap.String("host", r.Host))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte("403 forbidden: this server answers only clients on its own machine\n"))
	return nil
}
