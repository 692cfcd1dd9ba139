package localdev

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localdev/localdev/internal/listeners"
	"github.com/localdev/localdev/internal/routes"
)

// discoverHelperEnv makes the test binary a dev server for the discover
// tests: it serves a page titled $LOCALDEV_DISCOVER_TITLE on
// $LOCALDEV_DISCOVER_LISTEN (default 127.0.0.1:0), prints its port, and
// exits when its standard input closes.
const discoverHelperEnv = "LOCALDEV_DISCOVER_HELPER"

func init() {
	if os.Getenv(discoverHelperEnv) == "serve" {
		os.Exit(discoverServe())
	}
}

func discoverServe() int {
	addr := os.Getenv("LOCALDEV_DISCOVER_LISTEN")
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("error", err)
		return 2
	}
	title := os.Getenv("LOCALDEV_DISCOVER_TITLE")
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>%s</title><p>dev server", title)
	})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// discoverHelper is a dev server in its own process.
type discoverHelper struct {
	dir  string
	port int
	pid  int
	stop func() // closes it and waits for it to exit
}

// startDiscoverHelper starts this test binary as a dev server in a new
// temp folder with a package.json named pkgName, listening on listen.
func startDiscoverHelper(t *testing.T, pkgName, title, listen string) discoverHelper {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name": "`+pkgName+`", "private": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), discoverHelperEnv+"=serve", "LOCALDEV_DISCOVER_TITLE="+title, "LOCALDEV_DISCOVER_LISTEN="+listen)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = stdin.Close()
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	return discoverHelper{dir: dir, port: port, pid: cmd.Process.Pid, stop: stop}
}

// discoverJSON runs `caddy localdev discover --json` against the test Caddy.
func discoverJSON(t *testing.T, all bool) ([]map[string]any, []listeners.Info) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := discover(context.Background(), &out, &errOut, "localhost:"+adminP, all, true); err != nil {
		t.Fatalf("discover --json: %v (stderr %q)", err, errOut.String())
	}
	var raw []map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("discover --json printed %q: %v", out.String(), err)
	}
	var infos []listeners.Info
	if err := json.Unmarshal(out.Bytes(), &infos); err != nil {
		t.Fatal(err)
	}
	return raw, infos
}

func findInfo(infos []listeners.Info, port int) *listeners.Info {
	for i := range infos {
		if infos[i].Port == port {
			return &infos[i]
		}
	}
	return nil
}

// discoverKeys are exactly the keys of a `discover --json` object.
var discoverKeys = []string{"address", "port", "scope", "pid", "user", "process", "command", "cwd", "project", "http", "https", "title", "route"}

// TestDiscoverDevServer starts a dev server in a temp folder with a
// package.json: discover shows its port, pid, folder, project, http and
// title; a route to it fills route; the table shows the same.
func TestDiscoverDevServer(t *testing.T) {
	app := startDiscoverHelper(t, "@acme/Shop Front", "Shop &amp; Front", "127.0.0.1:0")
	startCaddy(t, httpSite("localdev other 1"))

	// Probes are measurements with a 300 ms limit: on a loaded machine a
	// scan may miss an answer, so each check below takes a few scans.
	var raw []map[string]any
	var infos []listeners.Info
	var l *listeners.Info
	eventually(t, 10*time.Second, "the dev server listed, answering HTTP", func() error {
		raw, infos = discoverJSON(t, false)
		if l = findInfo(infos, app.port); l == nil || !l.HTTP {
			return fmt.Errorf("port %d: %+v", app.port, l)
		}
		return nil
	})
	for _, obj := range raw {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := slices.Sorted(slices.Values(discoverKeys))
		if !slices.Equal(keys, want) {
			t.Fatalf("discover --json keys %v, want exactly %v", keys, want)
		}
	}
	exe, _ := os.Executable()
	want := listeners.Info{
		Address: "127.0.0.1", Port: app.port, Scope: listeners.ScopeLoopback, PID: int32(app.pid),
		User: l.User, Process: l.Process, Command: exe, Cwd: app.dir,
		Project: "shop-front", HTTP: true, Title: "Shop & Front",
	}
	if *l != want {
		t.Errorf("listener\n got %+v\nwant %+v", *l, want)
	}
	if l.User == "" || l.Process == "" {
		t.Errorf("user %q, process %q: want both", l.User, l.Process)
	}

	// A route to it fills route.
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n\tshop %d\n}", app.port)))
	_, infos = discoverJSON(t, false)
	if l := findInfo(infos, app.port); l == nil || l.Route != "shop.localhost" {
		t.Fatalf("after routing shop.localhost to %d: %+v", app.port, l)
	}

	// The table says the same, for people.
	var out bytes.Buffer
	eventually(t, 10*time.Second, "the table row", func() error {
		out.Reset()
		var errOut bytes.Buffer
		if err := discover(context.Background(), &out, &errOut, "localhost:"+adminP, false, false); err != nil {
			t.Fatal(err)
		}
		var row string
		for line := range strings.Lines(out.String()) {
			if strings.HasPrefix(line, "127.0.0.1:"+strconv.Itoa(app.port)+" ") {
				row = line
			}
		}
		for _, part := range []string{"loopback", strconv.Itoa(app.pid), "shop-front", " http ", "Shop & Front", "shop.localhost", app.dir} {
			if !strings.Contains(row, part) {
				return fmt.Errorf("table row %q lacks %q; table:\n%s", row, part, out.String())
			}
		}
		return nil
	})
	if !strings.HasPrefix(out.String(), "ADDRESS") {
		t.Errorf("table without a header:\n%s", out.String())
	}
}

