package localdev

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
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
// that names it, in Caddy's one format ("…, at Caddyfile:<line>").
// adapt puts the block's first line on line 10.
func TestBadCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		line       int
	}{
		{"localdev {\n app github.com:80\n}", `route "app": target "github.com:80": host "github.com" is not this machine`, 11},
		{"localdev {\n app 10.0.0.1:3000\n}", `"10.0.0.1" is not a loopback address`, 11},
		{"localdev {\n app 0\n}", "port 0 is out of range", 11},
		{"localdev {\n app 65536\n}", "port 65536 is out of range", 11},
		{"localdev {\n app garbage\n}", `target "garbage"`, 11},
		{"localdev {\n app https://example.com\n}", `"example.com" is not this machine`, 11},
		{"localdev {\n app\n}", `route "app" needs a target`, 11},
		{"localdev {\n app 1 2\n}", `route "app": unexpected "2" after the target "1"`, 11},
		{"localdev {\n app 3000 {\n  x\n }\n}", `route "app" takes no block`, 11},
		{"localdev {\n wait 1s {\n  x\n }\n}", `wait takes no block`, 11},
		{"localdev {\n fallthrough {\n  x\n }\n}", `fallthrough takes no block`, 11},
		{"localdev {\n dir a {\n  x\n }\n}", `dir takes no block`, 11},
		{"localdev app", `route "app" needs a target`, 10},
		{"localdev app 3000 4000", `unexpected "4000" after the target "3000"`, 10},
		{"localdev {\n github.com 3000\n}", `route name "github.com": outside the domain`, 11},
		{"localdev {\n a*b 3000\n}", `route name "a*b"`, 11},
		{"localdev {\n app 3000\n app.localhost 3001\n}", `duplicate route app.localhost (first at Caddyfile:11 as "app")`, 12},
		{"localdev {\n domain test\n app.localhost 3000\n}", `outside the domain "test"`, 12},
		{"localdev {\n allow 300.1.1.1/8\n}", `allow "300.1.1.1/8": not a CIDR range`, 11},
		{"localdev {\n allow\n}", "wrong argument count", 11},
		{"localdev {\n wait soon\n}", `wait "soon": not a duration`, 11},
		{"localdev {\n wait -1s\n}", `wait "-1s"`, 11},
		{"localdev {\n wait\n}", "wrong argument count", 11},
		{"localdev {\n wait 1s 2s\n}", "wrong argument count", 11},
		{"localdev {\n domain *.x\n}", `domain "*.x"`, 11},
		{"localdev {\n domain\n}", "wrong argument count", 11},
		{"localdev {\n domain a b\n}", "wrong argument count", 11},
		{"localdev {\n dir\n}", "wrong argument count", 11},
		{"localdev {\n dir a b\n}", "wrong argument count", 11},
		{"localdev {\n fallthrough now\n}", "wrong argument count", 11},
		{"localdev {\n proxy {\n  to 127.0.0.1:1\n }\n}", "proxy: upstreams cannot be set here", 11},
		{"localdev {\n proxy {\n  dynamic localdev\n }\n}", "proxy: upstreams cannot be set here", 11},
		{"localdev {\n proxy 127.0.0.1:1\n}", `proxy takes a block, not "127.0.0.1:1"`, 11},
		{"localdev {\n proxy {\n  nonsense\n }\n}", "unrecognized subdirective nonsense", 12},
		// Repeats of a once-only subdirective, as caddy-ratelimit refuses them.
		{"localdev {\n wait 1s\n app 3000\n wait 2s\n}", "duplicate wait (first at Caddyfile:11): give it once", 13},
		{"localdev {\n domain test\n domain localhost\n}", "duplicate domain (first at Caddyfile:11): give it once", 12},
		{"localdev {\n fallthrough\n fallthrough\n}", "duplicate fallthrough (first at Caddyfile:11): give it once", 12},
		{"localdev {\n proxy {\n }\n proxy {\n }\n}", "duplicate proxy (first at Caddyfile:11): give it once", 13},
		{"localdev {\n hosts\n hosts /tmp/h\n}", "duplicate hosts (first at Caddyfile:11): give it once", 12},
		{"localdev {\n hosts /tmp/a /tmp/b\n}", `hosts takes at most one file, got "/tmp/b" too`, 11},
		{"localdev {\n hosts /tmp/a {\n  x\n }\n}", "hosts takes no block", 11},
		// A subdirective misspelt or put outside proxy { }: the error says so.
		{"localdev {\n wiat 10s\n}", `route "wiat": target "10s"`, 11},
		{"localdev {\n wiat 10s\n}", "(did you mean the subdirective wait?)", 11},
		{"localdev {\n Wait 10s\n}", "(did you mean the subdirective wait?)", 11},
		{"localdev {\n alow 10.0.0.0/8\n}", "(did you mean the subdirective allow?)", 11},
		{"localdev {\n fallthrogh\n}", `route "fallthrogh" needs a target: a port such as 5173, a loopback address, or unix//path (did you mean the subdirective fallthrough?)`, 11},
		{"localdev {\n header_up Host {upstream_hostport}\n}", `route "header_up": unexpected "{http.reverse_proxy.upstream.hostport}" after the target "Host" (header_up is a reverse_proxy setting: it goes inside proxy { })`, 11},
		{"localdev {\n lb_policy first\n}", `(lb_policy is a reverse_proxy setting: it goes inside proxy { })`, 11},
		{"localdev {\n lb_policy 3001\n}", `label "lb_policy" has an underscore, which no certificate can carry: write "lb-policy" (lb_policy is a reverse_proxy setting: it goes inside proxy { })`, 11},
		{"localdev {\n transport http {\n  dial_timeout 1s\n }\n}", `(transport is a reverse_proxy setting: it goes inside proxy { })`, 11},
	} {
		_, err := adapt(t, tc.body)
		if err == nil {
			t.Errorf("%q: accepted; want an error containing %q", tc.body, tc.want)
			continue
		}
		msg := err.Error()
		at := fmt.Sprintf(", at Caddyfile:%d", tc.line)
		if !strings.Contains(msg, tc.want) || !strings.HasSuffix(msg, at) || strings.Count(msg, ", at ") != 1 || strings.Contains(msg, "Error during parsing") {
			t.Errorf("%q:\n got %v\nwant one containing %q, ending in %q, in Caddy's format only", tc.body, err, tc.want, at)
		}
	}
}

