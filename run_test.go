//go:build linux

package localdev

// The run tests need POSIX processes, signals and terminals, /proc, and
// the network-namespace helpers of peers_test.go (Linux only).

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// cliChildEnv makes the test binary, run as the command of `caddy localdev
// run`, a tiny web app instead of a test run.
const cliChildEnv = "LOCALDEV_TEST_CHILD"

// cliArgvEnv holds, as a JSON array, the command that the "run" child runs.
const cliArgvEnv = "LOCALDEV_TEST_ARGV"

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

// cliRunChild is `caddy localdev run sigtest -- <command>` against the
// admin API at $LOCALDEV_TEST_ADMIN: the command in $LOCALDEV_TEST_ARGV,
// or this binary as cliCountChild.
func cliRunChild() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 2
	}
	fmt.Printf("run: foreground=%v\n", stdinForeground())
	argv := []string{self}
	if s := os.Getenv(cliArgvEnv); s != "" {
		if err := json.Unmarshal([]byte(s), &argv); err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			return 2
		}
	}
	os.Setenv(cliChildEnv, "count")
	code, err := runCommand(context.Background(), os.Getenv("LOCALDEV_TEST_ADMIN"), runOptions{Name: "sigtest", Argv: argv})
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

// cliServeChild serves on $HOST:$PORT, and on $LOCALDEV_TEST_ALSO:$PORT
// if set: "/" answers with its pid and port, "/exit?code=N" ends the
// process with status N.
func cliServeChild() int {
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
	if also := os.Getenv("LOCALDEV_TEST_ALSO"); also != "" {
		ln, err := net.Listen("tcp", net.JoinHostPort(also, os.Getenv("PORT")))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		go func() { _ = srv.Serve(ln) }()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	_ = srv.Serve(ln)
	return 3
}

func cliNeedSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX sh to run child processes:", err)
	}
}

