package localdev

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSteadyLoadWhileRoutesChange keeps requests flowing to one route
// while other routes are added and removed through the API.
func TestSteadyLoadWhileRoutesChange(t *testing.T) {
	port := startApp(t, "127.0.0.1:0", hello("steady"))
	startCaddy(t, httpSite(fmt.Sprintf("localdev steady %d", port)))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: testClient("127.0.0.1").Transport, Timeout: 5 * time.Second}
			for ctx.Err() == nil {
				req, _ := http.NewRequest("GET", httpURL("steady.localhost", "/"), nil)
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	changes := 0
	for ctx.Err() == nil {
		name := fmt.Sprintf("churn%d", changes%7)
		apiDo(t, "PUT", "/localdev/routes/"+name, fmt.Sprintf(`{"target": "%d"}`, 30000+changes%1000))
		apiDo(t, "DELETE", "/localdev/routes/"+name, "")
		changes++
	}
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d requests failed, %d succeeded during %d route changes", failed.Load(), ok.Load(), changes)
	}
	t.Logf("%d requests, none failed, during %d route changes", ok.Load(), changes*2)
}

// apiDo calls the admin API and returns the status.
func apiDo(t testing.TB, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://localhost:"+adminP+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

// TestAppKilledMidResponse cuts the app's connection halfway through a
// response: the client sees an error or a short body, Caddy stays up, the
// next request gets the 502 page, and the route works again once the app
// is back.
func TestAppKilledMidResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	go func() { // an app that promises 1000 bytes, sends 10, and dies
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = bufio.NewReader(conn).ReadString('\n')
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
		time.Sleep(100 * time.Millisecond)
		_ = conn.Close()
		_ = ln.Close()
	}()
	startCaddy(t, httpSite(fmt.Sprintf("localdev dying %d", port)))
	client := testClient("127.0.0.1")
	res, err := client.Get(httpURL("dying.localhost", "/"))
	if err == nil {
		body, readErr := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if readErr == nil && len(body) == 1000 {
			t.Fatalf("the client got a whole body from a dead app: %q", body)
		}
	}
	down := fetch(t, client, "GET", httpURL("dying.localhost", "/"))
	if down.status != 502 || !strings.Contains(down.body, fmt.Sprint(port)) {
		t.Fatalf("after the app died: %d %q", down.status, down.body)
	}
	startApp(t, fmt.Sprintf("127.0.0.1:%d", port), hello("back"))
	if back := fetch(t, client, "GET", httpURL("dying.localhost", "/")); back.status != 200 || back.header.Get("X-App") != "back" {
		t.Fatalf("app back: %d %q", back.status, back.body)
	}
}

// TestSlowAppAndManyWebSockets serves an app whose headers take 3 s, and
// 1,000 WebSockets open at once.
func TestSlowAppAndManyWebSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 3 s app and 1,000 WebSockets")
	}
	slow := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * time.Second)
		_, _ = io.WriteString(w, "finally")
	}))
	ws := startApp(t, "127.0.0.1:0", http.HandlerFunc(echoWebSocket))
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n slow %d\n ws %d\n}", slow, ws)))
	client := testClient("127.0.0.1")
	if res := fetch(t, client, "GET", httpURL("slow.localhost", "/")); res.status != 200 || res.body != "finally" {
		t.Fatalf("slow app: %d %q", res.status, res.body)
	}

	const n = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conns := make([]*websocket.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	}()
	wsClient := &http.Client{Transport: testClient("127.0.0.1").Transport}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := websocket.Dial(ctx, httpURL("ws.localhost", "/"), &websocket.DialOptions{HTTPClient: wsClient})
			if err != nil {
				errs <- fmt.Errorf("dial %d: %v", i, err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var echoed atomic.Int64
	for i, c := range conns { // all open at once; now each echoes
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprint("hello ", i)
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				return
			}
			if _, got, err := c.Read(ctx); err == nil && string(got) == msg {
				echoed.Add(1)
			}
		}()
	}
	wg.Wait()
	if echoed.Load() != n {
		t.Fatalf("%d of %d WebSockets echoed", echoed.Load(), n)
	}
}

