package localdev

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

// Permission allows on-demand certificates only for the names localdev
// serves, and only to the clients it serves them to: a name is granted
// when one loaded localdev handler both serves it and admits the client
// in the handshake for it (see Handler.ServeHTTP). Exact route names and
// index hosts (a handler's domain itself) are always granted. Names that
// are not exactly routed (matched only by a wildcard route, or unrouted
// names under a localdev domain, which get the 404 page) share a budget of
// 20 newly issued certificates per 10 minutes per process; a name whose
// certificate is already in storage does not count. Names outside every
// localdev domain get none. Every denial wraps
// caddytls.ErrPermissionDenied, so that Caddy logs it at debug level: a
// remote client cannot flood the log with handshakes.
type Permission struct {
	storage certmagic.Storage
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Permission) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tls.permission.localdev",
		New: func() caddy.Module { return new(Permission) },
	}
}

// Provision finds the storage that certificates are kept in.
func (p *Permission) Provision(ctx caddy.Context) error {
	p.storage = ctx.Storage()
	p.logger = ctx.Logger()
	return nil
}

// CertificateAllowed returns nil if name is one localdev serves to the
// client in the TLS handshake, within the certificate budget.
func (p *Permission) CertificateAllowed(ctx context.Context, name string) error {
	host, ok := routes.NormalizeHost(name)
	if !ok {
		return denied("%q is not a name localdev serves", name)
	}
	var addr net.Addr // none outside a handshake: no client to check
	if hello, ok := ctx.Value(certmagic.ClientHelloInfoCtxKey).(*tls.ClientHelloInfo); ok {
		if hello.Conn == nil {
			// A handshake whose client we cannot see is not one we serve.
			return denied("%s: the handshake carries no client address", host)
		}
		addr = hello.Conn.RemoteAddr()
	}
	g, err := loaded.grant(host, addr)
	switch g {
	case grantAlways:
		return nil
	case grantBudget:
		return p.spend(ctx, host)
	}
	return err
}

// spend grants a certificate for a name that is not exactly routed: at no
// cost when one is already in storage, else from the budget.
func (p *Permission) spend(ctx context.Context, host string) error {
	now := time.Now()
	if certBudget.granted(host, now) || p.stored(ctx, host) {
		return nil
	}
	ok, first := certBudget.take(host, now)
	if ok {
		return nil
	}
	if first && p.logger != nil {
		p.logger.Warn("certificate budget for names that are not exactly routed is spent: refusing new ones until it refills",
			zap.String("name", host),
			zap.Int("budget", certBudget.size),
			zap.Duration("per", certBudget.window))
	}
	return denied("%s is not exactly routed and the budget of %d new certificates per %s is spent", host, certBudget.size, certBudget.window)
}

// stored reports whether storage holds a certificate for host, from any
// issuer, so that granting it issues nothing new.
func (p *Permission) stored(ctx context.Context, host string) bool {
	if p.storage == nil {
		return false
	}
	issuers, err := p.storage.List(ctx, "certificates", false)
	if err != nil {
		return false
	}
	for _, dir := range issuers {
		if p.storage.Exists(ctx, certmagic.StorageKeys.SiteCert(path.Base(dir), host)) {
			return true
		}
	}
	return false
}

// denied is a permission denial: Caddy logs those at debug level.
func denied(format string, args ...any) error {
	return fmt.Errorf("%w: %s", caddytls.ErrPermissionDenied, fmt.Sprintf(format, args...))
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

// issueBudget allows at most size grants in any window: it remembers the
// times and names of the last size grants, so that a name asked for again
// within the window (concurrent handshakes before the certificate exists,
// say) costs nothing more.
type issueBudget struct {
	size   int
	window time.Duration

	mu      sync.Mutex
	times   []time.Time // ring of the last size grants
	names   []string    // the names of those grants
	next    int
	refused bool // since the last grant
}

func newIssueBudget(size int, window time.Duration) *issueBudget {
	return &issueBudget{size: size, window: window, times: make([]time.Time, size), names: make([]string, size)}
}

// granted reports whether name was granted within the window before now.
func (b *issueBudget) granted(name string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, n := range b.names {
		if n == name && now.Sub(b.times[i]) < b.window {
			return true
		}
	}
	return false
}

// take spends one grant on name at now if the budget has one. first is
// true for the first refusal after a grant, the one worth a warning.
func (b *issueBudget) take(name string, now time.Time) (ok, first bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if oldest := b.times[b.next]; !oldest.IsZero() && now.Sub(oldest) < b.window {
		first = !b.refused
		b.refused = true
		return false, first
	}
	b.times[b.next], b.names[b.next] = now, name
	b.next = (b.next + 1) % b.size
	b.refused = false
	return true, false
}

// grant is what the loaded handlers say about a certificate for a name.
type grant uint8

const (
	grantNone   grant = iota // no handler serves the name to the client
	grantBudget              // served, but not an exact route: within the budget
	grantAlways              // an exact route or an index host
)

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

// newestLogger returns the logger of the handler loaded last, or nil when
// none is loaded.
func (s *handlerSet) newestLogger() *zap.Logger {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.list) == 0 {
		return nil
	}
	return s.list[len(s.list)-1].logger
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

// grant answers whether a certificate for host may go to the client at
// addr (nil: no client, as outside a handshake). One handler must both
// serve the name and admit the client for it, as its ServeHTTP would:
// the index host and exact routes always, a wildcard route's names and,
// without fallthrough, unrouted names (for the 404 page) within the
// budget. The error says why when the answer is grantNone.
func (s *handlerSet) grant(host string, addr net.Addr) (grant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	route := table.Lookup(host)
	best, covered := grantNone, false
	for _, h := range s.list {
		if !routes.InDomain(host, h.domain) {
			continue
		}
		covered = true
		p := peerLocal
		if addr != nil {
			p = h.peerAt(addr)
		}
		switch {
		case p == peerOutside:
		case host == h.domain:
			return grantAlways, nil
		case route != nil && !h.admitsTo(p, route):
		case route != nil && route.Name == host:
			return grantAlways, nil
		case route != nil, !h.Fallthrough:
			best = grantBudget
		}
	}
	switch {
	case best != grantNone:
		return best, nil
	case !covered:
		return grantNone, denied("%s is outside every localdev domain", host)
	case addr == nil:
		return grantNone, denied("%s has no localdev route", host)
	}
	return grantNone, denied("no localdev handler serves %s to client %s", host, addr)
}

// Interface guards.
var (
	_ caddytls.OnDemandPermission = (*Permission)(nil)
	_ caddy.Provisioner           = (*Permission)(nil)
	_ caddyfile.Unmarshaler       = (*Permission)(nil)
)
