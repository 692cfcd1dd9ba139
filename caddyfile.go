package localdev

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("localdev", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("localdev", httpcaddyfile.Before, "reverse_proxy")
}

// subdirective is one word of a localdev block that is not a route.
type subdirective struct {
	// unmarshal reads the subdirective's line (and block) into h; d is on
	// the word. helper is nil outside the HTTP Caddyfile adapter.
	unmarshal func(h *Handler, d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) error

	// once is set for a subdirective that may be given only once in a
	// block; a repeat is an error instead of silently replacing the first.
	once bool
}

// subdirectives are the words of a localdev block other than routes.
// Adding one is one entry here, with its field on Handler and its
// unmarshal method. Every other word starts a route, so a route named like
// one of these words is written as its full name (dir.localhost 3000).
var subdirectives = map[string]subdirective{
	"dir":         {unmarshal: (*Handler).unmarshalDir},
	"allow":       {unmarshal: (*Handler).unmarshalAllow},
	"wait":        {unmarshal: (*Handler).unmarshalWait, once: true},
	"domain":      {unmarshal: (*Handler).unmarshalDomain, once: true},
	"fallthrough": {unmarshal: (*Handler).unmarshalFallthrough, once: true},
	"hosts":       {unmarshal: (*Handler).unmarshalHosts, once: true}, // in hosts.go
	"proxy":       {unmarshal: (*Handler).unmarshalProxy, once: true},
	"auto":        {unmarshal: (*Handler).unmarshalAuto, once: true}, // in auto.go
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
//		auto
//		proxy {
//			<reverse_proxy subdirectives>
//		}
//	}
//
// dir and allow may be repeated; the others may be given once. Every
// other word starts a route. A route whose name is one of the
// subdirective words is written as its full name (dir.localhost 3000);
// a route named like a reverse_proxy subdirective, or one edit away from
// a localdev one, gets a warning that says so.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return h.unmarshal(d, nil)
}

// routeLine is a route as written, with the token of its name for errors
// and warnings that come after the whole block is read.
type routeLine struct {
	name, target string
	at           caddyfile.Token
}

// errf returns an error at the route's line, in the Dispenser's format.
func (l routeLine) errf(format string, args ...any) error {
	return errAt(l.at, format, args...)
}

// errAt returns an error at tok's line, in the Dispenser's format (with
// the import chain when there is one).
func errAt(tok caddyfile.Token, format string, args ...any) error {
	d := caddyfile.NewDispenser([]caddyfile.Token{tok})
	d.Next()
	return d.Errf(format, args...)
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
	seen := make(map[string]caddyfile.Token)
	for d.NextBlock(0) {
		word := d.Val()
		sub, ok := subdirectives[word]
		if !ok {
			line, err := parseRoute(d)
			if err != nil {
				return err
			}
			lines = append(lines, line)
			continue
		}
		if first, dup := seen[word]; dup && sub.once {
			return d.Errf("duplicate %s (first at %s:%d): give it once", word, first.File, first.Line)
		}
		at := d.Token()
		seen[word] = at
		if err := sub.unmarshal(h, d, helper); err != nil {
			return err
		}
		if d.NextBlock(d.Nesting()) {
			return errAt(at, "%s takes no block", word)
		}
	}
	return h.setRoutes(lines)
}

// parseRoute reads "<name> <target>" with the name as the current token.
func parseRoute(d *caddyfile.Dispenser) (routeLine, error) {
	line := routeLine{name: d.Val(), at: d.Token()}
	hint := lookalikeHint(line.name)
	if !d.NextArg() {
		return line, d.Errf("route %q needs a target: a port such as 5173, a loopback address, or unix//path%s", line.name, hint)
	}
	line.target = d.Val()
	if d.NextArg() {
		return line, d.Errf("route %q: unexpected %q after the target %q%s", line.name, d.Val(), line.target, hint)
	}
	if _, err := routes.ParseTarget(line.target); err != nil {
		return line, d.Errf("route %q: %v%s", line.name, err, hint)
	}
	if d.NextBlock(d.Nesting()) {
		return line, line.errf("route %q takes no block%s", line.name, hint)
	}
	return line, nil
}

