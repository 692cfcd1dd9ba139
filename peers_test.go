//go:build linux

package localdev

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPeersNetnsClientRefused sends real requests from another network
// namespace, joined to this one by a veth pair, so that Caddy sees a peer
// address that is not loopback, over IPv4 and IPv6. Forwarding headers that
// claim 127.0.0.1 change nothing, the app is never contacted, and the 403
// names nothing; after a reload with `allow` for the namespace's ranges,
// the same requests reach the app.
func TestPeersNetnsClientRefused(t *testing.T) {
	n := setupNetns(t)

	var hits atomic.Int64
	var lastXFF atomic.Pointer[string]
	appPort := startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		xff := r.Header.Get("X-Forwarded-For")
		lastXFF.Store(&xff)
		fmt.Fprintf(w, "app host=%s", r.Host)
	}))
	port := strconv.Itoa(appPort)
	appBody := "app host=app.localhost:" + httpP // the Host header arrives unchanged

	config := func(extra string) string {
		return "{" + globals + "}\n" +
			"http://*.localhost:" + httpP + ", http://localhost:" + httpP + " {\n" +
			"\tbind 127.0.0.1 " + n.hostV4.String() + " " + n.hostV6.String() + "\n" +
			"\tlocaldev {\n" +
			"\t\tapp " + port + "\n" +
			extra +
			"\t}\n}\n"
	}
	startCaddy(t, config(""))

	loopback := testClient("127.0.0.1")
	clients := []struct {
		family string
		peer   netip.Addr
		client *http.Client
	}{
		{"IPv4", n.nsV4, n.client(n.hostV4)},
		{"IPv6", n.nsV6, n.client(n.hostV6)},
	}
	spoofs := [][]string{
		nil,
		{"X-Forwarded-For: 127.0.0.1"},
		{"Forwarded: for=127.0.0.1"},
		{"X-Real-IP: 127.0.0.1"},
		{"X-Forwarded-For: 127.0.0.1", "Forwarded: for=127.0.0.1", "X-Real-IP: 127.0.0.1"},
	}

	// Refused: every name, every family, whatever the headers claim.
	var refusal string
	for _, c := range clients {
		for _, host := range []string{"app.localhost", "nope.localhost", "localhost"} {
			for _, headers := range spoofs {
				what := fmt.Sprintf("%s GET http://%s:"+httpP+"/ %q", c.family, host, headers)
				res := fetch(t, c.client, "GET", httpURL(host, "/"), headers...)
				if res.status != http.StatusForbidden {
					t.Fatalf("%s: status %d, want 403; body %q", what, res.status, res.body)
				}
				if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("%s: Content-Type %q, want text/plain", what, ct)
				}
				if len(res.body) == 0 || len(res.body) > 200 {
					t.Errorf("%s: body of %d bytes, want a short one: %q", what, len(res.body), res.body)
				}
				for _, secret := range []string{"app.localhost", "nope.localhost", port} {
					if strings.Contains(res.body, secret) {
						t.Errorf("%s: the 403 body names %q: %q", what, secret, res.body)
					}
				}
				if refusal == "" {
					refusal = res.body
				} else if res.body != refusal {
					t.Errorf("%s: body %q differs from the first refusal %q", what, res.body, refusal)
				}
			}
		}
	}
	if got := hits.Load(); got != 0 {
		t.Fatalf("the app was contacted %d times by refused clients", got)
	}

	// Loopback still gets through.
	if res := fetch(t, loopback, "GET", httpURL("app.localhost", "/")); res.status != http.StatusOK || res.body != appBody {
		t.Fatalf("loopback request: %d %q", res.status, res.body)
	}
	if got := hits.Load(); got != 1 {
		t.Fatalf("app requests after one loopback request: %d", got)
	}

	// Allowed ranges let the namespace in, over both families.
	startCaddy(t, config("\t\tallow "+n.v4.String()+" "+n.v6.String()+"\n"))
	want := hits.Load()
	for _, c := range clients {
		for _, headers := range spoofs {
			what := fmt.Sprintf("%s (allowed) GET http://app.localhost:"+httpP+"/ %q", c.family, headers)
			res := fetch(t, c.client, "GET", httpURL("app.localhost", "/"), headers...)
			want++
			if res.status != http.StatusOK || res.body != appBody {
				t.Fatalf("%s: %d %q, want 200 from the app", what, res.status, res.body)
			}
			if got := hits.Load(); got != want {
				t.Fatalf("%s: app requests %d, want %d", what, got, want)
			}
			// X-Forwarded-For comes from Caddy, not from the client.
			if xff := lastXFF.Load(); xff == nil || *xff != c.peer.String() {
				t.Errorf("%s: the app saw X-Forwarded-For %q, want the peer %s", what, xffOrNone(xff), c.peer)
			}
		}
		if res := fetch(t, c.client, "GET", httpURL("nope.localhost", "/")); res.status != http.StatusNotFound {
			t.Errorf("%s (allowed) unknown name: status %d, want 404", c.family, res.status)
		}
		if res := fetch(t, c.client, "GET", httpURL("localhost", "/"), "Accept: application/json"); res.status != http.StatusOK {
			t.Errorf("%s (allowed) index host: status %d, want 200", c.family, res.status)
		}
	}
	if res := fetch(t, loopback, "GET", httpURL("app.localhost", "/")); res.status != http.StatusOK || res.body != appBody {
		t.Fatalf("loopback request after the reload: %d %q", res.status, res.body)
	}

	// Leave no namespace, interface or address behind.
	n.cleanup()
	n.verifyGone(t)
}

