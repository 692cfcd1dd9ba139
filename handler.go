package localdev

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/localdev/localdev/internal/routes"
)

// ServeHTTP checks the client, then proxies a routed name to its app, or
// answers with the dashboard, the 404 page or the 502 page. A client of an
// allow range reaches only this handler's own routes; every other route
// answers it 403, as to any client outside.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := h.peerOf(r)
	if p == peerOutside {
		return h.refuse(w, r, refusedOutside)
	}
	if r.TLS != nil && !r.TLS.HandshakeComplete {
		return tooEarly(w)
	}
	host, ok := routes.NormalizeHost(r.Host)
	ours := ok && routes.InDomain(host, h.domain)
	var route *routes.Route
	if ours {
		route = table.Lookup(host)
	}
	if route != nil && p != peerLocal && !h.owns(route) {
		return h.refuse(w, r, refusedRoute)
	}
	switch {
	case route != nil:
		return h.proxy(w, r, route)
	case ours && host == h.domain:
		return h.serveDashboard(w, r)
	case h.Fallthrough:
		return next.ServeHTTP(w, r)
	default:
		countRequest("", outcomeUnknownHost)
		return h.serveNotFound(w, r, host, ours)
	}
}

// proxy sends the request to the route's app through Caddy's reverse proxy.
func (h *Handler) proxy(w http.ResponseWriter, r *http.Request, route *routes.Route) error {
	hop := hopToken + " " + route.Name
	if r.Header.Get(hopHeader) == hop {
		countRequest(route.Name, outcomeLoop)
		return h.serveLoop(w, r, route)
	}
	r.Header.Set(hopHeader, hop)
	defer r.Header.Del(hopHeader) // the mark is for the app's side only, not for logs
	caddyhttp.SetVar(r.Context(), routeVar, route)
	start := time.Now()
	proxy := h.plain
	if route.Target.TLS {
		proxy = h.secure
	}
	body := watchBody(r)
	err := proxy.ServeHTTP(w, r, noNext)
	if err != nil && body != nil {
		if status, bodyErr := body.failure(); bodyErr != nil {
			return caddyhttp.Error(status, bodyErr)
		}
	}
	if err != nil && appDown(err) {
		countRequest(route.Name, outcomeAppDown)
		record(route, r, http.StatusBadGateway, start)
		return h.serveAppDown(w, r, route, time.Since(start), err)
	}
	countRequest(route.Name, outcomeProxied)
	record(route, r, proxiedStatus(r, err), start)
	return err
}

// record adds the request to the route's inspector: method, path, status
// and timing, never a body.
func record(route *routes.Route, r *http.Request, status int, start time.Time) {
	route.Record(routes.Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		Status:   status,
		Duration: time.Since(start),
		Time:     start,
	})
}

// proxiedStatus is the app's status code as the proxy saw it, or the
// error's status when the proxy failed.
func proxiedStatus(r *http.Request, err error) int {
	if repl := replacer(r); repl != nil {
		if v, ok := repl.Get("http.reverse_proxy.status_code"); ok {
			if code, ok := v.(int); ok {
				return code
			}
		}
	}
	var herr caddyhttp.HandlerError
	if errors.As(err, &herr) {
		return herr.StatusCode
	}
	return 0
}

// bodyWatch remembers whether reading the client's body failed, so that
// a malformed body (broken chunked encoding, say) is the client's 400,
// not a 502 blamed on the app. The proxy's transport may read the body in
// a goroutine of its own, hence the atomic.
type bodyWatch struct {
	io.ReadCloser
	err atomic.Pointer[error]
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

// failure returns the status for a body that failed to read, and why.
func (b *bodyWatch) failure() (int, error) {
	errp := b.err.Load()
	if errp == nil {
		return 0, nil
	}
	var tooBig *http.MaxBytesError
	if errors.As(*errp, &tooBig) {
		return http.StatusRequestEntityTooLarge, *errp
	}
	return http.StatusBadRequest, *errp
}

// watchBody wraps the body of a request that has one; streams opened
// with CONNECT are left alone.
func watchBody(r *http.Request) *bodyWatch {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || r.Method == http.MethodConnect {
		return nil
	}
	b := &bodyWatch{ReadCloser: r.Body}
	r.Body = b
	return b
}

// noNext ends the embedded proxy's handler chain.
var noNext = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

// appDown reports whether the proxy failed because nothing answered at
// the target, before anything was written to the client.
func appDown(err error) bool {
	var dialErr reverseproxy.DialError
	if errors.As(err, &dialErr) {
		return true
	}
	var herr caddyhttp.HandlerError
	return errors.As(err, &herr) && herr.StatusCode == http.StatusServiceUnavailable
}

// tooEarly answers TLS early data, which could be replayed, with 425.
func tooEarly(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTooEarly)
	_, _ = w.Write([]byte("localdev: retry after the TLS handshake completes\n"))
	return nil
}

// sampled returns a logger that writes the first few entries each second
// and then one in a hundred, so a flood of refusals cannot flood the log.
func sampled(logger *zap.Logger) *zap.Logger {
	return logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 5, 100)
	}))
}

// replacer returns the request's placeholder replacer.
func replacer(r *http.Request) *caddy.Replacer {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	return repl
}
