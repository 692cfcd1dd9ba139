package localdev

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/coder/websocket"

	"github.com/localdev/localdev/internal/routes"
)

// apps are the real upstream servers of TestRouteForms.
type apps struct {
	v4, v6, deep, shop, tlsPort int
	sock                        string
}

func startApps(t *testing.T) apps {
	var a apps
	a.v4 = startApp(t, "127.0.0.1:0", hello("v4"))
	a.v6 = startApp(t, "[::1]:0", hello("v6"))
	a.shop = startApp(t, "127.0.0.1:0", hello("shop"))
	a.deep = startApp(t, "[::1]:0", hello("deep"))
	tlsApp := httptest.NewTLSServer(hello("tls"))
	t.Cleanup(tlsApp.Close)
	a.tlsPort = tlsApp.Listener.Addr().(*net.TCPAddr).Port
	a.sock = filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", a.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hello("sock"), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return a
}

// TestRouteForms sends requests for every route form through a catch-all
// site, so that Host oddities reach localdev as clients send them.
func TestRouteForms(t *testing.T) {
	a := startApps(t)
	startCaddy(t, fmt.Sprintf(`{%s}
http://:`+httpP+` {
	bind 127.0.0.1 ::1
	localdev {
		app            %[2]d
		v6only         %[3]d
		api            127.0.0.1:%[2]d
		docs.localhost [::1]:%[3]d
		named          localhost:%[2]d
		*.shop         %[4]d
		*.eu.shop.localhost %[5]d
		sock           unix/%[6]s
		secure         https://127.0.0.1:%[7]d
		securebare     https://%[7]d
	}
}`, globals, a.v4, a.v6, a.shop, a.deep, a.sock, a.tlsPort))
	client := testClient("127.0.0.1")
	for _, tc := range []struct{ host, app string }{
		{"app.localhost", "v4"},
		{"APP.LOCALHOST", "v4"},
		{"app.localhost.", "v4"},
		{"App.Localhost.", "v4"},
		{"v6only.localhost", "v6"},
		{"api.localhost", "v4"},
		{"docs.localhost", "v6"},
		{"named.localhost", "v4"},
		{"x.shop.localhost", "shop"},
		{"a.b.shop.localhost", "shop"},
		{"x.eu.shop.localhost", "deep"},
		{"sock.localhost", "sock"},
		{"secure.localhost", "tls"},
		{"securebare.localhost", "tls"},
	} {
		for i := 0; i < 3; i++ { // more than once: the loopback family is learned once
			res := fetch(t, client, "GET", httpURL("127.0.0.1", "/p?q=1"), "Host: "+tc.host+":"+httpP)
			if res.status != 200 || res.header.Get("X-App") != tc.app {
				t.Fatalf("Host %s: status %d app %q body %q; want 200 from %s", tc.host, res.status, res.header.Get("X-App"), res.body, tc.app)
			}
			if want := "host=" + tc.host + ":" + httpP + " path=/p"; !strings.Contains(res.body, want) {
				t.Errorf("Host %s: app saw %q, want the Host unchanged (%q)", tc.host, res.body, want)
			}
		}
	}
	for _, host := range []string{"shop.localhost", "nope.localhost", "app.localhost.evil.test"} {
		if res := fetch(t, client, "GET", httpURL("127.0.0.1", "/"), "Host: "+host); res.status != 404 {
			t.Errorf("Host %s: status %d, want 404", host, res.status)
		}
	}
	// Over IPv6 to Caddy, with the port in the Host.
	res := fetch(t, testClient("::1"), "GET", httpURL("app.localhost", "/"))
	if res.status != 200 || res.header.Get("X-App") != "v4" {
		t.Errorf("over ::1: %d %q", res.status, res.body)
	}
}

// TestStreams proxies a WebSocket, server-sent events and large bodies.
func TestStreams(t *testing.T) {
	events := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", echoWebSocket)
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-events:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "data: last\n\n")
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bigBody())
	})
	port := startApp(t, "127.0.0.1:0", mux)
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n stream %d\n}", port)))
	client := testClient("127.0.0.1")

	t.Run("websocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, httpURL("stream.localhost", "/ws"), &websocket.DialOptions{HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		echo(t, ctx, c, "hello")
	})
	t.Run("server-sent events", func(t *testing.T) {
		res, err := client.Get(httpURL("stream.localhost", "/events"))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		line, err := bufio.NewReader(res.Body).ReadString('\n')
		if err != nil || line != "data: first\n" {
			t.Fatalf("first event: %q, %v", line, err)
		}
		close(events) // the stream was still open when the first event arrived
	})
	t.Run("1 MiB upload", func(t *testing.T) {
		body := bigBody()
		res, err := client.Post(httpURL("stream.localhost", "/upload"), "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, _ := io.ReadAll(res.Body)
		sum := sha256.Sum256(body)
		if want := fmt.Sprintf("%d %s", len(body), hex.EncodeToString(sum[:])); string(got) != want {
			t.Fatalf("app got %q, want %q", got, want)
		}
	})
	t.Run("1 MiB download", func(t *testing.T) {
		res := fetch(t, client, "GET", httpURL("stream.localhost", "/download"))
		if res.status != 200 || res.body != string(bigBody()) {
			t.Fatalf("download: status %d, %d bytes", res.status, len(res.body))
		}
	})
}

