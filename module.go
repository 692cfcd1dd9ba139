// Package localdev is a Caddy module that gives local apps friendly names:
// https://app.localhost instead of http://127.0.0.1:62893. It maps names to
// loopback ports, proxies with Caddy's own reverse_proxy, and refuses every
// client that is not on this machine.
package localdev

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

func init() {
	caddy.RegisterModule(Handler{})
	caddy.RegisterModule(Upstreams{})
	caddy.RegisterModule(Permission{})
}

// Handler routes friendly names under a domain (localhost by default) to
// apps on this machine, through Caddy's reverse_proxy. It refuses every
// client whose connection does not come from this machine or an allowed
// range, shows a dashboard at the domain itself, and explains unknown
// names and apps that are down.
type Handler struct {
	// Routes maps names to targets. A name gets ".<domain>" added unless it
	// already ends in the domain ("app" means "app.localhost"); "*.shop"
	// matches every subdomain of shop.localhost. The domain itself and
	// "*.<domain>" are reserved. A target is a port
	// on loopback ("62893", tried on 127.0.0.1 and ::1), a loopback address
	// ("127.0.0.1:3000", "[::1]:4000", "localhost:3000"), a Unix socket
	// ("unix//run/app.sock"), or any of these after "https://" for an app
	// that speaks TLS itself. Default: no routes.
	Routes map[string]string `json:"routes,omitempty"`

	// Dirs are folders whose files are routes: the file name is the name and
	// the first line that is not a comment is the target. "~" expands to the
	// home folder; a missing folder is created. Changes apply within a
	// second, with no reload. Default: none.
	Dirs []string `json:"dirs,omitempty"`

	// Allow lists client ranges (CIDR or single addresses) let in besides
	// loopback, and the word "unix" for clients on a Unix socket. Only the
	// connection's peer address counts, never a forwarding header. These
	// clients reach only this handler's own routes (its Routes and the
	// routes of its Dirs); other handlers' routes and admin API routes stay
	// loopback-only. Default: loopback only.
	Allow []string `json:"allow,omitempty"`

	// Wait is how long a request is held while the app's port is closed,
	// for an app that is still starting. Default: 0 (answer 502 at once).
	Wait caddy.Duration `json:"wait,omitempty"`

	// Fallthrough passes requests for unknown names to the next handler
	// instead of answering with the 404 page. Default: false.
	Fallthrough bool `json:"fallthrough,omitempty"`

	// Domain is the domain that short names are placed under and whose
	// name itself serves the dashboard. It may not be a public suffix
	// ("com", "co.uk"); a domain that is not special-use (localhost, test,
	// internal, home.arpa, example, invalid) is logged with a warning at
	// start. Default: "localhost".
	Domain string `json:"domain,omitempty"`

	// Auto gives each dev server of Caddy's own user that listens on
	// loopback, answers HTTP and runs in a project folder the route
	// <project>.<domain> by itself (source "auto"), for as long as it
	// listens. Any other route of that name wins over it. Default: false.
	Auto bool `json:"auto,omitempty"`

	// Proxy is a reverse_proxy handler configuration (without upstreams)
	// applied to every route, e.g. to rewrite headers. Default: Caddy's
	// reverse_proxy defaults.
	Proxy json.RawMessage `json:"proxy,omitempty"`

	// Hosts is the path of a hosts file (such as "/etc/hosts") in which
	// the running Caddy keeps a managed block listing every exact route
	// name (and each domain's index host other than "localhost") on
	// 127.0.0.1 and ::1, so that programs which ask the system resolver
	// (Python, Node, Go, wget, Java, Safari) find the names too. The block
	// follows the route table within a second of a change; every line
	// outside it is kept; one writer per file serves every handler of the
	// process; the block comes back if another program removes it, and
	// goes when the last configuration with the option stops. If the file
	// cannot be written, one warning says so and Caddy carries on. In the
	// Caddyfile, "hosts" alone means the system's hosts file
	// (/etc/hosts; on Windows %SystemRoot%\System32\drivers\etc\hosts).
	// Default: "" (no hosts file is touched).
	Hosts string `json:"hosts,omitempty"`

	domain     string
	allow      []netip.Prefix
	allowUDS   bool
	owner      uint64
	configured map[string]string // full name -> target, of this configuration's routes
	dirPaths   []string          // this handler's folders, expanded: the Origin of their routes
	plain      caddyhttp.MiddlewareHandler
	secure     caddyhttp.MiddlewareHandler
	logger     *zap.Logger
	refusals   *zap.Logger
	heldDirs   []heldFolder
	hostsPath  string
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.localdev",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision checks the configuration, adds its routes to the route table
// and loads the reverse proxy.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.Wait < 0 {
		return fmt.Errorf("wait %s is negative", time.Duration(h.Wait))
	}
	h.logger = ctx.Logger()
	h.refusals = sampled(h.logger)
	domain, err := routes.NormalizeDomain(h.domainOrDefault())
	if err != nil {
		return err
	}
	h.domain = domain
	if h.allow, h.allowUDS, err = parseAllow(h.Allow); err != nil {
		return err
	}
	configured, err := configRoutes(h.Routes, h.domain)
	if err != nil {
		return err
	}
	h.configured = make(map[string]string, len(configured))
	for _, r := range configured {
		h.configured[r.Name] = r.Target.Raw
	}
	h.dirPaths = h.dirPaths[:0]
	for _, d := range h.Dirs {
		path, err := expandHome(d)
		if err != nil {
			return err
		}
		h.dirPaths = append(h.dirPaths, path)
	}
	warnDomain(h.logger, h.domain)
	if err := h.loadProxies(ctx); err != nil {
		return err
	}
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	h.owner = table.AddConfig(configured)
	loaded.add(h)
	if h.Auto {
		autoRoutes.add(h)
	}
	for _, r := range configured {
		h.logger.Info("route", zap.String("name", r.Name), zap.String("target", r.Target.Raw), zap.String("source", string(r.Source)))
	}
	if err := h.startDirs(ctx); err != nil {
		return err
	}
	return h.startHosts()
}