// TestMalformedRequests sends broken requests straight to Caddy's socket:
// each gets a 4xx (or no answer at all), never a panic, and Caddy
// serves the next good request.
func TestMalformedRequests(t *testing.T) {
	port := startApp(t, "127.0.0.1:0", hello("good"))
	startCaddy(t, fmt.Sprintf("{%s}\nhttp://:"+httpP+" {\n\tbind 127.0.0.1\n\tlocaldev good %d\n}\n", globals, port))
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: \xff\xfe.localhost\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: good.localhost\r\nHost: other.localhost\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: good.localhost\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: good.localhost\r\nContent-Length: -5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: good.localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		start := time.Now()
		status := sendRaw(t, raw)
		t.Logf("%.40q: %d in %s", raw, status, time.Since(start).Round(time.Millisecond))
		if status != 0 && (status < 400 || status > 499) {
			t.Errorf("%.60q: status %d, want a 4xx", raw, status)
		}
		if res := fetch(t, testClient("127.0.0.1"), "GET", httpURL("good.localhost", "/")); res.status != 200 {
			t.Fatalf("after %.60q the next good request got %d", raw, res.status)
		}
	}
}

// sendRaw writes raw bytes to Caddy and returns the status it answers
// with, or 0 if it closed the connection without one.
func sendRaw(t *testing.T, raw string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// startClosingApp starts an app that reads each request's head, counts
// it, and closes the connection without answering, as an app that
// crashes on a request does. It listens on the same port of each host
// ("127.0.0.1", "::1").
func startClosingApp(t *testing.T, hosts ...string) (int, *atomic.Int64) {
	t.Helper()
	seen := new(atomic.Int64)
	port := 0
	for _, host := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			t.Skipf("cannot listen on %s port %d: %v", host, port, err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		port = ln.Addr().(*net.TCPAddr).Port
		go serveAndClose(ln, seen)
	}
	return port, seen
}

// serveAndClose counts each request head read on ln, then closes its
// connection.
func serveAndClose(ln net.Listener, seen *atomic.Int64) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					seen.Add(1)
					return
				}
			}
		}()
	}
}

// TestOneDelivery has an app on both loopback families read each request
// and close the connection: every request reaches it exactly once, with
// and without `wait`, and the client gets the app-error 502, not the
// page that says nothing answers.
func TestOneDelivery(t *testing.T) {
	client := testClient("127.0.0.1")
	for _, wait := range []string{"", "\n wait 2s"} {
		port, seen := startClosingApp(t, "127.0.0.1", "::1")
		startCaddy(t, httpSite(fmt.Sprintf("localdev {\n closing %d%s\n}", port, wait)))
		for i, method := range []string{"GET", "POST", "GET"} {
			res := fetch(t, client, method, httpURL("closing.localhost", "/"))
			if got := seen.Load(); got != int64(i+1) {
				t.Fatalf("wait=%q: after %d requests (the last a %s) the app saw %d", wait, i+1, method, got)
			}
			if res.status != http.StatusBadGateway || !strings.Contains(res.body, "took the request") ||
				!strings.Contains(res.body, "not sent again") || strings.Contains(res.body, " is down") {
				t.Fatalf("wait=%q %s: %d %q, want the app-error 502", wait, method, res.status, res.body)
			}
		}
		html := fetch(t, client, "GET", httpURL("closing.localhost", "/"), "Accept: text/html")
		if html.status != http.StatusBadGateway || !strings.Contains(html.body, "did not send the request again") || strings.Contains(html.body, "location.reload") {
			t.Fatalf("wait=%q: HTML app-error page: %d %q", wait, html.status, html.body)
		}
		if got := seen.Load(); got != 4 {
			t.Fatalf("wait=%q: 4 requests reached the app %d times", wait, got)
		}
		route := table.Lookup("closing.localhost")
		if route == nil || route.Preferred() != 0 {
			t.Fatalf("wait=%q: the IPv4 family answered, yet the route prefers %v", wait, route)
		}
	}
}

// TestFamilyLearnedOnlyWhenItAnswers: an app only on ::1 is found by the
// retry after a refused dial on 127.0.0.1, and the route then prefers ::1;
// a target where neither family answers leaves the preference alone, and
// an app on ::1 that reads and closes is reached once and becomes the
// preference (it did answer the dial).
func TestFamilyLearnedOnlyWhenItAnswers(t *testing.T) {
	six := startApp(t, "[::1]:0", hello("six"))
	closing, seen := startClosingApp(t, "::1")
	none := freePort(t)
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n six %d\n none %d\n closes6 %d\n}", six, none, closing)))
	client := testClient("127.0.0.1")
	if res := fetch(t, client, "GET", httpURL("six.localhost", "/")); res.status != 200 || res.header.Get("X-App") != "six" {
		t.Fatalf("app on ::1 only: %d %q", res.status, res.body)
	}
	if r := table.Lookup("six.localhost"); r.Dial() != fmt.Sprintf("[::1]:%d", six) {
		t.Fatalf("after ::1 answered the route dials %s first", r.Dial())
	}
	if res := fetch(t, client, "GET", httpURL("none.localhost", "/")); res.status != http.StatusBadGateway || !strings.Contains(res.body, "is down") {
		t.Fatalf("nothing listening: %d %q", res.status, res.body)
	}
	if r := table.Lookup("none.localhost"); r.Preferred() != 0 {
		t.Fatalf("neither family answered, yet the preference moved to %s", r.Dial())
	}
	res := fetch(t, client, "GET", httpURL("closes6.localhost", "/"))
	if res.status != http.StatusBadGateway || !strings.Contains(res.body, "took the request") || seen.Load() != 1 {
		t.Fatalf("app on ::1 that closes: %d %q, seen %d times", res.status, res.body, seen.Load())
	}
	if r := table.Lookup("closes6.localhost"); r.Preferred() != 1 {
		t.Fatalf("::1 accepted the connection, yet the route dials %s first", r.Dial())
	}
}

