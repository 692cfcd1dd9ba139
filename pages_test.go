package localdev

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/localdev/localdev/internal/routes"
)

// Tests of the pages people see: the dashboard, the 404, 502 and 508
// pages, in a real browser (Chromium through chromedp) and over plain
// HTTP. All of them go through the test process's Caddy on port 9080.

const pagesChromium = "/usr/bin/chromium"

// pagesBrowserAccept is the Accept header of a browser's navigation request.
const pagesBrowserAccept = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// pagesBrowser starts a headless Chromium with a fresh profile and returns
// a context for one tab, bounded by timeout. Every name resolves to
// 127.0.0.1 through a host-resolver rule. Chromium 148 also resolves
// *.localhost to loopback by itself (the tests pass without the rule);
// the rule pins IPv4 and keeps the browser off any other network.
func pagesBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(pagesChromium); err != nil {
		skipOutsideCI(t, "chromium not installed: apt-get install chromium")
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(pagesChromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("host-resolver-rules", "MAP * 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit, before the profile folder goes
		cancelTimeout()
	})
	if err := chromedp.Do(tabCtx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return tabCtx
}

// navigate loads url in the tab and returns the document's status code.
func pagesNavigate(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
	if res == nil {
		t.Fatalf("navigate %s: no response", url)
	}
	return res.Status
}

// pagesBodyText returns the page's visible text ("" while a page loads).
func pagesBodyText(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// pagesBadge selects a route's up/down badge on the dashboard.
func pagesBadge(name string) string {
	return fmt.Sprintf(`tbody[data-route=%q] .badge`, name)
}

// pagesBadgeUp reads a route's badge: "true", "false", or "" when absent.
func pagesBadgeUp(ctx context.Context, name string) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(function () { var b = document.querySelector(%q); return b ? b.getAttribute('data-up') : ''; })()`,
		pagesBadge(name))))
}

// pagesWaitJS waits until a JavaScript expression is truthy in the current page.
func pagesWaitJS(t *testing.T, ctx context.Context, within time.Duration, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(within))); err != nil {
		t.Fatalf("%s: not within %s: %v", what, within, err)
	}
}

// TestBrowserDashboardLive loads the dashboard in Chromium: it lists the
// configured routes, and a route whose app is down turns "up" in place
// (no reload: a marker set on window survives) after its app starts.
func TestBrowserDashboardLive(t *testing.T) {
	app := startApp(t, "127.0.0.1:0", hello("app"))
	late := freePort(t)
	startCaddy(t, httpSite(fmt.Sprintf(`localdev {
		app  %d
		late %d
	}`, app, late)))
	ctx := pagesBrowser(t, 40*time.Second)

	if status := pagesNavigate(t, ctx, httpURL("localhost", "/")); status != 200 {
		t.Fatalf("dashboard: status %d", status)
	}
	for _, name := range []string{"app.localhost", "late.localhost"} {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(
			`document.querySelectorAll('tbody[data-route=%q]').length`, name)))
		if err != nil || n != 1 {
			t.Fatalf("dashboard rows for %s: %d, %v", name, n, err)
		}
	}
	if up, err := pagesBadgeUp(ctx, "late.localhost"); err != nil || up != "false" {
		t.Fatalf("late.localhost before its app starts: data-up=%q, %v", up, err)
	}
	pagesWaitJS(t, ctx, 10*time.Second, "app.localhost shown up",
		fmt.Sprintf(`document.querySelector(%q).getAttribute('data-up') === 'true'`, pagesBadge("app.localhost")))

	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__marker = 1`)); err != nil {
		t.Fatal(err)
	}
	startApp(t, fmt.Sprintf("127.0.0.1:%d", late), hello("late"))
	pagesWaitJS(t, ctx, 15*time.Second, "late.localhost flips to up",
		fmt.Sprintf(`(function () { var b = document.querySelector(%q); return b && b.getAttribute('data-up') === 'true' && b.textContent === 'up'; })()`,
			pagesBadge("late.localhost")))
	marker, err := chromedp.Run(ctx, chromedp.Evaluate[*int](`window.__marker`))
	if err != nil || marker == nil || *marker != 1 {
		t.Fatalf("window.__marker after the flip: %v, %v (the page reloaded?)", marker, err)
	}
	count, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('count').textContent`))
	if err != nil || !strings.Contains(count, "2 up") {
		t.Errorf("route count after the flip: %q, %v", count, err)
	}
}

// TestBrowserAppDownTurnsIntoApp loads the 502 page of an app that is
// down (no wait), starts the app, and waits for the page to become the
// app's own page by itself.
func TestBrowserAppDownTurnsIntoApp(t *testing.T) {
	port := freePort(t)
	startCaddy(t, httpSite(fmt.Sprintf("localdev app %d", port)))
	ctx := pagesBrowser(t, 40*time.Second)

	if status := pagesNavigate(t, ctx, httpURL("app.localhost", "/")); status != 502 {
		t.Fatalf("app down: status %d, want 502", status)
	}
	text, err := pagesBodyText(ctx)
	if err != nil || !strings.Contains(text, "app.localhost is not answering") || !strings.Contains(text, strconv.Itoa(port)) {
		t.Fatalf("502 page text: %q, %v", text, err)
	}
	// Let the page's poller see a few 502s first.
	time.Sleep(700 * time.Millisecond)

	startApp(t, fmt.Sprintf("127.0.0.1:%d", port), hello("app"))
	want := "app host=app.localhost:" + httpP + " path=/"
	deadline := time.Now().Add(10 * time.Second)
	for {
		text, err = pagesBodyText(ctx)
		if err == nil && strings.Contains(text, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 502 page did not turn into the app within 10s: %q, %v", text, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != httpURL("app.localhost", "/") {
		t.Errorf("location after the reload: %q, %v", loc, err)
	}
}

// TestBrowserScreenshots takes full-page screenshots of the dashboard,
// the 404, 502 and 508 pages and checks each is a real picture, not a
// blank page. With LOCALDEV_SCREENSHOTS set they are also written there.
func TestBrowserScreenshots(t *testing.T) {
	app := startApp(t, "127.0.0.1:0", hello("web"))
	down := freePort(t)
	startCaddy(t, httpSite(fmt.Sprintf(`localdev {
		web      %d
		api      127.0.0.1:%d
		*.shop   %d
		loop     %d
	}`, app, down, down, httpPort)))
	client := testClient("127.0.0.1")
	for _, p := range []string{"/", "/assets/main.js", "/api/login"} {
		fetch(t, client, "GET", httpURL("web.localhost", p))
	}
	fetch(t, client, "POST", httpURL("api.localhost", "/v1/items"))

	ctx := pagesBrowser(t, 60*time.Second)
	dir := t.TempDir()
	extra := os.Getenv("LOCALDEV_SCREENSHOTS")
	if extra != "" {
		if err := os.MkdirAll(extra, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pages := []struct {
		file, url string
		status    int64
		ready     string // JavaScript that is true once the page is complete
	}{
		{"dashboard.png", httpURL("localhost", "/"), 200,
			`document.getElementById('live').className === 'live on' && document.querySelector('tbody[data-route="web.localhost"] .badge').getAttribute('data-up') === 'true'`},
		{"404.png", httpURL("wbe.localhost", "/"), 404, `document.body.innerText.indexOf('web.localhost') >= 0`},
		{"502.png", httpURL("api.localhost", "/"), 502, `document.body.innerText.indexOf('api.localhost') >= 0`},
		{"508.png", httpURL("loop.localhost", "/"), 508, `document.body.innerText.indexOf('loop.localhost') >= 0`},
	}
	for _, p := range pages {
		if status := pagesNavigate(t, ctx, p.url); status != p.status {
			t.Fatalf("%s: status %d, want %d", p.url, status, p.status)
		}
		pagesWaitJS(t, ctx, 10*time.Second, p.file+" ready", p.ready)
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatalf("%s: screenshot: %v", p.file, err)
		}
		pagesCheckPicture(t, p.file, shot)
		for _, d := range []string{dir, extra} {
			if d == "" {
				continue
			}
			if err := os.WriteFile(filepath.Join(d, p.file), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// pagesCheckPicture decodes a PNG and fails unless it shows something: many
// colours, and a good share of pixels that are not the background.
func pagesCheckPicture(t *testing.T, name string, data []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", name, err)
	}
	b := img.Bounds()
	if b.Dx() < 400 || b.Dy() < 300 {
		t.Fatalf("%s: %dx%d, too small", name, b.Dx(), b.Dy())
	}
	counts := map[uint64]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[pagesColourKey(img, x, y)]++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	total := b.Dx() * b.Dy()
	other := float64(total-most) / float64(total)
	t.Logf("%s: %dx%d, %d colours, %.1f%% not background", name, b.Dx(), b.Dy(), len(counts), other*100)
	if len(counts) < 32 || other < 0.01 {
		t.Errorf("%s looks blank: %d colours, %.2f%% not background", name, len(counts), other*100)
	}
}

func pagesColourKey(img image.Image, x, y int) uint64 {
	r, g, b, a := img.At(x, y).RGBA()
	return uint64(r>>8)<<24 | uint64(g>>8)<<16 | uint64(b>>8)<<8 | uint64(a>>8)
}

// pagesDashRoute is a route in the dashboard's JSON.
type pagesDashRoute struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Target   string `json:"target"`
	Source   string `json:"source"`
	Up       bool   `json:"up"`
	Requests []struct {
		Method     string    `json:"method"`
		Path       string    `json:"path"`
		Status     int       `json:"status"`
		DurationMS *float64  `json:"duration_ms"`
		Time       time.Time `json:"time"`
	} `json:"requests"`
}

// pagesDashboardJSON loads the dashboard's JSON form and returns its routes by name.
func pagesDashboardJSON(t testing.TB, client *http.Client) map[string]pagesDashRoute {
	t.Helper()
	res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: application/json")
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("dashboard JSON: %d %s %.200q", res.status, res.header.Get("Content-Type"), res.body)
	}
	var body struct {
		Routes []pagesDashRoute `json:"routes"`
	}
	if err := json.Unmarshal([]byte(res.body), &body); err != nil {
		t.Fatalf("dashboard JSON: %v: %.300s", err, res.body)
	}
	out := make(map[string]pagesDashRoute, len(body.Routes))
	for _, r := range body.Routes {
		out[r.Name] = r
	}
	return out
}

// pagesPathURL builds a URL whose path is sent percent-encoded, so that any
// bytes can reach Caddy, which decodes them again.
func pagesPathURL(host, path string) string {
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(httpPort)), Path: path}
	return u.String()
}

// pagesRawRequest sends a hand-written HTTP/1.1 request to Caddy, for headers
// Go's client refuses to send.
func pagesRawRequest(t *testing.T, request string) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer res.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	return response{status: res.StatusCode, body: body.String(), header: res.Header, proto: res.Proto}
}

// TestPagesMarkupInert sends request paths holding markup through a route
// so that they land in the request inspector: the dashboard shows them as
// text, never as markup, and its JSON holds them as data. A Host holding
// markup is not echoed raw either.
func TestPagesMarkupInert(t *testing.T) {
	app := startApp(t, "127.0.0.1:0", hello("xss"))
	startCaddy(t, httpSite(fmt.Sprintf("localdev xss %d", app)))
	client := testClient("127.0.0.1")

	paths := []struct{ path, raw, escaped string }{
		{`/<script>alert(1)</script>`, `<script>alert(1)`, `&lt;script&gt;alert(1)&lt;/script&gt;`},
		{`/"><img src=x onerror=alert(1)>`, `<img src=x onerror`, `&lt;img src=x onerror=alert(1)&gt;`},
	}
	for _, p := range paths {
		res := fetch(t, client, "GET", pagesPathURL("xss.localhost", p.path))
		if res.status != 200 || !strings.Contains(res.body, "path="+p.path) {
			t.Fatalf("GET %q through the route: %d %q", p.path, res.status, res.body)
		}
		// The dashboard renders the newest request of each route itself.
		html := fetch(t, client, "GET", httpURL("localhost", "/"), pagesBrowserAccept)
		if html.status != 200 || !strings.Contains(html.body, `data-route="xss.localhost"`) {
			t.Fatalf("dashboard HTML: %d", html.status)
		}
		if strings.Contains(html.body, p.raw) {
			t.Errorf("dashboard HTML carries the raw markup %q", p.raw)
		}
		if !strings.Contains(html.body, p.escaped) {
			t.Errorf("dashboard HTML does not show the path %q as text (%q)", p.path, p.escaped)
		}
	}
	html := fetch(t, client, "GET", httpURL("localhost", "/"), pagesBrowserAccept)
	for _, bad := range []string{"<script>alert(1)", "<img src=x onerror", "onerror=alert(1)>"} {
		if strings.Contains(html.body, bad) {
			t.Errorf("dashboard HTML carries %q", bad)
		}
	}

	res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: application/json")
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(res.body, bad) {
			t.Errorf("dashboard JSON carries %q unescaped (harmless as JSON, but it need not)", bad)
		}
	}
	got := pagesDashboardJSON(t, client)["xss.localhost"].Requests
	if len(got) != 2 || got[0].Path != paths[1].path || got[1].Path != paths[0].path {
		t.Fatalf("inspector paths in the JSON: %+v", got)
	}

	// A Host with markup: Go's server refuses it before any handler runs;
	// whatever answers must not echo it.
	raw := pagesRawRequest(t, "GET / HTTP/1.1\r\nHost: x\"><b>.localhost:"+httpP+"\r\nAccept: text/html\r\nConnection: close\r\n\r\n")
	if raw.status == 200 || strings.Contains(raw.body, `"><b>`) || strings.Contains(raw.body, "<b>") {
		t.Errorf("Host with markup: %d %q", raw.status, raw.body)
	}
	// A Host Go lets through but that is no DNS name: the 404 page shows
	// it as text only.
	for _, accept := range []string{pagesBrowserAccept, "Accept: */*"} {
		res := fetch(t, client, "GET", httpURL("localhost", "/"), "Host: x'onmouseover=alert(1)'.localhost:"+httpP, accept)
		if res.status != 404 {
			t.Fatalf("invalid name (%s): %d %q", accept, res.status, res.body)
		}
		if strings.HasPrefix(res.header.Get("Content-Type"), "text/html") && strings.Contains(res.body, "'onmouseover=alert(1)'") {
			t.Errorf("404 HTML echoes the invalid name raw")
		}
		if strings.Contains(res.body, "xss.localhost") {
			t.Errorf("404 for an invalid name lists the routes")
		}
	}
}

