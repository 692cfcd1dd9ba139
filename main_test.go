package localdev

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/coder/websocket"
	"go.uber.org/zap"
)

// TestMain runs the tests with HOME and the XDG folders in a temporary
// folder: Caddy reads them when its packages initialise, before any test
// could set them, so the test binary runs itself again with them set.
// caddyArgsEnv makes the test binary the caddy command itself, run through
// caddycmd.Main as the real caddy runs it: the value is its arguments
// (after "caddy") as a JSON array. Tests run it as a child to see real
// exit statuses and output, as another user, or inside a mount namespace
// (see childSetup).
const caddyArgsEnv = "LOCALDEV_TEST_CADDY_ARGS"

// caddyCommand returns the test binary as `caddy <args>`, run under wrap
// (such as unshare …) if given.
func caddyCommand(t testing.TB, wrap []string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	list, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	argv := append(slices.Clone(wrap), self)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), caddyArgsEnv+"="+string(list))
	return cmd
}

// caddyChild is the test binary as the caddy command (caddyArgsEnv).
func caddyChild(args string) int {
	if err := childSetup(); err != nil {
		fmt.Fprintln(os.Stderr, "caddy child:", err)
		return 3
	}
	var list []string
	if err := json.Unmarshal([]byte(args), &list); err != nil {
		fmt.Fprintf(os.Stderr, "caddy child: %s=%q: %v\n", caddyArgsEnv, args, err)
		return 3
	}
	os.Args = append([]string{"caddy"}, list...)
	caddycmd.Main() // exits by itself with an error's status
	return 0
}

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(caddyArgsEnv); ok {
		os.Exit(caddyChild(args))
	}
	if os.Getenv("LOCALDEV_TEST_HOME") != "" {
		if err := useTestPorts(os.Getenv("LOCALDEV_TEST_PORTS")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	os.Exit(rerunInTempHome())
}

func rerunInTempHome() int {
	home, err := os.MkdirTemp("", "localdev-test-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(home)
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	ports, err := pickTestPorts()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd.Env = append(os.Environ(),
		"LOCALDEV_TEST_HOME="+home,
		"LOCALDEV_TEST_PORTS="+ports,
		"HOME="+home,
		"XDG_DATA_HOME="+home+"/data",
		"XDG_CONFIG_HOME="+home+"/config",
	)
	err = cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Test ports, free ones picked when the test binary starts (see
// pickTestPorts), so that two runs of the suite on one machine, or a
// Caddy of the developer's own, do not collide: caddytest's admin
// endpoint, and the HTTP and HTTPS ports of the test configurations.
// The string forms go into configurations and URLs.
var (
	adminPort, httpPort, httpsPort int
	adminP, httpP, httpsP          string
)

// globals are the global options every test configuration starts with.
var globals string

// pickTestPorts finds three free loopback ports for the re-run test
// binary, as "admin,http,https". Each is free on 127.0.0.1 and ::1 when
// picked; the listeners close before the child starts, which leaves a
// small window that only another process picking ports at random hits.
func pickTestPorts() (string, error) {
	var picked []string
	for len(picked) < 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("picking test ports: %v", err)
		}
		defer ln.Close()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		if ln6, err := net.Listen("tcp", "[::1]:"+port); err == nil {
			_ = ln6.Close()
		} else if !errors.Is(err, syscall.EADDRNOTAVAIL) {
			continue // taken on ::1: try another
		}
		picked = append(picked, port)
	}
	return strings.Join(picked, ","), nil
}

// useTestPorts sets the test ports from pickTestPorts's answer.
func useTestPorts(list string) error {
	parts := strings.Split(list, ",")
	if len(parts) != 3 {
		return fmt.Errorf("LOCALDEV_TEST_PORTS=%q: want admin,http,https", list)
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("LOCALDEV_TEST_PORTS=%q: %q is not a port", list, p)
		}
		nums[i] = n
	}
	adminPort, httpPort, httpsPort = nums[0], nums[1], nums[2]
	adminP, httpP, httpsP = parts[0], parts[1], parts[2]
	caddytest.Default.AdminPort = adminPort
	globals = "\n\tadmin localhost:" + adminP + "\n\thttp_port " + httpP + "\n\thttps_port " + httpsP +
		"\n\tskip_install_trust\n\tgrace_period 1s\n"
	return nil
}

// httpSite is a plain-HTTP localdev site for names under localhost.
func httpSite(body string) string {
	return "{" + globals + "}\n" +
		"http://localhost:" + httpP + ", http://*.localhost:" + httpP + ", http://*.*.localhost:" + httpP + " {\n" +
		"\tbind 127.0.0.1 ::1\n" + body + "\n}\n"
}

// startCaddy loads a Caddyfile into the test process's Caddy.
func startCaddy(t testing.TB, caddyfile string) *caddytest.Tester {
	t.Helper()
	tester := caddytest.NewTester(t)
	tester.InitServer(caddyfile, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return tester
}

// startApp serves handler on addr ("127.0.0.1:0" or "[::1]:0") and
// returns its port. It may end the test, so call it from the test's own
// goroutine: it skips the test on a machine without that address (no
// IPv6 loopback; never in CI), and fails it for any other listen error.
func startApp(t testing.TB, addr string, handler http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		skipOutsideCI(t, fmt.Sprintf("this machine has no %s: %v", addr, err))
	}
	if err != nil {
		t.Fatalf("app listening on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// inCI reports whether the suite runs in CI (CI=true, as .ci/run sets
// it), where every test must run: what skips elsewhere fails there.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// skipOutsideCI skips the test with reason, or fails it in CI.
func skipOutsideCI(t testing.TB, reason string) {
	t.Helper()
	if inCI() {
		t.Fatal(reason + " (CI=true: in CI nothing may skip)")
	}
	t.Skip(reason)
}

// freePort returns a loopback port that nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// hello is an app that names itself and echoes what it saw.
func hello(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", name)
		fmt.Fprintf(w, "%s host=%s path=%s", name, r.Host, r.URL.Path)
	})
}

// testClient sends every request to Caddy on loopback whatever the URL's
// host, as a browser would after resolving *.localhost to 127.0.0.1.
func testClient(dialAddr string) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, net.JoinHostPort(dialAddr, port))
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is what a test request got back.
type response struct {
	status int
	body   string
	header http.Header
	proto  string
}

// fetch requests url through Caddy; header pairs are "Name: value".
func fetch(t testing.TB, client *http.Client, method, url string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Set(name, value)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{status: res.StatusCode, body: string(body), header: res.Header, proto: res.Proto}
}

func httpURL(host, path string) string {
	return "http://" + host + ":" + strconv.Itoa(httpPort) + path
}

func httpsURL(host, path string) string {
	return "https://" + host + ":" + strconv.Itoa(httpsPort) + path
}

// eventually retries check until it passes or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nopLogger is a logger that drops everything, for parts tested alone.
func nopLogger() *zap.Logger { return zap.NewNop() }

// echoWebSocket is an app that echoes every WebSocket message.
func echoWebSocket(w http.ResponseWriter, r *http.Request) {
	echoWebSocketAs("")(w, r)
}

// echoWebSocketAs echoes every WebSocket message with prefix before it.
func echoWebSocketAs(prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte(prefix), msg...)); err != nil {
				return
			}
		}
	}
}

// httpsSite is a catch-all HTTPS localdev site with on-demand
// certificates allowed by localdev's permission.
func httpsSite(localdev string) string {
	return "{" + globals + "\ton_demand_tls {\n\t\tpermission localdev\n\t}\n}\n" +
		"https:// {\n\tbind 127.0.0.1\n\ttls internal {\n\t\ton_demand\n\t}\n\t" + localdev + "\n}\n"
}