// setRoutes checks every name under the final domain (the domain line may
// come after the routes), warns about names that look like subdirectives,
// and stores the routes as written.
func (h *Handler) setRoutes(lines []routeLine) error {
	domain, err := routes.NormalizeDomain(h.domainOrDefault())
	if err != nil {
		return err // unmarshalDomain checked it: not reached
	}
	full := make(map[string]routeLine, len(lines))
	for _, l := range lines {
		name, err := routes.NormalizeName(l.name, domain)
		if err != nil {
			return l.errf("%v%s", err, lookalikeHint(l.name))
		}
		if prev, dup := full[name]; dup {
			return l.errf("duplicate route %s (first at %s:%d as %q)", name, prev.at.File, prev.at.Line, prev.name)
		}
		full[name] = l
		if h.Routes == nil {
			h.Routes = make(map[string]string, len(lines))
		}
		h.Routes[l.name] = l.target
		warnLookalike(l, name)
	}
	return nil
}

// lookalikeHint is what an error about a route says when its name looks
// like a subdirective: the likely mistake.
func lookalikeHint(name string) string {
	like, proxy := lookalike(name)
	switch {
	case like == "":
		return ""
	case proxy:
		return " (" + like + " is a reverse_proxy setting: it goes inside proxy { })"
	}
	return " (did you mean the subdirective " + like + "?)"
}

// warnLookalike warns, through Caddy's logger as Caddy's own Caddyfile
// parsers do (`caddy adapt` and `caddy run` print it), about a route
// named like a subdirective: most likely a subdirective misspelt or put
// outside proxy { }, which would otherwise silently become a route.
func warnLookalike(l routeLine, full string) {
	like, proxy := lookalike(l.name)
	if like == "" {
		return
	}
	msg := "route named like the localdev subdirective; if it is a route, write its full name"
	if proxy {
		msg = "route named like a reverse_proxy setting, which goes inside proxy { }; if it is a route, write its full name"
	}
	caddy.Log().Named("caddyfile").Warn(msg,
		zap.String("route", l.name),
		zap.String("subdirective", like),
		zap.String("write", full+" "+l.target),
		zap.String("file", l.at.File),
		zap.Int("line", l.at.Line),
	)
}

// proxySettings are the words that configure reverse_proxy: its
// subdirectives and those of its http transport (as of Caddy v2.11.9,
// modules/caddyhttp/reverseproxy/caddyfile.go), and "timeout", the word
// people reach for when they mean one of the *_timeout settings. Inside a
// localdev block they belong in proxy { }.
var proxySettings = map[string]bool{
	"to": true, "dynamic": true, "transport": true, "timeout": true,
	"lb_policy": true, "lb_retries": true, "lb_try_duration": true, "lb_try_interval": true, "lb_retry_match": true,
	"health_uri": true, "health_path": true, "health_upstream": true, "health_port": true, "health_headers": true,
	"health_method": true, "health_request_body": true, "health_interval": true, "health_timeout": true,
	"health_status": true, "health_body": true, "health_follow_redirects": true, "health_passes": true, "health_fails": true,
	"max_fails": true, "fail_duration": true, "unhealthy_request_count": true, "unhealthy_status": true, "unhealthy_latency": true,
	"flush_interval": true, "request_buffers": true, "response_buffers": true, "stream_buffer_size": true,
	"proxy_status_name": true, "stream_timeout": true, "stream_close_delay": true, "trusted_proxies": true,
	"header_up": true, "header_down": true, "method": true, "rewrite": true, "handle_response": true,
	"replace_status": true, "verbose_logs": true,
	"read_buffer": true, "write_buffer": true, "read_timeout": true, "write_timeout": true, "max_response_header": true,
	"proxy_protocol": true, "forward_proxy_url": true, "network_proxy": true, "dial_timeout": true,
	"dial_fallback_delay": true, "response_header_timeout": true, "expect_continue_timeout": true, "resolvers": true,
	"tls": true, "tls_client_auth": true, "tls_insecure_skip_verify": true, "tls_curves": true, "tls_timeout": true,
	"tls_trusted_ca_certs": true, "tls_server_name": true, "tls_renegotiation": true, "tls_except_ports": true,
	"tls_trust_pool": true, "keepalive": true, "keepalive_interval": true, "keepalive_idle_conns": true,
	"keepalive_idle_conns_per_host": true, "versions": true, "compression": true, "max_conns_per_host": true,
	"local_address": true,
}