// TestCaddyfileRepeats checks that dir and allow add up when repeated.
func TestCaddyfileRepeats(t *testing.T) {
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("localdev {\n dir a\n dir b\n allow 10.0.0.0/8\n allow unix ::2\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.Dirs, []string{"a", "b"}) || !reflect.DeepEqual(h.Allow, []string{"10.0.0.0/8", "unix", "::2"}) {
		t.Fatalf("dirs %q, allow %q", h.Dirs, h.Allow)
	}
}

// TestCaddyfileErrorsInImports checks that an error inside an imported
// snippet carries Caddy's import chain, like Caddy's own errors.
func TestCaddyfileErrorsInImports(t *testing.T) {
	cfg := "{\n" + globals + "}\n(routes) {\n\tapp 3000\n\tapp 3001\n}\nhttp://localhost:" + httpP + " {\n\tlocaldev {\n\t\timport routes\n\t}\n}\n"
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), "duplicate route app.localhost") || !strings.Contains(err.Error(), "import chain") {
		t.Fatalf("error %v; want the duplicate with its import chain", err)
	}
}

// adaptLogs adapts a site whose localdev block is body and returns what
// the Caddyfile adapter logged through Caddy's default logger, which is
// where `caddy adapt` and `caddy run` show warnings. The default logger is
// swapped for a buffer as `caddy run` itself does (caddy.BufferedLog), so
// no test hook in our code is needed.
func adaptLogs(t *testing.T, body string) []observer.LoggedEntry {
	t.Helper()
	_, orig, buffer := caddy.BufferedLog()
	_, err := adapt(t, body)
	core, logs := observer.New(zap.InfoLevel)
	buffer.FlushTo(zap.New(core))
	caddy.UnbufferDefaultLogger(orig)
	if err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	return logs.All()
}

