package localdev

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/localdev/localdev/internal/routes"
)

// proxyJSON builds the embedded reverse_proxy's configuration for h and
// returns it as generic JSON, as Caddy will read it.
func proxyJSON(t *testing.T, h *Handler, tls bool) map[string]any {
	t.Helper()
	cfg, err := h.proxyConfig(tls)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return out
}

// TestProxyConfigDefaults checks the JSON localdev gives the embedded
// reverse_proxy: its own upstream source, streams kept across reloads,
// one retry after a failed dial and none after a made connection, and for
// TLS apps a transport that trusts the app and keeps the client's Host.
func TestProxyConfigDefaults(t *testing.T) {
	plain := proxyJSON(t, &Handler{}, false)
	want := jsonOf(t, `{
		"dynamic_upstreams": {"source": "localdev"},
		"stream_close_delay": 31536000000000000,
		"load_balancing": {"retries": 1, "retry_match": [{"not": [{}]}]},
		"transport": {"protocol": "http", "compression": false, "keep_alive": {"max_idle_conns_per_host": 256}}
	}`)
	if !reflect.DeepEqual(plain, want) {
		t.Errorf("plain:\n got %v\nwant %v", plain, want)
	}
	secure := proxyJSON(t, &Handler{}, true)
	want["transport"] = jsonOf(t, `{"protocol": "http", "compression": false, "keep_alive": {"max_idle_conns_per_host": 256}, "tls": {"insecure_skip_verify": true}}`)
	want["headers"] = jsonOf(t, `{"request": {"set": {"Host": ["{http.request.hostport}"]}}}`)
	if !reflect.DeepEqual(secure, want) {
		t.Errorf("TLS:\n got %v\nwant %v", secure, want)
	}
	waiting := proxyJSON(t, &Handler{Wait: caddy.Duration(2 * time.Second)}, false)
	wantLB := jsonOf(t, `{"try_duration": 2000000000, "try_interval": 250000000, "retry_match": [{"not": [{}]}]}`)
	if !reflect.DeepEqual(waiting["load_balancing"], wantLB) {
		t.Errorf("wait 2s:\n got %v\nwant %v", waiting["load_balancing"], wantLB)
	}
}

// TestProxyConfigUserWins gives a proxy block that sets what localdev
// would otherwise set: the user's values reach Caddy unchanged, and what
// localdev adds does not replace them.
func TestProxyConfigUserWins(t *testing.T) {
	h := &Handler{
		Wait: caddy.Duration(5 * time.Second),
		Proxy: json.RawMessage(`{
			"handler": "reverse_proxy",
			"stream_close_delay": 0,
			"flush_interval": -1,
			"load_balancing": {"retries": 3, "try_interval": "1s", "retry_match": [{"method": ["GET"]}]},
			"headers": {"request": {"set": {"host": ["dev.example"], "X-Dev": ["1"]}}},
			"transport": {"protocol": "http", "dial_timeout": "3s", "compression": true, "keep_alive": {"max_idle_conns_per_host": 7}, "tls": {"server_name": "app.internal"}}
		}`),
	}
	for _, tls := range []bool{false, true} {
		got := proxyJSON(t, h, tls)
		if _, ok := got["stream_close_delay"]; ok {
			t.Errorf("tls=%v: stream_close_delay 0 was replaced: %v", tls, got["stream_close_delay"])
		}
		if got["flush_interval"] != float64(-1) {
			t.Errorf("tls=%v: flush_interval %v", tls, got["flush_interval"])
		}
		wantLB := jsonOf(t, `{"retries": 3, "try_duration": 5000000000, "try_interval": 1000000000, "retry_match": [{"method": ["GET"]}]}`)
		if !reflect.DeepEqual(got["load_balancing"], wantLB) {
			t.Errorf("tls=%v: load_balancing:\n got %v\nwant %v", tls, got["load_balancing"], wantLB)
		}
		wantHeaders := jsonOf(t, `{"request": {"set": {"host": ["dev.example"], "X-Dev": ["1"]}}}`)
		if !reflect.DeepEqual(got["headers"], wantHeaders) {
			t.Errorf("tls=%v: headers:\n got %v\nwant %v", tls, got["headers"], wantHeaders)
		}
		transport, _ := got["transport"].(map[string]any)
		keepAlive, _ := transport["keep_alive"].(map[string]any)
		if transport["dial_timeout"] != float64(3e9) || transport["compression"] != true || keepAlive["max_idle_conns_per_host"] != float64(7) {
			t.Errorf("tls=%v: transport %v", tls, transport)
		}
		if tls {
			wantTLS := map[string]any{"server_name": "app.internal", "insecure_skip_verify": true}
			if !reflect.DeepEqual(transport["tls"], wantTLS) {
				t.Errorf("TLS transport's tls: %v, want %v", transport["tls"], wantTLS)
			}
		}
	}
	// a transport of another protocol is left alone for plain apps
	fastcgi := proxyJSON(t, &Handler{Proxy: json.RawMessage(`{"transport": {"protocol": "fastcgi", "root": "/srv"}}`)}, false)
	if want := jsonOf(t, `{"protocol": "fastcgi", "root": "/srv"}`); !reflect.DeepEqual(fastcgi["transport"], want) {
		t.Errorf("fastcgi transport: %v", fastcgi["transport"])
	}
	// try_duration of the user's own replaces `wait`
	own := proxyJSON(t, &Handler{Wait: caddy.Duration(time.Second), Proxy: json.RawMessage(`{"load_balancing": {"try_duration": "9s"}}`)}, false)
	wantLB := jsonOf(t, `{"try_duration": 9000000000, "retry_match": [{"not": [{}]}]}`)
	if !reflect.DeepEqual(own["load_balancing"], wantLB) {
		t.Errorf("user's try_duration: %v, want %v", own["load_balancing"], wantLB)
	}
}