func xffOrNone(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// netnsPeer is a network namespace joined to this one by a veth pair: the
// host end has hostV4 and hostV6, the namespace end nsV4 and nsV6, in the
// ranges v4 and v6.
type netnsPeer struct {
	name, hostIf, nsIf string
	v4, v6             netip.Prefix
	hostV4, hostV6     netip.Addr
	nsV4, nsV6         netip.Addr
	cleanup            func()
}

// setupNetns creates the namespace and the veth pair, or skips the test
// when this machine cannot (not root, no ip command) or when
// LOCALDEV_TEST_NO_NETNS=1 turns these tests off (for a workstation where
// the suite runs as root). In CI each of those fails the test instead.
func setupNetns(t *testing.T) *netnsPeer {
	t.Helper()
	if off := os.Getenv("LOCALDEV_TEST_NO_NETNS"); off == "1" {
		skipOutsideCI(t, "LOCALDEV_TEST_NO_NETNS=1: network-namespace tests turned off")
	}
	if os.Geteuid() != 0 {
		skipOutsideCI(t, "needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOutsideCI(t, "needs the ip command (iproute2) to create a network namespace")
	}
	pid := os.Getpid()
	n := &netnsPeer{
		name:   fmt.Sprintf("ldtest-%d", pid),
		hostIf: fmt.Sprintf("ldh%d", pid),
		nsIf:   fmt.Sprintf("ldn%d", pid),
	}
	if out, err := netnsIP("netns", "list"); err == nil && netnsListed(out, n.name) {
		t.Fatalf("network namespace %s already exists; not touching it", n.name)
	}
	if _, err := netnsIP("link", "show", "dev", n.hostIf); err == nil {
		t.Fatalf("interface %s already exists; not touching it", n.hostIf)
	}

	used, err := netnsUsedPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	n.v4, n.v6, err = netnsPickSubnets(used, pid)
	if err != nil {
		t.Fatal(err)
	}
	n.hostV4, n.nsV4 = n.v4.Addr().Next(), n.v4.Addr().Next().Next()
	n.hostV6, n.nsV6 = n.v6.Addr().Next(), n.v6.Addr().Next().Next()
	t.Logf("namespace %s: host %s %s (%s), namespace %s %s (%s)", n.name, n.hostV4, n.hostV6, n.hostIf, n.nsV4, n.nsV6, n.nsIf)

	var once sync.Once
	n.cleanup = func() {
		once.Do(func() {
			if _, err := netnsIP("netns", "delete", n.name); err != nil {
				t.Logf("ip netns delete %s: %v", n.name, err)
			}
			if _, err := netnsIP("link", "show", "dev", n.hostIf); err == nil {
				// Deleting the namespace destroys the pair asynchronously;
				// the device may already be gone by now.
				_, _ = netnsIP("link", "delete", "dev", n.hostIf)
			}
		})
	}
	// Registered before Caddy starts, so it runs after Caddy's cleanups.
	t.Cleanup(n.cleanup)

	if _, err := netnsIP("netns", "add", n.name); err != nil {
		skipOutsideCI(t, fmt.Sprintf("cannot create a network namespace here: %v", err))
	}
	steps := [][]string{
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf, "netns", n.name},
		{"-n", n.name, "link", "set", "lo", "up"},
		{"addr", "add", netip.PrefixFrom(n.hostV4, n.v4.Bits()).String(), "dev", n.hostIf},
		{"-6", "addr", "add", netip.PrefixFrom(n.hostV6, n.v6.Bits()).String(), "dev", n.hostIf, "nodad"},
		{"-n", n.name, "addr", "add", netip.PrefixFrom(n.nsV4, n.v4.Bits()).String(), "dev", n.nsIf},
		{"-n", n.name, "-6", "addr", "add", netip.PrefixFrom(n.nsV6, n.v6.Bits()).String(), "dev", n.nsIf, "nodad"},
		{"link", "set", "dev", n.hostIf, "up"},
		{"-n", n.name, "link", "set", "dev", n.nsIf, "up"},
	}
	for _, args := range steps {
		if _, err := netnsIP(args...); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "veth pair up", func() error {
		for _, args := range [][]string{
			{"link", "show", "dev", n.hostIf},
			{"-n", n.name, "link", "show", "dev", n.nsIf},
		} {
			out, err := netnsIP(args...)
			if err != nil {
				return err
			}
			if !strings.Contains(out, "LOWER_UP") {
				return fmt.Errorf("ip %s: %s", strings.Join(args, " "), out)
			}
		}
		return nil
	})
	return n
}

// verifyGone checks that cleanup removed the namespace, the host end of the
// pair and its addresses.
func (n *netnsPeer) verifyGone(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, "namespace and veth removed", func() error {
		out, err := netnsIP("netns", "list")
		if err != nil {
			return err
		}
		if netnsListed(out, n.name) {
			return fmt.Errorf("ip netns list still has %s", n.name)
		}
		if _, err := os.Stat("/run/netns/" + n.name); err == nil {
			return fmt.Errorf("/run/netns/%s still exists", n.name)
		}
		if _, err := netnsIP("link", "show", "dev", n.hostIf); err == nil {
			return fmt.Errorf("interface %s still exists", n.hostIf)
		}
		addrs, err := netnsIP("-o", "addr", "show")
		if err != nil {
			return err
		}
		for _, a := range []netip.Addr{n.hostV4, n.hostV6} {
			if strings.Contains(addrs, " "+a.String()+"/") {
				return fmt.Errorf("address %s is still configured", a)
			}
		}
		return nil
	})
}