// TestCaddyfileLookalikeWarnings checks the warning for a route named like
// a subdirective: which word it looks like, and the full name to write if
// it is a route; and that ordinary names and full names get none.
func TestCaddyfileLookalikeWarnings(t *testing.T) {
	for _, tc := range []struct {
		body                    string
		msg, route, like, write string
		line                    int
	}{
		{"localdev {\n timeout 3000\n}", "reverse_proxy setting, which goes inside proxy { }", "timeout", "timeout", "timeout.localhost 3000", 11},
		{"localdev {\n app 3000\n transport 3001\n}", "reverse_proxy setting", "transport", "transport", "transport.localhost 3001", 12},
		{"localdev {\n wiat 3000\n}", "localdev subdirective; if it is a route, write its full name", "wiat", "wait", "wiat.localhost 3000", 11},
		{"localdev {\n dri 3000\n domain test\n}", "localdev subdirective", "dri", "dir", "dri.test 3000", 11},
		{"localdev {\n proxi 3000\n}", "localdev subdirective", "proxi", "proxy", "proxi.localhost 3000", 11},
		{"localdev {\n Domain 3000\n}", "localdev subdirective", "Domain", "domain", "domain.localhost 3000", 11},
		{"localdev dir 3000", "localdev subdirective", "dir", "dir", "dir.localhost 3000", 10},
		{"localdev {\n host 3000\n}", "localdev subdirective", "host", "hosts", "host.localhost 3000", 11},
	} {
		logs := adaptLogs(t, tc.body)
		if len(logs) != 1 {
			t.Errorf("%q: %d log entries %v; want one warning", tc.body, len(logs), logs)
			continue
		}
		e := logs[0]
		f := e.ContextMap()
		// The logger's name ("caddyfile") does not survive Caddy's buffer,
		// which keeps only the message and fields: not checked.
		if e.Level != zap.WarnLevel || !strings.Contains(e.Message, tc.msg) ||
			f["route"] != tc.route || f["subdirective"] != tc.like || f["write"] != tc.write ||
			f["file"] != "Caddyfile" || f["line"] != int64(tc.line) {
			t.Errorf("%q: warning %s %q %v; want %q about %q like %q, write %q, at line %d",
				tc.body, e.Level, e.Message, f, tc.msg, tc.route, tc.like, tc.write, tc.line)
		}
	}
	quiet := "localdev {\n app 3000\n auth 3001\n die 3002\n wiat.localhost 3003\n dir.localhost 3004\n timeout.localhost 3005\n *.proxy 3006\n api 3007\n dir ~/x\n}"
	if logs := adaptLogs(t, quiet); len(logs) != 0 {
		t.Errorf("warnings for ordinary or full names: %v", logs)
	}
}