// TestPagesForeignHost checks that a request from loopback with a Host
// outside the domain (DNS rebinding: evil.example resolving to 127.0.0.1)
// never gets the route list, in any form, at any path. It runs with the
// usual site addresses and with a catch-all site, where the handler
// itself sees the foreign Host.
func TestPagesForeignHost(t *testing.T) {
	app := startApp(t, "127.0.0.1:0", hello("secret"))
	block := fmt.Sprintf(`localdev {
		secretapp   %d
		hidden-api  %d
	}`, app, freePort(t))
	configs := map[string]string{
		"site addresses": httpSite(block),
		"catch-all site": "{" + globals + "}\nhttp://:" + httpP + " {\n\tbind 127.0.0.1 ::1\n\t" + block + "\n}\n",
	}
	client := testClient("127.0.0.1")
	for label, config := range configs {
		catchAll := label == "catch-all site"
		t.Run(label, func(t *testing.T) {
			startCaddy(t, config)
			// The index host does list them: the check below means something.
			if res := fetch(t, client, "GET", httpURL("localhost", "/")); !strings.Contains(res.body, "secretapp.localhost") {
				t.Fatalf("dashboard for localhost: %d %q", res.status, res.body)
			}
			for _, host := range []string{"evil.example", "evil.example:" + httpP, "127.0.0.1", "127.0.0.1:" + httpP, "[::1]:" + httpP} {
				for _, path := range []string{"/", "/status", "/index.html"} {
					for _, accept := range []string{"Accept: */*", pagesBrowserAccept, "Accept: application/json"} {
						res := fetch(t, client, "GET", httpURL("localhost", path), "Host: "+host, accept)
						for _, name := range []string{"secretapp", "hidden-api", "127.0.0.1:" + strconv.Itoa(app)} {
							if strings.Contains(res.body, name) {
								t.Errorf("Host %s, %s, %s: %d, body names %q", host, path, accept, res.status, name)
							}
						}
						if catchAll && res.status != 404 {
							t.Errorf("Host %s, %s, %s: %d, want localdev's 404", host, path, accept, res.status)
						}
						if res.status == 200 && res.body != "" {
							t.Errorf("Host %s, %s, %s: 200 with a body %q", host, path, accept, res.body)
						}
						if res.header.Get("X-App") != "" {
							t.Errorf("Host %s reached an app", host)
						}
					}
				}
			}
		})
	}
}