// TestDiscoverWithoutCaddy lists listeners when no Caddy answers: the
// route stays empty and stderr says why.
func TestDiscoverWithoutCaddy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nothing := "127.0.0.1:" + strconv.Itoa(freePort(t))
	var out, errOut bytes.Buffer
	if err := discover(context.Background(), &out, &errOut, nothing, false, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "routes not shown") || !strings.Contains(errOut.String(), nothing) {
		t.Errorf("stderr %q: want a note naming %s", errOut.String(), nothing)
	}
	var infos []listeners.Info
	if err := json.Unmarshal(out.Bytes(), &infos); err != nil {
		t.Fatal(err)
	}
	l := findInfo(infos, ln.Addr().(*net.TCPAddr).Port)
	if l == nil || l.HTTP || l.HTTPS || l.Route != "" || l.PID != int32(os.Getpid()) {
		t.Errorf("a silent listener of this process: %+v, want listed with http false", l)
	}
}

// TestDiscoverTableEscapes writes a listener whose command line and
// title carry terminal escapes and bidi overrides.
func TestDiscoverTableEscapes(t *testing.T) {
	infos := []listeners.Info{{
		Address: "127.0.0.1", Port: 3000, Scope: listeners.ScopeLoopback, PID: 7,
		Process: "no\x1b]0;de", Command: "node \u202eevil\u202c.js\n", Cwd: "/tmp/x\ty", HTTP: true,
		Title: "t\u2067i",
	}, {
		Address: "0.0.0.0", Port: 4000, Scope: listeners.ScopeAll, PID: 8, Process: "next",
	}, {
		Address: "198.18.0.1", Port: 5000, Scope: listeners.ScopeNetwork,
	}}
	var out bytes.Buffer
	if err := writeListenerTable(&out, infos, true); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, r := range s {
		if r != '\n' && unsafeRune(r) {
			t.Fatalf("table has %U:\n%q", r, s)
		}
	}
	for _, want := range []string{
		`no\x1b]0;de`, `\u{202e}evil\u{202c}.js\x0a`, `/tmp/x\x09y`, `t\u{2067}i`,
		"! 0.0.0.0:4000 (next, pid 8) is reachable from your network",
		"! 198.18.0.1:5000 (pid unknown) is reachable from your network",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "127.0.0.1:3000 (") {
		t.Errorf("a loopback listener is marked as reachable:\n%s", s)
	}
}

