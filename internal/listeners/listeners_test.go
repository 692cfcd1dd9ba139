package listeners

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	psnet "github.com/shirou/gopsutil/v4/net"
)

// TestMain doubles as the helper processes some tests start: with
// LISTENERS_TEST_HELPER set, the test binary listens or scans instead of
// running tests.
func TestMain(m *testing.M) {
	switch os.Getenv("LISTENERS_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "listen":
		helperListen()
	case "scan":
		helperScan()
	}
}

// helperListen listens on 127.0.0.1, prints the port and waits for
// stdin to close.
func helperListen() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// helperScan scans every user's listeners and prints the one on the port
// named by LISTENERS_TEST_PORT.
func helperScan() {
	list, err := Scan(context.Background(), Options{AllUsers: true})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	port, _ := strconv.Atoi(os.Getenv("LISTENERS_TEST_PORT"))
	for _, l := range list {
		if l.Port == port {
			fmt.Printf("found pid=%d own=%v user=%q process=%q command=%q cwd=%q\n", l.PID, l.Own, l.User, l.Process, l.Command, l.Cwd)
			os.Exit(0)
		}
	}
	fmt.Println("missing")
	os.Exit(0)
}

// serve starts an HTTP server on addr and returns its port.
func serve(t testing.TB, addr string, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func page(title string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html><head><meta charset=utf-8><title>%s</title></head><body>hi</body></html>", title)
	})
}

// probeUntil probes list until done says the answers that should come
// came, at most five times: a probe is a measurement with a 300 ms limit,
// which a loaded machine may miss once.
func probeUntil(list []Listener, done func() bool) {
	for range 5 {
		Probe(context.Background(), list, ProbeOptions{})
		if done() {
			return
		}
	}
}

func find(list []Listener, port int) *Listener {
	for i := range list {
		if list[i].Port == port {
			return &list[i]
		}
	}
	return nil
}

// TestScanOwnHTTPListener finds this test's own HTTP server with its
// process details, then probes it.
func TestScanOwnHTTPListener(t *testing.T) {
	port := serve(t, "127.0.0.1:0", page("Vite &amp; Friends"))
	list, err := Scan(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := find(list, port)
	if l == nil {
		t.Fatalf("port %d not in the scan: %+v", port, list)
	}
	wd, _ := os.Getwd()
	me, _ := user.Current()
	exe, _ := os.Executable()
	if l.PID != int32(os.Getpid()) || !l.Own || l.Scope != ScopeLoopback || l.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("listener %+v: want pid %d, own, loopback 127.0.0.1", l, os.Getpid())
	}
	if l.Cwd != wd || l.User != me.Username || !strings.Contains(l.Command, filepath.Base(exe)) || l.Process == "" {
		t.Errorf("details %+v: want cwd %q, user %q, a command with %q", l, wd, me.Username, filepath.Base(exe))
	}
	if !slices.IsSortedFunc(list, func(a, b Listener) int { return a.Port - b.Port }) {
		t.Error("the scan is not sorted by port")
	}
	// Probe this test's listener only: the others on the machine belong to
	// other programs (other test binaries running beside this one among
	// them), which a test has no business sending requests to.
	mine := []Listener{*l}
	probeUntil(mine, func() bool { return mine[0].HTTP })
	l = &mine[0]
	if !l.HTTP || l.HTTPS || l.Title != "Vite & Friends" {
		t.Errorf("probe: http=%v https=%v title=%q, want http, the decoded title", l.HTTP, l.HTTPS, l.Title)
	}
}