// TestPagesRequestInspector checks the request inspector in the
// dashboard's JSON: method, path, status, duration and time of each
// request through a route, newest first, and at most 100 of them.
func TestPagesRequestInspector(t *testing.T) {
	app := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/b":
			w.WriteHeader(http.StatusCreated)
		case r.URL.Path == "/missing":
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	startCaddy(t, httpSite(fmt.Sprintf("localdev inspect %d", app)))
	client := testClient("127.0.0.1")
	const name = "inspect.localhost"

	if rs := pagesDashboardJSON(t, client); len(rs[name].Requests) != 0 {
		t.Fatalf("requests before any: %+v", rs[name].Requests)
	}
	before := time.Now()
	for _, q := range []struct {
		method, path string
		status       int
	}{{"GET", "/a", 200}, {"POST", "/b", 201}, {"GET", "/missing", 404}} {
		if res := fetch(t, client, q.method, httpURL(name, q.path)); res.status != q.status {
			t.Fatalf("%s %s: %d", q.method, q.path, res.status)
		}
	}
	after := time.Now()

	got := pagesDashboardJSON(t, client)[name].Requests
	want := []struct {
		method, path string
		status       int
	}{{"GET", "/missing", 404}, {"POST", "/b", 201}, {"GET", "/a", 200}}
	if len(got) != len(want) {
		t.Fatalf("%d requests recorded, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		q := got[i]
		if q.Method != w.method || q.Path != w.path || q.Status != w.status {
			t.Errorf("request %d: %s %s %d, want %s %s %d", i, q.Method, q.Path, q.Status, w.method, w.path, w.status)
		}
		if q.DurationMS == nil || *q.DurationMS < 0 || *q.DurationMS > 10000 {
			t.Errorf("request %d: duration_ms %v", i, q.DurationMS)
		}
		if q.Time.Before(before.Add(-time.Second)) || q.Time.After(after.Add(time.Second)) {
			t.Errorf("request %d: time %s, not between %s and %s", i, q.Time, before, after)
		}
		if i > 0 && q.Time.After(got[i-1].Time) {
			t.Errorf("request %d is newer than request %d: not newest first", i, i-1)
		}
	}
	// The raw JSON uses exactly the field names of the contract.
	res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: application/json")
	for _, field := range []string{`"method":`, `"path":`, `"status":`, `"duration_ms":`, `"time":`, `"requests":`} {
		if !strings.Contains(res.body, field) {
			t.Errorf("dashboard JSON lacks %s", field)
		}
	}

	for i := range 150 {
		if res := fetch(t, client, "GET", httpURL(name, fmt.Sprintf("/n/%d", i))); res.status != 200 {
			t.Fatalf("request %d: %d", i, res.status)
		}
	}
	got = pagesDashboardJSON(t, client)[name].Requests
	if len(got) != 100 {
		t.Fatalf("after 153 requests the inspector holds %d, want 100", len(got))
	}
	if got[0].Path != "/n/149" || got[99].Path != "/n/50" {
		t.Errorf("inspector holds %s … %s, want /n/149 … /n/50", got[0].Path, got[99].Path)
	}
}

// TestPagesWeight checks that with 50 routes and 10 requests recorded on
// each, the dashboard, the 404 page and the 502 page each stay under 50 KB.
func TestPagesWeight(t *testing.T) {
	var block strings.Builder
	block.WriteString("localdev {\n")
	for i := range 50 {
		fmt.Fprintf(&block, "\t\tweight-%02d %d\n", i, freePort(t))
	}
	block.WriteString("\t}")
	startCaddy(t, httpSite(block.String()))
	client := testClient("127.0.0.1")
	for i := range 50 {
		for j := range 10 {
			host := fmt.Sprintf("weight-%02d.localhost", i)
			res := fetch(t, client, "GET", httpURL(host, fmt.Sprintf("/api/v1/projects/%d/items/%d", i*1000+j, j)))
			if res.status != 502 {
				t.Fatalf("%s: %d", host, res.status)
			}
		}
	}
	if rs := pagesDashboardJSON(t, client); len(rs) != 50 || len(rs["weight-49.localhost"].Requests) != 10 {
		t.Fatalf("dashboard JSON: %d routes, %d requests on weight-49", len(rs), len(rs["weight-49.localhost"].Requests))
	}
	const limit = 50 * 1024
	for _, p := range []struct {
		what, url string
		status    int
	}{
		{"dashboard", httpURL("localhost", "/"), 200},
		{"404 page", httpURL("weight.localhost", "/"), 404},
		{"502 page", httpURL("weight-07.localhost", "/some/path"), 502},
	} {
		res := fetch(t, client, "GET", p.url, pagesBrowserAccept)
		if res.status != p.status || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", p.what, res.status, res.header.Get("Content-Type"))
		}
		if p.status != 502 && !strings.Contains(res.body, "weight-49.localhost") {
			t.Errorf("%s does not list all routes", p.what)
		}
		// The rows of "Listening without a name" depend on what else
		// listens on this machine, not on the routes: they do not count.
		size := len(res.body) - listenerRowsSize(res.body)
		t.Logf("%s: %d bytes (%d without listener rows)", p.what, len(res.body), size)
		if size >= limit {
			t.Errorf("%s weighs %d bytes, want under %d", p.what, size, limit)
		}
	}
}