func TestReaches(t *testing.T) {
	target := func(s string) routes.Target {
		tg, err := routes.ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	for _, c := range []struct {
		target, addr string
		port         int
		want         bool
	}{
		{"3000", "127.0.0.1", 3000, true},
		{"3000", "::1", 3000, true},
		{"3000", "0.0.0.0", 3000, true},
		{"3000", "::", 3000, true},
		{"3000", "127.0.0.1", 3001, false},
		{"3000", "198.18.0.1", 3000, false},
		{"127.0.0.1:3000", "::1", 3000, false},
		{"127.0.0.1:3000", "0.0.0.0", 3000, true},
		{"[::1]:3000", "0.0.0.0", 3000, false},
		{"[::1]:3000", "::", 3000, true},
		{"127.0.0.2:3000", "127.0.0.2", 3000, true},
		{"127.0.0.2:3000", "127.0.0.1", 3000, false},
		{"localhost:3000", "::1", 3000, true},
		{"https://3000", "127.0.0.1", 3000, true},
		{"unix//run/app.sock", "127.0.0.1", 3000, false},
	} {
		if got := reaches(target(c.target), netip.MustParseAddr(c.addr), c.port); got != c.want {
			t.Errorf("reaches(%s, %s:%d) = %v, want %v", c.target, c.addr, c.port, got, c.want)
		}
	}
}

func TestProposedNameAndTarget(t *testing.T) {
	taken := func(full string) bool { return full == "web.localhost" }
	for _, c := range []struct {
		info      listeners.Info
		name, tgt string
	}{
		{listeners.Info{Project: "shop", Port: 5173, Address: "127.0.0.1", HTTP: true}, "shop", "5173"},
		{listeners.Info{Project: "web", Port: 5174, Address: "::1", HTTP: true}, "web-5174", "5174"},
		{listeners.Info{Process: "My Server.bin", Port: 8000, Address: "0.0.0.0", HTTP: true}, "my-server-bin", "8000"},
		{listeners.Info{Port: 9000, Address: "127.0.0.2", HTTPS: true}, "app", "https://127.0.0.2:9000"},
		{listeners.Info{Project: "api", Port: 8443, Address: "::", HTTPS: true}, "api", "https://8443"},
	} {
		if got := proposedName(c.info, "localhost", taken); got != c.name {
			t.Errorf("proposedName(%+v) = %q, want %q", c.info, got, c.name)
		}
		if got := proposedTarget(c.info); got != c.tgt {
			t.Errorf("proposedTarget(%+v) = %q, want %q", c.info, got, c.tgt)
		}
	}
}

func mustExecutable(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// listenerRowsSize is how many bytes of a dashboard page the rows of
// "Listening without a name" take.
func listenerRowsSize(page string) int {
	n := 0
	for rest := page; ; {
		i := strings.Index(rest, "<tr data-port=")
		if i < 0 {
			return n
		}
		j := strings.Index(rest[i:], "</tr>")
		if j < 0 {
			return n
		}
		n += j + len("</tr>")
		rest = rest[i+j:]
	}
}

func TestDiscoverArguments(t *testing.T) {
	for _, c := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"discover", "extra"}, `discover takes no arguments, got ["extra"]`},
		{[]string{"discover", "--json=maybe"}, `invalid argument "maybe"`},
		{[]string{"discover", "--every"}, "unknown flag: --every"},
	} {
		err := cliExecute(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("localdev %q: error = %v, want it to contain %q", c.args, err, c.wantErr)
		}
	}
}

// TestDiscoverJSONEscapes: --json keeps its meaning for programs while a
// terminal shows bidi overrides and C1 controls as escapes.
func TestDiscoverJSONEscapes(t *testing.T) {
	in := []listeners.Info{{Address: "127.0.0.1", Port: 3000, Scope: listeners.ScopeLoopback,
		Command: "node \u202eevil\u202c.js \x1b[2J \u009b", Title: "a & <b>"}}
	var out bytes.Buffer
	if err := writeListenersJSON(&out, in); err != nil {
		t.Fatal(err)
	}
	for _, r := range out.String() {
		if r != '\n' && unsafeRune(r) {
			t.Fatalf("JSON has %U: %s", r, out.String())
		}
	}
	if !strings.Contains(out.String(), `"title": "a & <b>"`) || !strings.Contains(out.String(), `\u202e`) {
		t.Errorf("JSON: %s", out.String())
	}
	var back []listeners.Info
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back) != 1 || back[0] != in[0] {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