// client returns an HTTP client whose connections are made from inside the
// namespace to Caddy at addr, whatever the URL's host.
func (n *netnsPeer) client(addr netip.Addr) *http.Client {
	nsPath := "/run/netns/" + n.name
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(hostport)
			if err != nil {
				return nil, err
			}
			return dialInNetns(ctx, nsPath, "tcp", net.JoinHostPort(addr.String(), port))
		},
		// No keep-alives: an open socket would keep the namespace alive
		// after `ip netns delete`.
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialInNetns opens a TCP connection from inside the network namespace at
// nsPath: a socket belongs to the namespace it was created in, so the
// dialing goroutine's thread enters the namespace, dials, and goes back.
func dialInNetns(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is unlocked only once it is back in its own namespace;
		// otherwise it ends with this goroutine.
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer self.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("entering %s: %w", nsPath, err)}
			return
		}
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, dialErr := d.DialContext(ctx, network, addr)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			if conn != nil {
				_ = conn.Close()
			}
			done <- result{err: fmt.Errorf("leaving %s: %w", nsPath, err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{conn: conn, err: dialErr}
	}()
	r := <-done
	return r.conn, r.err
}

// netnsIP runs the ip command with a time limit.
func netnsIP(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// netnsListed reports whether `ip netns list` output names name.
func netnsListed(out, name string) bool {
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// netnsRouteTypes are the words `ip route` may print before a route's prefix.
var netnsRouteTypes = map[string]bool{
	"unicast": true, "local": true, "broadcast": true, "multicast": true,
	"throw": true, "unreachable": true, "prohibit": true, "blackhole": true,
	"nat": true, "anycast": true,
}

// netnsUsedPrefixes lists every address range this machine has an address in
// or a route to, in every routing table, besides default routes.
func netnsUsedPrefixes() ([]netip.Prefix, error) {
	var used []netip.Prefix
	for _, family := range []string{"-4", "-6"} {
		out, err := netnsIP(family, "route", "show", "table", "all")
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(out) {
			f := strings.Fields(line)
			if len(f) > 0 && netnsRouteTypes[f[0]] {
				f = f[1:]
			}
			if len(f) == 0 || f[0] == "default" {
				continue
			}
			if p, ok := netnsParsePrefix(f[0]); ok {
				used = append(used, p)
			}
		}
	}
	out, err := netnsIP("-o", "addr", "show")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				if p, ok := netnsParsePrefix(f[i+1]); ok {
					used = append(used, p)
				}
			}
		}
	}
	if len(used) == 0 {
		return nil, errors.New("found no address or route at all: cannot tell which ranges are free")
	}
	return used, nil
}

func netnsParsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

var (
	// netnsV4Range is 198.18.0.0/15 (RFC 2544), never on the Internet.
	netnsV4Range = netip.MustParsePrefix("198.18.0.0/15")
	// netnsV6Range is 2001:db8:1d7e::/48, inside 2001:db8::/32 (RFC 3849).
	netnsV6Range = netip.MustParsePrefix("2001:db8:1d7e::/48")
	// netnsNeverUse is kept out of the candidates whatever the routes say.
	netnsNeverUse = netip.MustParsePrefix("192.0.2.0/24")
)

// netnsPickSubnets chooses an IPv4 /30 in 198.18.0.0/15 and an IPv6 /64 in
// 2001:db8::/32 that overlap nothing in used (default routes aside), trying
// candidates spread by seed so that concurrent runs pick different ones.
func netnsPickSubnets(used []netip.Prefix, seed int) (v4, v6 netip.Prefix, err error) {
	free := func(c netip.Prefix) bool {
		if c.Overlaps(netnsNeverUse) {
			return false
		}
		for _, p := range used {
			if p.Bits() > 0 && p.Overlaps(c) {
				return false
			}
		}
		return true
	}
	base4 := netnsV4Range.Addr().As4()
	base6 := netnsV6Range.Addr().As16()
	const blocks = 1 << 15 // /30 blocks in a /15; also fits the /64's 16-bit subnet ID
	for i := range 32 {
		block := uint32((seed*7919 + i*4099) % blocks)
		if block == 0 {
			continue
		}
		a4 := base4
		n := (uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])) + block*4
		a4 = [4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		c4 := netip.PrefixFrom(netip.AddrFrom4(a4), 30)
		a6 := base6
		a6[6], a6[7] = byte(block>>8), byte(block)
		c6 := netip.PrefixFrom(netip.AddrFrom16(a6), 64)
		if !netnsV4Range.Contains(c4.Addr()) || !netnsV6Range.Contains(c6.Addr()) {
			continue
		}
		if free(c4) && free(c6) {
			return c4, c6, nil
		}
	}
	return v4, v6, fmt.Errorf("no free /30 in %s and /64 in %s after 32 tries; addresses and routes in use: %v", netnsV4Range, netnsV6Range, used)
}

// TestPeersNetnsPickSubnets checks the range choice against routes that cover
// the first candidates.
func TestPeersNetnsPickSubnets(t *testing.T) {
	used := []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("::/0"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("127.0.0.0/8"),
	}
	v4, v6, err := netnsPickSubnets(used, 42)
	if err != nil {
		t.Fatal(err)
	}
	if !netnsV4Range.Contains(v4.Addr()) || v4.Bits() != 30 || !v4.IsValid() || v4 != v4.Masked() {
		t.Errorf("IPv4 range %s", v4)
	}
	if !netip.MustParsePrefix("2001:db8::/32").Contains(v6.Addr()) || v6.Bits() != 64 || v6 != v6.Masked() {
		t.Errorf("IPv6 range %s", v6)
	}
	// A route or an address covering that choice moves it elsewhere.
	taken4 := netip.PrefixFrom(v4.Addr(), 24).Masked()
	taken6 := netip.PrefixFrom(v6.Addr().Next(), 128)
	v4b, v6b, err := netnsPickSubnets(append(used, taken4, taken6), 42)
	if err != nil {
		t.Fatal(err)
	}
	if v4b.Overlaps(taken4) || v6b.Overlaps(taken6) {
		t.Errorf("picked %s and %s although %s and %s are in use", v4b, v6b, taken4, taken6)
	}
	if _, _, err := netnsPickSubnets(append(used, netip.MustParsePrefix("2001:db8::/32")), 42); err == nil {
		t.Error("picked a range although all of 2001:db8::/32 is in use")
	}
}