// TestPagesHealthIsCached checks that up/down comes from the background
// check: 20 dashboard loads in a row do not dial a route's app 20 times.
func TestPagesHealthIsCached(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var accepts atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			_ = conn.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	startCaddy(t, httpSite(fmt.Sprintf("localdev counted 127.0.0.1:%d", port)))
	client := testClient("127.0.0.1")

	start := time.Now()
	for range 20 {
		pagesDashboardJSON(t, client)
	}
	n := accepts.Load()
	t.Logf("20 dashboard loads in %s: %d dials of the app", time.Since(start).Round(time.Millisecond), n)
	if n > 3 {
		t.Errorf("20 dashboard loads dialled the app %d times, want a cached check (at most 3)", n)
	}
	// The check does reach the app: it shows up.
	eventually(t, 10*time.Second, "counted.localhost shown up", func() error {
		if !pagesDashboardJSON(t, client)["counted.localhost"].Up {
			return fmt.Errorf("still down after %d dials", accepts.Load())
		}
		return nil
	})
}

// TestPagesAppDownHead checks that the 502 answers HEAD with 502 while the
// app is down, and with the app's status once it is up: the 502 page's
// poller reloads on anything but 502.
func TestPagesAppDownHead(t *testing.T) {
	port := freePort(t)
	startCaddy(t, httpSite(fmt.Sprintf("localdev headapp %d", port)))
	client := testClient("127.0.0.1")
	url := httpURL("headapp.localhost", "/some/page")
	for _, headers := range [][]string{nil, {pagesBrowserAccept}, {"Cache-Control: no-store"}} {
		res := fetch(t, client, "HEAD", url, headers...)
		if res.status != 502 || res.body != "" {
			t.Fatalf("HEAD %v while down: %d %q", headers, res.status, res.body)
		}
	}
	// Without `wait` the request is not held, and the page says so
	// (it used to say "even after waiting 1 ms": the failed dial's time).
	res := fetch(t, client, "GET", url, pagesBrowserAccept)
	if res.status != 502 || !strings.Contains(res.body, "headapp.localhost") {
		t.Fatalf("GET while down: %d", res.status)
	}
	if strings.Contains(res.body, "even after waiting") || !strings.Contains(res.body, "not at all") {
		t.Errorf("502 page without wait claims a wait")
	}
	if res := fetch(t, client, "GET", url); res.status != 502 || strings.Contains(res.body, "waited") {
		t.Errorf("text 502 without wait: %d %q", res.status, res.body)
	}
	startApp(t, fmt.Sprintf("127.0.0.1:%d", port), hello("headapp"))
	if res := fetch(t, client, "HEAD", url); res.status != 200 || res.header.Get("X-App") != "headapp" {
		t.Fatalf("HEAD once up: %d %v", res.status, res.header)
	}
}