// TestHTTPSRouteToPlainApp: a route that says https:// for an app that
// serves plain HTTP gets a 502 that says so and what to change, and the
// app never sees a request.
func TestHTTPSRouteToPlainApp(t *testing.T) {
	var seen atomic.Int64
	port := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
	startCaddy(t, httpSite(fmt.Sprintf("localdev plainapp https://127.0.0.1:%d", port)))
	res := fetch(t, testClient("127.0.0.1"), "GET", httpURL("plainapp.localhost", "/"))
	if res.status != http.StatusBadGateway || !strings.Contains(res.body, "does not speak TLS") || !strings.Contains(res.body, "drop https://") {
		t.Fatalf("https:// route to a plain app: %d %q", res.status, res.body)
	}
	if seen.Load() != 0 {
		t.Fatalf("the app saw %d requests", seen.Load())
	}
}

// TestStockReverseProxyOneDelivery: a stock reverse_proxy fed by the
// localdev upstream source, configured as the README shows (one retry, a
// retry rule that matches nothing), also finds an app on ::1 only and
// sends a request that reached the app only once.
func TestStockReverseProxyOneDelivery(t *testing.T) {
	closing, seen := startClosingApp(t, "127.0.0.1", "::1")
	six := startApp(t, "[::1]:0", hello("six"))
	stock := `@stock host stockclose.localhost stocksix.localhost
	handle @stock {
		@local remote_ip 127.0.0.0/8 ::1
		reverse_proxy @local {
			dynamic localdev
			lb_retries 1
			lb_retry_match {
				not path *
			}
		}
	}
	`
	startCaddy(t, httpSite(fmt.Sprintf("%slocaldev {\n stockclose %d\n stocksix %d\n}", stock, closing, six)))
	client := testClient("127.0.0.1")
	if res := fetch(t, client, "GET", httpURL("stocksix.localhost", "/")); res.status != 200 || res.header.Get("X-App") != "six" {
		t.Fatalf("stock reverse_proxy to an app on ::1 only: %d %q", res.status, res.body)
	}
	res := fetch(t, client, "GET", httpURL("stockclose.localhost", "/"))
	if res.status != http.StatusBadGateway || seen.Load() != 1 {
		t.Fatalf("stock reverse_proxy to an app that reads and closes: %d %q, the app saw %d requests", res.status, res.body, seen.Load())
	}
	if strings.Contains(res.body, "localdev") {
		t.Fatalf("the stock path answered with localdev's page: %q", res.body)
	}
}

