package localdev

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// retryInterval is how often a held request tries the app again while
// `wait` runs.
const retryInterval = "250ms"

// streamCloseDelay keeps WebSockets and other streams open when a reload
// retires the proxy that carries them: they end when the client or the app
// closes them, never because routes changed.
const streamCloseDelay = "8760h"

// loadProxies loads Caddy's reverse proxy twice, for plain and for TLS
// apps, each fed its upstream by the route the request matched.
func (h *Handler) loadProxies(ctx caddy.Context) error {
	plain, err := h.proxyConfig(false)
	if err != nil {
		return err
	}
	secure, err := h.proxyConfig(true)
	if err != nil {
		return err
	}
	if h.plain, err = loadProxy(ctx, plain); err != nil {
		return err
	}
	h.secure, err = loadProxy(ctx, secure)
	return err
}

func loadProxy(ctx caddy.Context, cfg map[string]any) (caddyhttp.MiddlewareHandler, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	mod, err := ctx.LoadModuleByID("http.handlers.reverse_proxy", raw)
	if err != nil {
		return nil, fmt.Errorf("loading reverse_proxy: %w", err)
	}
	return mod.(caddyhttp.MiddlewareHandler), nil
}

// proxyConfig builds the reverse_proxy configuration: the user's proxy
// block, with our upstream source, retries that find the app's loopback
// family and honour `wait`, and, for TLS apps, a transport that trusts
// the app's own certificate (it is ours, on loopback).
func (h *Handler) proxyConfig(tls bool) (map[string]any, error) {
	cfg := map[string]any{}
	if len(h.Proxy) > 0 {
		if err := json.Unmarshal(h.Proxy, &cfg); err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
	}
	for _, key := range []string{"upstreams", "dynamic_upstreams"} {
		if _, ok := cfg[key]; ok {
			return nil, fmt.Errorf("proxy: %q cannot be set here: each route's target is its upstream", key)
		}
	}
	delete(cfg, "handler")
	cfg["dynamic_upstreams"] = map[string]any{"source": "localdev"}
	if _, ok := cfg["stream_close_delay"]; !ok {
		cfg["stream_close_delay"] = streamCloseDelay
	}
	cfg["load_balancing"] = h.loadBalancing(cfg["load_balancing"])
	if tls {
		transport, err := trustingTransport(cfg["transport"])
		if err != nil {
			return nil, err
		}
		cfg["transport"] = transport
		keepHost(cfg)
	}
	return cfg, nil
}

// keepHost sends the client's Host to a TLS app unchanged, as to every
// other app: Caddy would otherwise send the upstream's address. A Host
// the user's proxy block sets wins.
func keepHost(cfg map[string]any) {
	headers := child(cfg, "headers")
	request := child(headers, "request")
	set := child(request, "set")
	for name := range set {
		if strings.EqualFold(name, "Host") {
			return
		}
	}
	set["Host"] = []string{"{http.request.hostport}"}
}

// child returns m[key] as a map, creating it if needed.
func child(m map[string]any, key string) map[string]any {
	c, _ := m[key].(map[string]any)
	if c == nil {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// loadBalancing sets how a request is retried: once, on the other loopback
// family, or, with `wait`, until the app answers or the wait runs out.
// Settings the user gave win.
func (h *Handler) loadBalancing(given any) map[string]any {
	lb, _ := given.(map[string]any)
	if lb == nil {
		lb = map[string]any{}
	}
	if _, ok := lb["try_duration"]; ok {
		return lb
	}
	if h.Wait > 0 {
		lb["try_duration"] = h.Wait
		lb["try_interval"] = retryInterval
		return lb
	}
	if _, ok := lb["retries"]; !ok {
		lb["retries"] = 1
	}
	return lb
}

// trustingTransport adds TLS without verification to the HTTP transport.
func trustingTransport(given any) (map[string]any, error) {
	t, _ := given.(map[string]any)
	if t == nil {
		t = map[string]any{"protocol": "http"}
	}
	if t["protocol"] != "http" {
		return nil, fmt.Errorf("proxy: https:// targets need the http transport, not %v", t["protocol"])
	}
	tlsCfg, _ := t["tls"].(map[string]any)
	if tlsCfg == nil {
		tlsCfg = map[string]any{}
	}
	tlsCfg["insecure_skip_verify"] = true
	t["tls"] = tlsCfg
	return t, nil
}
