package localdev

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/localdev/localdev/internal/routes"
)

// routeVar is the request variable through which the localdev handler
// hands the matched route to the upstream source.
const routeVar = "localdev.route"

// Upstreams is a dynamic upstream source for reverse_proxy that sends each
// request to its route's target, by Host. It does no client check of its
// own: pair it with a remote_ip matcher when used from a stock
// reverse_proxy (`dynamic localdev`), and set `lb_retries 1` so that an app
// listening only on ::1 (or only on 127.0.0.1) is found on the first try.
type Upstreams struct{}

// CaddyModule returns the Caddy module information.
func (Upstreams) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.upstreams.localdev",
		New: func() caddy.Module { return new(Upstreams) },
	}
}

// GetUpstreams returns the one address to try for the request's route, or
// none for a name that has no route.
func (Upstreams) GetUpstreams(r *http.Request) ([]*reverseproxy.Upstream, error) {
	route := requestRoute(r)
	if route == nil {
		return nil, nil
	}
	return []*reverseproxy.Upstream{{Dial: route.Dial()}}, nil
}

// ResetCache is called before a retry: a bare-port route tries the other
// loopback family next, and keeps it while it answers.
func (Upstreams) ResetCache(r *http.Request) error {
	if route := requestRoute(r); route != nil {
		route.Retry()
	}
	return nil
}

// requestRoute returns the route the localdev handler matched, or looks
// the Host up when a stock reverse_proxy uses this source directly.
func requestRoute(r *http.Request) *routes.Route {
	if route, ok := caddyhttp.GetVar(r.Context(), routeVar).(*routes.Route); ok {
		return route
	}
	host, ok := routes.NormalizeHost(r.Host)
	if !ok {
		return nil
	}
	route := table.Lookup(host)
	if route != nil {
		caddyhttp.SetVar(r.Context(), routeVar, route)
	}
	return route
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens. Syntax:
//
//	dynamic localdev
func (u *Upstreams) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the source name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("localdev upstreams take no options, got %q", d.Val())
	}
	return nil
}

// Interface guards.
var (
	_ reverseproxy.CachingUpstreamSource = (*Upstreams)(nil)
	_ caddyfile.Unmarshaler              = (*Upstreams)(nil)
)