// TestProxyLimitIsNotAppDown: a request that the user's own proxy
// settings turn away (here a passive health check's
// unhealthy_request_count 1 while another request holds the app) gets
// Caddy's own 503, counted as app_error, never the page that says the
// app is down nor app_down: the app answered on its port, and nothing
// was sent to it. A bare port (tried on both loopback families: the
// retry must not go round the limit through the other one) and an
// address are checked, without and with `wait` (the request waits for a
// free slot on the same address, as lb_try_duration does in a stock
// reverse_proxy, then gets the same 503).
func TestProxyLimitIsNotAppDown(t *testing.T) {
	handler, arrived, release := oneAtATimeApp()
	port := startApp(t, "127.0.0.1:0", handler)
	app := fmt.Sprintf("127.0.0.1:%d", port)
	client := testClient("127.0.0.1")
	for _, wait := range []string{"", "\n wait 600ms"} {
		bare, addr := "busy", "busyaddr"
		if wait != "" {
			bare, addr = "busywait", "busywaitaddr"
		}
		startCaddy(t, httpSite(fmt.Sprintf("localdev {\n %s %d\n %s %s%s\n proxy {\n  unhealthy_request_count 1\n }\n}", bare, port, addr, app, wait)))
		for _, name := range []string{bare + ".localhost", addr + ".localhost"} {
			// the previous request's slot is given back after its answer
			eventually(t, 5*time.Second, "the app's slot free", func() error { return upstreamRequests(t, app, 0) })
			held := holdRequest(t, client, httpURL(name, "/"), arrived)
			if err := upstreamRequests(t, app, 1); err != nil {
				t.Fatalf("wait=%q %s: %v", wait, name, err)
			}
			for _, accept := range []string{"text/plain", "text/html"} {
				res := fetch(t, client, "GET", httpURL(name, "/"), "Accept: "+accept)
				if res.status != http.StatusServiceUnavailable || strings.Contains(res.body, "is down") || strings.Contains(res.body, "localdev") {
					t.Errorf("wait=%q %s, Accept %s, while the one allowed request is in flight: %d %.300q, want Caddy's own 503", wait, name, accept, res.status, res.body)
				}
			}
			release <- struct{}{}
			if status := <-held; status != http.StatusOK {
				t.Fatalf("wait=%q %s: the request in flight got %d", wait, name, status)
			}
		}
		body := readMetrics(t)
		for _, name := range []string{bare + ".localhost", addr + ".localhost"} {
			for _, want := range []string{
				`caddy_localdev_requests_total{outcome="proxied",route="` + name + `"} 1`,
				`caddy_localdev_requests_total{outcome="app_error",route="` + name + `"} 2`,
			} {
				if !strings.Contains(body, want+"\n") {
					t.Errorf("wait=%q: /metrics lacks %s", wait, want)
				}
			}
			if never := `outcome="app_down",route="` + name + `"`; strings.Contains(body, never) {
				t.Errorf("wait=%q: /metrics has %s", wait, never)
			}
		}
		if t.Failed() {
			t.Fatalf("wait=%q: metrics:\n%s", wait, grepLines(body, "busy"))
		}
	}
}

// upstreamState is Caddy's view of one upstream address.
type upstreamState struct {
	Address     string `json:"address"`
	NumRequests int    `json:"num_requests"`
	Fails       int    `json:"fails"`
}

// upstream reads addr from Caddy's /reverse_proxy/upstreams; the text is
// the whole list, for error messages. Caddy lists an address only while
// something holds it.
func upstream(t *testing.T, addr string) (u upstreamState, listed bool, all string) {
	t.Helper()
	res := fetch(t, http.DefaultClient, "GET", "http://localhost:"+adminP+"/reverse_proxy/upstreams")
	var list []upstreamState
	if err := json.Unmarshal([]byte(res.body), &list); err != nil {
		t.Fatalf("/reverse_proxy/upstreams: %d %q: %v", res.status, res.body, err)
	}
	for _, u := range list {
		if u.Address == addr {
			return u, true, res.body
		}
	}
	return upstreamState{}, false, res.body
}

// upstreamRequests checks, through Caddy's /reverse_proxy/upstreams, that
// want requests are in flight to the app at addr.
func upstreamRequests(t *testing.T, addr string, want int) error {
	t.Helper()
	u, listed, all := upstream(t, addr)
	switch {
	case !listed && want > 0:
		// absent means none in flight, which is no proof of want
		return fmt.Errorf("%s is not among Caddy's upstreams (%s), want %d requests in flight", addr, all, want)
	case u.NumRequests != want:
		return fmt.Errorf("%d requests in flight to %s, want %d", u.NumRequests, addr, want)
	}
	return nil
}

// TestProxyLimitHoldsOnBothFamilies: with an app that listens on both
// loopback families, a request that the proxy block's limit turns away on
// the family the route prefers is not retried on the other one, which
// Caddy counts apart: the limit holds, and the answer is Caddy's 503.
func TestProxyLimitHoldsOnBothFamilies(t *testing.T) {
	app, arrived, release := oneAtATimeApp()
	port := startApp(t, "127.0.0.1:0", app)
	startApp(t, fmt.Sprintf("[::1]:%d", port), app)
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n twofamilies %d\n proxy {\n  unhealthy_request_count 1\n }\n}", port)))
	client := testClient("127.0.0.1")
	held := holdRequest(t, client, httpURL("twofamilies.localhost", "/"), arrived)
	res := fetch(t, client, "GET", httpURL("twofamilies.localhost", "/"))
	release <- struct{}{}
	if status := <-held; status != http.StatusOK {
		t.Fatalf("the request in flight got %d", status)
	}
	if res.status != http.StatusServiceUnavailable {
		t.Fatalf("while the one allowed request is in flight: %d %q, want Caddy's own 503", res.status, res.body)
	}
}

