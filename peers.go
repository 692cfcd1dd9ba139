package localdev

import (
	"net"
	"net/http"
	"net/netip"

	"go.uber.org/zap"
)

// peerAllowed reports whether the connection comes from this machine or
// an allowed range. It reads only the connection's peer address: headers
// such as X-Forwarded-For, Forwarded and X-Real-IP change nothing.
func (h *Handler) peerAllowed(r *http.Request) bool {
	if unixPeer(r) {
		return h.allowUDS
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && h.allowsIP(ap.Addr())
}

// admits is peerAllowed for a connection's remote address, as the TLS
// handshake sees it.
func (h *Handler) admits(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ok && h.allowsIP(ip)
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ok && h.allowsIP(ip)
	case *net.UnixAddr:
		return h.allowUDS
	}
	return false
}

// allowsIP reports whether ip is loopback or in an allowed range.
func (h *Handler) allowsIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	for _, p := range h.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// unixPeer reports whether the request came in on a Unix socket.
func unixPeer(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && (local.Network() == "unix" || local.Network() == "unixpacket")
}

// refuse answers a client that is not on this machine: 403, a short body
// that names nothing, and a sampled log line with its address.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request) error {
	metrics.refused.Inc()
	if c := h.refusals.Check(zap.WarnLevel, "refused client that is not on this machine"); c != nil {
		c.Write(zap.String("peer", r.RemoteAddr), zap.String("host", r.Host))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte("403 forbidden: this server answers only clients on its own machine\n"))
	return nil
}