func bigBody() []byte {
	return bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
}

func echo(t *testing.T, ctx context.Context, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	_, got, err := c.Read(ctx)
	if err != nil || string(got) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, got, err)
	}
}

// TestHTTPSCertificates checks HTTP/2 over TLS and that each routed name
// gets its own certificate, that a mistyped name under the domain gets one
// too (within the budget) and with it the 404 page, and that names outside
// the domain get none.
func TestHTTPSCertificates(t *testing.T) {
	certBudget.reset()
	t.Cleanup(certBudget.reset)
	port := startApp(t, "127.0.0.1:0", hello("app"))
	startCaddy(t, httpsSite(fmt.Sprintf("localdev app %d", port)))
	client := testClient("127.0.0.1")
	res := fetch(t, client, "GET", httpsURL("app.localhost", "/"))
	if res.status != 200 || res.header.Get("X-App") != "app" || res.proto != "HTTP/2.0" {
		t.Fatalf("https://app.localhost: %d %s %q", res.status, res.proto, res.body)
	}
	typo := "apq-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + ".localhost"
	for _, name := range []string{"app.localhost", "localhost", typo} {
		cert, err := leafFor(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cert.DNSNames) != 1 || cert.DNSNames[0] != name {
			t.Errorf("%s: certificate names %v, want exactly %s", name, cert.DNSNames, name)
		}
	}
	// The mistyped name gets the 404 page over HTTPS, with the suggestion.
	res = fetch(t, client, "GET", httpsURL(typo, "/"), "Accept: text/html")
	if res.status != http.StatusNotFound || !strings.Contains(res.body, "app.localhost") || !strings.Contains(res.header.Get("Content-Type"), "text/html") {
		t.Errorf("https://%s: %d %q, want the 404 page naming app.localhost", typo, res.status, res.body)
	}
	for _, name := range []string{"github.com", "app.localhost.evil.test", "localhost.com"} {
		if cert, err := leafFor(name); err == nil {
			t.Errorf("%s got a certificate for %v; want none", name, cert.DNSNames)
		}
	}
}

// leafFor does a TLS handshake with Caddy for name and returns the leaf.
func leafFor(name string) (*x509Cert, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort), &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	return &x509Cert{DNSNames: leaf.DNSNames}, nil
}

type x509Cert struct{ DNSNames []string }

