package localdev

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/spf13/cobra"

	"github.com/localdev/localdev/internal/ports"
	"github.com/localdev/localdev/internal/routes"
)

// cliExecute runs `caddy localdev <args>` through cobra, in process.
func cliExecute(args ...string) error {
	root := &cobra.Command{Use: "localdev", SilenceUsage: true, SilenceErrors: true}
	setupLocaldevCommand(root)
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	return root.Execute()
}

// cliClosedAddr returns a loopback address that nothing listens on.
func cliClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestCommandArguments(t *testing.T) {
	closed := cliClosedAddr(t)
	for _, c := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"nonsense"}, `unknown subcommand "nonsense"`},
		{[]string{"run", "web", "--port", "abc", "--", "true"}, `localdev run: invalid argument "abc" for "--port" flag`},
		{[]string{"run", "web", "--port", "0", "--", "true"}, "--port 0 is not a port"},
		{[]string{"list", "extra", "--address", closed}, "list takes no arguments"},
		{[]string{"add", "app", "--address", closed}, "add needs a name and a target"},
		{[]string{"add", "app", "1", "2", "--address", closed}, "add needs a name and a target"},
		{[]string{"rm", "--address", closed}, "rm needs exactly one name"},
		{[]string{"port"}, "port needs exactly one name"},
		{[]string{"port", "github.com"}, "outside the domain"},
		{[]string{"run", "app", "true", "--address", closed}, "put -- before the command"},
		{[]string{"run", "a", "b", "--address", closed, "--", "true"}, "at most one name before --"},
		{[]string{"run", "--address", closed}, "run needs a command"},
		{[]string{"run", "app", "--address", closed, "--"}, "needs a command after --"},
		{[]string{"run", "app", "--port", "70000", "--address", closed, "--", "true"}, "not a port"},
		{[]string{"run", "app", "--port", "x", "--", "true"}, "invalid argument"},
	} {
		err := cliExecute(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("localdev %q: error = %v, want it to contain %q", c.args, err, c.wantErr)
		}
	}
	if err := cliExecute("port", "App"); err != nil {
		t.Errorf("localdev port App: %v", err)
	}
}

func TestFreePortForUsesFullName(t *testing.T) {
	for _, name := range []string{"app", "APP", "app.localhost", "App.LocalHost."} {
		p, err := freePortFor(name)
		if err != nil {
			t.Fatal(err)
		}
		if p < ports.First || p > ports.Last {
			t.Errorf("freePortFor(%q) = %d, outside the dynamic range", name, p)
		}
		// The stable port of app.localhost, unless this machine uses it.
		if stable := ports.Stable("app.localhost"); p != stable {
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(stable))); err == nil {
				_ = ln.Close()
				t.Errorf("freePortFor(%q) = %d, want the stable port %d of app.localhost", name, p, stable)
			}
		}
	}
}

func TestCannotReachCaddy(t *testing.T) {
	addr := cliClosedAddr(t)
	want := "cannot reach Caddy's admin API at " + addr + ": is Caddy running?"

	if err := listRoutes(addr, io.Discard, false); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("list: %v, want %q", err, want)
	}
	if _, err := addRoute(addr, "app", "3000", true); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("add: %v, want %q", err, want)
	}
	if err := removeRoute(addr, "app", ""); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("rm: %v, want %q", err, want)
	}
	for _, args := range [][]string{{"list"}, {"add", "app", "3000"}, {"rm", "app"}} {
		err := cliExecute(append(args, "--address", addr)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("localdev %q: %v, want %q", args, err, want)
		}
	}

}

// TestAdminErrorsShowServerMessage checks that a non-2xx answer reaches
// the user as its status and the server's message. The server here
// stands in for nothing but HTTP.
func TestAdminErrorsShowServerMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*":
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":"app.localhost: route exists (api route to 3000)"}`)
		case r.Method == http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, `{"name":"app.localhost","url":"https://app.localhost","target":%s,"source":"api","up":false,"sent":%s}`,
				strconv.Quote(r.URL.Path), body)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprint(w, "not json")
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	_, err := addRoute(addr, "App", "3000", false)
	if adminStatus(err) != http.StatusConflict || !strings.Contains(err.Error(), "route exists (api route to 3000)") {
		t.Errorf("add without replace: %v, want 409 with the server's message", err)
	}
	r, err := addRoute(addr, "App", "3000", true)
	if err != nil || r.URL != "https://app.localhost" || r.Target != "/localdev/routes/App" {
		t.Errorf("add with replace = %+v, %v", r, err)
	}
	err = removeRoute(addr, "app", "3000")
	if adminStatus(err) != http.StatusTeapot || !strings.Contains(err.Error(), "not json") {
		t.Errorf("rm: %v, want 418 with the body", err)
	}
}

