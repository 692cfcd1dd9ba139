package localdev

import (
	"context"
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"

	"github.com/localdev/localdev/internal/routes"
)

// Permission allows on-demand certificates only for the names localdev
// serves: a routed name, or the index host (the domain itself) of a
// localdev handler. Runtime routes count as soon as they are added. Every
// other name, including unrouted names under the domain and names outside
// it, gets no certificate.
type Permission struct{}

// CaddyModule returns the Caddy module information.
func (Permission) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tls.permission.localdev",
		New: func() caddy.Module { return new(Permission) },
	}
}

// CertificateAllowed returns nil if name is one localdev serves.
func (Permission) CertificateAllowed(_ context.Context, name string) error {
	host, ok := routes.NormalizeHost(name)
	if !ok {
		return fmt.Errorf("%q is not a name localdev serves", name)
	}
	if !domains.covers(host) {
		return fmt.Errorf("%s is outside every localdev domain", host)
	}
	if domains.has(host) || table.Lookup(host) != nil {
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

// domains counts the domains of the localdev handlers that are loaded, so
// that certificates go only to names under one of them.
var domains = &domainSet{count: make(map[string]int)}

type domainSet struct {
	mu    sync.RWMutex
	count map[string]int
}

func (s *domainSet) add(domain string) {
	s.mu.Lock()
	s.count[domain]++
	s.mu.Unlock()
}

func (s *domainSet) remove(domain string) {
	s.mu.Lock()
	if s.count[domain]--; s.count[domain] <= 0 {
		delete(s.count, domain)
	}
	s.mu.Unlock()
}

// has reports whether host is itself the domain of a loaded handler.
func (s *domainSet) has(host string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.count[host] > 0
}

// covers reports whether host is under the domain of a loaded handler.
func (s *domainSet) covers(host string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for d := range s.count {
		if routes.InDomain(host, d) {
			return true
		}
	}
	return false
}

// Interface guards.
var (
	_ caddytls.OnDemandPermission = (*Permission)(nil)
	_ caddyfile.Unmarshaler       = (*Permission)(nil)
)
