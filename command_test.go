package localdev

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/spf13/cobra"

	"github.com/localdev/localdev/internal/ports"
	"github.com/localdev/localdev/internal/routes"
)

// cliChildEnv makes the test binary, run as the command of `caddy localdev
// run`, a tiny web app instead of a test run.
const cliChildEnv = "LOCALDEV_TEST_CHILD"

func init() {
	switch os.Getenv(cliChildEnv) {
	case "serve":
		os.Exit(cliServeChild())
	case "run":
		os.Exit(cliRunChild())
	case "count":
		os.Exit(cliCountChild())
	}
}

// cliRunChild is `caddy localdev run sigtest -- <this binary as
// cliCountChild>` against the admin API at $LOCALDEV_TEST_ADMIN.
func cliRunChild() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 2
	}
	fmt.Printf("run: foreground=%v\n", stdinForeground())
	os.Setenv(cliChildEnv, "count")
	code, err := runCommand(context.Background(), os.Getenv("LOCALDEV_TEST_ADMIN"), "sigtest", 0, false, []string{self})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
	}
	return code
}

// cliCountChild prints "ready", then counts the SIGINTs it gets until a
// second after the first, prints "ints=N" and exits with 40 + N.
func cliCountChild() int {
	c := make(chan os.Signal, 16)
	signal.Notify(c, os.Interrupt)
	fmt.Println("ready")
	<-c
	n := 1
	for end := time.After(time.Second); ; {
		select {
		case <-c:
			n++
		case <-end:
			fmt.Printf("ints=%d\n", n)
			return 40 + n
		}
	}
}

// cliServeChild serves on $HOST:$PORT: "/" answers with its pid and port,
// "/exit?code=N" ends the process with status N.
func cliServeChild() int {
	addr := net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT"))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "child pid=%d port=%s host=%s", os.Getpid(), os.Getenv("PORT"), r.Host)
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Fprintln(w, "bye")
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(code)
		}()
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
	return 3
}

func cliNeedSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX sh to run child processes:", err)
	}
}

func TestExitCode(t *testing.T) {
	cliNeedSh(t)
	for _, c := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"exit 255", 255},
		{"kill -INT $$", 130},
		{"kill -TERM $$", 143},
		{"kill -KILL $$", 137},
	} {
		cmd := exec.Command("sh", "-c", c.script)
		_ = cmd.Run()
		if cmd.ProcessState == nil {
			t.Fatalf("%q did not run", c.script)
		}
		if got := exitCode(cmd.ProcessState); got != c.want {
			t.Errorf("exitCode after %q = %d, want %d", c.script, got, c.want)
		}
	}
}

// cliStartTrap runs script under runChild once it prints "ready", and
// returns the channel to send signals on and the result.
func cliStartTrap(t *testing.T, ctx context.Context, script string) (chan<- os.Signal, <-chan [2]any) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	result := make(chan [2]any, 1)
	go func() {
		code, err := runChild(ctx, cmd, sigs, nil)
		result <- [2]any{code, err}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child did not get ready: %q, %v", line, err)
	}
	return sigs, result
}

func cliWaitResult(t *testing.T, result <-chan [2]any) (int, error) {
	t.Helper()
	select {
	case r := <-result:
		err, _ := r[1].(error)
		return r[0].(int), err
	case <-time.After(20 * time.Second):
		t.Fatal("the child did not end")
		return 0, nil
	}
}

const cliTrapLoop = `; echo ready; while :; do sleep 0.05; done`

func TestRunChildForwardsSignals(t *testing.T) {
	cliNeedSh(t)
	for _, c := range []struct {
		name string
		sig  os.Signal
		trap string
		want int
	}{
		{"SIGINT", os.Interrupt, `trap "exit 42" INT`, 42},
		{"SIGTERM", syscall.SIGTERM, `trap "exit 43" TERM`, 43},
		{"SIGHUP", syscall.SIGHUP, `trap "exit 44" HUP`, 44},
		{"SIGTERM untrapped", syscall.SIGTERM, `true`, 128 + 15},
	} {
		t.Run(c.name, func(t *testing.T) {
			sigs, result := cliStartTrap(t, context.Background(), c.trap+cliTrapLoop)
			sigs <- c.sig
			code, err := cliWaitResult(t, result)
			if err != nil || code != c.want {
				t.Errorf("runChild = %d, %v; want %d", code, err, c.want)
			}
		})
	}
}