// TestAnswers covers the answers localdev gives instead of proxying.
func TestAnswers(t *testing.T) {
	down := freePort(t)
	late := freePort(t)
	// late has its own handler with a long wait: the subtest for it takes
	// only as long as the app takes to start, and a slow machine does not
	// turn it into a 502. The others wait 1 s, enough to see the hold.
	startCaddy(t, httpSite(fmt.Sprintf(`@late host late.localhost
	handle @late {
		localdev {
			late  %d
			wait  30s
		}
	}
	handle {
		localdev {
			app   %d
			loop  %d
			wait  1s
		}
	}
	`, late, down, httpPort)))
	client := testClient("127.0.0.1")
	browser := "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

	t.Run("unknown host", func(t *testing.T) {
		res := fetch(t, client, "GET", httpURL("ap.localhost", "/"))
		if res.status != 404 || !strings.Contains(res.body, "ap.localhost") || !strings.Contains(res.body, "app.localhost") {
			t.Fatalf("text 404: %d %q", res.status, res.body)
		}
		res = fetch(t, client, "GET", httpURL("ap.localhost", "/"), browser)
		if res.status != 404 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") || !strings.Contains(res.body, "app.localhost") {
			t.Fatalf("HTML 404: %d %s", res.status, res.header.Get("Content-Type"))
		}
	})
	t.Run("dashboard", func(t *testing.T) {
		res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: application/json")
		if res.status != 200 || !strings.Contains(res.body, `"name":"app.localhost"`) || !strings.Contains(res.body, `"url":"http://app.localhost:`+httpP+`"`) {
			t.Fatalf("dashboard JSON: %d %s", res.status, res.body)
		}
		res = fetch(t, client, "GET", httpURL("localhost", "/"), browser)
		if res.status != 200 || !strings.Contains(res.body, "late.localhost") {
			t.Fatalf("dashboard HTML: %d", res.status)
		}
	})
	t.Run("app down, with wait", func(t *testing.T) {
		for _, headers := range [][]string{nil, {browser}} {
			start := time.Now()
			res := fetch(t, client, "GET", httpURL("app.localhost", "/"), headers...)
			if res.status != 502 || !strings.Contains(res.body, "app.localhost") || !strings.Contains(res.body, fmt.Sprint(down)) {
				t.Fatalf("502 %q: %d %q", headers, res.status, res.body)
			}
			if headers != nil && !strings.Contains(res.body, "<html") {
				t.Fatalf("502 for a browser is not HTML: %q", res.body)
			}
			// A lower bound only: the request was held for the whole wait.
			if waited := time.Since(start); waited < time.Second {
				t.Errorf("502 %q after %s, want it held for wait (1s)", headers, waited)
			}
		}
	})
	t.Run("app starts during the wait", func(t *testing.T) {
		type answer struct {
			status int
			app    string
			err    error
		}
		got := make(chan answer, 1)
		go func() {
			res, err := client.Get(httpURL("late.localhost", "/"))
			if err != nil {
				got <- answer{err: err}
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			got <- answer{status: res.StatusCode, app: res.Header.Get("X-App")}
		}()
		// The request is under way and held (its port is closed) when the
		// app starts; startApp runs here, on the test's goroutine.
		time.Sleep(300 * time.Millisecond)
		startApp(t, fmt.Sprintf("127.0.0.1:%d", late), hello("late"))
		a := <-got
		if a.err != nil || a.status != 200 || a.app != "late" {
			t.Fatalf("late app: %d %q %v", a.status, a.app, a.err)
		}
	})
	t.Run("loop", func(t *testing.T) {
		res := fetch(t, client, "GET", httpURL("loop.localhost", "/"))
		if res.status != 508 || !strings.Contains(res.body, "loop.localhost") {
			t.Fatalf("loop: %d %q", res.status, res.body)
		}
	})
}

// TestTooEarly checks that TLS early data is refused with 425 (a unit
// test: Go's TLS server does not accept early data to test it for real).
func TestTooEarly(t *testing.T) {
	h := &Handler{}
	req := httptest.NewRequest("GET", "https://app.localhost/", nil)
	req.RemoteAddr = "127.0.0.1:5000"
	req.TLS = &tls.ConnectionState{HandshakeComplete: false}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, nil); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusTooEarly {
		t.Fatalf("status %d, want 425", rec.Code)
	}
}

// TestPeerCheckUnit covers peer addresses a real socket cannot easily
// give: IPv4-mapped loopback, garbage and Unix sockets.
func TestPeerCheckUnit(t *testing.T) {
	h := &Handler{}
	var err error
	if h.allow, h.allowUDS, err = parseAllow([]string{"192.168.1.0/24", "fd00::5"}); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]peer{
		"127.0.0.1:1":            peerLocal,
		"127.9.8.7:1":            peerLocal,
		"[::1]:1":                peerLocal,
		"[::ffff:127.0.0.1]:1":   peerLocal,
		"192.168.1.77:1":         peerInRange,
		"[::ffff:192.168.1.7]:":  peerOutside,
		"[::ffff:192.168.1.7]:1": peerInRange,
		"[fd00::5]:1":            peerInRange,
		"[fd00::6]:1":            peerOutside,
		"192.168.2.1:1":          peerOutside,
		"10.0.0.1:1":             peerOutside,
		"garbage":                peerOutside,
		"":                       peerOutside,
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr
		if got := h.peerOf(req); got != want {
			t.Errorf("peer %q classified %d, want %d", addr, got, want)
		}
		if got := h.peerAllowed(req); got != (want != peerOutside) {
			t.Errorf("peer %q allowed = %v", addr, got)
		}
	}
	unixReq := httptest.NewRequest("GET", "/", nil)
	unixReq.RemoteAddr = "@"
	unixReq = unixReq.WithContext(context.WithValue(unixReq.Context(), http.LocalAddrContextKey, &net.UnixAddr{Name: "/run/caddy.sock", Net: "unix"}))
	if h.peerAllowed(unixReq) {
		t.Error("a Unix-socket peer was allowed without allow unix")
	}
	h.allowUDS = true
	if got := h.peerOf(unixReq); got != peerInRange {
		t.Errorf("a Unix-socket peer with allow unix: classified %d, want in range (its block's routes only)", got)
	}
}

