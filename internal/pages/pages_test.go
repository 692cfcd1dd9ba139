package pages

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/localdev/localdev/internal/routes"
)

// sampleRoutes returns n routes with reqs requests each.
func sampleRoutes(n, reqs int) []routes.Info {
	now := time.Now()
	rs := make([]routes.Info, n)
	for i := range rs {
		r := routes.Info{
			Name:   fmt.Sprintf("app-%02d.localhost", i),
			URL:    fmt.Sprintf("https://app-%02d.localhost", i),
			Target: fmt.Sprint(50000 + i),
			Source: []string{"config", "dir", "api"}[i%3],
			Up:     i%4 != 0,
		}
		for j := range reqs {
			r.Requests = append(r.Requests, routes.RequestInfo{
				Method:     "GET",
				Path:       fmt.Sprintf("/api/items/%d?page=%d", j, i),
				Status:     []int{200, 304, 404, 500}[j%4],
				DurationMS: float64(j) * 3.7,
				Time:       now.Add(-time.Duration(j) * time.Second),
			})
		}
		rs[i] = r
	}
	return rs
}

func basicRoutes() []routes.Info {
	now := time.Now()
	return []routes.Info{
		{Name: "app.localhost", URL: "https://app.localhost", Target: "62893", Source: "config", Up: true,
			Requests: []routes.RequestInfo{{Method: "POST", Path: "/login", Status: 302, DurationMS: 12.5, Time: now.Add(-3 * time.Second)}}},
		{Name: "docs.localhost", URL: "https://docs.localhost", Target: "[::1]:4000", Source: "dir"},
		{Name: "*.shop.localhost", Target: "unix//tmp/shop.sock", Source: "api", Up: true},
	}
}

type renderFunc func(io.Writer) error