func TestRunChildCancelSendsSIGTERM(t *testing.T) {
	cliNeedSh(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, result := cliStartTrap(t, ctx, `trap "exit 43" TERM`+cliTrapLoop)
	cancel()
	if code, err := cliWaitResult(t, result); err != nil || code != 43 {
		t.Errorf("runChild = %d, %v; want 43 from the TERM trap", code, err)
	}
}

func TestRunChildExitStatus(t *testing.T) {
	cliNeedSh(t)
	for script, want := range map[string]int{"exit 0": 0, "exit 1": 1, "exit 3": 3, "kill -KILL $$": 137} {
		code, err := runChild(context.Background(), exec.Command("sh", "-c", script), nil, nil)
		if err != nil || code != want {
			t.Errorf("runChild(%q) = %d, %v; want %d", script, code, err, want)
		}
	}
}

func TestRunChildNotFound(t *testing.T) {
	code, err := runChild(context.Background(), exec.Command("localdev-no-such-command-xyz"), nil, nil)
	if code != 127 || err == nil {
		t.Errorf("runChild(missing) = %d, %v; want 127 and an error", code, err)
	}
}

func TestParseRunArgs(t *testing.T) {
	for _, c := range []struct {
		args    []string
		dash    int
		name    string
		argv    []string
		wantErr string
	}{
		{[]string{"app", "npm", "run", "dev"}, 1, "app", []string{"npm", "run", "dev"}, ""},
		{[]string{"app", "vite", "--port", "1"}, 1, "app", []string{"vite", "--port", "1"}, ""},
		{[]string{"app", "npm"}, -1, "", nil, "put -- before the command"},
		{nil, -1, "", nil, "needs a name and a command"},
		{[]string{"npm"}, 0, "", nil, "needs a name before --"},
		{[]string{"a", "b", "npm"}, 2, "", nil, "one name before --"},
		{[]string{"app"}, 1, "", nil, "needs a command after --"},
	} {
		name, argv, err := parseRunArgs(c.args, c.dash)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("parseRunArgs(%q, %d) error = %v, want %q", c.args, c.dash, err, c.wantErr)
			}
			continue
		}
		if err != nil || name != c.name || strings.Join(argv, " ") != strings.Join(c.argv, " ") {
			t.Errorf("parseRunArgs(%q, %d) = %q, %q, %v", c.args, c.dash, name, argv, err)
		}
	}
}

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
		{[]string{"nonsense"}, "unknown command"},
		{[]string{"list", "extra", "--address", closed}, "list takes no arguments"},
		{[]string{"add", "app", "--address", closed}, "add needs a name and a target"},
		{[]string{"add", "app", "1", "2", "--address", closed}, "add needs a name and a target"},
		{[]string{"rm", "--address", closed}, "rm needs exactly one name"},
		{[]string{"port"}, "port needs exactly one name"},
		{[]string{"port", "github.com"}, "outside the domain"},
		{[]string{"run", "app", "true", "--address", closed}, "put -- before the command"},
		{[]string{"run", "--address", closed, "--", "true"}, "needs a name before --"},
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

	// run fails before its command starts.
	cliNeedSh(t)
	marker := filepath.Join(t.TempDir(), "started")
	code, err := runCommand(context.Background(), addr, "app", 0, false, []string{"sh", "-c", "touch " + marker})
	if code != 1 || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run = %d, %v; want 1 and %q", code, err, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("run started its command although it could not add the route")
	}
	if code, err := runCommand(context.Background(), addr, "app", 0, false, []string{"localdev-no-such-command-xyz"}); code != 127 || err == nil {
		t.Errorf("run of a missing command = %d, %v; want 127 and an error", code, err)
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

func TestRunResultExitStatus(t *testing.T) {
	c := &cobra.Command{}
	if err := runResult(c, nil, 0, nil); err != nil {
		t.Errorf("status 0: %v", err)
	}
	if err := runResult(c, nil, 1, nil); err == nil || !c.SilenceErrors {
		t.Errorf("status 1: %v (silenced %v); want an error so that caddycmd.Main exits 1", err, c.SilenceErrors)
	}
	c = &cobra.Command{}
	err := runResult(c, nil, 130, nil)
	if err == nil || !strings.Contains(err.Error(), "status 130") || !c.SilenceErrors {
		t.Errorf("status 130: %v (silenced %v); want caddycmd's exit error", err, c.SilenceErrors)
	}
	c = &cobra.Command{}
	if err := runResult(c, nil, 1, errors.New("boom")); err == nil || err.Error() != "boom" {
		t.Errorf("failure of run itself: %v", err)
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

// cliSelf is this test binary (os.Args[0] does not do: caddytest sets it).
func cliSelf(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// cliRun starts `caddy localdev run web` with the test binary as the app.
func cliRun(t *testing.T, port int, replace bool) <-chan [2]any {
	self := cliSelf(t)
	result := make(chan [2]any, 1)
	go func() {
		code, err := runCommand(context.Background(), cliAdminAddr(), "web", port, replace, []string{self})
		result <- [2]any{code, err}
	}()
	return result
}

// cliChildServes waits until web.localhost answers from a child and
// returns its pid and port.
func cliChildServes(t *testing.T, run <-chan [2]any, notPid int) (pid, port int) {
	t.Helper()
	cliWaitFor(t, "web.localhost to reach the run child", func() error {
		select {
		case r := <-run:
			t.Fatalf("run ended early: %d, %v", r[0], r[1])
		default:
		}
		status, body, err := cliGet("web.localhost", "/")
		if err != nil {
			return err
		}
		if status != http.StatusOK || !strings.HasPrefix(body, "child ") {
			return fmt.Errorf("%d %q", status, body)
		}
		if _, err := fmt.Sscanf(body, "child pid=%d port=%d", &pid, &port); err != nil {
			return err
		}
		if pid == notPid {
			return fmt.Errorf("still the old child %d", pid)
		}
		return nil
	})
	if !strings.Contains(mustGetBody(t, "web.localhost", "/"), "host=web.localhost") {
		t.Error("the app did not see Host web.localhost")
	}
	return pid, port
}

func mustGetBody(t *testing.T, host, path string) string {
	t.Helper()
	_, body, err := cliGet(host, path)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func cliRouteGone(t *testing.T, name string) {
	t.Helper()
	if r, ok := cliRoutes(t)[name]; ok {
		t.Errorf("route %s still listed after its run ended: %+v", name, r)
	}
	if status, body, err := cliGet(name, "/"); err != nil || strings.HasPrefix(body, "child ") {
		t.Errorf("%s still reaches a child: %d %q %v", name, status, body, err)
	}
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
	t.Setenv(cliChildEnv, "serve") // for the run children only: init already ran here

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

	t.Run("run until the app exits", func(t *testing.T) {
		result := cliRun(t, 0, false)
		pid, port := cliChildServes(t, result, 0)
		if r := cliRoutes(t)["web.localhost"]; string(r.Target) != strconv.Itoa(port) || r.Source != "api" {
			t.Errorf("listed %+v, want target %d from the api", r, port)
		}

		// A second run of the same name is refused and never starts.
		code, err := runCommand(context.Background(), cliAdminAddr(), "web", 0, false, []string{cliSelf(t)})
		if code != 1 || adminStatus(err) != http.StatusConflict || !strings.Contains(err.Error(), "--replace") {
			t.Errorf("second run = %d, %v; want 1 with 409 and a --replace hint", code, err)
		}
		if p, _ := cliChildServes(t, result, 0); p != pid {
			t.Errorf("web.localhost moved to pid %d", p)
		}

		_, _, _ = cliGet("web.localhost", "/exit?code=5")
		if code, err := cliWaitResult(t, result); code != 5 || err != nil {
			t.Errorf("run = %d, %v; want the app's 5", code, err)
		}
		cliRouteGone(t, "web.localhost")
	})

	t.Run("run when the app is killed", func(t *testing.T) {
		result := cliRun(t, 0, false)
		pid, _ := cliChildServes(t, result, 0)
		proc, err := os.FindProcess(pid)
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.Kill(); err != nil {
			t.Fatal(err)
		}
		if code, err := cliWaitResult(t, result); code != 128+9 || err != nil {
			t.Errorf("run = %d, %v; want 137 after SIGKILL", code, err)
		}
		cliRouteGone(t, "web.localhost")
	})

	t.Run("replace", func(t *testing.T) {
		first := cliRun(t, 0, false)
		pid1, port1 := cliChildServes(t, first, 0)
		second := cliRun(t, 0, true)
		pid2, port2 := cliChildServes(t, second, pid1)
		if port1 == port2 {
			t.Fatalf("both runs got port %d", port1)
		}
		// The first run ends; its conditional delete must leave the
		// second's route alone.
		proc, _ := os.FindProcess(pid1)
		_ = proc.Kill()
		if code, err := cliWaitResult(t, first); code != 137 || err != nil {
			t.Errorf("first run = %d, %v", code, err)
		}
		if p, _ := cliChildServes(t, second, 0); p != pid2 {
			t.Errorf("web.localhost answered from pid %d after the first run ended, want %d", p, pid2)
		}
		if r := cliRoutes(t)["web.localhost"]; string(r.Target) != strconv.Itoa(port2) {
			t.Errorf("route points at %q, want %d", r.Target, port2)
		}
		_, _, _ = cliGet("web.localhost", "/exit?code=0")
		if code, err := cliWaitResult(t, second); code != 0 || err != nil {
			t.Errorf("second run = %d, %v", code, err)
		}
		cliRouteGone(t, "web.localhost")
	})

	t.Run("explicit port", func(t *testing.T) {
		port := cliClosedAddr(t)
		_, p, _ := net.SplitHostPort(port)
		n, _ := strconv.Atoi(p)
		result := cliRun(t, n, false)
		if _, got := cliChildServes(t, result, 0); got != n {
			t.Errorf("child on port %d, want --port %d", got, n)
		}
		_, _, _ = cliGet("web.localhost", "/exit?code=1")
		if code, err := cliWaitResult(t, result); code != 1 || err != nil {
			t.Errorf("run = %d, %v; want 1", code, err)
		}
		cliRouteGone(t, "web.localhost")
	})
}

// ---------------------------------------------------------------------
// Signals: no second SIGINT from a terminal, no window before the route.
// ---------------------------------------------------------------------

func TestForwardSignal(t *testing.T) {
	for _, c := range []struct {
		sig        os.Signal
		foreground bool
		want       bool
	}{
		{os.Interrupt, false, true},
		{syscall.SIGTERM, false, true},
		{syscall.SIGHUP, false, true},
		{syscall.SIGQUIT, false, true},
		{os.Interrupt, true, false},
		{syscall.SIGQUIT, true, false},
		{syscall.SIGHUP, true, false},
		{syscall.SIGTERM, true, true},
	} {
		if got := forwardSignal(c.sig, c.foreground); got != c.want {
			t.Errorf("forwardSignal(%v, foreground %v) = %v, want %v", c.sig, c.foreground, got, c.want)
		}
	}
}

// TestSignalNotATerminalForwards: stdin that is a pipe, a file or
// /dev/null is not a terminal's foreground, so SIGINT is passed on.
func TestSignalNotATerminalForwards(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, f := range []*os.File{r, w, null} {
		fg := terminalForeground(int(f.Fd()))
		if fg {
			t.Errorf("terminalForeground(%s) = true", f.Name())
		}
		if !forwardSignal(os.Interrupt, fg) {
			t.Errorf("SIGINT not forwarded with stdin %s", f.Name())
		}
	}
	if !forwardSignal(syscall.SIGTERM, true) {
		t.Error("SIGTERM not forwarded in the foreground")
	}
}

// cliSignalNeeds skips where signals cannot be sent to a process.
func cliSignalNeeds(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs POSIX signals")
	}
}

// cliOwnProcessEnv names the test that a test binary runs alone.
const cliOwnProcessEnv = "LOCALDEV_TEST_OWN_PROCESS"

// cliInOwnProcess runs the calling top-level test alone in a new test
// process and reports its result, for tests that send this process
// SIGINT: Caddy, once another test has started it, traps SIGINT and exits.
// It returns true in that new process, where the test is to run.
func cliInOwnProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(cliOwnProcessEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(cliSelf(t), "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), cliOwnProcessEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Errorf("%s in its own process: %v\n%s", t.Name(), err, out)
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name())):
		t.Skipf("skipped in its own process:\n%s", out)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Errorf("%s did not pass in its own process:\n%s", t.Name(), out)
	default:
		t.Logf("passed in its own process:\n%s", out)
	}
	return false
}

// cliFakeAdmin is an admin API that accepts every PUT and DELETE of a
// route, calls onPut during a PUT, and records the requests.
type cliFakeAdmin struct {
	mu    sync.Mutex
	reqs  []string
	onPut func()
}

func (a *cliFakeAdmin) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.reqs = append(a.reqs, r.Method+" "+r.URL.RequestURI())
		onPut := a.onPut
		a.mu.Unlock()
		if r.Method == http.MethodPut && onPut != nil {
			onPut()
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"sigtest.localhost","url":"https://sigtest.localhost","target":"1","source":"api","up":false}`)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func (a *cliFakeAdmin) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.reqs...)
}

// wantAddRemove checks that the route was added and then removed, only
// while it pointed at the added port.
func (a *cliFakeAdmin) wantAddRemove(t *testing.T) {
	t.Helper()
	reqs := a.requests()
	if len(reqs) != 2 || !strings.HasPrefix(reqs[0], "PUT /localdev/routes/sigtest.localhost") ||
		!strings.HasPrefix(reqs[1], "DELETE /localdev/routes/sigtest.localhost?target=") {
		t.Errorf("admin API requests %q, want the PUT and a conditional DELETE of sigtest.localhost", reqs)
	}
}

// cliSelfInterrupt sends this process n SIGINTs, each once the test's
// own handler has it, so that runCommand's channel has it too.
func cliSelfInterrupt(t *testing.T, n int, spacing time.Duration) {
	seen := make(chan os.Signal, n)
	signal.Notify(seen, os.Interrupt)
	defer signal.Stop(seen)
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Error(err)
		return
	}
	for i := 0; i < n; i++ {
		if err := self.Signal(os.Interrupt); err != nil {
			t.Error(err)
			return
		}
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			t.Error("the SIGINT did not arrive")
			return
		}
		// os/signal hands a signal to every channel in one go; give it
		// time to reach runCommand's too.
		time.Sleep(spacing)
	}
}

// TestRunSignalBeforeChildStarts: a SIGINT between adding the route and
// starting the child removes the route, exits 130 and never starts it.
func TestRunSignalBeforeChildStarts(t *testing.T) {
	cliSignalNeeds(t)
	cliNeedSh(t)
	if !cliInOwnProcess(t) {
		return
	}
	for _, when := range []string{"after the route is added", "while the route is added"} {
		t.Run(when, func(t *testing.T) {
			admin := &cliFakeAdmin{}
			addr := admin.start(t)
			if when == "after the route is added" {
				runRouteAdded = func() { cliSelfInterrupt(t, 1, 100*time.Millisecond) }
				defer func() { runRouteAdded = nil }()
			} else {
				admin.onPut = func() { cliSelfInterrupt(t, 1, 100*time.Millisecond) }
			}
			marker := filepath.Join(t.TempDir(), "started")
			code, err := runCommand(context.Background(), addr, "sigtest", 0, false, []string{"sh", "-c", "touch " + marker})
			if code != 130 || err != nil {
				t.Errorf("run = %d, %v; want 130 and no error", code, err)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("the child started after the SIGINT")
			}
			admin.wantAddRemove(t)
		})
	}
}

// TestRunSignalTwiceWhileAdding: a second SIGINT while the admin API does
// not answer gives up, with 130 and an error that says how to clean up.
func TestRunSignalTwiceWhileAdding(t *testing.T) {
	cliSignalNeeds(t)
	cliNeedSh(t)
	if !cliInOwnProcess(t) {
		return
	}
	release := make(chan struct{})
	defer close(release)
	admin := &cliFakeAdmin{onPut: func() {
		cliSelfInterrupt(t, 2, 100*time.Millisecond)
		<-release
	}}
	addr := admin.start(t)
	marker := filepath.Join(t.TempDir(), "started")
	code, err := runCommand(context.Background(), addr, "sigtest", 0, false, []string{"sh", "-c", "touch " + marker})
	if code != 130 || err == nil || !strings.Contains(err.Error(), "caddy localdev rm sigtest.localhost") {
		t.Errorf("run = %d, %v; want 130 and an error with the rm command", code, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the child started")
	}
}

// cliStartRunChild starts this test binary as cliRunChild, as the command
// of a script(1) pty when script is true, and waits for the counting
// child's "ready". It returns the process and its output so far.
func cliStartRunChild(t *testing.T, addr string, pty bool) (*exec.Cmd, io.WriteCloser, *bufio.Reader, string) {
	t.Helper()
	self := cliSelf(t)
	var cmd *exec.Cmd
	if pty {
		cmd = exec.Command("script", "-q", "-e", "-c", "exec "+self, os.DevNull)
	} else {
		cmd = exec.Command(self)
	}
	cmd.Env = append(os.Environ(), cliChildEnv+"=run", "LOCALDEV_TEST_ADMIN="+addr, "SHELL=/bin/sh")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if !pty {
		cmd.Stderr = cmd.Stdout
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rd := bufio.NewReader(out)
	var seen strings.Builder
	lines := make(chan error, 1)
	go func() {
		for {
			line, err := rd.ReadString('\n')
			seen.WriteString(line)
			if err != nil || strings.TrimSpace(line) == "ready" {
				lines <- err
				return
			}
		}
	}()
	select {
	case err := <-lines:
		if err != nil {
			t.Fatalf("the child did not get ready: %v\n%s", err, seen.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-lines
		t.Fatalf("the child did not get ready:\n%s", seen.String())
	}
	return cmd, in, rd, seen.String()
}

// cliRunChildEnd waits for the run process and returns its status and the
// rest of its output.
func cliRunChildEnd(t *testing.T, cmd *exec.Cmd, rd *bufio.Reader) (int, string) {
	t.Helper()
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(rd)
		rest <- string(b)
	}()
	select {
	case out := <-rest:
		_ = cmd.Wait()
		return cmd.ProcessState.ExitCode(), out
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("run did not end; output:\n%s", <-rest)
		return 0, ""
	}
}

// TestRunSignalFromTerminalOnce runs `run` as the foreground of a real
// pseudo-terminal (script(1)) and types Ctrl-C: the child must get one
// SIGINT, the terminal's, not a second one from run.
func TestRunSignalFromTerminalOnce(t *testing.T) {
	cliSignalNeeds(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) from util-linux for a pseudo-terminal:", err)
	}
	admin := &cliFakeAdmin{}
	cmd, in, rd, before := cliStartRunChild(t, admin.start(t), true)
	if !strings.Contains(before, "run: foreground=true") {
		t.Skipf("run is not the foreground of script's terminal here:\n%s", before)
	}
	if _, err := in.Write([]byte{0x03}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	code, out := cliRunChildEnd(t, cmd, rd)
	if code != 41 || !strings.Contains(out, "ints=1") {
		t.Errorf("run = %d, want 41: the child got one SIGINT; output:\n%s%s", code, before, out)
	}
	admin.wantAddRemove(t)
}

// TestRunSignalNotFromTerminalForwarded: with stdin a pipe (CI), a SIGINT
// to run's pid alone reaches the child through run.
func TestRunSignalNotFromTerminalForwarded(t *testing.T) {
	cliSignalNeeds(t)
	admin := &cliFakeAdmin{}
	cmd, _, rd, before := cliStartRunChild(t, admin.start(t), false)
	if !strings.Contains(before, "run: foreground=false") {
		t.Errorf("run thinks a pipe is its terminal:\n%s", before)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code, out := cliRunChildEnd(t, cmd, rd)
	if code != 41 || !strings.Contains(out, "ints=1") {
		t.Errorf("run = %d, want 41: the child got the SIGINT once; output:\n%s%s", code, before, out)
	}
	admin.wantAddRemove(t)
}
