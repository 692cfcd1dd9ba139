package localdev

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/localdev/localdev/internal/routes"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("localdev", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("localdev", httpcaddyfile.Before, "reverse_proxy")
}

// parseCaddyfile sets up the handler from a Caddyfile directive.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	if err := m.unmarshal(h.Dispenser, &h); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	localdev [<name> <target>] {
//		<name>   <target>
//		dir      <folder>
//		allow    <ranges...>
//		wait     <duration>
//		domain   <domain>
//		fallthrough
//		hosts    [<file>]
//		proxy {
//			<reverse_proxy subdirectives>
//		}
//	}
//
// A route whose name is one of the subdirective words is written as its
// full name (dir.localhost 3000).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return h.unmarshal(d, nil)
}

// routeLine is a route as written, with where it was written.
type routeLine struct {
	name, target string
	file         string
	line         int
}

func (h *Handler) unmarshal(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) error {
	d.Next() // consume the directive name
	var lines []routeLine
	if d.NextArg() {
		line, err := parseRoute(d)
		if err != nil {
			return err
		}
		lines = append(lines, line)
	}
	for d.NextBlock(0) {
		line, isRoute, err := h.unmarshalLine(d, helper)
		if err != nil {
			return err
		}
		if isRoute {
			lines = append(lines, line)
		}
	}
	return h.setRoutes(lines)
}

// unmarshalLine reads one line of the block: a subdirective or a route.
func (h *Handler) unmarshalLine(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) (routeLine, bool, error) {
	switch d.Val() {
	case "dir":
		return routeLine{}, false, h.unmarshalDir(d)
	case "allow":
		return routeLine{}, false, h.unmarshalAllow(d)
	case "wait":
		return routeLine{}, false, h.unmarshalWait(d)
	case "domain":
		return routeLine{}, false, h.unmarshalDomain(d)
	case "fallthrough":
		if d.NextArg() {
			return routeLine{}, false, d.ArgErr()
		}
		h.Fallthrough = true
		return routeLine{}, false, nil
	case "proxy":
		return routeLine{}, false, h.unmarshalProxy(d, helper)
	case "hosts":
		return routeLine{}, false, h.unmarshalHosts(d)
	}
	line, err := parseRoute(d)
	return line, true, err
}

// parseRoute reads "<name> <target>" with the name as the current token.
func parseRoute(d *caddyfile.Dispenser) (routeLine, error) {
	line := routeLine{name: d.Val(), file: d.File(), line: d.Line()}
	if !d.NextArg() {
		return line, d.Errf("route %q needs a target: a port such as 5173, a loopback address, or unix//path", line.name)
	}
	line.target = d.Val()
	if d.NextArg() {
		return line, d.Errf("route %q: unexpected %q after the target %q", line.name, d.Val(), line.target)
	}
	if _, err := routes.ParseTarget(line.target); err != nil {
		return line, d.Errf("route %q: %v", line.name, err)
	}
	if d.NextBlock(d.Nesting()) {
		return line, d.Errf("route %q takes no block", line.name)
	}
	return line, nil
}

// setRoutes checks every name under the final domain (the domain line may
// come after the routes) and stores the routes as written.
func (h *Handler) setRoutes(lines []routeLine) error {
	domain, err := routes.NormalizeDomain(h.domainOrDefault())
	if err != nil {
		return err
	}
	full := make(map[string]routeLine, len(lines))
	for _, l := range lines {
		name, err := routes.NormalizeName(l.name, domain)
		if err != nil {
			return l.errorf("%v", err)
		}
		if prev, dup := full[name]; dup {
			return l.errorf("duplicate route %s (first at line %d as %q)", name, prev.line, prev.name)
		}
		full[name] = l
		if h.Routes == nil {
			h.Routes = make(map[string]string, len(lines))
		}
		h.Routes[l.name] = l.target
	}
	return nil
}

func (l routeLine) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d - Error during parsing: %s", l.file, l.line, fmt.Sprintf(format, args...))
}

func (h *Handler) unmarshalDir(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	h.Dirs = append(h.Dirs, d.Val())
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func (h *Handler) unmarshalAllow(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	for _, a := range args {
		if a == "unix" {
			continue
		}
		if _, err := parsePrefix(a); err != nil {
			return d.Err(err.Error())
		}
	}
	h.Allow = append(h.Allow, args...)
	return nil
}

func (h *Handler) unmarshalWait(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil || dur < 0 {
		return d.Errf("wait %q: not a duration such as 10s", d.Val())
	}
	h.Wait = caddy.Duration(dur)
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func (h *Handler) unmarshalDomain(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	if _, err := routes.NormalizeDomain(d.Val()); err != nil {
		return d.Err(err.Error())
	}
	h.Domain = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// unmarshalProxy reads the proxy block with reverse_proxy's own parser.
func (h *Handler) unmarshalProxy(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) error {
	if d.CountRemainingArgs() > 0 {
		return d.Errf("proxy takes a block, not %q: the routes are its upstreams", d.RemainingArgs())
	}
	seg := d.NewFromNextSegment()
	rp := new(reverseproxy.Handler)
	if err := rp.UnmarshalCaddyfile(seg); err != nil {
		return err
	}
	if len(rp.Upstreams) > 0 || rp.DynamicUpstreamsRaw != nil {
		return d.Err("proxy: upstreams cannot be set here: each route's target is its upstream")
	}
	if helper != nil {
		if err := rp.FinalizeUnmarshalCaddyfile(*helper); err != nil {
			return err
		}
	}
	var warnings []caddyconfig.Warning
	raw := caddyconfig.JSON(rp, &warnings)
	if len(warnings) > 0 {
		return d.Errf("proxy: %s", warnings[0].Message)
	}
	h.Proxy = json.RawMessage(raw)
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
