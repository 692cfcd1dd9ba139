package localdev

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
	"github.com/coder/websocket"
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
// gets its own certificate while others get none.
func TestHTTPSCertificates(t *testing.T) {
	port := startApp(t, "127.0.0.1:0", hello("app"))
	startCaddy(t, httpsSite(fmt.Sprintf("localdev app %d", port)))
	res := fetch(t, testClient("127.0.0.1"), "GET", httpsURL("app.localhost", "/"))
	if res.status != 200 || res.header.Get("X-App") != "app" || res.proto != "HTTP/2.0" {
		t.Fatalf("https://app.localhost: %d %s %q", res.status, res.proto, res.body)
	}
	for _, name := range []string{"app.localhost", "localhost"} {
		cert, err := leafFor(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cert.DNSNames) != 1 || cert.DNSNames[0] != name {
			t.Errorf("%s: certificate names %v, want exactly %s", name, cert.DNSNames, name)
		}
	}
	for _, name := range []string{"github.com", "nope.localhost", "app.localhost.evil.test"} {
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
	for addr, want := range map[string]bool{
		"127.0.0.1:1":           true,
		"127.9.8.7:1":           true,
		"[::1]:1":               true,
		"[::ffff:127.0.0.1]:1":  true,
		"192.168.1.77:1":        true,
		"[::ffff:192.168.1.7]:": false,
		"[fd00::5]:1":           true,
		"[fd00::6]:1":           false,
		"192.168.2.1:1":         false,
		"10.0.0.1:1":            false,
		"garbage":               false,
		"":                      false,
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr
		if got := h.peerAllowed(req); got != want {
			t.Errorf("peer %q allowed = %v, want %v", addr, got, want)
		}
	}
	unixReq := httptest.NewRequest("GET", "/", nil)
	unixReq.RemoteAddr = "@"
	unixReq = unixReq.WithContext(context.WithValue(unixReq.Context(), http.LocalAddrContextKey, &net.UnixAddr{Name: "/run/caddy.sock", Net: "unix"}))
	if h.peerAllowed(unixReq) {
		t.Error("a Unix-socket peer was allowed without allow unix")
	}
	h.allowUDS = true
	if !h.peerAllowed(unixReq) {
		t.Error("a Unix-socket peer was refused with allow unix")
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
	frontend := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequest("GET", httpURL("backend.localhost", "/api"), nil)
		req.Header = r.Header.Clone()
		res, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n frontend %d\n backend %d\n self %d\n}", frontend, backend, httpPort)))
	if res := fetch(t, client, "GET", httpURL("frontend.localhost", "/")); res.status != 200 || !strings.HasPrefix(res.body, "backend ") {
		t.Fatalf("frontend forwarding to backend: %d %q", res.status, res.body)
	}
	if res := fetch(t, client, "GET", httpURL("self.localhost", "/")); res.status != http.StatusLoopDetected {
		t.Fatalf("route to Caddy itself: %d, want 508", res.status)
	}
}

// TestPermissionChecksTheClient asks for certificates as a TLS handshake
// would. The peer is a stand-in net.Conn: a handshake from a
// non-loopback address needs a second host, which TestPeersNetns covers
// for requests.
func TestPermissionChecksTheClient(t *testing.T) {
	port := startApp(t, "127.0.0.1:0", hello("cert"))
	startCaddy(t, httpsSite(fmt.Sprintf("localdev {\n certapp %d\n allow 198.18.7.0/24\n}", port)))
	for _, tc := range []struct {
		peer string
		name string
		ok   bool
	}{
		{"127.0.0.1:5000", "certapp.localhost", true},
		{"[::1]:5000", "localhost", true},
		{"198.18.7.9:5000", "certapp.localhost", true},
		{"198.18.8.9:5000", "certapp.localhost", false},
		{"[2001:db8::9]:5000", "certapp.localhost", false},
		{"127.0.0.1:5000", "unrouted.localhost", false},
		{"127.0.0.1:5000", "github.com", false},
	} {
		hello := &tls.ClientHelloInfo{ServerName: tc.name, Conn: peerConn{addr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tc.peer))}}
		ctx := context.WithValue(context.Background(), certmagic.ClientHelloInfoCtxKey, hello)
		err := Permission{}.CertificateAllowed(ctx, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("peer %s asking for %s: %v, want allowed=%v", tc.peer, tc.name, err, tc.ok)
		}
	}
}

// peerConn is a net.Conn that only knows its remote address.
type peerConn struct {
	net.Conn
	addr net.Addr
}

func (c peerConn) RemoteAddr() net.Addr { return c.addr }