// pagesLongHost is a Host of 253 characters, the longest a name can be:
// four labels of 60 characters and the domain.
func pagesLongHost() string {
	return strings.Repeat(strings.Repeat("q", 60)+".", 4) + "localhost"
}

// pagesAnyHostSite is a localdev site that answers every Host, so that a
// name of any length and depth reaches the handler.
func pagesAnyHostSite(logFile, body string) string {
	return "{" + globals + "\tlog {\n\t\toutput file " + logFile + "\n\t}\n}\n" +
		"http://:" + httpP + " {\n\tbind 127.0.0.1 ::1\n" + body + "\n}\n"
}

// TestPagesNotFoundManyRoutes: with 10,000 routes the 404 page lists the
// closest names, the count and a link to the dashboard, and weighs at most
// 100 KB (it weighed 1.5 MB), for a typo and for the longest Host.
func TestPagesNotFoundManyRoutes(t *testing.T) {
	dir := manyRouteFiles(t, 10000)
	startCaddy(t, pagesAnyHostSite(filepath.Join(t.TempDir(), "caddy.log"), "localdev {\n\t\tdir "+dir+"\n\t}"))
	client := testClient("127.0.0.1")
	dashboard := httpURL("localhost", "/")
	dashboard = strings.TrimSuffix(dashboard, "/")
	for _, host := range []string{"ap-04217.localhost", "app-4217.localhost", "billing.localhost", pagesLongHost()} {
		for _, accept := range []string{pagesBrowserAccept, "Accept: */*"} {
			res := fetch(t, client, "GET", httpURL(host, "/"), accept)
			what := fmt.Sprintf("%.24s… (%s)", host, accept)
			if res.status != 404 {
				t.Fatalf("%s: %d", what, res.status)
			}
			t.Logf("%s: %d bytes", what, len(res.body))
			if len(res.body) > 100_000 {
				t.Errorf("%s: %d bytes, want at most 100 KB", what, len(res.body))
			}
			// The 10,000 files (and the folder's "complete" marker, and
			// any API routes earlier tests left).
			count := 0
			if m := regexp.MustCompile(`(\d+) routes in all`).FindStringSubmatch(res.body); m != nil {
				count, _ = strconv.Atoi(m[1])
			}
			if count < 10000 || !strings.Contains(res.body, dashboard) {
				t.Errorf("%s lacks the count or the link to %s:\n%.2000s", what, dashboard, res.body)
			}
			if strings.HasPrefix(host, "ap") && !strings.Contains(res.body, "app-04217.localhost") {
				t.Errorf("%s does not suggest app-04217.localhost", what)
			}
		}
	}
}