// TestOwnsUnit covers which routes a handler serves to a client of its
// allow ranges: its configured routes (also when the same site's other
// handler, or the next configuration, won the name with the same target),
// its own folders' routes, never API routes or another block's.
func TestOwnsUnit(t *testing.T) {
	mk := func(name, target string, source routes.Source, origin string, owner uint64) *routes.Route {
		tgt, err := routes.ParseTarget(target)
		if err != nil {
			t.Fatal(err)
		}
		r := routes.NewRoute(name, tgt, source, origin)
		r.Config = owner
		return r
	}
	h := &Handler{owner: 7, configured: map[string]string{"a.localhost": "3000"}, dirPaths: []string{"/home/me/routes"}}
	for _, tc := range []struct {
		route *routes.Route
		want  bool
	}{
		{mk("a.localhost", "3000", routes.SourceConfig, "", 7), true},
		{mk("a.localhost", "3000", routes.SourceConfig, "", 8), true},  // the same site's other handler
		{mk("a.localhost", "3001", routes.SourceConfig, "", 8), false}, // another block won the name
		{mk("b.localhost", "3000", routes.SourceConfig, "", 8), false},
		{mk("d.localhost", "3000", routes.SourceDir, "/home/me/routes", 0), true},
		{mk("e.localhost", "3000", routes.SourceDir, "/home/other/routes", 0), false},
		{mk("a.localhost", "3000", routes.SourceAPI, "", 0), false},
	} {
		if got := h.owns(tc.route); got != tc.want {
			t.Errorf("owns(%s %s from %s %q owner %d) = %v, want %v", tc.route.Name, tc.route.Target.Raw, tc.route.Source, tc.route.Origin, tc.route.Config, got, tc.want)
		}
		if !h.admitsTo(peerLocal, tc.route) || h.admitsTo(peerOutside, tc.route) || h.admitsTo(peerInRange, tc.route) != tc.want {
			t.Errorf("admitsTo for %s from %s: loopback always, outside never, in range when owned", tc.route.Name, tc.route.Source)
		}
	}
}

// TestPeerCheckAllocations checks that the client check of a loopback
// peer allocates nothing.
func TestPeerCheckAllocations(t *testing.T) {
	h := &Handler{}
	var err error
	if h.allow, h.allowUDS, err = parseAllow([]string{"192.168.1.0/24"}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	for _, addr := range []string{"127.0.0.1:5000", "[::1]:5000", "192.168.1.7:5000"} {
		req.RemoteAddr = addr
		if n := testing.AllocsPerRun(100, func() { _ = h.peerOf(req) }); n != 0 {
			t.Errorf("peerOf(%s) allocates %v times", addr, n)
		}
	}
}

// TestRefusalNamesNothing checks the 403 body and that the app is never
// contacted, using a request whose peer is not loopback, handed to the
// handler of a running Caddy (a real foreign peer is in
// TestPeersNetnsClientRefused, which needs root). The same request from
// loopback then reaches the app: the hit counter counts, so a refusal
// that let the request through would fail the test.
func TestRefusalNamesNothing(t *testing.T) {
	var hits atomic.Int64
	// Only requests for app.localhost count: on a shared machine other
	// programs may knock on the app's loopback port directly.
	port := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "app.localhost" {
			hits.Add(1)
		}
		w.Header().Set("X-App", "app")
	}))
	startCaddy(t, httpSite(fmt.Sprintf("localdev app %d", port)))
	loaded.mu.RLock()
	handlers := slices.Clone(loaded.list)
	loaded.mu.RUnlock()
	if len(handlers) != 1 {
		t.Fatalf("%d localdev handlers loaded, want 1", len(handlers))
	}
	h := handlers[0]
	app, err := caddy.ActiveContext().AppIfConfigured("http")
	if err != nil {
		t.Fatal(err)
	}
	servers := app.(*caddyhttp.App).Servers
	if len(servers) != 1 {
		t.Fatalf("%d servers, want 1", len(servers))
	}
	server := slices.Collect(maps.Values(servers))[0]
	serve := func(peer string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://app.localhost/", nil)
		req.RemoteAddr = peer
		req.Header.Set("X-Forwarded-For", "127.0.0.1")
		req = caddyhttp.PrepareRequest(req, caddy.NewReplacer(), rec, server)
		if err := h.ServeHTTP(rec, req, nil); err != nil {
			t.Fatalf("peer %s: %v", peer, err)
		}
		return rec
	}
	rec := serve("203.0.113.9:4000")
	if body := rec.Body.String(); rec.Code != 403 || strings.Contains(body, "app") || strings.Contains(body, fmt.Sprint(port)) || hits.Load() != 0 {
		t.Fatalf("refusal: %d %q, app hits %d", rec.Code, body, hits.Load())
	}
	rec = serve("127.0.0.1:4000")
	if rec.Code != 200 || rec.Header().Get("X-App") != "app" || hits.Load() != 1 {
		t.Fatalf("the same request from loopback: %d %q, app hits %d; want it proxied and counted once", rec.Code, rec.Body.String(), hits.Load())
	}
}