// TestProxyConfigRejects: each proxy setting localdev cannot honour is an
// error naming it.
func TestProxyConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		proxy string
		tls   bool
		want  string
	}{
		{`{"upstreams": [{"dial": "10.0.0.1:80"}]}`, false, `"upstreams" cannot be set here`},
		{`{"dynamic_upstreams": {"source": "srv"}}`, false, `"dynamic_upstreams" cannot be set here`},
		{`{"bogus_field": 1}`, false, `bogus_field`},
		{`{"handler": "file_server"}`, false, `"file_server"`},
		{`{"transport": {"protocol": "fastcgi"}}`, true, `not "fastcgi"`},
		{`{"transport": {"protocol": "http", "tls_bogus": true}}`, true, `tls_bogus`},
		{`{"load_balancing": {"retries": "three"}}`, false, `retries`},
		{`[1]`, false, `proxy:`},
	} {
		_, err := (&Handler{Proxy: json.RawMessage(tc.proxy)}).proxyConfig(tc.tls)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("proxy %s (tls=%v): %v, want an error with %s", tc.proxy, tc.tls, err, tc.want)
		}
	}
}

// BenchmarkOwnCost measures what localdev adds to a proxied request: the
// peer check, the Host lookup, the hop mark, the counters, the status
// lookup and the inspector record. The reverse proxy is replaced by a
// handler that answers 200 the way Caddy's reports it (the status in the
// replacer), which is the one stand-in here: the real proxy's own cost is
// what the end-to-end benchmark (go run ./bench) compares with stock.
func BenchmarkOwnCost(b *testing.B) {
	h, _, req := ownPath(b, "bench.localhost")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		ctx := context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, caddyVars())
		r := req.WithContext(ctx)
		if err := h.ServeHTTP(w, r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOwnPathAllocatesNothing: around the reverse proxy, localdev's own
// work on a proxied request (peer check, Host lookup, hop mark, route
// variable, counters, inspector record) allocates nothing beyond what
// adding the hop mark to the request's headers costs: a Go map grows at
// some sizes (a request with 8 headers, say), and the mark is one more
// header. Each run serves a fresh request, with 0 to 16 headers as
// browsers send, after Caddy has made its replacer and variables as its
// server does for every request. The one other allocation localdev adds
// per request is the upstream it hands Caddy's proxy, which Caddy writes
// to (bench/NOTES.md).
func TestOwnPathAllocatesNothing(t *testing.T) {
	h, route, _ := ownPath(t, "allocs.localhost")
	browser := []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control",
		"Cookie", "Pragma", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform",
		"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Upgrade-Insecure-Requests",
		"User-Agent", "Priority"}
	headers := func(n int) http.Header {
		hdr := make(http.Header)
		for _, name := range browser[:n] {
			hdr[name] = []string{"x"}
		}
		return hdr
	}
	w := httptest.NewRecorder()
	const runs = 100
	served := route.Counts()[routes.OutcomeProxied]
	for n := 0; n <= len(browser); n++ {
		// AllocsPerRun calls once more than runs, to warm up
		reqs := make([]*http.Request, runs+1)
		maps := make([]http.Header, runs+1)
		for i := range reqs {
			req := httptest.NewRequest("GET", "http://allocs.localhost/x", nil)
			req.RemoteAddr = "127.0.0.1:50000"
			req.Header = headers(n)
			repl := caddy.NewReplacer()
			repl.Set("http.reverse_proxy.status_code", 0) // Caddy's proxy sets it before answering
			ctx := context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl)
			reqs[i] = req.WithContext(context.WithValue(ctx, caddyhttp.VarsCtxKey, caddyVars()))
			maps[i] = headers(n)
		}
		next := 0
		ours := testing.AllocsPerRun(runs, func() {
			if err := h.ServeHTTP(w, reqs[next], nil); err != nil {
				t.Fatal(err)
			}
			next++
		})
		next = 0
		mark := route.HopMark(firstHop)
		grow := testing.AllocsPerRun(runs, func() {
			maps[next][hopHeader] = mark
			next++
		})
		if ours != grow {
			t.Errorf("with %d request headers localdev's own path allocates %v times per request, want %v (adding one header to them)", n, ours, grow)
		}
	}
	if got := route.Counts()[routes.OutcomeProxied] - served; got < uint64(runs*len(browser)) {
		t.Fatalf("counted %d proxied requests, want at least %d: the requests did not take the proxied path", got, runs*len(browser))
	}
}