// lookalike returns the subdirective a route name looks like: a localdev
// subdirective it equals in another case or is one edit away from, or
// (proxy set) a reverse_proxy setting it equals. A dotted name (a full
// name, a wildcard) never looks like one: writing the full name is how a
// route of such a name is meant.
func lookalike(name string) (like string, proxy bool) {
	if strings.Contains(name, ".") {
		return "", false
	}
	lower := strings.ToLower(name)
	if proxySettings[lower] {
		return lower, true
	}
	for _, word := range slices.Sorted(maps.Keys(subdirectives)) {
		if oneEditAway(lower, word) {
			return word, false
		}
	}
	return "", false
}

// oneEditAway reports whether a and b are equal or one edit apart: one
// letter inserted, deleted or two neighbours swapped (wiat, dri, alow),
// or, for words of five letters or more, one letter replaced (proxi). A
// replaced letter in a shorter word makes a different ordinary word too
// often (auth and auto, die and dir) to be worth a warning.
func oneEditAway(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 0:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		if i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] {
			return true // swapped neighbours
		}
		return len(a) >= 5 && a[i+1:] == b[i+1:]
	case 1:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		return a[i:] == b[i+1:]
	}
	return false
}

func (h *Handler) unmarshalDir(d *caddyfile.Dispenser, _ *httpcaddyfile.Helper) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	h.Dirs = append(h.Dirs, d.Val())
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func (h *Handler) unmarshalAllow(d *caddyfile.Dispenser, _ *httpcaddyfile.Helper) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	for _, a := range args {
		if a == "unix" {
			continue
		}
		if _, err := parsePrefix(a); err != nil {
			return d.WrapErr(err)
		}
	}
	h.Allow = append(h.Allow, args...)
	return nil
}

func (h *Handler) unmarshalWait(d *caddyfile.Dispenser, _ *httpcaddyfile.Helper) error {
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

func (h *Handler) unmarshalDomain(d *caddyfile.Dispenser, _ *httpcaddyfile.Helper) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	if _, err := routes.NormalizeDomain(d.Val()); err != nil {
		return d.WrapErr(err)
	}
	h.Domain = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func (h *Handler) unmarshalFallthrough(d *caddyfile.Dispenser, _ *httpcaddyfile.Helper) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	h.Fallthrough = true
	return nil
}

// unmarshalProxy reads the proxy block with reverse_proxy's own parser.
func (h *Handler) unmarshalProxy(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) error {
	if d.CountRemainingArgs() > 0 {
		return d.Errf("proxy takes a block, not %s: the routes are its upstreams", strconv.Quote(strings.Join(d.RemainingArgs(), " ")))
	}
	at := d.Token()
	seg := d.NewFromNextSegment()
	rp := new(reverseproxy.Handler)
	if err := rp.UnmarshalCaddyfile(seg); err != nil {
		return err
	}
	if len(rp.Upstreams) > 0 || rp.DynamicUpstreamsRaw != nil {
		return errAt(at, "proxy: upstreams cannot be set here: each route's target is its upstream")
	}
	if helper != nil {
		if err := rp.FinalizeUnmarshalCaddyfile(*helper); err != nil {
			return err // already at its file and line
		}
	}
	var warnings []caddyconfig.Warning
	raw := caddyconfig.JSON(rp, &warnings)
	if len(warnings) > 0 {
		return errAt(at, "proxy: %s", warnings[0].Message)
	}
	h.Proxy = json.RawMessage(raw)
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