// TestFallthroughInsideRoute runs localdev inside a route block with
// fallthrough: unknown names reach the next handler, routed names and the
// dashboard do not.
func TestFallthroughInsideRoute(t *testing.T) {
	port := startApp(t, "127.0.0.1:0", hello("app"))
	startCaddy(t, fmt.Sprintf(`{%s}
http://:`+httpP+` {
	bind 127.0.0.1
	route {
		localdev {
			app %d
			fallthrough
		}
		respond "next handler" 200
	}
}`, globals, port))
	client := testClient("127.0.0.1")
	if res := fetch(t, client, "GET", httpURL("app.localhost", "/")); res.header.Get("X-App") != "app" {
		t.Errorf("routed name: %d %q", res.status, res.body)
	}
	for _, host := range []string{"nope.localhost", "example.test"} {
		if res := fetch(t, client, "GET", httpURL(host, "/")); res.status != 200 || res.body != "next handler" {
			t.Errorf("%s with fallthrough: %d %q, want the next handler", host, res.status, res.body)
		}
	}
	if res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: application/json"); res.status != 200 || !strings.Contains(res.body, "app.localhost") {
		t.Errorf("dashboard with fallthrough: %d %q", res.status, res.body)
	}
}

// TestChainedAppsAreNotLoops has one app forward a request, with all its
// headers (as a dev server's proxy does), to another route through Caddy:
// that is not a loop, while a route pointing at Caddy itself is.
func TestChainedAppsAreNotLoops(t *testing.T) {
	backend := startApp(t, "127.0.0.1:0", hello("backend"))
	client := testClient("127.0.0.1")
	var forwarded atomic.Int64
	frontend := startApp(t, "127.0.0.1:0", forwarder(client, "backend.localhost", &forwarded, nil))
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n frontend %d\n backend %d\n self %d\n}", frontend, backend, httpPort)))
	if res := fetch(t, client, "GET", httpURL("frontend.localhost", "/")); res.status != 200 || !strings.HasPrefix(res.body, "backend ") || forwarded.Load() != 1 {
		t.Fatalf("frontend forwarding to backend: %d %q (forwarded %d)", res.status, res.body, forwarded.Load())
	}
	if res := fetch(t, client, "GET", httpURL("self.localhost", "/")); res.status != http.StatusLoopDetected {
		t.Fatalf("route to Caddy itself: %d, want 508", res.status)
	}
}

// TestPermissionChecksTheClient asks for certificates as a TLS handshake
// would. The peer is a stand-in net.Conn: TestPeersPerBlockAdmission does
// real handshakes from a namespace peer. Every denial wraps
// caddytls.ErrPermissionDenied, so that Caddy logs it at debug.
func TestPermissionChecksTheClient(t *testing.T) {
	certBudget.reset()
	t.Cleanup(certBudget.reset)
	port := startApp(t, "127.0.0.1:0", hello("cert"))
	startCaddy(t, httpsSite(fmt.Sprintf("localdev {\n certapp %d\n *.wild %d\n allow 198.18.7.0/24\n}", port, port)))
	for _, tc := range []struct {
		peer string
		name string
		ok   bool
	}{
		{"127.0.0.1:5000", "certapp.localhost", true},
		{"[::1]:5000", "localhost", true},
		{"198.18.7.9:5000", "certapp.localhost", true},
		{"198.18.7.9:5000", "localhost", true},
		{"198.18.7.9:5000", "x.wild.localhost", true},
		{"198.18.7.9:5000", "typo.localhost", true},
		{"198.18.8.9:5000", "certapp.localhost", false},
		{"198.18.8.9:5000", "localhost", false},
		{"[2001:db8::9]:5000", "certapp.localhost", false},
		{"127.0.0.1:5000", "unrouted.localhost", true},
		{"127.0.0.1:5000", "a.b.wild.localhost", true},
		{"127.0.0.1:5000", "github.com", false},
		{"127.0.0.1:5000", "localhost.evil.test", false},
		{"127.0.0.1:5000", "bad name.localhost", false},
	} {
		hello := &tls.ClientHelloInfo{ServerName: tc.name, Conn: peerConn{addr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tc.peer))}}
		ctx := context.WithValue(context.Background(), certmagic.ClientHelloInfoCtxKey, hello)
		err := (&Permission{}).CertificateAllowed(ctx, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("peer %s asking for %s: %v, want allowed=%v", tc.peer, tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, caddytls.ErrPermissionDenied) {
			t.Errorf("peer %s asking for %s: %v does not wrap caddytls.ErrPermissionDenied", tc.peer, tc.name, err)
		}
	}
}

// peerConn is a net.Conn that only knows its remote address.
type peerConn struct {
	net.Conn
	addr net.Addr
}

func (c peerConn) RemoteAddr() net.Addr { return c.addr }

