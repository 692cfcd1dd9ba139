package localdev

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// adapt runs the Caddyfile adapter on a site whose localdev block is body.
func adapt(t *testing.T, body string) ([]byte, error) {
	t.Helper()
	cfg := "{\n" + globals + "}\nhttp://localhost:" + httpP + " {\n" + body + "\n}\n"
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), map[string]any{"filename": "Caddyfile"})
	return out, err
}

func TestCaddyfileAdaptsToSpecJSON(t *testing.T) {
	out, err := adapt(t, `localdev {
		app             62893
		api             127.0.0.1:3000
		docs.localhost  [::1]:4000
		*.shop          5173
		dir.localhost   3001
		dir    ~/.config/localdev/routes
		allow  192.168.1.0/24 unix
		wait   10s
		fallthrough
		domain localhost
		proxy {
			header_up Host {upstream_hostport}
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []struct {
							Routes []struct {
								Handle []map[string]any `json:"handle"`
							} `json:"routes"`
						} `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	h := cfg.Apps.HTTP.Servers["srv0"].Routes[0].Handle[0].Routes[0].Handle[0]
	want := map[string]any{
		"handler":     "localdev",
		"routes":      map[string]any{"app": "62893", "api": "127.0.0.1:3000", "docs.localhost": "[::1]:4000", "*.shop": "5173", "dir.localhost": "3001"},
		"dirs":        []any{"~/.config/localdev/routes"},
		"allow":       []any{"192.168.1.0/24", "unix"},
		"wait":        float64(10e9),
		"fallthrough": true,
		"domain":      "localhost",
	}
	proxy, _ := h["proxy"].(map[string]any)
	delete(h, "proxy")
	if !reflect.DeepEqual(h, want) {
		t.Errorf("adapted handler:\n got %v\nwant %v", h, want)
	}
	if !strings.Contains(fmt.Sprint(proxy), "upstream.hostport") {
		t.Errorf("proxy block not carried over: %v", proxy)
	}
}

func TestOneLineForm(t *testing.T) {
	out, err := adapt(t, "localdev app 62893")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"routes":{"app":"62893"}`) {
		t.Fatalf("one-line form adapted to %s", out)
	}
}

// TestBadCaddyfile checks that each bad value is refused with an error
// that names it and its line.
func TestBadCaddyfile(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"localdev {\n app github.com:80\n}", `Caddyfile:11`},
		{"localdev {\n app github.com:80\n}", `host "github.com" is not this machine`},
		{"localdev {\n app 10.0.0.1:3000\n}", `"10.0.0.1" is not a loopback address`},
		{"localdev {\n app 0\n}", "port 0 is out of range"},
		{"localdev {\n app 65536\n}", "port 65536 is out of range"},
		{"localdev {\n app garbage\n}", `target "garbage"`},
		{"localdev {\n app https://example.com\n}", `"example.com" is not this machine`},
		{"localdev {\n app\n}", `route "app" needs a target`},
		{"localdev {\n app 1 2\n}", `unexpected "2" after the target`},
		{"localdev {\n github.com 3000\n}", `route name "github.com": outside the domain`},
		{"localdev {\n github.com 3000\n}", `Caddyfile:11`},
		{"localdev {\n a*b 3000\n}", `route name "a*b"`},
		{"localdev {\n app 3000\n app.localhost 3001\n}", "duplicate route app.localhost"},
		{"localdev {\n app 3000\n app.localhost 3001\n}", "Caddyfile:12"},
		{"localdev {\n allow 300.1.1.1/8\n}", `allow "300.1.1.1/8"`},
		{"localdev {\n allow\n}", "wrong argument count"},
		{"localdev {\n wait soon\n}", `wait "soon"`},
		{"localdev {\n wait -1s\n}", `wait "-1s"`},
		{"localdev {\n domain *.x\n}", `domain "*.x"`},
		{"localdev {\n dir\n}", "wrong argument count"},
		{"localdev {\n fallthrough now\n}", "wrong argument count"},
		{"localdev {\n proxy {\n  to 127.0.0.1:1\n }\n}", "upstreams cannot be set here"},
		{"localdev {\n proxy 127.0.0.1:1\n}", "proxy takes a block"},
		{"localdev {\n proxy {\n  nonsense\n }\n}", "nonsense"},
		{"localdev {\n domain test\n app.localhost 3000\n}", `outside the domain "test"`},
	} {
		_, err := adapt(t, tc.body)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v; want one containing %q", tc.body, err, tc.want)
		}
	}
}

// TestBadJSONDoesNotStart loads bad JSON configurations into the running
// Caddy: each is refused with an error naming the value, and the running
// configuration stays.
func TestBadJSONDoesNotStart(t *testing.T) {
	port := startApp(t, "127.0.0.1:0", hello("keep"))
	startCaddy(t, httpSite(fmt.Sprintf("localdev keep %d", port)))
	for _, tc := range []struct{ handler, want string }{
		{`{"handler":"localdev","routes":{"app":"192.168.1.1:80"}}`, `192.168.1.1\" is not a loopback address`},
		{`{"handler":"localdev","routes":{"github.com":"3000"}}`, `github.com\": outside the domain`},
		{`{"handler":"localdev","routes":{"app":"3000","App.localhost":"3001"}}`, "duplicate"},
		{`{"handler":"localdev","allow":["nope"]}`, `allow \"nope\"`},
		{`{"handler":"localdev","wait":-5}`, "negative"},
		{`{"handler":"localdev","domain":"*"}`, "must not contain a wildcard"},
		{`{"handler":"localdev","proxy":{"upstreams":[{"dial":"10.0.0.1:80"}]}}`, `upstreams\" cannot be set here`},
		{`{"handler":"localdev","routes":{"app":"3000"},"bogus":1}`, "bogus"},
	} {
		cfg := `{"admin":{"listen":"localhost:` + adminP + `"},"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:` + httpP + `"],"routes":[{"handle":[` + tc.handler + `]}]}}}}}`
		caddytest.AssertLoadError(t, cfg, "json", tc.want)
	}
	res := fetch(t, testClient("127.0.0.1"), "GET", httpURL("keep.localhost", "/"))
	if res.status != 200 || res.header.Get("X-App") != "keep" {
		t.Fatalf("after refused loads the running configuration changed: %d %q", res.status, res.body)
	}
}