func renderString(t *testing.T, f renderFunc) string {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

// checkHTML does a few structural checks any of our HTML pages must pass.
func checkHTML(t *testing.T, page string) {
	t.Helper()
	for _, want := range []string{"<!doctype html>", "<title>localdev</title>", `name="viewport"`, "prefers-color-scheme:dark", "</html>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"ZgotmplZ", "<no value>", "%!"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).FindString(page); m != "" && !strings.Contains(m, "localhost") {
		// Links to rs are fine; nothing may load from elsewhere.
		if regexp.MustCompile(`(?i)src="`).MatchString(m) {
			t.Errorf("page loads an external resource: %s", m)
		}
	}
	if strings.Contains(page, "<link rel=\"stylesheet\"") || regexp.MustCompile(`<script[^>]+src=`).MatchString(page) {
		t.Error("page is not self-contained")
	}
}

func TestRender(t *testing.T) {
	rs := basicRoutes()
	tests := []struct {
		name   string
		html   bool
		render renderFunc
		want   []string
		not    []string
	}{
		{"dashboard", true, func(w io.Writer) error {
			return RenderDashboard(w, Dashboard{Domain: "localhost", Routes: rs, Dirs: []string{"~/.config/localdev/routes"}})
		}, []string{
			`data-route="app.localhost"`, `href="https://app.localhost"`, "62893", "[::1]:4000", "unix//tmp/shop.sock",
			"*.shop.localhost", "configuration", "folder", "API", `data-up="true"`, `data-up="false"`,
			"<details>", "1 request", "/login", "302", "Accept: 'application/json'", "textContent",
			"~/.config/localdev/routes", `<th scope="col">`, `<th scope="row">`,
		}, []string{`href=""`, "innerHTML"}},
		{"dashboard empty", true, func(w io.Writer) error {
			return RenderDashboard(w, Dashboard{Domain: "localhost"})
		}, []string{"No routes yet", "app 5173", "echo 5173 &gt; ~/.config/localdev/routes/app", "caddy localdev run app -- npm run dev", "dir ~/.config/localdev/routes"}, nil},
		{"dashboard text", false, func(w io.Writer) error {
			return RenderDashboardText(w, Dashboard{Domain: "localhost", Routes: rs})
		}, []string{"3 routes, 2 up", "app.localhost", "-> 62893", "docs.localhost", "(down)"}, nil},
		{"dashboard text empty", false, func(w io.Writer) error {
			return RenderDashboardText(w, Dashboard{Domain: "localhost", Dirs: []string{"/srv/routes/"}})
		}, []string{"no routes yet", "localdev { app 5173 }", "echo 5173 > /srv/routes/app\n", "caddy localdev run app"}, nil},
		{"not found", true, func(w io.Writer) error {
			return RenderNotFound(w, NotFound{Host: "ap.localhost", Domain: "localhost", Suggestion: &rs[0], Routes: rs, Dirs: []string{"/srv/routes"}})
		}, []string{"No app named", "ap.localhost", "Did you mean", `<a href="https://app.localhost">app.localhost</a>`,
			"docs.localhost", "[::1]:4000", "echo 5173 &gt; /srv/routes/ap", "caddy localdev run ap --"}, nil},
		{"not found no routes", true, func(w io.Writer) error {
			return RenderNotFound(w, NotFound{Host: "foo.localhost", Domain: "localhost", Routes: []routes.Info{}})
		}, []string{"No app named", "foo.localhost", "no routes yet", "foo 5173"}, []string{"Did you mean"}},
		{"not found text", false, func(w io.Writer) error {
			return RenderNotFoundText(w, NotFound{Host: "ap.localhost", Domain: "localhost", Suggestion: &rs[0], Routes: rs})
		}, []string{"localdev: no app named ap.localhost\n", "did you mean app.localhost? https://app.localhost\n", "routes:\n", "docs.localhost", "-> [::1]:4000"}, nil},
		{"not found text wildcard suggestion", false, func(w io.Writer) error {
			return RenderNotFoundText(w, NotFound{Host: "x.shpo.localhost", Domain: "localhost", Suggestion: &rs[2], Routes: rs})
		}, []string{"did you mean *.shop.localhost?\n"}, nil},
		{"app down", true, func(w io.Writer) error {
			return RenderAppDown(w, AppDown{Name: "app.localhost", Target: "62893", Port: "62893", Waited: 10 * time.Second, Error: "connection refused"})
		}, []string{"app.localhost", "62893", "connection refused", "10 s", "<code>127.0.0.1</code> or <code>::1</code>", "Waiting for the app",
			"method: 'HEAD'", "location.reload()", "!== 502", "visibilitychange"}, nil},
		{"app down ipv6", true, func(w io.Writer) error {
			return RenderAppDown(w, AppDown{Name: "docs.localhost", Target: "https://[::1]:4000", Port: "4000", Error: "i/o timeout"})
		}, []string{"listens on <code>::1</code>", "HTTPS", "4000", "i/o timeout"}, []string{"127.0.0.1"}},
		{"app down socket", true, func(w io.Writer) error {
			return RenderAppDown(w, AppDown{Name: "shop.localhost", Target: "unix//tmp/shop.sock", Error: "no such file or directory"})
		}, []string{"/tmp/shop.sock", "no such file or directory"}, []string{"on port"}},
		{"app down text", false, func(w io.Writer) error {
			return RenderAppDownText(w, AppDown{Name: "app.localhost", Target: "62893", Port: "62893", Error: "connection refused"})
		}, []string{"localdev: app.localhost is down: nothing answers on 62893 (connection refused)\n", "start the app on port 62893, then retry\n"}, nil},
		{"app down text waited", false, func(w io.Writer) error {
			return RenderAppDownText(w, AppDown{Name: "app.localhost", Target: "unix//tmp/a.sock", Waited: 2500 * time.Millisecond})
		}, []string{"nothing answers on unix//tmp/a.sock (waited 2.5 s)\n", "start the app, then retry\n"}, nil},
		{"loop", true, func(w io.Writer) error {
			return RenderLoop(w, Loop{Name: "app.localhost", Target: "443"})
		}, []string{"app.localhost", "443", "own listener", "caddy localdev add app.localhost 5173"}, nil},
		{"loop text", false, func(w io.Writer) error {
			return RenderLoopText(w, Loop{Name: "app.localhost", Target: "443"})
		}, []string{"localdev: app.localhost", "443", "loop", "own port"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := renderString(t, tt.render)
			if tt.html {
				checkHTML(t, page)
			} else {
				if strings.Contains(page, "<") && !strings.Contains(tt.name, "html") {
					t.Errorf("text form contains markup:\n%s", page)
				}
				if n := strings.Count(page, "\n"); n > 12 || !strings.HasSuffix(page, "\n") {
					t.Errorf("text form has %d lines or no final newline:\n%s", n, page)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(page, w) {
					t.Errorf("output contains %q", w)
				}
			}
			if t.Failed() && !tt.html {
				t.Logf("output:\n%s", page)
			}
		})
	}
}

func TestDashboardFilterAndLimit(t *testing.T) {
	few := renderString(t, func(w io.Writer) error { return RenderDashboard(w, Dashboard{Routes: sampleRoutes(8, 0)}) })
	if !strings.Contains(few, `id="filterbox" hidden`) {
		t.Error("filter shown for 8 routes")
	}
	many := renderString(t, func(w io.Writer) error { return RenderDashboard(w, Dashboard{Routes: sampleRoutes(9, 0)}) })
	if strings.Contains(many, `id="filterbox" hidden`) {
		t.Error("filter hidden for 9 routes")
	}
	rs := sampleRoutes(250, 0)
	for i := range rs {
		rs[i].Name = fmt.Sprintf("app-%03d.localhost", i)
	}
	huge := renderString(t, func(w io.Writer) error { return RenderDashboard(w, Dashboard{Routes: rs}) })
	if n := strings.Count(huge, "<tbody data-route="); n != MaxDashboardRows {
		t.Errorf("rendered %d rows, want %d", n, MaxDashboardRows)
	}
	if !strings.Contains(huge, "and 50 more (use the filter)") || strings.Contains(huge, "app-200.localhost") {
		t.Error("over-long dashboard not cut with a note")
	}
}

const (
	evilScript = `<script>alert(1)</script>`
	evilAttr   = `"><img src=x onerror=alert(1)>`
	evilURL    = `javascript:alert(1)`
)

func TestMarkupInjection(t *testing.T) {
	now := time.Now()
	evil := []routes.Info{
		{Name: evilScript, URL: evilURL, Target: evilAttr, Source: evilScript, Up: true,
			Requests: []routes.RequestInfo{{Method: evilAttr, Path: evilScript, Status: 200, Time: now}}},
		{Name: evilAttr, URL: "JaVaScRiPt:alert(1)", Target: evilScript, Source: evilAttr,
			Requests: []routes.RequestInfo{{Method: evilScript, Path: evilAttr + evilURL, Status: 500, Time: now}}},
		{Name: "x.localhost", URL: " javascript:alert(1)", Target: evilURL, Source: "api"},
	}
	pages := map[string]renderFunc{
		"dashboard": func(w io.Writer) error {
			return RenderDashboard(w, Dashboard{Domain: evilScript, Routes: evil, Dirs: []string{evilScript, evilAttr}})
		},
		"not found": func(w io.Writer) error {
			return RenderNotFound(w, NotFound{Host: evilScript, Domain: evilAttr, Suggestion: &evil[1], Routes: evil, Dirs: []string{evilAttr}})
		},
		"not found host": func(w io.Writer) error {
			return RenderNotFound(w, NotFound{Host: evilAttr + ".localhost", Domain: "localhost", Suggestion: &evil[0], Routes: evil})
		},
		"not found foreign": func(w io.Writer) error {
			return RenderNotFound(w, NotFound{Host: evilAttr + evilScript})
		},
		"app down": func(w io.Writer) error {
			return RenderAppDown(w, AppDown{Name: evilScript, Target: evilAttr, Port: evilAttr, Error: evilScript + evilURL})
		},
		"app down socket": func(w io.Writer) error {
			return RenderAppDown(w, AppDown{Name: evilAttr, Target: "unix/" + evilScript, Error: evilAttr})
		},
		"loop": func(w io.Writer) error {
			return RenderLoop(w, Loop{Name: evilAttr, Target: evilScript})
		},
	}
	rawScript := regexp.MustCompile(`(?i)<script>alert`)
	rawImg := regexp.MustCompile(`(?i)<img`)
	tag := regexp.MustCompile(`<[a-zA-Z](?:[^>"]|"[^"]*")*>`)
	quoted := regexp.MustCompile(`"[^"]*"`)
	rawHandler := regexp.MustCompile(`(?i)[\s"'/]onerror\s*=`)
	jsHref := regexp.MustCompile(`(?i)href\s*=\s*["']?\s*javascript:`)
	for name, f := range pages {
		t.Run(name, func(t *testing.T) {
			page := renderString(t, f)
			// Escaped, in text or in a quoted attribute value, "onerror=" is
			// inert; as an attribute of its own it is not.
			for _, m := range tag.FindAllString(page, -1) {
				bare := quoted.ReplaceAllString(m, `""`)
				if rawHandler.MatchString(bare) || strings.Contains(strings.ToLower(m), "javascript:") {
					t.Errorf("hostile attribute in tag %s", m)
				}
			}
			if strings.Contains(page, "ZgotmplZ") {
				t.Error("an unsafe URL reached a template attribute")
			}
			for _, re := range []*regexp.Regexp{rawScript, rawImg, jsHref} {
				if m := re.FindString(page); m != "" {
					i := strings.Index(page, m)
					t.Errorf("unescaped %q at: %s", m, page[max(0, i-80):min(len(page), i+80)])
				}
			}
			if !strings.Contains(page, "&lt;script&gt;") && !strings.Contains(page, "&#34;&gt;&lt;img") {
				t.Error("the hostile strings do not appear escaped at all")
			}
		})
	}
	// The text forms are not HTML, but must not pass control characters through.
	var buf bytes.Buffer
	if err := RenderAppDownText(&buf, AppDown{Name: "a\x1b[2Jb\nforged line", Target: "1\r2", Error: "x\ty"}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(buf.String(), "\x1b\r\t") || strings.Count(buf.String(), "\n") != 2 {
		t.Errorf("text form passes control characters: %q", buf.String())
	}
}

func TestNotFoundForeignHostShowsNoRoutes(t *testing.T) {
	secret := []routes.Info{
		{Name: "secret-app.localhost", URL: "https://secret-app.localhost", Target: "62893", Source: "config", Up: true},
		{Name: "internal-api.localhost", URL: "https://internal-api.localhost", Target: "127.0.0.1:3000", Source: "dir"},
	}
	d := NotFound{
		Host:       "evil.example",
		Domain:     "localhost",
		Suggestion: &secret[0], // ignored: the caller passes nil, but we do not rely on it
		Routes:     nil,
		Dirs:       []string{"/home/dev/.config/localdev/secret-routes"},
	}
	for name, f := range map[string]renderFunc{
		"html": func(w io.Writer) error { return RenderNotFound(w, d) },
		"text": func(w io.Writer) error { return RenderNotFoundText(w, d) },
	} {
		t.Run(name, func(t *testing.T) {
			page := renderString(t, f)
			if !strings.Contains(page, "evil.example") {
				t.Error("page does not name the requested host")
			}
			for _, leak := range []string{"secret-app", "internal-api", "62893", "127.0.0.1:3000", "secret-routes", "Did you mean", "did you mean", "routes:", "data-route"} {
				if strings.Contains(page, leak) {
					t.Errorf("page leaks %q", leak)
				}
			}
		})
	}
}

func TestSize(t *testing.T) {
	rs := sampleRoutes(50, 10)
	for i := range rs {
		rs[i].Name = fmt.Sprintf("some-longer-app-name-%02d.localhost", i)
		rs[i].URL = "https://" + rs[i].Name
	}
	pages := map[string]renderFunc{
		"dashboard": func(w io.Writer) error {
			return RenderDashboard(w, Dashboard{Domain: "localhost", Routes: rs, Dirs: []string{"~/.config/localdev/routes"}})
		},
		"dashboard text": func(w io.Writer) error { return RenderDashboardText(w, Dashboard{Domain: "localhost", Routes: rs}) },
		"not found": func(w io.Writer) error {
			return RenderNotFound(w, NotFound{Host: "x.localhost", Domain: "localhost", Suggestion: &rs[0], Routes: rs})
		},
		"not found text": func(w io.Writer) error {
			return RenderNotFoundText(w, NotFound{Host: "x.localhost", Domain: "localhost", Suggestion: &rs[0], Routes: rs})
		},
		"app down": func(w io.Writer) error { return RenderAppDown(w, AppDown{Name: "a.localhost", Target: "1", Port: "1"}) },
		"loop":     func(w io.Writer) error { return RenderLoop(w, Loop{Name: "a.localhost", Target: "443"}) },
	}
	for name, f := range pages {
		n := len(renderString(t, f))
		t.Logf("%s: %d bytes", name, n)
		if n >= 50*1024 {
			t.Errorf("%s: %d bytes, want < 50 KiB", name, n)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("closed")
}

func TestRenderWritesOnce(t *testing.T) {
	w := &failWriter{}
	if err := RenderDashboard(w, Dashboard{Routes: sampleRoutes(20, 5)}); err == nil {
		t.Error("write error not returned")
	}
	if w.n != 1 {
		t.Errorf("page written in %d pieces, want 1", w.n)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"app.localhost", "api.localhost", "docs.localhost", "*.shop.localhost", "admin.app.localhost", "storybook.localhost"}
	tests := []struct {
		host string
		want string // "" for none
	}{
		{"ap.localhost", "app.localhost"}, // ties app/api: same length, first wins
		{"appp.localhost", "app.localhost"},
		{"pap.localhost", "app.localhost"},
		{"doc.localhost", "docs.localhost"},
		{"dcos.localhost", "docs.localhost"},
		{"docs.localhots", "docs.localhost"},
		{"storybok.localhost", "storybook.localhost"},
		{"admn.app.localhost", "admin.app.localhost"},
		{"x.shpo.localhost", "*.shop.localhost"},
		{"zzz.localhost", ""},
		{"billing.localhost", ""},
		{"localhost", ""},
		{"a.localhost", ""},
		{"", ""},
		{"APP.LOCALHOST", "app.localhost"},
	}
	for _, tt := range tests {
		got := Suggest(tt.host, names)
		gotName := ""
		if got >= 0 {
			gotName = names[got]
		}
		if gotName != tt.want {
			t.Errorf("Suggest(%q) = %d (%q), want %q", tt.host, got, gotName, tt.want)
		}
	}
	if got := Suggest("ap.localhost", nil); got != -1 {
		t.Errorf("Suggest with no names = %d", got)
	}
	// Ties go to the shorter name.
	if got := Suggest("abc.localhost", []string{"abcde.localhost", "abcd.localhost"}); got != 1 {
		t.Errorf("tie: got %d, want the shorter name (1)", got)
	}
	if got := Suggest("web.localhost", []string{"api.localhost"}); got != -1 {
		t.Errorf("web vs api: got %d, want -1", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"app", "app", 0}, {"ap", "app", 1},
		{"kitten", "sitting", 3}, {"docs", "dcos", 1}, {"ab", "ba", 1}, {"abc", "ca", 3},
	} {
		if got, _, _ := boundedDistance(tt.a, tt.b, 300, nil); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzSuggest(f *testing.F) {
	f.Add("ap.localhost", "app.localhost", "docs.localhost")
	f.Add("doc.localhost", "docs.localhost", "*.shop.localhost")
	f.Add("x.shpo.localhost", "*.shop.localhost", "shop.localhost")
	f.Add("", "", ".")
	f.Add("...", "*.", "*")
	f.Add("a.b.c", "*.b.c", "b.c")
	f.Add("ÄPP.localhost", "äpp.localhost", "xn--pp-qia.localhost")
	f.Add(strings.Repeat("a", 300), strings.Repeat("a", 299), "a")
	f.Fuzz(func(t *testing.T, host, n1, n2 string) {
		names := []string{n1, n2}
		got := Suggest(host, names)
		if got < -1 || got >= len(names) {
			t.Fatalf("Suggest(%q, %q) = %d: out of range", host, names, got)
		}
		if again := Suggest(host, names); again != got {
			t.Fatalf("Suggest is not deterministic: %d then %d", got, again)
		}
		if host != "" && len(host) <= maxSuggestLen && (host == n1 || host == n2) && got < 0 {
			t.Fatalf("Suggest(%q, %q) found nothing, but the host is a name", host, names)
		}
		if Suggest(host, nil) != -1 {
			t.Fatal("Suggest with no names found one")
		}
		if got, want := Closest(host, names, 2), referenceClosest(host, names, 2); !slices.Equal(got, want) {
			t.Fatalf("Closest(%q, %q) = %v, brute force says %v", host, names, got, want)
		}
	})
}

func TestWantsHTML(t *testing.T) {
	tests := []struct {
		accept []string
		want   bool
	}{
		{[]string{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"}, true}, // Chrome
		{[]string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, true},                                                                         // Firefox
		{[]string{"text/html, application/xhtml+xml, */*"}, true},
		{[]string{"application/xhtml+xml"}, true},
		{[]string{"Text/HTML"}, true},
		{[]string{"application/json", "text/html"}, true},
		{[]string{"*/*"}, false}, // curl
		{nil, false},
		{[]string{""}, false},
		{[]string{"application/json"}, false},
		{[]string{"text/plain"}, false},
		{[]string{"text/html;q=0"}, false},
		{[]string{"text/*"}, false},
		{[]string{"garbage;;;="}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://localhost/", nil)
		for _, a := range tt.accept {
			r.Header.Add("Accept", a)
		}
		if got := WantsHTML(r); got != tt.want {
			t.Errorf("WantsHTML(Accept: %q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

func TestHelpers(t *testing.T) {
	for d, want := range map[time.Duration]string{
		250 * time.Millisecond: "250 ms", 10 * time.Second: "10 s", 2500 * time.Millisecond: "2.5 s", 90 * time.Second: "1m30s",
	} {
		if got := durationString(d); got != want {
			t.Errorf("durationString(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "just now", -time.Minute: "just now", 7 * time.Second: "7s ago", 3 * time.Minute: "3m ago", 5 * time.Hour: "5h ago", 72 * time.Hour: "3d ago",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	for target, want := range map[string]string{
		"62893": "127.0.0.1 ::1", "127.0.0.2:3000": "127.0.0.2", "[::1]:4000": "::1", "localhost:80": "127.0.0.1 ::1",
		"https://5173": "127.0.0.1 ::1", "https://[::1]:5173": "::1", "unix//tmp/a.sock": "",
	} {
		if got := strings.Join(listenOn(target), " "); got != want {
			t.Errorf("listenOn(%q) = %q, want %q", target, got, want)
		}
	}
}

// TestWritePreview writes every HTML page to $LOCALDEV_PAGES_DIR, for a
// look in a browser. It does nothing unless that variable is set.
func TestWritePreview(t *testing.T) {
	dir := os.Getenv("LOCALDEV_PAGES_DIR") // set it to keep the pages for a look
	if dir == "" {
		dir = t.TempDir()
	}
	rs := append(basicRoutes(), sampleRoutes(9, 6)...)
	pages := map[string]renderFunc{
		"dashboard": func(w io.Writer) error {
			return RenderDashboard(w, Dashboard{Domain: "localhost", Routes: rs, Dirs: []string{"~/.config/localdev/routes"}})
		},
		"dashboard-small": func(w io.Writer) error {
			return RenderDashboard(w, Dashboard{Domain: "localhost", Routes: basicRoutes(), Dirs: []string{"~/.config/localdev/routes"}})
		},
		"dashboard-empty": func(w io.Writer) error { return RenderDashboard(w, Dashboard{Domain: "localhost"}) },
		"notfound": func(w io.Writer) error {
			return RenderNotFound(w, NotFound{Host: "ap.localhost", Domain: "localhost", Suggestion: &rs[0], Routes: basicRoutes(), Dirs: []string{"~/.config/localdev/routes"}})
		},
		"notfound-foreign": func(w io.Writer) error { return RenderNotFound(w, NotFound{Host: "evil.example", Domain: "localhost"}) },
		"appdown": func(w io.Writer) error {
			return RenderAppDown(w, AppDown{Name: "app.localhost", Target: "62893", Port: "62893", Waited: 10 * time.Second, Error: "connection refused"})
		},
		"loop": func(w io.Writer) error { return RenderLoop(w, Loop{Name: "app.localhost", Target: "443"}) },
	}
	for name, f := range pages {
		page := renderString(t, f)
		if !strings.Contains(page, "</html>") {
			t.Errorf("%s: not a whole page", name)
		}
		if err := os.WriteFile(dir+"/"+name+".html", []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