// BenchmarkNotFoundPage is the 404 handler's own work with 10,000 routes
// (choosing the closest names, describing them, rendering), for a typo and
// for a Host of 253 characters. Besides the time it prints "budget", the
// share of the 5 ms the page may take, and the page's size.
func BenchmarkNotFoundPage(b *testing.B) {
	dir := manyRouteFiles(b, 10000)
	startCaddy(b, liveSiteWithLog(filepath.Join(b.TempDir(), "caddy.log"), "localdev {\n\t\tdir "+dir+"\n\t}"))
	loaded.mu.RLock()
	h := loaded.list[len(loaded.list)-1]
	loaded.mu.RUnlock()
	for _, host := range []string{"ap-04217.localhost", pagesLongHost()} {
		b.Run(fmt.Sprintf("host=%d", len(host)), func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://"+host+"/", nil)
			req.RemoteAddr = "127.0.0.1:40000" // a client on this machine: every route is its to see
			req.Header.Set("Accept", "text/html")
			var page string
			start := time.Now()
			for b.Loop() {
				rec := httptest.NewRecorder()
				if err := h.serveNotFound(rec, req, host, true, peerLocal); err != nil || rec.Code != 404 {
					b.Fatalf("%d %v", rec.Code, err)
				}
				page = rec.Body.String()
			}
			if !strings.Contains(page, "routes in all") || len(host) < 100 && !strings.Contains(page, "app-04217.localhost") {
				b.Fatalf("the page does not count the routes or suggest app-04217.localhost:\n%s", page)
			}
			perOp := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(perOp)/float64(5*time.Millisecond), "budget")
			b.ReportMetric(float64(len(page)), "page-bytes")
		})
	}
}