// TestProxyFailLimitAppDown: with `max_fails 1` and `fail_duration 30s`
// in the proxy block and nothing listening, the first request fails to
// dial and gets the page that says the app is down. Caddy's passive
// health check then holds the address as unhealthy and turns the next
// requests away before any dial, with its 503 "no upstreams available";
// localdev dials the target once, finds nothing there either, and still
// answers with the app-down page, counted app_down, not Caddy's bare 503.
// A bare port (both loopback families) and an address are checked,
// without and with `wait` (the request is held while Caddy finds no
// healthy address, then gets the same page).
func TestProxyFailLimitAppDown(t *testing.T) {
	client := testClient("127.0.0.1")
	for _, wait := range []string{"", "\n wait 200ms"} {
		port := freePort(t) // Caddy keeps an address's failures across configurations
		bare, addr := "gone", "goneaddr"
		if wait != "" {
			bare, addr = "gonewait", "gonewaitaddr"
		}
		startCaddy(t, httpSite(fmt.Sprintf("localdev {\n %s %d\n %s 127.0.0.1:%d%s\n proxy {\n  max_fails 1\n  fail_duration 30s\n }\n}", bare, port, addr, port, wait)))
		names := []string{bare + ".localhost", addr + ".localhost"}
		for _, name := range names {
			for i := range 3 {
				for _, accept := range []string{"text/plain", "text/html"} {
					down := " is down: nothing answers on "
					if accept == "text/html" {
						down = " is not answering</h1>"
					}
					res := fetch(t, client, "GET", httpURL(name, "/"), "Accept: "+accept)
					if res.status != http.StatusBadGateway || !strings.Contains(res.body, down) || !strings.Contains(res.body, "connection refused") {
						t.Fatalf("wait=%q %s, round %d, Accept %s, nothing listening: %d %.300q, want the app-down page", wait, name, i+1, accept, res.status, res.body)
					}
				}
			}
		}
		if err := upstreamFails(t, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
			t.Fatalf("wait=%q: the later requests were not turned away by Caddy's passive health check: %v", wait, err)
		}
		body := readMetrics(t)
		for _, name := range names {
			if want := `caddy_localdev_requests_total{outcome="app_down",route="` + name + `"} 6`; !strings.Contains(body, want+"\n") {
				t.Errorf("wait=%q: /metrics lacks %s", wait, want)
			}
			if never := `outcome="app_error",route="` + name + `"`; strings.Contains(body, never) {
				t.Errorf("wait=%q: /metrics has %s", wait, never)
			}
		}
		if t.Failed() {
			t.Fatalf("wait=%q: metrics:\n%s", wait, grepLines(body, "gone"))
		}
	}
}

// upstreamFails checks, through Caddy's /reverse_proxy/upstreams, that
// Caddy's passive health check counts a failure for addr, so that it
// turns requests for addr away while the failure lasts.
func upstreamFails(t *testing.T, addr string) error {
	t.Helper()
	u, listed, all := upstream(t, addr)
	switch {
	case !listed:
		return fmt.Errorf("%s is not among Caddy's upstreams (%s)", addr, all)
	case u.Fails < 1:
		return fmt.Errorf("%s has %d failures", addr, u.Fails)
	}
	return nil
}

// holdRequest sends a GET for url and returns once the app has it (a
// value on arrived); the channel returned gets its status when it ends
// (0 for a failed request).
func holdRequest(t *testing.T, client *http.Client, url string, arrived <-chan struct{}) <-chan int {
	t.Helper()
	held := make(chan int, 1)
	go func() {
		res, err := client.Get(url)
		if err != nil {
			held <- 0
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		held <- res.StatusCode
	}()
	select {
	case <-arrived:
	case status := <-held:
		t.Fatalf("%s: the first request got %d without reaching the app", url, status)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the first request never reached the app", url)
	}
	return held
}

// oneAtATimeApp is an app that holds the request it is serving until a
// value on release, after telling arrived; a second request while it
// holds one is answered at once with a text that says so.
func oneAtATimeApp() (app http.Handler, arrived, release chan struct{}) {
	arrived, release = make(chan struct{}, 4), make(chan struct{})
	var inApp atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer inApp.Add(-1)
		if inApp.Add(1) > 1 {
			fmt.Fprint(w, "a second request reached the app")
			return
		}
		arrived <- struct{}{}
		select {
		case <-release:
			fmt.Fprint(w, "slow")
		case <-r.Context().Done():
		}
	}), arrived, release
}