// ownPath is a handler whose reverse proxy answers 200 by itself, the way
// Caddy's reports it (the status in the replacer), a route to an app,
// and a loopback request for it. The stand-in proxy keeps the real one's
// cost out, so what is measured is localdev's own.
func ownPath(tb testing.TB, host string) (*Handler, *routes.Route, *http.Request) {
	tb.Helper()
	route := routes.NewRoute(host, targetOf(tb, "5173"), routes.SourceAPI, "")
	if _, err := table.Put(route, true); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _, _ = table.Delete(host, routes.SourceAPI, routes.Condition{}) })
	answer := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		replacer(r).Set("http.reverse_proxy.status_code", 200)
		return nil
	})
	req := httptest.NewRequest("GET", "http://"+host+"/x", nil)
	req.RemoteAddr = "127.0.0.1:50000"
	return &Handler{domain: "localhost", plain: proxyStub{answer}, secure: proxyStub{answer}}, route, req
}

// caddyVars is the request variables map as caddyhttp.Server makes it
// for every request.
func caddyVars() map[string]any {
	return map[string]any{caddyhttp.TrustedProxyVarKey: false, caddyhttp.ClientIPVarKey: "127.0.0.1"}
}

// proxyStub is a caddyhttp.MiddlewareHandler that answers by itself.
type proxyStub struct{ h caddyhttp.Handler }

func (p proxyStub) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	return p.h.ServeHTTP(w, r)
}

func targetOf(tb testing.TB, s string) routes.Target {
	tb.Helper()
	t, err := routes.ParseTarget(s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// TestPageLoadReusesAppConnections loads a page as a browser does from a
// dev server that serves unbundled modules: 250 requests at once over one
// HTTP/2 connection (the most streams Caddy's HTTP/2 server allows on
// one), three times. The app answers only once all 250 are in, so Caddy
// holds 250 connections to it at once. With localdev's loopback
// transport the second and third loads reuse them; Caddy's default pool
// (32 idle per host) would close 218 after each load and dial them again.
func TestPageLoadReusesAppConnections(t *testing.T) {
	const n = 250
	var accepted atomic.Int64
	var mu sync.Mutex
	waiting, release := 0, make(chan struct{})
	app := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/open" {
				return
			}
			mu.Lock()
			waiting++
			ch := release
			if waiting == n {
				waiting, release = 0, make(chan struct{})
				close(ch)
			}
			mu.Unlock()
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
			}
			_, _ = io.WriteString(w, "ok")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				accepted.Add(1)
			}
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Serve(ln) }()
	t.Cleanup(func() { _ = app.Close() })
	startCaddy(t, httpsSite(fmt.Sprintf("localdev pooled %s", ln.Addr().String())))

	var dialed atomic.Int64
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	browser := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialed.Add(1)
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			ForceAttemptHTTP2: true,
		},
		Timeout: 30 * time.Second,
	}
	t.Cleanup(browser.CloseIdleConnections)
	// the first request opens the one connection the page loads share
	if res := fetch(t, browser, "GET", httpsURL("pooled.localhost", "/open")); res.proto != "HTTP/2.0" {
		t.Fatalf("not HTTP/2: %s %d %q", res.proto, res.status, res.body)
	}
	for load := range 3 {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if res := fetch(t, browser, "GET", httpsURL("pooled.localhost", "/")); res.status != 200 {
					t.Errorf("page load %d: %d %q", load, res.status, res.body)
				}
			})
		}
		wg.Wait()
	}
	if got := dialed.Load(); got != 1 {
		t.Fatalf("the browser opened %d connections to Caddy, want 1: the loads were not one HTTP/2 connection", got)
	}
	if got := accepted.Load(); got < n || got > n+8 {
		t.Fatalf("three page loads of %d requests at once opened %d connections to the app, want about %d", n, got, n)
	}
}
