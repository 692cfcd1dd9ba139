package localdev

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestMetrics reads localdev's series from the admin endpoint's /metrics
// after real requests: each outcome is counted on its route, and an API
// route's series leave /metrics when the route leaves the table.
func TestMetrics(t *testing.T) {
	port := startApp(t, "127.0.0.1:0", hello("m"))
	crashy, _ := startClosingApp(t, "127.0.0.1")
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n metered %d\n gone %d\n crashy %d\n}", port, freePort(t), crashy)))
	client := testClient("127.0.0.1")
	for range 3 {
		fetch(t, client, "GET", httpURL("metered.localhost", "/"))
	}
	fetch(t, client, "GET", httpURL("gone.localhost", "/"))
	fetch(t, client, "GET", httpURL("nobody.localhost", "/"))
	fetch(t, client, "GET", httpURL("crashy.localhost", "/"))
	if code := apiDo(t, "PUT", "/localdev/routes/metered-api", fmt.Sprintf(`{"target": "%d"}`, port)); code != http.StatusCreated {
		t.Fatalf("PUT: %d", code)
	}
	fetch(t, client, "GET", httpURL("metered-api.localhost", "/"))
	fetch(t, client, "GET", httpURL("metered-api.localhost", "/"))

	body := readMetrics(t)
	for _, want := range []string{
		`caddy_localdev_requests_total{outcome="proxied",route="metered.localhost"} 3`,
		`caddy_localdev_requests_total{outcome="app_down",route="gone.localhost"} 1`,
		`caddy_localdev_requests_total{outcome="app_error",route="crashy.localhost"} 1`,
		`caddy_localdev_requests_total{outcome="unknown_host",route=""}`,
		`caddy_localdev_requests_total{outcome="proxied",route="metered-api.localhost"} 2`,
		`caddy_localdev_routes{source="config"} 3`,
		`caddy_localdev_routes{source="api"} 1`,
		`caddy_localdev_refused_total`,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, never := range []string{
		`route="nobody.localhost"`,
		`outcome="proxied",route="crashy.localhost"`,
		`outcome="app_down",route="crashy.localhost"`,
	} {
		if strings.Contains(body, never) {
			t.Errorf("/metrics has %s", never)
		}
	}
	if t.Failed() {
		t.Fatalf("metrics:\n%s", grepLines(body, "localdev"))
	}

	if code := apiDo(t, "DELETE", "/localdev/routes/metered-api", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	body = readMetrics(t)
	if strings.Contains(body, "metered-api") {
		t.Errorf("a removed API route's series stay:\n%s", grepLines(body, "metered-api"))
	}
	if !strings.Contains(body, `caddy_localdev_requests_total{outcome="proxied",route="metered.localhost"} 3`) {
		t.Errorf("the configured route's series went with the API route:\n%s", grepLines(body, "localdev"))
	}
}

// readMetrics returns the admin endpoint's /metrics.
func readMetrics(t *testing.T) string {
	t.Helper()
	res := fetch(t, http.DefaultClient, "GET", "http://localhost:"+adminP+"/metrics")
	if res.status != http.StatusOK {
		t.Fatalf("/metrics: %d", res.status)
	}
	return res.body
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