// certSite is httpsSite with Caddy's log, at debug level, in logFile.
func certSite(logFile, localdev string) string {
	return "{" + globals + "\tlog {\n\t\toutput file " + logFile + "\n\t\tlevel DEBUG\n\t}\n" +
		"\ton_demand_tls {\n\t\tpermission localdev\n\t}\n}\n" +
		"https:// {\n\tbind 127.0.0.1\n\ttls internal {\n\t\ton_demand\n\t}\n\t" + localdev + "\n}\n"
}

// handshakes does a TLS handshake for each name, 8 at a time, and
// returns how many got a certificate.
func handshakes(names []string) int {
	var ok atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := leafFor(name); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

// TestCertificateBudget sends a burst of handshakes for distinct names
// that only a wildcard route matches, as a page full of
// <img src=https://nNNN.shop.localhost> would: the budget's 20 get a
// certificate, the rest none, with one warning; exact names and the index
// host are still served after the burst, and so is a wildcard name that
// already has its certificate.
func TestCertificateBudget(t *testing.T) {
	certBudget.reset()
	t.Cleanup(certBudget.reset)
	port := startApp(t, "127.0.0.1:0", hello("shop"))
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, certSite(logFile, fmt.Sprintf("localdev {\n *.shop-%[1]s %[2]d\n exact-%[1]s %[2]d\n}", run, port)))

	var burst []string
	for i := range 60 {
		burst = append(burst, fmt.Sprintf("n%03d.shop-%s.localhost", i, run))
	}
	got := handshakes(burst)
	t.Logf("%d of %d wildcard names got a certificate", got, len(burst))
	if got != certBudget.size {
		t.Errorf("%d of %d wildcard names got a certificate, want the budget's %d", got, len(burst), certBudget.size)
	}
	// Nothing more is issued: unrouted names under the domain neither.
	if n := handshakes([]string{"typo-" + run + ".localhost", "n999.shop-" + run + ".localhost"}); n != 0 {
		t.Errorf("%d names got a certificate after the budget was spent", n)
	}
	for _, name := range []string{"exact-" + run + ".localhost", "localhost"} {
		cert, err := leafFor(name)
		if err != nil || !slices.Equal(cert.DNSNames, []string{name}) {
			t.Errorf("%s after the burst: %v %v, want its certificate", name, cert, err)
		}
	}
	res := fetch(t, testClient("127.0.0.1"), "GET", httpsURL("exact-"+run+".localhost", "/"))
	if res.status != 200 || res.header.Get("X-App") != "shop" {
		t.Errorf("exact name after the burst: %d %q", res.status, res.body)
	}
	if n := handshakes(burst); n != certBudget.size {
		t.Errorf("the burst again: %d names got a certificate, want the %d that already have one", n, certBudget.size)
	}
	if n := liveCountLog(t, logFile, `"level":"warn"`, "certificate budget"); n != 1 {
		t.Errorf("%d budget warnings in the log, want 1", n)
	}
	if n := liveCountLog(t, logFile, `"level":"error"`); n != 0 {
		t.Errorf("%d error lines in the log for denied handshakes, want 0: %s", n, firstLine(t, logFile, `"level":"error"`))
	}
	if n := liveCountLog(t, logFile, `"level":"debug"`, "on-demand certificate issuance denied"); n == 0 {
		t.Error("no debug line for the denied handshakes")
	}
}

// TestQuietDenials sends a burst of handshakes that the permission denies
// (names outside every localdev domain, malformed names): Caddy logs them
// at debug, never at error.
func TestQuietDenials(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, certSite(logFile, "localdev"))
	var names []string
	for i := range 200 {
		names = append(names, fmt.Sprintf("n%d.example.com", i), fmt.Sprintf("n%d.localhost.evil.test", i))
	}
	if n := handshakes(names); n != 0 {
		t.Fatalf("%d denied names got a certificate", n)
	}
	if n := liveCountLog(t, logFile, `"level":"error"`); n != 0 {
		t.Errorf("%d error lines in the log for %d denied handshakes, want 0: %s", n, len(names), firstLine(t, logFile, `"level":"error"`))
	}
	if n := liveCountLog(t, logFile, `"level":"debug"`, "on-demand certificate issuance denied"); n < len(names) {
		t.Errorf("%d debug lines for %d denied handshakes", n, len(names))
	}
}

func firstLine(t *testing.T, file, sub string) string {
	line, _ := liveLogLine(file, sub)
	return line
}