// cliNeed skips without the program, except in CI, which must install it.
func cliNeed(t *testing.T, program, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must install %s (%s): %v", program, pkg, err)
		}
		t.Skipf("needs %s (%s): %v", program, pkg, err)
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
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	cmd.Stdout = w
	sigs := make(chan os.Signal, 1)
	result := make(chan [2]any, 1)
	go func() {
		code, err := runChild(ctx, cmd, sigs)
		result <- [2]any{code, err}
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
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
	case <-time.After(30 * time.Second):
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

// TestRunChildKillsAfterStopSignal: a command that ignores the SIGINT
// passed on to it is killed killGrace later.
func TestRunChildKillsAfterStopSignal(t *testing.T) {
	cliNeedSh(t)
	sigs, result := cliStartTrap(t, context.Background(), `trap "" INT`+cliTrapLoop)
	sigs <- os.Interrupt
	if code, err := cliWaitResult(t, result); err != nil || code != 128+9 {
		t.Errorf("runChild = %d, %v; want 137 from SIGKILL", code, err)
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
	for script, want := range map[string]int{"exit 0": 0, "exit 1": 1, "exit 3": 3, "kill -KILL $$": 137, "no-such-command-xyz": 127} {
		code, err := runChild(context.Background(), exec.Command("sh", "-c", script), nil)
		if err != nil || code != want {
			t.Errorf("runChild(%q) = %d, %v; want %d", script, code, err, want)
		}
	}
}

func TestRunChildNotFound(t *testing.T) {
	code, err := runChild(context.Background(), exec.Command("localdev-no-such-command-xyz"), nil)
	if code != 127 || err == nil {
		t.Errorf("runChild(missing) = %d, %v; want 127 and an error", code, err)
	}
}

// TestRunChildSignalWaiting: a signal that came between adding the route
// and starting the command (it waits on the channel) means the command
// never starts.
func TestRunChildSignalWaiting(t *testing.T) {
	cliNeedSh(t)
	marker := filepath.Join(t.TempDir(), "started")
	sigs := make(chan os.Signal, 1)
	sigs <- os.Interrupt
	code, err := runChild(context.Background(), exec.Command("sh", "-c", "touch "+marker), sigs)
	if code != 130 || err != nil {
		t.Errorf("runChild = %d, %v; want 130", code, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command started after the signal")
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
		{[]string{"npm", "run", "dev"}, 0, "", []string{"npm", "run", "dev"}, ""},
		{[]string{"app", "npm"}, -1, "", nil, "put -- before the command"},
		{nil, -1, "", nil, "run needs a command"},
		{[]string{"a", "b", "npm"}, 2, "", nil, "at most one name before --"},
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

func TestCLIResultExitStatus(t *testing.T) {
	var out bytes.Buffer
	c := &cobra.Command{}
	c.SetErr(&out)
	if err := cliResult(c, nil, 0, nil); err != nil {
		t.Errorf("status 0: %v", err)
	}
	if err := cliResult(c, nil, 1, nil); err == nil || !c.SilenceErrors {
		t.Errorf("status 1: %v (silenced %v); want an error so that caddycmd.Main exits 1", err, c.SilenceErrors)
	}
	c = &cobra.Command{}
	c.SetErr(&out)
	err := cliResult(c, nil, 130, nil)
	if err == nil || !strings.Contains(err.Error(), "status 130") || !c.SilenceErrors {
		t.Errorf("status 130: %v (silenced %v); want caddycmd's exit error", err, c.SilenceErrors)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q for a command's own status", out.String())
	}
	c = &cobra.Command{}
	c.SetErr(&out)
	if err := cliResult(c, nil, 1, errors.New("localdev: boom\x1b[2J\u202e")); err == nil || !c.SilenceErrors {
		t.Errorf("failure of run itself: %v", err)
	}
	if got := out.String(); got != "localdev: boom\\x1b[2J\\u{202e}\n" {
		t.Errorf("printed %q, want one plain escaped line", got)
	}
	out.Reset()
	c = &cobra.Command{}
	c.SetErr(&out)
	if err := cliResult(c, nil, 127, errors.New("localdev: cannot run x")); err == nil || !strings.Contains(err.Error(), "status 127") {
		t.Errorf("status 127: %v", err)
	}
	if out.String() != "localdev: cannot run x\n" {
		t.Errorf("printed %q", out.String())
	}
}

func TestCLIEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain https://app.localhost": "plain https://app.localhost",
		"a\nb\tc\r":                   `a\x0ab\x09c\x0d`,
		"\x1b]0;title\x07":            `\x1b]0;title\x07`,
		"x\u202ey\u2066z":             `x\u{202e}y\u{2066}z`,
		"\u0085":                      `\u{0085}`,
		"bad \xff":                    `bad \xff`,
		"héllo ✓":                     "héllo ✓",
	} {
		if got := terminalSafe(in); got != want {
			t.Errorf("terminalSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunEnv(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root.crt")
	base := []string{"PATH=/bin", "HOME=/h"}
	find := func(env []string, key string) (string, bool) {
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); k == key {
				return v, true
			}
		}
		return "", false
	}
	t.Setenv("NODE_EXTRA_CA_CERTS", "")
	os.Unsetenv("NODE_EXTRA_CA_CERTS")
	env := runEnv(base, 51234, "web.localhost", "https://web.localhost", root)
	for k, want := range map[string]string{"PORT": "51234", "HOST": "127.0.0.1", "LOCALDEV_NAME": "web.localhost", "LOCALDEV_URL": "https://web.localhost", "PATH": "/bin"} {
		if v, _ := find(env, k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if v, ok := find(env, "NODE_EXTRA_CA_CERTS"); ok {
		t.Errorf("NODE_EXTRA_CA_CERTS = %q although %s does not exist", v, root)
	}
	if err := os.WriteFile(root, []byte("cert"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, _ := find(runEnv(base, 1, "a", "b", root), "NODE_EXTRA_CA_CERTS"); v != root {
		t.Errorf("NODE_EXTRA_CA_CERTS = %q, want %s", v, root)
	}
	if v, _ := find(runEnv(append(base, "NODE_EXTRA_CA_CERTS=/mine"), 1, "a", "b", root), "NODE_EXTRA_CA_CERTS"); v != "/mine" {
		t.Errorf("NODE_EXTRA_CA_CERTS = %q, want the user's /mine kept", v)
	}
}

// ---------------------------------------------------------------------
// End to end against a real Caddy in this process, with the localdev
// admin API (admin.go).
// ---------------------------------------------------------------------

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
	dir := t.TempDir() // not this repository, which may be a git worktree
	result := make(chan [2]any, 1)
	go func() {
		code, err := runCommand(context.Background(), cliAdminAddr(), runOptions{Name: "web", Port: port, Replace: replace, Argv: []string{self}, Dir: dir})
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

// cliRunIn runs `caddy localdev run [name] -- argv` in dir against the
// test Caddy and returns its status, error and own output.
func cliRunIn(dir, name string, argv ...string) (int, string, error) {
	var out bytes.Buffer
	code, err := runCommand(context.Background(), cliAdminAddr(), runOptions{Name: name, Argv: argv, Dir: dir, Out: &out})
	return code, out.String(), err
}

// cliGit runs git in dir with a configuration of its own.
func cliGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %q: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// cliEnvFile reads a file of KEY=value lines that a command wrote.
func cliEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestRunAgainstCaddy runs `caddy localdev run` in process against a real
// Caddy (caddytest) with the localdev admin API.
func TestRunAgainstCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	cliNeedSh(t)
	startCaddy(t, cliCaddyfile())

	t.Run("run until the app exits", func(t *testing.T) {
		t.Setenv(cliChildEnv, "serve")
		result := cliRun(t, 0, false)
		pid, port := cliChildServes(t, result, 0)
		if r := cliRoutes(t)["web.localhost"]; string(r.Target) != strconv.Itoa(port) || r.Source != "api" {
			t.Errorf("listed %+v, want target %d from the api", r, port)
		}

		// A second run of the same name is refused and never starts.
		code, err := runCommand(context.Background(), cliAdminAddr(), runOptions{Name: "web", Argv: []string{cliSelf(t)}, Dir: t.TempDir()})
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
		t.Setenv(cliChildEnv, "serve")
		result := cliRun(t, 0, false)
		pid, _ := cliChildServes(t, result, 0)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code, err := cliWaitResult(t, result); code != 128+9 || err != nil {
			t.Errorf("run = %d, %v; want 137 after SIGKILL", code, err)
		}
		cliRouteGone(t, "web.localhost")
	})

	t.Run("replace", func(t *testing.T) {
		t.Setenv(cliChildEnv, "serve")
		first := cliRun(t, 0, false)
		pid1, port1 := cliChildServes(t, first, 0)
		second := cliRun(t, 0, true)
		pid2, port2 := cliChildServes(t, second, pid1)
		if port1 == port2 {
			t.Fatalf("both runs got port %d", port1)
		}
		// The first run ends; its conditional delete must leave the
		// second's route alone.
		_ = syscall.Kill(pid1, syscall.SIGKILL)
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

	t.Run("replace on the same port keeps the newer route", func(t *testing.T) {
		// Neither command listens: the route's target is the same port
		// for both, so only the owner token tells the two runs apart.
		dir := t.TempDir()
		port := freePort(t)
		start := func(replace bool, stop string) <-chan [2]any {
			result := make(chan [2]any, 1)
			go func() {
				code, err := runCommand(context.Background(), cliAdminAddr(), runOptions{
					Name: "same", Port: port, Replace: replace, Dir: dir, Out: io.Discard,
					Argv: []string{"sh", "-c", "touch " + stop + ".started; while [ ! -e " + stop + " ]; do sleep 0.02; done"},
				})
				result <- [2]any{code, err}
			}()
			return result
		}
		routed := func(what string) {
			cliWaitFor(t, what, func() error {
				if r, ok := cliRoutes(t)["same.localhost"]; !ok || string(r.Target) != strconv.Itoa(port) {
					return fmt.Errorf("route %+v", r)
				}
				return nil
			})
		}
		first := start(false, "first")
		routed("the first run's route")
		second := start(true, "second")
		// The second run has replaced the route once its command runs.
		cliWaitFor(t, "the second run's command", func() error {
			_, err := os.Stat(filepath.Join(dir, "second.started"))
			return err
		})
		if err := os.WriteFile(filepath.Join(dir, "first"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if code, err := cliWaitResult(t, first); code != 0 || err != nil {
			t.Errorf("first run = %d, %v", code, err)
		}
		routed("the second run's route after the first run ended")
		if err := os.WriteFile(filepath.Join(dir, "second"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if code, err := cliWaitResult(t, second); code != 0 || err != nil {
			t.Errorf("second run = %d, %v", code, err)
		}
		cliRouteGone(t, "same.localhost")
	})

	t.Run("explicit port", func(t *testing.T) {
		t.Setenv(cliChildEnv, "serve")
		n := freePort(t)
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

	t.Run("command not found", func(t *testing.T) {
		dir := t.TempDir()
		code, _, err := cliRunIn(dir, "missing", "localdev-no-such-command-xyz")
		if code != 127 || err == nil || !strings.Contains(err.Error(), "localdev-no-such-command-xyz") {
			t.Errorf("run = %d, %v; want 127 and an error naming the command", code, err)
		}
		cliRouteGone(t, "missing.localhost")
		// Not found by the shell of a script: the shell's 127.
		code, _, err = cliRunIn(dir, "missing", "sh", "-c", "localdev-no-such-command-xyz")
		if code != 127 || err != nil {
			t.Errorf("run = %d, %v; want 127", code, err)
		}
		cliRouteGone(t, "missing.localhost")
	})

	t.Run("inferred name and environment", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "proj")
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		env := filepath.Join(dir, "env")
		code, out, err := cliRunIn(filepath.Join(dir, "sub"), "", "sh", "-c", "env > "+env)
		if code != 0 || err != nil {
			t.Fatalf("run = %d, %v\n%s", code, err, out)
		}
		// Outside git: the current folder's name.
		got := cliEnvFile(t, env)
		if got["LOCALDEV_NAME"] != "sub.localhost" || !strings.Contains(out, "name sub, from the current folder") {
			t.Errorf("LOCALDEV_NAME %q; output:\n%s", got["LOCALDEV_NAME"], out)
		}
		if err := os.WriteFile(filepath.Join(dir, "sub", "package.json"), []byte(`{"name": "@acme/Web_App"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, err = cliRunIn(filepath.Join(dir, "sub"), "", "sh", "-c", "env > "+env)
		if code != 0 || err != nil {
			t.Fatalf("run = %d, %v\n%s", code, err, out)
		}
		got = cliEnvFile(t, env)
		port := got["PORT"]
		if got["LOCALDEV_NAME"] != "web-app.localhost" || !strings.Contains(got["LOCALDEV_URL"], "://web-app.localhost") ||
			got["HOST"] != "127.0.0.1" || port == "" || !strings.Contains(out, "name web-app, from the package.json name") ||
			!strings.Contains(out, ":"+port+" (PORT="+port+")") {
			t.Errorf("environment %v; output:\n%s", got, out)
		}
		cliRouteGone(t, "web-app.localhost")

		// A package.json that is not JSON: an error naming it, no route.
		if err := os.WriteFile(filepath.Join(dir, "sub", "package.json"), []byte(`{"name": `), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, err = cliRunIn(filepath.Join(dir, "sub"), "", "sh", "-c", "exit 0")
		if code != 1 || err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "sub", "package.json")) {
			t.Errorf("run with a broken package.json = %d, %v", code, err)
		}
	})

	t.Run("git worktree", func(t *testing.T) {
		cliNeed(t, "git", "git")
		root := filepath.Join(t.TempDir(), "shop")
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		cliGit(t, root, "init", "-q", "-b", "main")
		if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/acme/shop/v2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cliGit(t, root, "add", ".")
		cliGit(t, root, "commit", "-q", "-m", "first")
		linked := filepath.Join(filepath.Dir(root), "shop-fix")
		cliGit(t, root, "worktree", "add", "-q", "-b", "fix/UI", linked)
		env := filepath.Join(t.TempDir(), "env")
		for _, c := range []struct{ dir, name, want string }{
			{root, "", "shop.localhost"},
			{linked, "", "fix-ui.shop.localhost"},
			{linked, "admin", "fix-ui.admin.localhost"},
		} {
			code, out, err := cliRunIn(c.dir, c.name, "sh", "-c", "env > "+env)
			if code != 0 || err != nil {
				t.Fatalf("run = %d, %v\n%s", code, err, out)
			}
			if got := cliEnvFile(t, env)["LOCALDEV_NAME"]; got != c.want {
				t.Errorf("run %q in %s: LOCALDEV_NAME %q, want %q; output:\n%s", c.name, c.dir, got, c.want, out)
			}
			cliRouteGone(t, c.want)
		}
		detached := filepath.Join(filepath.Dir(root), "shop-detached")
		cliGit(t, root, "worktree", "add", "-q", "--detach", detached, "HEAD")
		commit := cliGit(t, root, "rev-parse", "--short=7", "HEAD")
		code, out, err := cliRunIn(detached, "", "sh", "-c", "env > "+env)
		if got := cliEnvFile(t, env)["LOCALDEV_NAME"]; code != 0 || err != nil || got != commit+".shop.localhost" {
			t.Errorf("detached: %d, %v, LOCALDEV_NAME %q, want %s.shop.localhost; output:\n%s", code, err, got, commit, out)
		}
	})

	t.Run("npm run with a fake vite", func(t *testing.T) {
		cliNeed(t, "npm", "npm")
		dir := t.TempDir()
		bin := filepath.Join(dir, "node_modules", ".bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		record := filepath.Join(dir, "record")
		fake := "#!/bin/sh\n{ echo \"ARGS=$*\"; env; } > " + record + "\n"
		if err := os.WriteFile(filepath.Join(bin, "vite"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		own := strconv.Itoa(freePort(t))
		pkg := `{"name": "@acme/front", "private": true, "scripts": {"dev": "vite", "fixed": "vite --port ` + own + `", "both": "vite && echo built"}}`
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, err := cliRunIn(dir, "", "npm", "run", "dev")
		if code != 0 || err != nil {
			t.Fatalf("run = %d, %v\n%s", code, err, out)
		}
		got := cliEnvFile(t, record)
		port := got["PORT"]
		if want := "--port " + port + " --host 127.0.0.1 --strictPort"; got["ARGS"] != want {
			t.Errorf("vite got %q, want %q", got["ARGS"], want)
		}
		if got["LOCALDEV_NAME"] != "front.localhost" || !strings.Contains(out, "added --port "+port+" --host 127.0.0.1 --strictPort for vite in npm run dev") {
			t.Errorf("LOCALDEV_NAME %q; output:\n%s", got["LOCALDEV_NAME"], out)
		}

		// The user's own port: routed there, PORT set to it, no --port.
		code, out, err = cliRunIn(dir, "", "npm", "run", "fixed")
		got = cliEnvFile(t, record)
		if code != 0 || err != nil || got["ARGS"] != "--port "+own+" --host 127.0.0.1 --strictPort" || got["PORT"] != own ||
			!strings.Contains(out, "127.0.0.1:"+own) {
			t.Errorf("fixed: %d, %v, args %q, PORT %q; output:\n%s", code, err, got["ARGS"], got["PORT"], out)
		}

		// --no-flags.
		var buf bytes.Buffer
		code, err = runCommand(context.Background(), cliAdminAddr(), runOptions{Argv: []string{"npm", "run", "dev"}, Dir: dir, NoFlags: true, Out: &buf})
		if got := cliEnvFile(t, record); code != 0 || err != nil || got["ARGS"] != "" || strings.Contains(buf.String(), "added") {
			t.Errorf("--no-flags: %d, %v, args %q; output:\n%s", code, err, got["ARGS"], buf.String())
		}

		// A pipeline: nothing added, and run says so.
		code, out, err = cliRunIn(dir, "", "npm", "run", "both")
		if got := cliEnvFile(t, record); code != 0 || err != nil || got["ARGS"] != "" || !strings.Contains(out, "shell pipeline") {
			t.Errorf("pipeline: %d, %v, args %q; output:\n%s", code, err, got["ARGS"], out)
		}
		cliRouteGone(t, "front.localhost")
	})

	t.Run("two runs of one name racing", func(t *testing.T) {
		dir := t.TempDir()
		stop := filepath.Join(dir, "stop")
		results := make(chan [2]any, 2)
		for range 2 {
			go func() {
				code, _, err := cliRunIn(dir, "race", "sh", "-c", "while [ ! -e "+stop+" ]; do sleep 0.02; done")
				results <- [2]any{code, err}
			}()
		}
		// One of them is refused at once; then the other is let go.
		code, err := cliWaitResult(t, results)
		if code != 1 || adminStatus(err) != http.StatusConflict {
			t.Errorf("the losing run = %d, %v; want 1 and 409", code, err)
		}
		if _, ok := cliRoutes(t)["race.localhost"]; !ok {
			t.Error("the winning run's route is missing")
		}
		if err := os.WriteFile(stop, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if code, err := cliWaitResult(t, results); code != 0 || err != nil {
			t.Errorf("the winning run = %d, %v", code, err)
		}
		cliRouteGone(t, "race.localhost")
	})

	t.Run("domains", func(t *testing.T) {
		dir := t.TempDir()
		env := filepath.Join(dir, "env")
		// One domain other than localhost: short names go under it.
		startCaddy(t, strings.Replace(cliCaddyfile(), "localdev fixed 65001", "localdev {\n\t\tdomain test\n\t}", 1))
		code, out, err := cliRunIn(dir, "web", "sh", "-c", "env > "+env)
		if got := cliEnvFile(t, env)["LOCALDEV_NAME"]; code != 0 || err != nil || got != "web.test" {
			t.Errorf("one domain: %d, %v, LOCALDEV_NAME %q, want web.test\n%s", code, err, got, out)
		}
		// Two: a short name is an error, a full one is placed.
		startCaddy(t, cliCaddyfile()+"http://*.test:"+httpP+" {\n\tbind 127.0.0.1\n\tlocaldev {\n\t\tdomain test\n\t}\n}\n")
		code, _, err = cliRunIn(dir, "web", "sh", "-c", "env > "+env)
		if code != 1 || err == nil || !strings.Contains(err.Error(), "several localdev domains (localhost, test): give the full name, as in web.localhost") {
			t.Errorf("short name with two domains: %d, %v", code, err)
		}
		code, out, err = cliRunIn(dir, "web.test", "sh", "-c", "env > "+env)
		if got := cliEnvFile(t, env)["LOCALDEV_NAME"]; code != 0 || err != nil || got != "web.test" {
			t.Errorf("full name with two domains: %d, %v, LOCALDEV_NAME %q\n%s", code, err, got, out)
		}
		if err := cliExecute("port", "web", "--address", cliAdminAddr()); err == nil || !strings.Contains(err.Error(), "several localdev domains") {
			t.Errorf("port of a short name with two domains: %v", err)
		}
		for _, args := range [][]string{
			{"port", "web", "--domain", "test", "--address", cliAdminAddr()},
			{"port", "web.test", "--address", cliAdminAddr()},
			{"port", "web", "--address", cliClosedAddr(t)}, // no Caddy: localhost
		} {
			if err := cliExecute(args...); err != nil {
				t.Errorf("localdev %q: %v", args, err)
			}
		}
		if err := cliExecute("port", "web", "--domain", "*.x"); err == nil || !strings.Contains(err.Error(), "--domain") {
			t.Errorf("port --domain *.x: %v", err)
		}
		startCaddy(t, cliCaddyfile())
	})

	t.Run("exposed app", func(t *testing.T) {
		n := setupNetns(t)
		t.Setenv(cliChildEnv, "serve")
		t.Setenv("LOCALDEV_TEST_ALSO", n.hostV4.String())
		var out syncBuffer
		result := make(chan [2]any, 1)
		go func() {
			code, err := runCommand(context.Background(), cliAdminAddr(), runOptions{Name: "web", Argv: []string{cliSelf(t)}, Out: &out, Dir: t.TempDir()})
			result <- [2]any{code, err}
		}()
		_, port := cliChildServes(t, result, 0)
		want := fmt.Sprintf("warning: the app's port %d is also open on %s:%d", port, n.hostV4, port)
		cliWaitFor(t, "the exposed warning", func() error {
			if !strings.Contains(out.String(), want) {
				return fmt.Errorf("output so far:\n%s", out.String())
			}
			return nil
		})
		_, _, _ = cliGet("web.localhost", "/exit?code=0")
		if code, err := cliWaitResult(t, result); code != 0 || err != nil {
			t.Errorf("run = %d, %v", code, err)
		}
		if c := strings.Count(out.String(), "warning:"); c != 1 {
			t.Errorf("%d warnings, want one:\n%s", c, out.String())
		}
	})
}

// syncBuffer is a bytes.Buffer for one writer and one reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunCannotReachCaddy: run fails before its command starts.
func TestRunCannotReachCaddy(t *testing.T) {
	cliNeedSh(t)
	addr := cliClosedAddr(t)
	want := "cannot reach Caddy's admin API at " + addr
	marker := filepath.Join(t.TempDir(), "started")
	code, err := runCommand(context.Background(), addr, runOptions{Name: "app", Argv: []string{"sh", "-c", "touch " + marker}, Out: io.Discard, Dir: t.TempDir()})
	if code != 1 || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run = %d, %v; want 1 and %q", code, err, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("run started its command although it could not add the route")
	}
	if code, err := runCommand(context.Background(), addr, runOptions{Name: "app", Argv: []string{"localdev-no-such-command-xyz"}, Dir: t.TempDir()}); code != 127 || err == nil {
		t.Errorf("run of a missing command = %d, %v; want 127 and an error", code, err)
	}
}

// TestRunAdminDies: the admin API goes away while the command runs; run
// still ends with the command's status and says the route could not be
// removed. The admin API is a stand-in here: stopping the test process's
// one real Caddy would take it from every later test.
func TestRunAdminDies(t *testing.T) {
	cliNeedSh(t)
	admin := &cliFakeAdmin{}
	addr := admin.start(t)
	dir := t.TempDir()
	stop := filepath.Join(dir, "stop")
	var out syncBuffer
	result := make(chan [2]any, 1)
	go func() {
		code, err := runCommand(context.Background(), addr, runOptions{Name: "sigtest", Dir: dir, Out: &out,
			Argv: []string{"sh", "-c", "while [ ! -e " + stop + " ]; do sleep 0.02; done; exit 7"}})
		result <- [2]any{code, err}
	}()
	cliWaitFor(t, "the route to be added", func() error {
		if len(admin.requests()) == 0 {
			return errors.New("no request yet")
		}
		return nil
	})
	admin.close()
	if err := os.WriteFile(stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, err := cliWaitResult(t, result); code != 7 || err != nil {
		t.Errorf("run = %d, %v; want the command's 7", code, err)
	}
	if !strings.Contains(out.String(), "could not remove the route sigtest.localhost") {
		t.Errorf("output:\n%s", out.String())
	}
}

// ---------------------------------------------------------------------
// Signals and process groups.
// ---------------------------------------------------------------------

// TestSignalNotATerminal: stdin that is a pipe, a file or /dev/null is not
// a terminal in whose foreground run is.
func TestSignalNotATerminal(t *testing.T) {
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
		if terminalForeground(int(f.Fd())) {
			t.Errorf("terminalForeground(%s) = true", f.Name())
		}
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
// route, calls onPut during a PUT, and records the requests. It stands in
// for Caddy where a test sends signals to its own process (Caddy would
// take them) or stops the admin API.
type cliFakeAdmin struct {
	mu    sync.Mutex
	reqs  []string
	onPut func()
	srv   *httptest.Server
}

func (a *cliFakeAdmin) start(t *testing.T) string {
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.reqs = append(a.reqs, r.Method+" "+r.URL.RequestURI())
		onPut := a.onPut
		a.mu.Unlock()
		if r.Method == http.MethodPut && onPut != nil {
			onPut()
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/localdev/domains":
			fmt.Fprint(w, `["localhost"]`)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			fmt.Fprint(w, `{"name":"sigtest.localhost","url":"https://sigtest.localhost","target":"1","source":"api","up":false}`)
		}
	}))
	t.Cleanup(a.close)
	return strings.TrimPrefix(a.srv.URL, "http://")
}

// close stops the server, cutting its connections.
func (a *cliFakeAdmin) close() {
	a.srv.CloseClientConnections()
	a.srv.Close()
}

func (a *cliFakeAdmin) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.reqs...)
}

// wantAddRemove checks that the route was added and then removed, only
// while this run owned it.
func (a *cliFakeAdmin) wantAddRemove(t *testing.T) {
	t.Helper()
	var changes []string
	for _, r := range a.requests() {
		if !strings.HasPrefix(r, "GET ") {
			changes = append(changes, r)
		}
	}
	if len(changes) != 2 || !strings.HasPrefix(changes[0], "PUT /localdev/routes/sigtest.localhost") ||
		!strings.HasPrefix(changes[1], "DELETE /localdev/routes/sigtest.localhost?") || !strings.Contains(changes[1], "owner=") {
		t.Errorf("admin API requests %q, want the PUT and a DELETE of sigtest.localhost while its owner holds it", changes)
	}
}

// cliSelfInterrupt sends this process n SIGINTs, each once os/signal has
// handed the one before to every channel (so that the kernel cannot merge
// two into one), then waits until os/signal has handed the last one on
// too: it processes signals one at a time, in order, so a SIGWINCH sent
// after it and seen here means the SIGINT reached runCommand's channel.
func cliSelfInterrupt(t *testing.T, n int) {
	seen := make(chan os.Signal, n+1)
	signal.Notify(seen, os.Interrupt, syscall.SIGWINCH)
	defer signal.Stop(seen)
	wait := func(want os.Signal) {
		for {
			select {
			case s := <-seen:
				if s == want {
					return
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%v did not arrive", want)
				return
			}
		}
	}
	for i := 0; i < n; i++ {
		if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
			t.Error(err)
			return
		}
		wait(os.Interrupt)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Error(err)
		return
	}
	wait(syscall.SIGWINCH)
}

// TestRunSignalWhileAdding: a SIGINT while the route is being added
// removes the route, exits 130 and never starts the command.
func TestRunSignalWhileAdding(t *testing.T) {
	cliNeedSh(t)
	if !cliInOwnProcess(t) {
		return
	}
	admin := &cliFakeAdmin{}
	admin.onPut = func() { cliSelfInterrupt(t, 1) }
	addr := admin.start(t)
	marker := filepath.Join(t.TempDir(), "started")
	code, err := runCommand(context.Background(), addr, runOptions{Name: "sigtest", Argv: []string{"sh", "-c", "touch " + marker}, Dir: t.TempDir()})
	if code != 130 || err != nil {
		t.Errorf("run = %d, %v; want 130 and no error", code, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command started after the SIGINT")
	}
	admin.wantAddRemove(t)
}

// TestRunSignalTwiceWhileAdding: a second SIGINT while the admin API does
// not answer gives up, with 130 and an error that says how to clean up.
func TestRunSignalTwiceWhileAdding(t *testing.T) {
	cliNeedSh(t)
	if !cliInOwnProcess(t) {
		return
	}
	release := make(chan struct{})
	defer close(release)
	admin := &cliFakeAdmin{onPut: func() {
		cliSelfInterrupt(t, 2)
		<-release
	}}
	addr := admin.start(t)
	marker := filepath.Join(t.TempDir(), "started")
	code, err := runCommand(context.Background(), addr, runOptions{Name: "sigtest", Argv: []string{"sh", "-c", "touch " + marker}, Dir: t.TempDir()})
	if code != 130 || err == nil || !strings.Contains(err.Error(), "caddy localdev rm sigtest.localhost") {
		t.Errorf("run = %d, %v; want 130 and an error with the rm command", code, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command started")
	}
}

// cliStartRunChild starts this test binary as cliRunChild running argv
// (nil: the counting child), as the command of a script(1) pty when pty is
// true, and waits for a line "ready". It returns the process and its
// output so far.
func cliStartRunChild(t *testing.T, addr string, pty bool, argv []string) (*exec.Cmd, io.WriteCloser, *bufio.Reader, string) {
	t.Helper()
	self := cliSelf(t)
	var cmd *exec.Cmd
	if pty {
		cmd = exec.Command("script", "-q", "-e", "-c", "exec "+self, os.DevNull)
	} else {
		cmd = exec.Command(self)
	}
	cmd.Env = append(os.Environ(), cliChildEnv+"=run", "LOCALDEV_TEST_ADMIN="+addr, "SHELL=/bin/sh")
	cmd.Dir = t.TempDir() // not this repository, which may be a git worktree
	if argv != nil {
		b, _ := json.Marshal(argv)
		cmd.Env = append(cmd.Env, cliArgvEnv+"="+string(b))
	}
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
	case <-time.After(30 * time.Second):
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
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("run did not end; output:\n%s", <-rest)
		return 0, ""
	}
}

// cliNeedScript skips without script(1), except in CI.
func cliNeedScript(t *testing.T) {
	t.Helper()
	cliNeed(t, "script", "util-linux, for a pseudo-terminal")
}

// TestRunSignalFromTerminalOnce runs `run` as the foreground of a real
// pseudo-terminal (script(1)) and types Ctrl-C: the command, whose group
// run made the terminal's foreground, gets one SIGINT, the terminal's.
func TestRunSignalFromTerminalOnce(t *testing.T) {
	cliNeedScript(t)
	admin := &cliFakeAdmin{}
	cmd, in, rd, before := cliStartRunChild(t, admin.start(t), true, nil)
	if !strings.Contains(before, "run: foreground=true") {
		t.Fatalf("run is not the foreground of script's terminal:\n%s", before)
	}
	if _, err := in.Write([]byte{0x03}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	code, out := cliRunChildEnd(t, cmd, rd)
	if code != 41 || !strings.Contains(out, "ints=1") {
		t.Errorf("run = %d, want 41: the command got one SIGINT; output:\n%s%s", code, before, out)
	}
	admin.wantAddRemove(t)
}

// TestRunSignalNotFromTerminalForwarded: with stdin a pipe (CI), a SIGINT
// to run's pid alone reaches the command through run, once.
func TestRunSignalNotFromTerminalForwarded(t *testing.T) {
	admin := &cliFakeAdmin{}
	cmd, _, rd, before := cliStartRunChild(t, admin.start(t), false, nil)
	if !strings.Contains(before, "run: foreground=false") {
		t.Errorf("run thinks a pipe is its terminal:\n%s", before)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code, out := cliRunChildEnd(t, cmd, rd)
	if code != 41 || !strings.Contains(out, "ints=1") {
		t.Errorf("run = %d, want 41: the command got the SIGINT once; output:\n%s%s", code, before, out)
	}
	admin.wantAddRemove(t)
}

// cliGroupLeft lists the processes of group pgid that are not zombies,
// from /proc.
func cliGroupLeft(t *testing.T, pgid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parens.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			left = append(left, e.Name()+" "+s[:i+1])
		}
	}
	return left
}

// TestRunLeavesNoProcess: a command that leaves a background sleep, and a
// grandchild that ignores SIGTERM, leave no process behind once run has
// ended, with no terminal (SIGTERM to run) and on a pty (Ctrl-C typed).
func TestRunLeavesNoProcess(t *testing.T) {
	cliNeedSh(t)
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to find processes")
	}
	scripts := map[string]string{
		"sleep in the background": `echo pgid=$$; sleep 300 & echo ready; wait`,
		"grandchild ignores SIGTERM": `echo pgid=$$; sh -c 'trap "" TERM INT HUP; while :; do sleep 0.1; done' & ` +
			`sleep 0.1; echo ready; wait`,
	}
	for _, pty := range []bool{false, true} {
		for what, script := range scripts {
			t.Run(fmt.Sprintf("%s, pty %v", what, pty), func(t *testing.T) {
				if pty {
					cliNeedScript(t)
				}
				admin := &cliFakeAdmin{}
				cmd, in, rd, before := cliStartRunChild(t, admin.start(t), pty, []string{"sh", "-c", script})
				var pgid int
				for _, line := range strings.Split(before, "\n") {
					if _, err := fmt.Sscanf(strings.TrimSpace(line), "pgid=%d", &pgid); err == nil {
						break
					}
				}
				if pgid <= 1 {
					t.Fatalf("no pgid in:\n%s", before)
				}
				if len(cliGroupLeft(t, pgid)) < 2 {
					t.Fatalf("the command's group %d has not its processes: %q", pgid, cliGroupLeft(t, pgid))
				}
				if pty {
					_, _ = in.Write([]byte{0x03}) // Ctrl-C: to the command's group, from the terminal
				} else {
					_ = cmd.Process.Signal(syscall.SIGTERM)
				}
				code, out := cliRunChildEnd(t, cmd, rd)
				if left := cliGroupLeft(t, pgid); len(left) != 0 {
					t.Errorf("left behind after run ended (status %d): %q\n%s%s", code, left, before, out)
				}
				if code == 0 {
					t.Errorf("run = 0 after a signal; output:\n%s%s", before, out)
				}
				admin.wantAddRemove(t)
			})
		}
	}
}

// TestRunSuspendFromTerminal: in an interactive shell on a pty, Ctrl-Z
// stops the command (its group has the terminal) and run with it, so the
// shell reports the job stopped; fg continues both, and Ctrl-C then ends
// the command with 130, as for a command the shell ran itself.
func TestRunSuspendFromTerminal(t *testing.T) {
	cliNeedScript(t)
	cliNeed(t, "bash", "bash, an interactive shell with job control")
	admin := &cliFakeAdmin{}
	addr := admin.start(t)
	cmd := exec.Command("script", "-q", "-e", "-c", "bash --norc --noprofile -i", os.DevNull)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PS1=$ ", "LOCALDEV_TEST_ADMIN="+addr,
		cliArgvEnv+`=["sh","-c","while :; do echo tick; sleep 0.05; done"]`)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); r.Close() })
	var out syncBuffer
	go func() { _, _ = io.Copy(&out, r) }()
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		cliWaitFor(t, what, func() error {
			if !ok(out.String()) {
				return fmt.Errorf("output so far:\n%s", out.String())
			}
			return nil
		})
	}
	write := func(s string) {
		t.Helper()
		if _, err := io.WriteString(in, s); err != nil {
			t.Fatal(err)
		}
	}
	write(cliChildEnv + "=run " + cliSelf(t) + "\n")
	waitFor("ticks", func(s string) bool { return strings.Count(s, "tick") >= 3 })
	write("\x1a") // Ctrl-Z
	waitFor("the job stopped", func(s string) bool { return strings.Contains(s, "Stopped") })
	stopped := strings.Count(out.String(), "tick")
	time.Sleep(500 * time.Millisecond) // ten ticks' time: none may come
	if n := strings.Count(out.String(), "tick"); n > stopped+1 {
		t.Errorf("%d ticks while stopped; output:\n%s", n-stopped, out.String())
	}
	write("fg\n")
	waitFor("ticks after fg", func(s string) bool { return strings.Count(s, "tick") >= stopped+3 })
	write("\x03") // Ctrl-C
	write("echo status=$?\n")
	waitFor("run's status", func(s string) bool { return strings.Contains(s, "status=130") })
	write("exit\n")
	admin.wantAddRemove(t)
}

// TestRunOutputClosed runs `caddy localdev run` with its output going to a
// pipe nobody reads (`run … | head -1` after head has exited): run must
// not die of SIGPIPE with its route left behind; the command runs, and
// its route is removed when it ends. Both with a name given and with one
// inferred, where run's first line (where the name came from) comes
// before the route is added.
func TestRunOutputClosed(t *testing.T) {
	startCaddy(t, httpSite("localdev keep 3999"))
	project := t.TempDir()
	if err := os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"name": "piped-inferred"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	closedOutput := func(cmd *exec.Cmd) error {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Close() // the reader is gone before run writes anything
		cmd.Stdout, cmd.Stderr = w, w
		err = cmd.Run()
		_ = w.Close()
		return err
	}
	for _, tc := range []struct {
		route string
		args  []string
	}{
		{"piped.localhost", []string{"piped"}},
		{"piped-inferred.localhost", nil},
	} {
		marker := filepath.Join(t.TempDir(), "ran")
		args := append(append([]string{"localdev", "run"}, tc.args...), "--address", cliAdminAddr(), "--", "sh", "-c", "touch "+marker)
		cmd := caddyCommand(t, nil, args...)
		cmd.Dir = project
		if err := closedOutput(cmd); err != nil {
			t.Fatalf("%s: run with its output closed: %v; want exit status 0", tc.route, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("%s: the command did not run", tc.route)
		}
		if _, ok := liveList(t)[tc.route]; ok {
			t.Errorf("%s: the route is still there after run ended", tc.route)
		}
	}
	// run's own failure keeps its status: the error line to the closed
	// output does not turn it into a death by SIGPIPE
	cmd := caddyCommand(t, nil, "localdev", "run", "piped", "--address", cliAdminAddr(), "--", "no-such-command-localdev")
	var exit *exec.ExitError
	if err := closedOutput(cmd); !errors.As(err, &exit) || exit.ExitCode() != 127 {
		t.Errorf("run of a missing command with its output closed: %v; want exit status 127", err)
	}
}