// TestJSONConfig runs the spec's JSON form.
func TestJSONConfig(t *testing.T) {
	port := startApp(t, "[::1]:0", hello("json"))
	cfg := fmt.Sprintf(`{"admin":{"listen":"localhost:`+adminP+`"},"apps":{"http":{"http_port":`+httpP+`,"servers":{"s":{"listen":["127.0.0.1:`+httpP+`"],"routes":[{"handle":[
		{"handler":"localdev","routes":{"app":"%d","*.shop":"%d"},"wait":"1s","domain":"localhost"}]}]}}}}}`, port, port)
	tester := caddytest.NewTester(t)
	tester.InitServer(cfg, "json")
	client := testClient("127.0.0.1")
	for _, host := range []string{"app.localhost", "x.shop.localhost"} {
		if res := fetch(t, client, "GET", httpURL(host, "/")); res.status != 200 || res.header.Get("X-App") != "json" {
			t.Errorf("%s: %d %q", host, res.status, res.body)
		}
	}
}

// FuzzCaddyfile feeds arbitrary localdev blocks to the parser: it must
// never panic, and whatever it accepts must provision-check cleanly or
// fail with an error.
func FuzzCaddyfile(f *testing.F) {
	for _, s := range []string{
		"localdev app 62893",
		"localdev {\n app 62893\n *.shop 5173\n docs.localhost [::1]:4000\n}",
		"localdev {\n dir ~/x\n allow 10.0.0.0/8 unix\n wait 10s\n fallthrough\n domain test\n}",
		"localdev {\n proxy {\n header_up Host {upstream_hostport}\n }\n}",
		"localdev {\n app\n}",
		"localdev {\n {\n}",
		"localdev app github.com:80",
		"localdev {\n app 1\n app 2\n}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		h := new(Handler)
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			return
		}
		domain := h.domainOrDefault()
		if h.Domain != "" {
			return // the domain is checked again at provision time
		}
		if _, err := configRoutes(h.Routes, domain); err != nil {
			t.Fatalf("parser accepted routes that provisioning rejects: %v\n%s", err, input)
		}
	})
}
