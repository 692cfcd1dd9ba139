package localdev

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"

	"github.com/localdev/localdev/internal/routes"
)

// Permission allows on-demand certificates only for the names localdev
// serves, and only to the clients it serves: a routed name, or the index
// host (the domain itself) of a loaded localdev handler, asked for by a
// client on this machine or in a handler's allow ranges. Runtime routes
// count as soon as they are added. Every other name, including unrouted
// names under the domain and names outside it, gets no certificate.
type Permission struct{}

// CaddyModule returns the Caddy module information.
func (Permission) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tls.permission.localdev",
		New: func() caddy.Module { return new(Permission) },
	}
}

// CertificateAllowed returns nil if name is one localdev serves to the
// client in the TLS handshake.
func (Permission) CertificateAllowed(ctx context.Context, name string) error {
	if hello, ok := ctx.Value(certmagic.ClientHelloInfoCtxKey).(*tls.ClientHelloInfo); ok && hello.Conn != nil {
		if !loaded.admits(hello.Conn.RemoteAddr()) {
			return fmt.Errorf("client %s is not on this machine", hello.Conn.RemoteAddr())
		}
	}
	host, ok := routes.NormalizeHost(name)
	if !ok {
		return fmt.Errorf("%q is not a name localdev serves", name)
	}
	if !loaded.covers(host) {
		return fmt.Errorf("%s is outside every localdev domain", host)
	}
	if loaded.isDomain(host) || table.Lookup(host) != nil {
		return nil
	}
	return fmt.Errorf("%s has no localdev route", host)
}

// UnmarshalCaddyfile sets up the permission from Caddyfile tokens. Syntax:
//
//	permission localdev
func (p *Permission) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// loaded holds the localdev handlers of the configurations in effect (two
// during a reload), for the questions certificates ask: which domains,
// which clients.
var loaded = &handlerSet{}

type handlerSet struct {
	mu   sync.RWMutex
	list []*Handler
}

func (s *handlerSet) add(h *Handler) {
	s.mu.Lock()
	s.list = append(s.list, h)
	s.mu.Unlock()
}

func (s *handlerSet) remove(h *Handler) {
	s.mu.Lock()
	s.list = slices.DeleteFunc(s.list, func(e *Handler) bool { return e == h })
	s.mu.Unlock()
}

// domains returns the domains of the loaded handlers, sorted, each once.
func (s *handlerSet) domains() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.list))
	for _, h := range s.list {
		out = append(out, h.domain)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// isDomain reports whether host is itself the domain of a loaded handler.
func (s *handlerSet) isDomain(host string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.ContainsFunc(s.list, func(h *Handler) bool { return h.domain == host })
}

// covers reports whether host is under the domain of a loaded handler.
func (s *handlerSet) covers(host string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.ContainsFunc(s.list, func(h *Handler) bool { return routes.InDomain(host, h.domain) })
}

// admits reports whether a loaded handler would serve a client at addr.
func (s *handlerSet) admits(addr net.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.ContainsFunc(s.list, func(h *Handler) bool { return h.admits(addr) })
}

// Interface guards.
var (
	_ caddytls.OnDemandPermission = (*Permission)(nil)
	_ caddyfile.Unmarshaler       = (*Permission)(nil)
)
