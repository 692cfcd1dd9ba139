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
// reverse_proxy (`dynamic localdev`), set `lb_retries 1` so that an app
// listening only on ::1 (or only on 127.0.0.1) is found on the first try,
// and an `lb_retry_match` that matches nothing (`not path *`) so that only
// failed dials are retried. There each request starts on the family that
// localdev's own handler or health check last saw answer.
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
	route, retry := requestRoute(r)
	if route == nil {
		return nil, nil
	}
	one := new(oneUpstream) // the upstream and its list in one allocation
	one.upstream.Dial = route.Dial()
	if retry != nil {
		one.upstream.Dial = route.Target.Dials[retry.dial]
	}
	one.list[0] = &one.upstream
	return one.list[:], nil
}

// oneUpstream is the list GetUpstreams returns. Each request gets its own:
// Caddy's reverse proxy writes to the upstreams it is given.
type oneUpstream struct {
	upstream reverseproxy.Upstream
	list     [1]*reverseproxy.Upstream
}

// ResetCache is called before a retry, which Caddy's reverse proxy makes
// after a failed dial (localdev's retry rule; see proxyConfig) and after
// an attempt that found no upstream available. A bare-port route tries the
// other loopback family after a failed dial only: when the user's own
// proxy settings (unhealthy_request_count, max_fails, a circuit breaker)
// made Caddy turn the address down, nothing was dialed, and the other
// family is no answer to a limit (it would only get around it), so the
// retry, as in a stock reverse_proxy, tries the same address again. The
// route's preferred family stays as it is until the other one answers.
// A limit also turns requests away from an app that stopped answering
// (max_fails): the handler then dials the target once to tell.
func (Upstreams) ResetCache(r *http.Request) error {
	route, retry := requestRoute(r)
	if route == nil || !route.Target.BothFamilies() {
		return nil
	}
	dial := route.Preferred()
	if retry != nil {
		dial = retry.dial
	}
	if !dialed(r, route.Target.Dials[dial]) {
		return nil
	}
	if retry == nil {
		retry = &retryState{route: route}
		caddyhttp.SetVar(r.Context(), routeVar, retry)
	}
	retry.dial = route.NextDial(dial)
	return nil
}

// dialed reports whether the proxy's last attempt selected the address,
// and so dialed it: Caddy sets the upstream placeholders only for an
// attempt that found its upstream available. After an attempt on one
// family the retry moves to the other, so a placeholder left by an
// earlier attempt never names the address now current.
func dialed(r *http.Request, dial string) bool {
	repl := replacer(r)
	if repl == nil {
		return true
	}
	hostport, _ := repl.GetString("http.reverse_proxy.upstream.hostport")
	return hostport == dial
}

// retryState replaces the route in the request's variables once a
// request is retried: which of the route's addresses it tries now.
type retryState struct {
	route *routes.Route
	dial  int // index in route.Target.Dials
}

// requestRoute returns the route the localdev handler matched, or looks
// the Host up when a stock reverse_proxy uses this source directly, and
// the request's retry state once it has been retried.
func requestRoute(r *http.Request) (*routes.Route, *retryState) {
	switch v := caddyhttp.GetVar(r.Context(), routeVar).(type) {
	case *routes.Route:
		return v, nil
	case *retryState:
		return v.route, v
	}
	host, ok := routes.NormalizeHost(r.Host)
	if !ok {
		return nil, nil
	}
	route := table.Lookup(host)
	if route != nil {
		caddyhttp.SetVar(r.Context(), routeVar, route)
	}
	return route, nil
}

// learnFamily records, after a retried request, which loopback family
// accepted its connection: the one its last attempt dialed, unless that
// dial failed too.
func learnFamily(r *http.Request, dialFailed bool) {
	if retry, ok := caddyhttp.GetVar(r.Context(), routeVar).(*retryState); ok && !dialFailed {
		retry.route.PreferDial(retry.dial)
	}
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