// TestPagesDashboardAccept: the dashboard answers JSON only when Accept
// names application/json with a non-zero quality, as the pages decide
// between HTML and text.
func TestPagesDashboardAccept(t *testing.T) {
	startCaddy(t, httpSite(fmt.Sprintf("localdev accept %d", freePort(t))))
	client := testClient("127.0.0.1")
	for _, tt := range []struct {
		accept, want string
	}{
		{"application/json", "application/json"},
		{"application/json, text/plain, */*", "application/json"},
		{"text/html;q=0.9, application/json;q=0.5", "application/json"},
		{"application/json;q=0, text/html", "text/html"},
		{"application/json;q=0", "text/plain"},
		{"application/jsonp", "text/plain"},
		{"*/*", "text/plain"},
		{"text/html", "text/html"},
	} {
		res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: "+tt.accept)
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), tt.want) {
			t.Errorf("Accept: %s: %d %s, want %s", tt.accept, res.status, res.header.Get("Content-Type"), tt.want)
		}
	}
}

// TestPagesHealthStopsWithLocaldev: the background health check that a
// dashboard read starts ends when no configuration has a localdev handler
// any more, not a minute later.
func TestPagesHealthStopsWithLocaldev(t *testing.T) {
	startCaddy(t, httpSite(fmt.Sprintf("localdev stopper %d", freePort(t))))
	pagesDashboardJSON(t, testClient("127.0.0.1"))
	if !checker.Running() {
		t.Fatal("a dashboard read did not start the health check")
	}
	liveLoad(t, "{"+globals+"}\nhttp://localhost:"+httpP+" {\n\tbind 127.0.0.1\n\trespond \"no localdev\"\n}\n", false)
	if checker.Running() {
		t.Error("the health check runs on after the last localdev handler went")
	}
}