// Cleanup removes this configuration's routes from the table.
func (h *Handler) Cleanup() error {
	h.stopHosts()
	if h.owner != 0 {
		table.RemoveConfig(h.owner)
		h.logger.Debug("configuration's routes retired", zap.Int("routes", len(h.Routes)))
		loaded.remove(h)
		if h.Auto {
			autoRoutes.remove(h)
		}
	}
	if len(loaded.domains()) == 0 {
		checker.Stop() // no localdev handler is left to show route health
	}
	return h.stopDirs()
}

// warnDomain warns, once per process, about a domain that is not
// special-use: other sites may have names under it (lan, github.io,
// dev.example.com), and this Caddy answers them locally instead.
func warnDomain(logger *zap.Logger, domain string) {
	if routes.SpecialUse(domain) {
		return
	}
	if _, seen := warnedDomains.LoadOrStore(domain, true); seen {
		return
	}
	logger.Warn("domain is not a special-use domain: names under it are answered locally by localdev, also any that exist elsewhere",
		zap.String("domain", domain))
}

func (h *Handler) domainOrDefault() string {
	if h.Domain == "" {
		return routes.DefaultDomain
	}
	return h.Domain
}

// configRoutes checks the configured routes and gives them their full names.
func configRoutes(raw map[string]string, domain string) ([]*routes.Route, error) {
	seen := make(map[string]string, len(raw))
	out := make([]*routes.Route, 0, len(raw))
	for name, target := range raw {
		full, err := routes.NormalizeName(name, domain)
		if err != nil {
			return nil, err
		}
		if other, dup := seen[full]; dup {
			return nil, fmt.Errorf("route %q: duplicate of %q (both are %s)", name, other, full)
		}
		seen[full] = name
		t, err := routes.ParseTarget(target)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", name, err)
		}
		out = append(out, routes.NewRoute(full, t, routes.SourceConfig, ""))
	}
	return out, nil
}

// parseAllow reads the allow list: CIDR ranges, single addresses and "unix".
func parseAllow(list []string) (prefixes []netip.Prefix, unix bool, err error) {
	for _, s := range list {
		if s == "unix" {
			unix = true
			continue
		}
		p, err := parsePrefix(s)
		if err != nil {
			return nil, false, err
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, unix, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("allow %q: not a CIDR range, an address or \"unix\"", s)
		}
		if p.Addr().Is4In6() {
			// peers are compared unmapped, so the range must be too
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("allow %q: an IPv4-mapped range needs at least /96", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("allow %q: not a CIDR range, an address or \"unix\"", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// expandHome replaces a leading "~" with the user's home folder.
func expandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return filepath.Clean(path), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("dir %q: %w", path, err)
	}
	return filepath.Join(home, strings.TrimPrefix(path, "~")), nil
}

// Interface guards.
var (
	_ caddy.Module                = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
