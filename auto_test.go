package localdev

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/localdev/localdev/internal/routes"
)

// TestAutoRoute runs a dev server in a project folder with `auto` on: it
// gets <project>.localhost by itself, which serves its page; a configured
// route of the same name wins over it, and it comes back when that one
// goes; when the server closes, the route goes within 5 s.
func TestAutoRoute(t *testing.T) {
	app := startDiscoverHelper(t, "@acme/Auto Shop", "Auto Shop", "127.0.0.1:0")
	target := "127.0.0.1:" + strconv.Itoa(app.port)
	startCaddy(t, httpSite("localdev {\n\tauto\n}"))
	client := testClient("127.0.0.1")

	eventually(t, 20*time.Second, "auto-shop.localhost routed", func() error {
		r := table.Lookup("auto-shop.localhost")
		if r == nil || r.Source != routes.SourceAuto || r.Target.Raw != target {
			return fmt.Errorf("route %+v, want auto to %s", r, target)
		}
		return nil
	})
	if res := fetch(t, client, "GET", httpURL("auto-shop.localhost", "/"), "Accept: text/html"); res.status != 200 || !strings.Contains(res.body, "<title>Auto Shop</title>") {
		t.Fatalf("auto-shop.localhost: %d %q", res.status, res.body)
	}
	res := fetch(t, client, "GET", httpURL("localhost", "/"), "Accept: application/json")
	var d struct {
		Routes    []map[string]any `json:"routes"`
		Listeners []map[string]any `json:"listeners"`
	}
	if err := json.Unmarshal([]byte(res.body), &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range d.Routes {
		if r["name"] == "auto-shop.localhost" && r["source"] == "auto" && r["target"] == target {
			found = true
		}
	}
	if !found {
		t.Errorf("dashboard routes lack the auto route: %s", res.body)
	}
	for _, l := range d.Listeners {
		if l["port"] == float64(app.port) {
			t.Errorf("a named server is still listed without a name: %v", l)
		}
	}

	// A configured route of the same name wins, and leaves with its config.
	other := startApp(t, "127.0.0.1:0", hello("configured"))
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n\tauto\n\tauto-shop %d\n}", other)))
	if r := table.Lookup("auto-shop.localhost"); r == nil || r.Source != routes.SourceConfig {
		t.Fatalf("with a configured auto-shop: %+v", r)
	}
	time.Sleep(2 * autoEvery) // auto keeps scanning and must not take it back
	if res := fetch(t, client, "GET", httpURL("auto-shop.localhost", "/")); !strings.HasPrefix(res.body, "configured ") {
		t.Fatalf("auto-shop.localhost with a configured route: %d %q", res.status, res.body)
	}
	startCaddy(t, httpSite("localdev {\n\tauto\n}"))
	eventually(t, 10*time.Second, "auto route back after the configured one left", func() error {
		if r := table.Lookup("auto-shop.localhost"); r == nil || r.Source != routes.SourceAuto {
			return fmt.Errorf("route %+v", r)
		}
		return nil
	})

	// The server closes: the route goes within 5 s.
	app.stop()
	eventually(t, 5*time.Second, "auto route removed after the server closed", func() error {
		if r := table.Lookup("auto-shop.localhost"); r != nil {
			return fmt.Errorf("still routed: %+v", r)
		}
		return nil
	})
}

// TestAutoOff: without `auto` nothing is routed by itself, and turning it
// off removes the auto routes.
func TestAutoOff(t *testing.T) {
	app := startDiscoverHelper(t, "manual-only", "Manual", "127.0.0.1:0")
	startCaddy(t, httpSite("localdev {\n\tauto\n}"))
	eventually(t, 20*time.Second, "manual-only routed with auto on", func() error {
		if table.Lookup("manual-only.localhost") == nil {
			return fmt.Errorf("not routed")
		}
		return nil
	})
	startCaddy(t, httpSite("localdev other 1"))
	if r := table.Lookup("manual-only.localhost"); r != nil {
		t.Fatalf("auto off, route still there: %+v", r)
	}
	time.Sleep(2 * autoEvery)
	if r := table.Lookup("manual-only.localhost"); r != nil {
		t.Fatalf("without auto, %d was routed: %+v", app.port, r)
	}
}

func TestAutoCaddyfile(t *testing.T) {
	out, err := adapt(t, "localdev {\n\tauto\n}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"auto":true`) {
		t.Errorf("auto adapted to %s", out)
	}
	if _, err := adapt(t, "localdev {\n\tauto yes\n}"); err == nil || !strings.Contains(err.Error(), `"yes"`) {
		t.Errorf("auto yes: %v, want an error naming \"yes\"", err)
	}
	if _, err := adapt(t, "localdev {\n\tauto\n\tauto\n}"); err == nil || !strings.Contains(err.Error(), "duplicate auto") {
		t.Errorf("auto twice: %v, want a duplicate error", err)
	}
	out, err = adapt(t, "localdev {\n\tapp 3000\n}")
	if err != nil || strings.Contains(string(out), `"auto"`) {
		t.Errorf("without auto: %s, %v", out, err)
	}
}
