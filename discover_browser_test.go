package localdev

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/localdev/localdev/internal/adminclient"
)

// TestBrowserDashboardListeners opens the dashboard in Chromium while an
// unrouted dev server runs: the section "Listening without a name" shows
// it with its process, folder and the command that names it; once a route
// reaches it, the row leaves the page by itself.
func TestBrowserDashboardListeners(t *testing.T) {
	app := startDiscoverHelper(t, "@acme/blog", "Blog Dev", "127.0.0.1:0")
	startCaddy(t, httpSite("localdev other 1"))
	ctx := pagesBrowser(t, 60*time.Second)

	if status := pagesNavigate(t, ctx, httpURL("localhost", "/")); status != 200 {
		t.Fatalf("dashboard: status %d", status)
	}
	add := "caddy localdev add blog " + strconv.Itoa(app.port)
	row := fmt.Sprintf(`#unnamed tr[data-port="%d"]`, app.port)
	pagesWaitJS(t, ctx, 20*time.Second, "the dev server listed", fmt.Sprintf(`!!document.querySelector(%q)`, row))
	section, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
		var s = document.getElementById('unnamed');
		return s.hidden ? 'hidden' : s.innerText; })()`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Listening without a name", add, app.dir, "Blog Dev", strconv.Itoa(app.pid), "127.0.0.1:" + strconv.Itoa(app.port)} {
		if !strings.Contains(section, want) {
			t.Errorf("section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "reachable from your network") {
		t.Errorf("a loopback server is marked reachable:\n%s", section)
	}
	// The page's script draws the same row as the server did.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__marker = 1`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a poll or two
	cmd, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q + ' .cmd').textContent`, row)))
	if err != nil || cmd != add {
		t.Errorf("command after the page's own refresh: %q, %v; want %q", cmd, err, add)
	}

	// Naming it (as the copied command would) takes it off the list.
	admin := adminclient.New("localhost:" + adminP)
	if _, _, err := admin.PutRoute(context.Background(), "blog.localhost", strconv.Itoa(app.port), adminclient.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	pagesWaitJS(t, ctx, 10*time.Second, "the named server leaves the section",
		fmt.Sprintf(`!document.querySelector(%q) && !!document.querySelector('tbody[data-route="blog.localhost"]')`, row))
	marker, err := chromedp.Run(ctx, chromedp.Evaluate[*int](`window.__marker`))
	if err != nil || marker == nil || *marker != 1 {
		t.Errorf("the page reloaded: marker %v, %v", marker, err)
	}
	if err := admin.DeleteRoute(context.Background(), "blog.localhost", adminclient.DeleteConditions{}); err != nil {
		t.Fatal(err)
	}
}