// TestPeersPerBlockAdmission runs two site blocks on the same ports: block
// A listens on the namespace's veth addresses and allows the namespace's
// ranges; block B listens on loopback only. Both serve names under
// localhost, and each has a configured route and a route folder; the
// admin API adds a route too. From the namespace, through block A (over
// HTTP and HTTPS), only A's own routes answer: B's routes and the API's
// get 403 with their apps never contacted, the 404 page and the dashboard
// name none of them, and a TLS handshake for them gets no certificate.
// Loopback clients still reach every route through block B.
func TestPeersPerBlockAdmission(t *testing.T) {
	n := setupNetns(t)
	certBudget.reset()
	t.Cleanup(certBudget.reset)

	type app struct {
		name string
		hits atomic.Int64
		port int
	}
	newApp := func(name string) *app {
		a := &app{name: name}
		a.port = startApp(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.hits.Add(1)
			w.Header().Set("X-App", a.name)
			fmt.Fprintf(w, "%s", a.name)
		}))
		return a
	}
	// Names of their own each run: certificates stay in the process's cache.
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	aConf, aDir := newApp("aconf-"+run), newApp("adir-"+run)
	bConf, bDir := newApp("bconf-"+run), newApp("bdir-"+run)
	api := newApp("api-" + run)
	folderA, folderB := t.TempDir(), t.TempDir()
	liveWrite(t, filepath.Join(folderA, aDir.name), strconv.Itoa(aDir.port)+"\n")
	liveWrite(t, filepath.Join(folderB, bDir.name), strconv.Itoa(bDir.port)+"\n")

	addrs := "http://localhost:" + httpP + ", http://*.localhost:" + httpP + ", https://localhost:" + httpsP + ", https://*.localhost:" + httpsP
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, "{"+globals+"\tlog {\n\t\toutput file "+logFile+"\n\t}\n\ton_demand_tls {\n\t\tpermission localdev\n\t}\n}\n"+
		addrs+" {\n"+
		"\tbind "+n.hostV4.String()+" "+n.hostV6.String()+"\n"+
		"\ttls internal {\n\t\ton_demand\n\t}\n"+
		"\tlocaldev {\n"+
		"\t\t"+aConf.name+" "+strconv.Itoa(aConf.port)+"\n"+
		"\t\tdir "+folderA+"\n"+
		"\t\tallow "+n.v4.String()+" "+n.v6.String()+"\n"+
		"\t}\n}\n"+
		addrs+" {\n"+
		"\tbind 127.0.0.1 ::1\n"+
		"\ttls internal {\n\t\ton_demand\n\t}\n"+
		"\tlocaldev {\n"+
		"\t\t"+bConf.name+" "+strconv.Itoa(bConf.port)+"\n"+
		"\t\tdir "+folderB+"\n"+
		"\t}\n}\n")
	liveForget(t, api.name)
	livePut(t, api.name, strconv.Itoa(api.port), http.StatusCreated)

	loopback := testClient("127.0.0.1")
	all := []*app{aConf, aDir, bConf, bDir, api}
	for _, a := range all {
		liveWaitServes(t, loopback, 5*time.Second, a.name+".localhost", a.name)
		a.hits.Store(0)
	}
	own, foreign := []*app{aConf, aDir}, []*app{bConf, bDir, api}

	// Handshakes first: a certificate in Caddy's cache would be shown to
	// anyone who reaches the listener (certmagic checks the cache before
	// the permission).
	for _, ip := range []netip.Addr{n.hostV4, n.hostV6} {
		for _, a := range foreign {
			if names, err := n.handshake(ip, httpsPort, a.name+".localhost"); err == nil {
				t.Errorf("namespace via %s: TLS handshake for %s.localhost got a certificate for %v; want none", ip, a.name, names)
			}
		}
		for _, a := range own {
			if names, err := n.handshake(ip, httpsPort, a.name+".localhost"); err != nil || !slices.Equal(names, []string{a.name + ".localhost"}) {
				t.Errorf("namespace via %s: TLS handshake for its own %s.localhost: %v %v", ip, a.name, names, err)
			}
		}
		if names, err := n.handshake(ip, httpsPort, "localhost"); err != nil {
			t.Errorf("namespace via %s: TLS handshake for the index host: %v %v", ip, names, err)
		}
	}

	for _, ip := range []netip.Addr{n.hostV4, n.hostV6} {
		c := n.client(ip)
		for _, scheme := range []func(host, path string) string{httpURL, httpsURL} {
			port := httpP
			if scheme(".", "") != httpURL(".", "") {
				port = httpsP
			}
			for _, a := range own {
				res := fetch(t, c, "GET", scheme(a.name+".localhost", "/"))
				if res.status != http.StatusOK || res.body != a.name {
					t.Errorf("namespace via %s: %s: %d %q, want 200 from its own block's app", ip, scheme(a.name+".localhost", "/"), res.status, res.body)
				}
			}
			for _, a := range foreign {
				for _, host := range []string{a.name + ".localhost:" + port, strings.ToUpper(a.name) + ".LocalHost:" + port, a.name + ".localhost"} {
					// Over HTTPS the handshake names a name of block A (a
					// handshake for a foreign name gets no certificate).
					url := scheme(aConf.name+".localhost", "/")
					res := fetch(t, c, "GET", url, "Host: "+host)
					if res.status != http.StatusForbidden || strings.Contains(res.body, a.name) {
						t.Errorf("namespace via %s: %s with Host %s: %d %q, want a 403 that names nothing", ip, url, host, res.status, res.body)
					}
				}
			}
			// The 404 page and the dashboard list only block A's routes.
			for _, page := range []struct{ host, accept string }{
				{"nope-" + run + ".localhost", "text/html"},
				{"nope-" + run + ".localhost", "text/plain"},
				{aConf.name + "x.localhost", "text/html"}, // a near miss: the suggestion is A's
				{"localhost", "text/html"},
				{"localhost", "application/json"},
			} {
				res := fetch(t, c, "GET", scheme(page.host, "/"), "Accept: "+page.accept)
				if res.status != http.StatusOK && res.status != http.StatusNotFound {
					t.Errorf("namespace via %s: %s (%s): status %d", ip, scheme(page.host, "/"), page.accept, res.status)
				}
				for _, a := range own {
					if !strings.Contains(res.body, a.name) {
						t.Errorf("namespace via %s: %s (%s) does not list its own block's %s", ip, scheme(page.host, "/"), page.accept, a.name)
					}
				}
				for _, a := range foreign {
					if strings.Contains(res.body, a.name) {
						t.Errorf("namespace via %s: %s (%s) names %s, which is not its block's", ip, scheme(page.host, "/"), page.accept, a.name)
					}
				}
			}
		}
	}
	// A burst of denied handshakes from the namespace leaves no error in
	// the log: denials are logged at debug.
	var burst sync.WaitGroup
	for i := range 200 {
		burst.Add(1)
		go func() {
			defer burst.Done()
			name := fmt.Sprintf("n%d.example.com", i)
			if i%2 == 1 {
				name = foreign[i%len(foreign)].name + ".localhost"
			}
			if names, err := n.handshake(n.hostV4, httpsPort, name); err == nil {
				t.Errorf("namespace: TLS handshake for %s got a certificate for %v", name, names)
			}
		}()
		if i%8 == 7 {
			burst.Wait()
		}
	}
	burst.Wait()
	if n := countLines(t, logFile, `"level":"error"`); n != 0 {
		t.Errorf("%d error lines in the log after denied handshakes from the namespace, want 0", n)
	}

	for _, a := range foreign {
		if got := a.hits.Load(); got != 0 {
			t.Errorf("%s was contacted %d times by the namespace", a.name, got)
		}
	}
	for _, a := range own {
		if a.hits.Load() == 0 {
			t.Errorf("%s was never reached from the namespace", a.name)
		}
	}

	// Loopback, through block B, still gets every route, and the
	// dashboard lists them all.
	for _, a := range all {
		if res := fetch(t, loopback, "GET", httpsURL(a.name+".localhost", "/")); res.status != http.StatusOK || res.body != a.name {
			t.Errorf("loopback %s: %d %q", httpsURL(a.name+".localhost", "/"), res.status, res.body)
		}
	}
	dash := fetch(t, loopback, "GET", httpURL("localhost", "/"), "Accept: application/json")
	for _, a := range all {
		if !strings.Contains(dash.body, a.name) {
			t.Errorf("loopback dashboard does not list %s", a.name)
		}
	}

	n.cleanup()
	n.verifyGone(t)
}

// handshake does a TLS handshake from inside the namespace with Caddy at
// addr:port for name, and returns the names of the certificate it got.
func (n *netnsPeer) handshake(addr netip.Addr, port int, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := dialInNetns(ctx, "/run/netns/"+n.name, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return conn.ConnectionState().PeerCertificates[0].DNSNames, nil
}
