package localdev

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/localdev/localdev/internal/loopback"
)

// retryInterval is how often a held request tries the app again while
// `wait` runs.
const retryInterval = caddy.Duration(250 * time.Millisecond)

// streamCloseDelay keeps WebSockets and other streams open when a reload
// retires the proxy that carries them: they end when the client or the app
// closes them, never because routes changed.
const streamCloseDelay = caddy.Duration(8760 * time.Hour)

// retryNothingSent is the retry rule for errors that are not dial
// errors: a matcher set that matches no request. Caddy's reverse proxy
// retries a failed dial without consulting it (nothing reached the app),
// but once a connection was made the request may have reached the app, and
// by default Caddy would send a GET again; with this rule it never does.
var retryNothingSent = caddyhttp.RawMatcherSets{{"not": json.RawMessage(`[{}]`)}}

// userProxy is the `proxy` setting: a reverse_proxy handler configuration.
// It may name its handler; a stream_close_delay it sets, even 0, wins.
type userProxy struct {
	reverseproxy.Handler
	Module           string          `json:"handler,omitempty"`
	StreamCloseDelay *caddy.Duration `json:"stream_close_delay,omitempty"`
}

// userTransport is the transport the `proxy` setting chose.
type userTransport struct {
	reverseproxy.HTTPTransport
	Protocol string `json:"protocol"`
}

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

func loadProxy(ctx caddy.Context, cfg *reverseproxy.Handler) (caddyhttp.MiddlewareHandler, error) {
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
// family and honour `wait` without ever sending a request twice, and, for
// TLS apps, a transport that trusts the app's own certificate (it is
// ours, on loopback).
func (h *Handler) proxyConfig(tls bool) (*reverseproxy.Handler, error) {
	var user userProxy
	if len(h.Proxy) > 0 {
		if err := strictDecode(h.Proxy, &user); err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
	}
	if user.Module != "" && user.Module != "reverse_proxy" {
		return nil, fmt.Errorf("proxy: handler %q: the proxy block configures reverse_proxy", user.Module)
	}
	rp := &user.Handler
	if len(rp.Upstreams) > 0 {
		return nil, fmt.Errorf("proxy: %q cannot be set here: each route's target is its upstream", "upstreams")
	}
	if rp.DynamicUpstreamsRaw != nil {
		return nil, fmt.Errorf("proxy: %q cannot be set here: each route's target is its upstream", "dynamic_upstreams")
	}
	rp.DynamicUpstreamsRaw = caddyconfig.JSONModuleObject(Upstreams{}, "source", "localdev", nil)
	rp.StreamCloseDelay = streamCloseDelay
	if user.StreamCloseDelay != nil {
		rp.StreamCloseDelay = *user.StreamCloseDelay
	}
	rp.LoadBalancing = h.loadBalancing(rp.LoadBalancing)
	transport, err := appTransport(rp.TransportRaw, tls)
	if err != nil {
		return nil, err
	}
	rp.TransportRaw = transport
	if tls {
		rp.Headers = keepHost(rp.Headers)
	}
	return rp, nil
}

// strictDecode reads one JSON value into v, refusing unknown fields as
// Caddy does when it loads a module.
func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// keepHost sends the client's Host to a TLS app unchanged, as to every
// other app: Caddy would otherwise send the upstream's address. A Host
// the user's proxy block sets wins.
func keepHost(hdr *headers.Handler) *headers.Handler {
	if hdr == nil {
		hdr = new(headers.Handler)
	}
	if hdr.Request == nil {
		hdr.Request = new(headers.HeaderOps)
	}
	for name := range hdr.Request.Set {
		if strings.EqualFold(name, "Host") {
			return hdr
		}
	}
	if hdr.Request.Set == nil {
		hdr.Request.Set = make(http.Header)
	}
	hdr.Request.Set["Host"] = []string{"{http.request.hostport}"}
	return hdr
}

// loadBalancing sets how a request is retried: a failed dial once more,
// on the other loopback family, or, with `wait`, until the app answers or
// the wait runs out. A request whose connection was made is not sent
// again. Settings the user gave win.
func (h *Handler) loadBalancing(lb *reverseproxy.LoadBalancing) *reverseproxy.LoadBalancing {
	if lb == nil {
		lb = new(reverseproxy.LoadBalancing)
	}
	if lb.RetryMatchRaw == nil {
		lb.RetryMatchRaw = retryNothingSent
	}
	if lb.TryDuration > 0 {
		return lb
	}
	if h.Wait > 0 {
		lb.TryDuration = h.Wait
		if lb.TryInterval == 0 {
			lb.TryInterval = retryInterval
		}
		return lb
	}
	if lb.Retries == 0 {
		lb.Retries = 1
	}
	return lb
}

// appTransport returns the transport for apps on this machine: Caddy's
// HTTP transport with loopback's settings (internal/loopback) where the
// user's proxy block left them unset, and for TLS apps, TLS without
// verification. A transport of another protocol (fastcgi, say) is the
// user's own and left alone, except that TLS apps need the HTTP one.
func appTransport(given json.RawMessage, tls bool) (json.RawMessage, error) {
	t := userTransport{Protocol: "http"}
	if given != nil {
		var named struct {
			Protocol string `json:"protocol"`
		}
		if err := json.Unmarshal(given, &named); err != nil {
			return nil, fmt.Errorf("proxy: transport: %w", err)
		}
		if named.Protocol != "http" {
			if tls {
				return nil, fmt.Errorf("proxy: https:// targets need the http transport, not %q", named.Protocol)
			}
			return given, nil
		}
		if err := strictDecode(given, &t); err != nil {
			return nil, fmt.Errorf("proxy: transport: %w", err)
		}
	}
	ours := loopback.Transport()
	if t.KeepAlive == nil {
		t.KeepAlive = new(reverseproxy.KeepAlive)
	}
	if t.KeepAlive.MaxIdleConnsPerHost == 0 {
		t.KeepAlive.MaxIdleConnsPerHost = ours.KeepAlive.MaxIdleConnsPerHost
	}
	if t.Compression == nil {
		t.Compression = ours.Compression
	}
	if tls {
		if t.TLS == nil {
			t.TLS = new(reverseproxy.TLSConfig)
		}
		t.TLS.InsecureSkipVerify = true
	}
	return caddyconfig.JSONModuleObject(t.HTTPTransport, "protocol", "http", nil), nil
}