// TestIssueBudgetWindow checks the budget's sliding window with a clock
// of its own.
func TestIssueBudgetWindow(t *testing.T) {
	b := newIssueBudget(3, 10*time.Minute)
	t0 := time.Unix(1_000_000, 0)
	for i, step := range []struct {
		at        time.Duration
		ok, first bool
	}{
		{0, true, false},
		{time.Minute, true, false},
		{2 * time.Minute, true, false},
		{3 * time.Minute, false, true}, // spent: the first refusal warns
		{4 * time.Minute, false, false},
		{10 * time.Minute, true, false}, // the grant at 0 has left the window
		{10 * time.Minute, false, true},
		{11 * time.Minute, true, false}, // the grant at 1m has left
		{12*time.Minute - time.Second, false, true},
		{12 * time.Minute, true, false},
	} {
		ok, first := b.take(fmt.Sprintf("n%d.shop.localhost", i), t0.Add(step.at))
		if ok != step.ok || first != step.first {
			t.Errorf("step %d at %s: ok %v first %v, want %v %v", i, step.at, ok, first, step.ok, step.first)
		}
	}
}

// TestCertificateBudgetStorage checks that a name whose certificate is
// already in storage (a real certmagic file storage) is granted without
// spending the budget, and that others are refused once it is spent.
func TestCertificateBudgetStorage(t *testing.T) {
	certBudget.reset()
	t.Cleanup(certBudget.reset)
	storage := &certmagic.FileStorage{Path: t.TempDir()}
	ctx := context.Background()
	if err := storage.Store(ctx, certmagic.StorageKeys.SiteCert("local", "kept.shop.localhost"), []byte("certificate")); err != nil {
		t.Fatal(err)
	}
	p := &Permission{storage: storage, logger: nopLogger()}
	for i := range certBudget.size {
		if err := p.spend(ctx, fmt.Sprintf("new%d.shop.localhost", i)); err != nil {
			t.Fatal(err)
		}
	}
	// A name granted within the window costs nothing again: concurrent
	// handshakes for one new name spend one grant.
	if err := p.spend(ctx, "new0.shop.localhost"); err != nil {
		t.Errorf("a name granted a moment ago: %v, want it granted again", err)
	}
	if err := p.spend(ctx, "other.shop.localhost"); err == nil || !errors.Is(err, caddytls.ErrPermissionDenied) || !strings.Contains(err.Error(), "budget") {
		t.Errorf("a new name once the budget is spent: %v, want a denial naming the budget", err)
	}
	if err := p.spend(ctx, "kept.shop.localhost"); err != nil {
		t.Errorf("a name with a certificate in storage: %v, want it granted", err)
	}
}

// exhaust spends the whole budget now.
func (b *issueBudget) exhaust() {
	for i := 0; ; i++ {
		if ok, _ := b.take(fmt.Sprintf("spent%d.localhost", i), time.Now()); !ok {
			return
		}
	}
}

// reset empties the budget's memory: tests share one process.
func (b *issueBudget) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.times)
	clear(b.names)
	b.next, b.refused = 0, false
}