// TestProbeKinds probes an HTTP server, a TLS server, a database-like
// server that speaks first, a listener that accepts and never answers,
// and a closed port.
func TestProbeKinds(t *testing.T) {
	httpPort := serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"title":"no"}`)
	}))

	tlsSrv := httptest.NewUnstartedServer(page("Secure <b>dev</b>"))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the plain probe makes Go log a handshake error
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tlsPort := tlsSrv.Listener.Addr().(*net.TCPAddr).Port

	db, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	go func() {
		for {
			c, err := db.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.WriteString(c, "J\x00\x00\x00\x0a8.0.36\x00 mysql-like greeting\n")
				_, _ = bufio.NewReader(c).ReadString('\n')
				_, _ = io.WriteString(c, "ERR protocol\n")
			}()
		}
	}()

	hung, err := net.Listen("tcp", "127.0.0.1:0") // accepted by the kernel, never read
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hung.Close() })

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	_ = closed.Close()

	mk := func(ln net.Addr) Listener {
		a := ln.(*net.TCPAddr)
		ip, _ := netip.AddrFromSlice(a.IP)
		return Listener{Addr: ip.Unmap(), Port: a.Port, Scope: ScopeLoopback}
	}
	lo := netip.MustParseAddr("127.0.0.1")
	list := []Listener{
		{Addr: lo, Port: httpPort},
		mk(tlsSrv.Listener.Addr()),
		mk(db.Addr()),
		mk(hung.Addr()),
		{Addr: lo, Port: closedPort},
	}
	probeUntil(list, func() bool { return list[0].HTTP && list[1].HTTPS })
	want := []struct {
		http, https bool
		title       string
	}{
		{true, false, ""}, // not HTML: no title
		{false, true, "Secure <b>dev</b>"},
		{false, false, ""},
		{false, false, ""},
		{false, false, ""},
	}
	for i, w := range want {
		l := list[i]
		if l.HTTP != w.http || l.HTTPS != w.https || l.Title != w.title {
			t.Errorf("port %d (#%d): http=%v https=%v title=%q, want %v %v %q", l.Port, i, l.HTTP, l.HTTPS, l.Title, w.http, w.https, w.title)
		}
	}
	_ = tlsPort
}

// TestProbeAllInterfacesOnLoopback probes a listener on 0.0.0.0 through
// 127.0.0.1 (the test listens on loopback: the address is what counts).
func TestProbeAllInterfacesOnLoopback(t *testing.T) {
	port := serve(t, "127.0.0.1:0", page("x"))
	l := []Listener{{Addr: netip.IPv4Unspecified(), Port: port, Scope: ScopeAll}}
	probeUntil(l, func() bool { return l[0].HTTP })
	if !l[0].HTTP || l[0].Title != "x" {
		t.Errorf("0.0.0.0:%d probed on loopback: %+v", port, l[0])
	}
	// An address that is not this machine's is never probed.
	far := []Listener{{Addr: netip.MustParseAddr("192.0.2.7"), Port: port, Scope: ScopeNetwork}}
	Probe(context.Background(), far, ProbeOptions{Local: func(netip.Addr) bool { return false }})
	if far[0].HTTP || far[0].HTTPS {
		t.Errorf("a foreign address was probed: %+v", far[0])
	}
}

func TestScopeOf(t *testing.T) {
	for addr, want := range map[string]Scope{
		"127.0.0.1":        ScopeLoopback,
		"127.3.2.1":        ScopeLoopback,
		"::1":              ScopeLoopback,
		"::ffff:127.0.0.1": ScopeLoopback,
		"0.0.0.0":          ScopeAll,
		"::":               ScopeAll,
		"192.168.1.5":      ScopeNetwork,
		"198.18.0.1":       ScopeNetwork,
		"fe80::1":          ScopeNetwork,
	} {
		if got := ScopeOf(netip.MustParseAddr(addr)); got != want {
			t.Errorf("ScopeOf(%s) = %s, want %s", addr, got, want)
		}
	}
	if ScopeLoopback.Exposed() || !ScopeAll.Exposed() || !ScopeNetwork.Exposed() {
		t.Error("Exposed: only all and network reach beyond this machine")
	}
}

// TestScanProcessGone hands the process lookup a socket whose process has
// exited: the socket stays, without details. (The race between the
// socket scan and the lookup cannot be forced with a real scan, so the
// socket list here is made by hand; the process and its exit are real.)
func TestScanProcessGone(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := int32(cmd.Process.Pid)
	conns := []psnet.ConnectionStat{
		{Status: "LISTEN", Laddr: psnet.Addr{IP: "127.0.0.1", Port: 4321}, Pid: pid},
		{Status: "ESTABLISHED", Laddr: psnet.Addr{IP: "127.0.0.1", Port: 4322}, Pid: pid},
		{Status: "LISTEN", Laddr: psnet.Addr{IP: "::", Port: 80}},
		{Status: "LISTEN", Laddr: psnet.Addr{IP: "garbage", Port: 81}},
	}
	all := fromConnections(context.Background(), conns, Options{AllUsers: true}, currentUser())
	if len(all) != 2 || all[0].Port != 80 || all[0].Scope != ScopeAll || all[1].Port != 4321 || all[1].PID != pid {
		t.Fatalf("with --all: %+v, want [::]:80 and 127.0.0.1:4321", all)
	}
	if g := all[1]; g.Own || g.User != "" || g.Command != "" || g.Cwd != "" || g.Process != "" {
		t.Errorf("gone process has details: %+v", g)
	}
	if own := fromConnections(context.Background(), conns, Options{}, currentUser()); len(own) != 0 {
		t.Errorf("without --all, unknown owners are not ours: %+v", own)
	}
}

func TestTitle(t *testing.T) {
	for page, want := range map[string]string{
		"<html><head><title>Vite App</title>":               "Vite App",
		"<TITLE lang=en>\n  Next.js \n\t Dev </TITLE>":      "Next.js Dev",
		"<title>a &amp; b &lt;c&gt;</title>":                "a & b <c>",
		"<title>evil\x1b[31m\u202eredro\u202c</title>":      "evil[31mredro",
		"<title>unterminated":                               "",
		"no title here":                                     "",
		"<title></title>":                                   "",
		"<title>" + strings.Repeat("x", 300) + "</title>":   strings.Repeat("x", maxTitle) + "…",
		"<title>\xff\xfe bad utf8</title>":                  "\uFFFD bad utf8",
		"<svg><title>icon</title></svg><title>page</title>": "icon",
	} {
		if got := Title([]byte(page)); got != want {
			t.Errorf("Title(%q) = %q, want %q", page, got, want)
		}
	}
}

func FuzzTitle(f *testing.F) {
	f.Add([]byte("<title>Vite App</title>"))
	f.Add([]byte("<title>\u202e\x1b</title>"))
	f.Add([]byte("<TITLE><title></title>"))
	f.Fuzz(func(t *testing.T, page []byte) {
		got := Title(page)
		for _, r := range got {
			if r < ' ' || r == 0x7f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("Title(%q) = %q has %U", page, got, r)
			}
		}
		if n := len([]rune(got)); n > maxTitle+1 {
			t.Fatalf("Title(%q) has %d runes", page, n)
		}
	})
}
