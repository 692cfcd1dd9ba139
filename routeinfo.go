package localdev

import (
	"cmp"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/localdev/localdev/internal/routes"
)

// healthWait is how long a page or API call waits for the very first
// health check before showing what it has.
const healthWait = 500 * time.Millisecond

// origin is how browsers reach a localdev site: its scheme and, when not
// the scheme's default, its port.
type origin struct {
	scheme string
	port   string
}

func (o origin) url(name string) string {
	if o.port == "" {
		return o.scheme + "://" + name
	}
	return o.scheme + "://" + net.JoinHostPort(name, o.port)
}

// defaultOrigin is assumed for a name no loaded site serves.
var defaultOrigin = origin{scheme: "https"}

// sites maps each loaded localdev handler's domain to the origin of the
// server it runs in.
type sites map[string]origin

// servingSites walks the running HTTP servers for localdev handlers, so
// that URLs shown outside a request (the admin API, the CLI) carry the
// scheme and port browsers use.
func servingSites() sites {
	found := sites{}
	app, err := caddy.ActiveContext().AppIfConfigured("http")
	if err != nil {
		return found
	}
	httpApp, ok := app.(*caddyhttp.App)
	if !ok {
		return found
	}
	// TLS servers first, then by name, so that the answer is stable.
	names := slices.Sorted(maps.Keys(httpApp.Servers))
	tlsFirst := func(name string) int {
		if len(httpApp.Servers[name].TLSConnPolicies) > 0 {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(tlsFirst(a), tlsFirst(b)) })
	for _, name := range names {
		srv := httpApp.Servers[name]
		o, ok := serverOrigin(srv)
		if !ok {
			continue
		}
		for _, h := range localdevHandlers(srv.Routes) {
			if _, seen := found[h.domain]; !seen {
				found[h.domain] = o
			}
		}
	}
	return found
}

// originOf returns the origin for a route name: that of the longest
// domain it is under, or the default.
func (s sites) originOf(name string) origin {
	best, found := "", defaultOrigin
	for d, o := range s {
		if routes.InDomain(strings.TrimPrefix(name, "*."), d) && len(d) > len(best) {
			best, found = d, o
		}
	}
	return found
}

// serverOrigin is the scheme and first listening port of a server.
func serverOrigin(srv *caddyhttp.Server) (origin, bool) {
	if len(srv.Listen) == 0 {
		return origin{}, false
	}
	addr, err := caddy.ParseNetworkAddress(srv.Listen[0])
	if err != nil || addr.IsUnixNetwork() {
		return origin{}, false
	}
	o := origin{scheme: "http"}
	if len(srv.TLSConnPolicies) > 0 {
		o.scheme = "https"
	}
	if port := addr.StartPort; !(o.scheme == "http" && port == 80 || o.scheme == "https" && port == 443) {
		o.port = strconv.FormatUint(uint64(port), 10)
	}
	return o, true
}

// localdevHandlers finds localdev handlers in routes, subroutes included.
func localdevHandlers(list caddyhttp.RouteList) []*Handler {
	var out []*Handler
	for _, r := range list {
		for _, mh := range r.Handlers {
			switch h := mh.(type) {
			case *Handler:
				out = append(out, h)
			case *caddyhttp.Subroute:
				out = append(out, localdevHandlers(h.Routes)...)
			}
		}
	}
	return out
}

// requestOrigin reads the scheme and the listener's port of a request.
func requestOrigin(r *http.Request) origin {
	o := origin{scheme: "http"}
	if r.TLS != nil {
		o.scheme = "https"
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return o
	}
	_, port, err := net.SplitHostPort(local.String()) // TCP, or UDP for HTTP/3
	if err == nil && !(o.scheme == "http" && port == "80" || o.scheme == "https" && port == "443") {
		o.port = port
	}
	return o
}

// describeRoutes turns routes into the objects users see.
func describeRoutes(list []*routes.Route, o origin, withRequests bool) []routes.Info {
	out := make([]routes.Info, 0, len(list))
	for _, r := range list {
		out = append(out, r.Describe(o.url, withRequests))
	}
	return out
}
