package localdev

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/localdev/localdev/internal/pages"
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
	if ours && host == h.domain {
		// The index host is never a route of ours; checked first so that no
		// other block's route (under a wider domain) can take it over.
		return h.serveDashboard(w, r, p)
	}
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
	case h.Fallthrough:
		return next.ServeHTTP(w, r)
	default:
		countRequest("", outcomeUnknownHost)
		return h.serveNotFound(w, r, host, ours, p)
	}
}

// proxy sends the request to the route's app through Caddy's reverse proxy.
func (h *Handler) proxy(w http.ResponseWriter, r *http.Request, route *routes.Route) error {
	mark := r.Header.Get(hopHeader)
	hop, first, loop := nextHop(mark, route.Name)
	switch {
	case loop:
		route.Count(routes.OutcomeLoop)
		return h.serveLoop(w, r, route, hopRoutes(mark))
	case first:
		r.Header[hopHeader] = route.HopMark(firstHop) // shared; the proxy sends a copy
	default:
		r.Header[hopHeader] = []string{hop}
	}
	defer delete(r.Header, hopHeader) // the mark is for the app's side only, not for logs
	caddyhttp.SetVar(r.Context(), routeVar, route)
	start := time.Now()
	proxy := h.plain
	if route.Target.TLS {
		proxy = h.secure
	}
	body := watchBody(r)
	defer func() {
		// The proxy panics with http.ErrAbortHandler when the response
		// breaks off after its headers were sent: count it, then let
		// net/http abort the connection as usual.
		if v := recover(); v != nil {
			outcome := routes.OutcomeAppError
			if r.Context().Err() != nil {
				outcome = routes.OutcomeProxied // the client left, the app had answered
			}
			route.Count(outcome)
			record(route, r, proxiedStatus(r, nil), start)
			panic(v)
		}
	}()
	err := proxy.ServeHTTP(w, r, noNext)
	dialFailed := appDown(err)
	learnFamily(r, dialFailed)
	if err == nil {
		route.Count(routes.OutcomeProxied)
		record(route, r, proxiedStatus(r, nil), start)
		return nil
	}
	if body != nil {
		if status, bodyErr := body.failure(); bodyErr != nil {
			// the client's fault, not the app's: shown in the inspector,
			// counted under no outcome of the app
			record(route, r, status, start)
			return caddyhttp.Error(status, bodyErr)
		}
	}
	if dialFailed {
		return h.appIsDown(w, r, route, start, err)
	}
	if status, answered := appStatus(r); answered {
		// the app answered; what failed came after (a handle_response
		// route, say), and is Caddy's to report
		route.Count(routes.OutcomeProxied)
		record(route, r, status, start)
		return err
	}
	status := proxiedStatus(r, err)
	if status == 499 { // the client went away before the app answered
		record(route, r, status, start)
		return err
	}
	// A 503 without a failed dial is Caddy's "no upstreams available":
	// the user's own proxy settings (unhealthy_request_count, max_fails
	// with fail_duration, a circuit breaker) turned the request away
	// before anything was dialed. Those limits hold an app that stopped
	// answering as unhealthy too (after max_fails failed dials, for
	// fail_duration), so one quick dial of the target, only on this path,
	// tells the two apart: nothing answers, and the app is down as for a
	// failed dial.
	limited := status == http.StatusServiceUnavailable
	if limited {
		if health, dialErr := checker.Probe(r.Context(), route); health == routes.HealthDown {
			return h.appIsDown(w, r, route, start, dialErr)
		}
	}
	// The app took the request and failed, or it answers on its port and
	// a limit turned the request away: app_error, so that the failure
	// shows among the route's errors instead of vanishing.
	route.Count(routes.OutcomeAppError)
	record(route, r, status, start)
	if limited {
		// A Caddy user who set a limit expects Caddy's own 503, as a
		// stock reverse_proxy gives it (handle_errors and the access log
		// see it), not localdev's page.
		return err
	}
	return h.serveAppError(w, r, route, status, err)
}

// appIsDown counts and records a request whose app accepted no
// connection, and answers with the page that says the app is down; err
// is the failed dial's.
func (h *Handler) appIsDown(w http.ResponseWriter, r *http.Request, route *routes.Route, start time.Time, err error) error {
	route.Count(routes.OutcomeAppDown)
	record(route, r, http.StatusBadGateway, start)
	return h.serveAppDown(w, r, route, time.Since(start), err)
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

// appStatus returns the status code the app answered with, if it answered.
func appStatus(r *http.Request) (int, bool) {
	repl := replacer(r)
	if repl == nil {
		return 0, false
	}
	v, ok := repl.Get("http.reverse_proxy.status_code")
	if !ok {
		return 0, false
	}
	code, ok := v.(int)
	return code, ok
}

// proxiedStatus is the app's status code as the proxy saw it, or the
// error's status when the proxy failed.
func proxiedStatus(r *http.Request, err error) int {
	if code, ok := appStatus(r); ok {
		return code
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

// appDown reports whether the proxy failed because nothing accepted a
// connection at the target: the dial failed, so nothing reached the app.
// Caddy's 503 "no upstreams available" is not a failed dial: it comes
// from limits in the user's proxy settings, and nothing was dialed (proxy
// then dials the target once to learn whether the app is down).
func appDown(err error) bool {
	if err == nil {
		return false // before dialErr, which errors.As moves to the heap
	}
	var dialErr reverseproxy.DialError
	return errors.As(err, &dialErr)
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
		return zapcore.NewSamplerWithOptions(c, time.Second, 5, 0)
	}))
}

// replacer returns the request's placeholder replacer.
func replacer(r *http.Request) *caddy.Replacer {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	return repl
}

// serveAppError answers when the app took the request and failed before
// answering (closed or reset the connection, or did not answer in time).
// The request was sent once; the page says so, names the app, and points
// at its own output. It does not reload itself, as reloading would send
// the request again.
func (h *Handler) serveAppError(w http.ResponseWriter, r *http.Request, route *routes.Route, status int, err error) error {
	if status != http.StatusGatewayTimeout {
		status = http.StatusBadGateway
	}
	var notTLS tls.RecordHeaderError
	d := pages.AppError{Name: route.Name, Target: route.Target.Raw, Status: status, Error: dialProblem(err), NotTLS: errors.As(err, &notTLS)}
	if route.Target.Port != 0 {
		d.Port = strconv.Itoa(route.Target.Port)
	}
	html := pages.WantsHTML(r)
	return writePage(w, status, html, func(b io.Writer) error {
		if html {
			return pages.RenderAppError(b, d)
		}
		return pages.RenderAppErrorText(b, d)
	})
}