func TestListTable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"name":"app.localhost","url":"https://app.localhost","target":"62893","source":"config","up":true},`+
			`{"name":"api.localhost","url":"https://api.localhost","target":"3000","source":"api","up":false}]`)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out bytes.Buffer
	if err := listRoutes(addr, &out, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "URL") ||
		strings.Join(strings.Fields(lines[1]), " ") != "https://app.localhost 62893 config up" ||
		strings.Join(strings.Fields(lines[2]), " ") != "https://api.localhost 3000 api down" {
		t.Errorf("table:\n%s", out.String())
	}
	out.Reset()
	if err := listRoutes(addr, &out, true); err != nil || !json.Valid(out.Bytes()) {
		t.Errorf("--json: %v\n%s", err, out.String())
	}
}

// ---------------------------------------------------------------------
// End to end against a real Caddy in this process, with the localdev
// admin API (admin.go). The run child is this test binary serving HTTP.
// ---------------------------------------------------------------------

func cliAdminAddr() string { return "localhost:" + adminP }

func cliCaddyfile() string {
	return `{
	admin localhost:` + adminP + `
	http_port ` + httpP + `
	https_port ` + httpsP + `
	skip_install_trust
}
http://localhost:` + httpP + `, http://*.localhost:` + httpP + ` {
	bind 127.0.0.1
	localdev fixed 65001
}
`
}

// cliGet requests http://<host>:9080<path> from Caddy on 127.0.0.1.
func cliGet(host, path string) (int, string, error) {
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, "127.0.0.1:"+httpP)
			},
			DisableKeepAlives: true,
		},
	}
	res, err := client.Get("http://" + host + ":" + httpP + path)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// cliWaitFor polls check until it returns nil or 15 seconds pass.
func cliWaitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cliRoutes returns the routes the admin API lists.
func cliRoutes(t *testing.T) map[string]routes.Info {
	t.Helper()
	var out bytes.Buffer
	if err := listRoutes(cliAdminAddr(), &out, true); err != nil {
		t.Fatal(err)
	}
	var list []routes.Info
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	m := make(map[string]routes.Info)
	for _, r := range list {
		m[r.Name] = r
	}
	return m
}

// TestCommandsAgainstCaddy runs the commands in process against a real
// Caddy (caddytest, admin localhost:2999) with the localdev admin API.
func TestCommandsAgainstCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	if os.Getenv("LOCALDEV_TEST_HOME") == "" {
		// TestMain normally gives the whole run a temporary home; without
		// it, keep Caddy's data and config out of the user's.
		t.Setenv("XDG_DATA_HOME", t.TempDir())
		t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	}
	tester := caddytest.NewTester(t)
	tester.InitServer(cliCaddyfile(), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}

	t.Run("add list rm", func(t *testing.T) {
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "static app")
		}))
		defer app.Close()
		target := strings.TrimPrefix(app.URL, "http://")
		r, err := addRoute(cliAdminAddr(), "Static", target, true)
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "static.localhost" || !strings.Contains(r.URL, "static.localhost") {
			t.Errorf("add answered %+v", r)
		}
		if _, body, _ := cliGet("static.localhost", "/"); body != "static app" {
			t.Errorf("static.localhost answered %q", body)
		}
		if err := cliExecute("list", "--address", cliAdminAddr()); err != nil {
			t.Errorf("list: %v", err)
		}
		if got := cliRoutes(t)["static.localhost"]; got.Source != "api" || string(got.Target) != target {
			t.Errorf("listed %+v", got)
		}
		if err := removeRoute(cliAdminAddr(), "static", ""); err != nil {
			t.Fatal(err)
		}
		if err := removeRoute(cliAdminAddr(), "static", ""); adminStatus(err) != http.StatusNotFound {
			t.Errorf("second rm: %v, want 404", err)
		}
		if err := cliExecute("rm", "fixed", "--address", cliAdminAddr()); err == nil || !strings.Contains(err.Error(), "409") {
			t.Errorf("rm of a configured route: %v, want 409", err)
		}
		if _, err := addRoute(cliAdminAddr(), "fixed", "3000", true); adminStatus(err) != http.StatusConflict {
			t.Errorf("add over a configured route: %v, want 409", err)
		}
		if _, err := addRoute(cliAdminAddr(), "bad", "example.com:80", true); adminStatus(err) != http.StatusBadRequest {
			t.Errorf("add with a foreign target: %v, want 400", err)
		}
		if _, err := addRoute(cliAdminAddr(), "github.com", "3000", true); adminStatus(err) != http.StatusBadRequest ||
			!strings.Contains(err.Error(), "outside the domain") {
			t.Errorf("add with a foreign name: %v, want 400 naming the domain", err)
		}
	})
}