// TestOneEditAway covers the near-miss rule the warnings use.
func TestOneEditAway(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"wait", "wait", true},
		{"wiat", "wait", true},  // swapped neighbours
		{"wai", "wait", true},   // one letter missing
		{"waits", "wait", true}, // one letter more
		{"await", "wait", true},
		{"alow", "allow", true},
		{"proxi", "proxy", true}, // replaced, five letters
		{"domian", "domain", true},
		{"auth", "auto", false}, // replaced, four letters: a different word
		{"die", "dir", false},
		{"wtia", "wait", false}, // two edits
		{"wa", "wait", false},
		{"", "dir", false},
		{"tiaw", "wait", false},
		{"proxxy", "proxy", true},
		{"prox", "proxy", true},
		{"porxy", "proxy", true},
		{"pxory", "proxy", false},
	} {
		if got := oneEditAway(tc.a, tc.b); got != tc.want {
			t.Errorf("oneEditAway(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := oneEditAway(tc.b, tc.a); got != tc.want {
			t.Errorf("oneEditAway(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestProxySettingsAreReverseProxyWords checks the list the warnings use
// against Caddy's own parser: each word is a subdirective of reverse_proxy
// or of its http transport, except "timeout", listed on purpose.
func TestProxySettingsAreReverseProxyWords(t *testing.T) {
	unknown := func(input string) bool {
		err := new(reverseproxy.Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		return err != nil && strings.Contains(err.Error(), "unrecognized subdirective")
	}
	for word := range proxySettings {
		inHandler := !unknown("reverse_proxy {\n" + word + "\n}")
		inTransport := !unknown("reverse_proxy {\ntransport http {\n" + word + "\n}\n}")
		if word == "timeout" {
			if inHandler || inTransport {
				t.Errorf("timeout became a reverse_proxy word: drop the note on it")
			}
			continue
		}
		if !inHandler && !inTransport {
			t.Errorf("%q is not a reverse_proxy subdirective", word)
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
		"localdev {\n wait 1s\n wait 2s\n}",
		"localdev {\n wiat 3000\n Wait 10s\n}",
		"localdev {\n timeout 3000\n proxi 3001\n}",
		"localdev {\n dir a {\n x\n }\n}",
		"localdev {\n proxy {\n }\n proxy\n}",
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

// TestOneEditAwayExhaustive compares oneEditAway with the rule spelt out
// by brute force (every variant of b one edit away) for every pair of
// words of up to six letters over a two-letter alphabet.
func TestOneEditAwayExhaustive(t *testing.T) {
	words := []string{""}
	for i := 0; i < len(words); i++ {
		if len(words[i]) < 6 {
			words = append(words, words[i]+"a", words[i]+"b")
		}
	}
	variants := func(b string) map[string]bool {
		v := map[string]bool{b: true}
		for i := 0; i <= len(b); i++ {
			for _, c := range []string{"a", "b"} {
				v[b[:i]+c+b[i:]] = true // inserted
				if i < len(b) && len(b) >= 5 {
					v[b[:i]+c+b[i+1:]] = true // replaced
				}
			}
			if i < len(b) {
				v[b[:i]+b[i+1:]] = true // deleted
			}
			if i+1 < len(b) {
				v[b[:i]+b[i+1:i+2]+b[i:i+1]+b[i+2:]] = true // swapped
			}
		}
		return v
	}
	for _, b := range words {
		v := variants(b)
		for _, a := range words {
			// A replaced letter counts when both words have five letters
			// or more; the variants above check b's length only, and a
			// replacement keeps the length, so the rule is the same.
			if got, want := oneEditAway(a, b), v[a]; got != want {
				t.Fatalf("oneEditAway(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}

// TestCaddyAdaptShowsWarningsAndErrors runs `caddy adapt` (this test
// binary as Caddy's command line) on a Caddyfile file: the warnings for
// routes named like subdirectives and the errors reach the user, on
// stderr, with the file and line.
func TestCaddyAdaptShowsWarningsAndErrors(t *testing.T) {
	adaptFile := func(body string) (string, error) {
		path := filepath.Join(t.TempDir(), "Caddyfile")
		cfg := "{\n" + globals + "}\nhttp://localhost:" + httpP + " {\n" + body + "\n}\n"
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := caddyCommand(t, nil, "adapt", "--config", path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}

	stderr, err := adaptFile("localdev {\n\ttimeout 3000\n\twiat 3001\n}")
	if err != nil {
		t.Fatalf("caddy adapt: %v\n%s", err, stderr)
	}
	// Caddy logs JSON when stderr is not a terminal: one object a line.
	type entry struct {
		Level, Logger, Msg, Route, Subdirective, Write, File string
		Line                                                 int
	}
	var warnings []entry
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var e entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("caddy adapt's stderr: %v in %q", err, line)
		}
		if e.Route != "" {
			warnings = append(warnings, e)
		}
	}
	want := []entry{
		{"warn", "caddyfile", "route named like a reverse_proxy setting, which goes inside proxy { }; if it is a route, write its full name", "timeout", "timeout", "timeout.localhost 3000", "", 11},
		{"warn", "caddyfile", "route named like the localdev subdirective; if it is a route, write its full name", "wiat", "wait", "wiat.localhost 3001", "", 12},
	}
	for i := range warnings {
		if !strings.HasSuffix(warnings[i].File, "/Caddyfile") {
			t.Errorf("warning names the file %q", warnings[i].File)
		}
		warnings[i].File = ""
	}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("caddy adapt's warnings:\n got %+v\nwant %+v\n%s", warnings, want, stderr)
	}

	stderr, err = adaptFile("localdev {\n\twait 1s\n\twait 2s\n}")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr, "duplicate wait (first at ") || !strings.Contains(stderr, "Caddyfile:12") {
		t.Fatalf("caddy adapt of a repeated wait: %v\n%s", err, stderr)
	}
}

// TestUpstreamsCaddyfile covers `dynamic localdev` in a stock
// reverse_proxy: it adapts to the source, and takes no options.
func TestUpstreamsCaddyfile(t *testing.T) {
	out, err := adapt(t, "reverse_proxy {\n\tdynamic localdev\n\tlb_retries 1\n}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"dynamic_upstreams":{"source":"localdev"}`) {
		t.Fatalf("dynamic localdev adapted to %s", out)
	}
	for _, tc := range []struct {
		body, want string
		line       int
	}{
		{"reverse_proxy {\n dynamic localdev extra\n}", "wrong argument count or unexpected line ending after 'extra'", 11},
		{"reverse_proxy {\n dynamic localdev {\n  refresh 1s\n }\n}", `localdev upstreams take no options, got "refresh"`, 12},
	} {
		_, err := adapt(t, tc.body)
		at := fmt.Sprintf(", at Caddyfile:%d", tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasSuffix(err.Error(), at) {
			t.Errorf("%q: error %v; want one containing %q, ending in %q", tc.body, err, tc.want, at)
		}
	}
}