// TestReservedNames checks that a route may not be the index host or
// *.<domain>, and that the domain may not be a public suffix, from every
// source: the Caddyfile, JSON, the admin API and a route folder, each
// with a message naming the value.
func TestReservedNames(t *testing.T) {
	// Caddyfile.
	for _, tc := range []struct{ body, want string }{
		{"localdev {\n localhost 3000\n}", `route name "localhost" is reserved: localhost itself is the index host`},
		{"localdev {\n LOCALHOST. 3000\n}", `route name "LOCALHOST." is reserved`},
		{"localdev {\n *.localhost 3000\n}", `route name "*.localhost" is reserved: *.localhost would capture every name`},
		{"localdev {\n domain test\n test 3000\n}", `route name "test" is reserved: test itself is the index host`},
		{"localdev {\n domain dev.test\n *.dev.test 3000\n}", `route name "*.dev.test" is reserved`},
		{"localdev {\n domain com\n}", `domain "com" is a public suffix`},
		{"localdev {\n domain co.uk\n app 3000\n}", `domain "co.uk" is a public suffix`},
		{"localdev {\n domain DEV.\n}", `domain "DEV." is a public suffix`},
		{"localdev {\n app 3000\\u202e\n}", `U+202E`},
	} {
		_, err := adapt(t, strings.ReplaceAll(tc.body, `\u202e`, "\u202e"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Caddyfile %q: error %v; want one containing %q", tc.body, err, tc.want)
		}
	}

	// JSON, loaded into the running Caddy.
	port := startApp(t, "127.0.0.1:0", hello("keep"))
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	folder := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	lan := "w" + run + ".lan"
	site := func(domain string) string {
		return "{" + globals + "\tlog {\n\t\toutput file " + logFile + "\n\t}\n}\n" +
			"http://:" + httpP + " {\n\tbind 127.0.0.1\n\tlocaldev {\n\t\tkeep-" + run + " " + strconv.Itoa(port) +
			"\n\t\tdir " + folder + "\n\t\tdomain " + domain + "\n\t}\n}\n"
	}
	startCaddy(t, site("localhost"))
	for _, tc := range []struct{ handler, want string }{
		{`{"handler":"localdev","routes":{"localhost":"3000"}}`, `route name \"localhost\" is reserved`},
		{`{"handler":"localdev","routes":{"*.localhost":"3000"}}`, `route name \"*.localhost\" is reserved`},
		{`{"handler":"localdev","domain":"test","routes":{"test.":"3000"}}`, `route name \"test.\" is reserved`},
		{`{"handler":"localdev","domain":"com"}`, `domain \"com\" is a public suffix`},
		{`{"handler":"localdev","domain":"github.io.","routes":{"*.github.io":"3000"}}`, `route name \"*.github.io\" is reserved`},
		{`{"handler":"localdev","domain":"co.uk"}`, `domain \"co.uk\" is a public suffix`},
		{`{"handler":"localdev","routes":{"app":"3000\u0007"}}`, `U+0007`},
	} {
		cfg := `{"admin":{"listen":"localhost:` + adminP + `"},"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:` + httpP + `"],"routes":[{"handle":[` + tc.handler + `]}]}}}}}`
		caddytest.AssertLoadError(t, cfg, "json", tc.want)
	}

	// The admin API.
	for _, name := range []string{"localhost", "LocalHost.", "*.localhost"} {
		res := liveAPI(t, "PUT", "/localdev/routes/"+name, `{"target": "3000"}`)
		liveWantError(t, "PUT "+name, res, http.StatusBadRequest, "route name", "is reserved")
	}
	res := liveAPI(t, "PUT", "/localdev/routes/bidi-"+run, `{"target": "3000\u202e"}`)
	liveWantError(t, "PUT with a bidi override in the target", res, http.StatusBadRequest, "U+202E")

	// A route folder: the files are skipped with a warning, the others stay.
	liveWrite(t, filepath.Join(folder, "localhost"), "3000\n")
	liveWrite(t, filepath.Join(folder, "*.localhost"), "3000\n")
	liveWrite(t, filepath.Join(folder, "bidi-"+run), "3000\u202e\n")
	liveWrite(t, filepath.Join(folder, "fine-"+run), strconv.Itoa(port)+"\n")
	client := testClient("127.0.0.1")
	liveWaitServes(t, client, 5*time.Second, "fine-"+run+".localhost", "keep")
	liveWaitLog(t, logFile, "skipping route file", filepath.Join(folder, "localhost"), `route name \"localhost\" is reserved`)
	liveWaitLog(t, logFile, "skipping route file", filepath.Join(folder, "*.localhost"), `route name \"*.localhost\" is reserved`)
	liveWaitLog(t, logFile, "skipping route file", filepath.Join(folder, "bidi-"+run), "U+202E")
	if res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: application/json"); res.status != 200 || !strings.Contains(res.body, `"routes"`) {
		t.Errorf("the dashboard at the index host: %d %q", res.status, res.body)
	}
	if res := fetch(t, client, "GET", httpURL("nope-"+run+".localhost", "/")); res.status != http.StatusNotFound {
		t.Errorf("an unrouted name: %d, want the 404 page (no *.localhost route)", res.status)
	}

	// A domain that is not special-use loads with one warning naming it;
	// a special-use one with none.
	startCaddy(t, site(lan))
	startCaddy(t, site(lan)) // a reload does not warn again
	startCaddy(t, site("dev.test"))
	if n := liveCountLog(t, logFile, `"level":"warn"`, "not a special-use domain", `"domain":"`+lan+`"`); n != 1 {
		t.Errorf("%d warnings naming the domain %s, want 1", n, lan)
	}
	if n := liveCountLog(t, logFile, "not a special-use domain", `"domain":"dev.test"`); n != 0 {
		t.Errorf("%d warnings for the special-use domain dev.test, want none", n)
	}
}

// BenchmarkAdmission measures the client check of the request path: the
// peer's class, and for a client of an allow range whether the route is
// its handler's own (a loopback client never asks).
func BenchmarkAdmission(b *testing.B) {
	h := &Handler{owner: 2, configured: map[string]string{"a.localhost": "3000"}}
	var err error
	if h.allow, h.allowUDS, err = parseAllow([]string{"192.168.1.0/24"}); err != nil {
		b.Fatal(err)
	}
	tgt, _ := routes.ParseTarget("3000")
	route := routes.NewRoute("a.localhost", tgt, routes.SourceConfig, "")
	route.Config = 1 // won by the same site's other handler: the slower path
	for _, addr := range []string{"127.0.0.1:5000", "192.168.1.7:5000"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr
		b.Run(addr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p := h.peerOf(req); p != peerLocal && !h.owns(route) {
					b.Fatal("refused")
				}
			}
		})
	}
}