// TestPagesHealthPanicLogged: a panic in the background health check that
// a dashboard read started is recovered and logged through the logger of
// the localdev handler that showed the dashboard
// (http.handlers.localdev.health), where its configuration's logging
// sends it, not through Caddy's default logger.
func TestPagesHealthPanicLogged(t *testing.T) {
	checker.Stop() // earlier tests' looks: the loop below starts with this test
	var armed atomic.Bool
	exposure := checker.Exposure
	checker.Exposure = func(ctx context.Context, port int) bool {
		if armed.CompareAndSwap(true, false) {
			panic("exposure check exploded")
		}
		return exposure(ctx, port)
	}
	t.Cleanup(func() {
		checker.Stop()
		checker.Exposure = exposure
	})
	port := startApp(t, "127.0.0.1:0", hello("panicky"))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, liveSiteWithLog(logFile, fmt.Sprintf("localdev panicky %d", port)))
	pagesDashboardJSON(t, testClient("127.0.0.1")) // checks the new route at once, and starts the loop
	route := table.Lookup("panicky.localhost")
	if route == nil {
		t.Fatal("no route panicky.localhost")
	}
	// Due again, exposure included: the loop's next tick checks it.
	route.SetExposed(false, time.Now().Add(-time.Hour))
	armed.Store(true)
	route.SetHealth(routes.HealthUp, time.Now().Add(-time.Hour))
	line := liveWaitLog(t, logFile, "panic checking route health", "exposure check exploded")
	var entry struct {
		Logger string `json:"logger"`
		Level  string `json:"level"`
		Stack  string `json:"stack"`
	}
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	if entry.Logger != "http.handlers.localdev.health" || entry.Level != "error" || !strings.Contains(entry.Stack, "goroutine") {
		t.Errorf("panic logged as logger %q, level %q, stack %.80q; want the handler's logger http.handlers.localdev.health, error, a stack", entry.Logger, entry.Level, entry.Stack)
	}
	if !checker.Running() {
		t.Error("the health check stopped after the panic")
	}
}

// TestPagesNotFoundUnchecked: the 404 page lists a route that no health
// check has looked at yet as neither up nor down; once a dashboard read
// has checked it (nothing listens on its port), it shows down.
func TestPagesNotFoundUnchecked(t *testing.T) {
	checker.Stop() // earlier tests' looks: nothing checks the new route behind the test's back
	startCaddy(t, httpSite(fmt.Sprintf("localdev neverlooked %d", freePort(t))))
	client := testClient("127.0.0.1")
	notFound := func() (html, text string) {
		t.Helper()
		res := fetch(t, client, "GET", httpURL("neverlookd.localhost", "/"), "Accept: text/html")
		if res.status != http.StatusNotFound {
			t.Fatalf("404 page: %d %.300q", res.status, res.body)
		}
		_, row, _ := strings.Cut(res.body, `<tbody data-route="neverlooked.localhost">`)
		row, _, _ = strings.Cut(row, "</tbody>")
		res = fetch(t, client, "GET", httpURL("neverlookd.localhost", "/"))
		_, line, _ := strings.Cut(res.body, "\n  neverlooked.localhost")
		line, _, _ = strings.Cut(line, "\n")
		return row, line
	}
	row, line := notFound()
	if !strings.Contains(row, `data-up="unknown">not checked yet<`) || strings.Contains(row, "down") {
		t.Errorf("HTML row of a route never checked: %q, want it neither up nor down", row)
	}
	if !strings.HasSuffix(line, "(not checked yet)") {
		t.Errorf("text line of a route never checked: %q, want it neither up nor down", line)
	}
	pagesDashboardJSON(t, client) // checks the routes never checked
	row, line = notFound()
	if !strings.Contains(row, `data-up="false">down<`) {
		t.Errorf("HTML row of a route found down: %q", row)
	}
	if !strings.HasSuffix(line, "(down)") {
		t.Errorf("text line of a route found down: %q", line)
	}
}
