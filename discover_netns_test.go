//go:build linux

package localdev

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/listeners"
)

// TestDiscoverNetworkScope listens on the host end of a test namespace's
// veth pair, an address other machines could reach: discover lists it as
// network, answers HTTP there, and marks it reachable from the network.
func TestDiscoverNetworkScope(t *testing.T) {
	n := setupNetns(t)
	port := startApp(t, net.JoinHostPort(n.hostV4.String(), "0"), hello("exposed"))
	startCaddy(t, httpSite("localdev other 1"))

	var l *listeners.Info
	eventually(t, 10*time.Second, "the veth listener listed, answering HTTP", func() error {
		_, infos := discoverJSON(t, false)
		l = nil
		for i := range infos {
			if infos[i].Port == port && infos[i].Address == n.hostV4.String() {
				l = &infos[i]
			}
		}
		if l == nil || !l.HTTP {
			return fmt.Errorf("%s:%d: %+v", n.hostV4, port, l)
		}
		return nil
	})
	if l.Scope != listeners.ScopeNetwork || l.Route != "" {
		t.Errorf("listener on the veth address: %+v, want scope network", *l)
	}
	var out, errOut bytes.Buffer
	if err := discover(context.Background(), &out, &errOut, "localhost:"+adminP, false, false); err != nil {
		t.Fatal(err)
	}
	want := "! " + n.hostV4.String() + ":" + strconv.Itoa(port) + " ("
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "reachable from your network") {
		t.Errorf("table does not mark %s:%d reachable:\n%s", n.hostV4, port, out.String())
	}
}

// TestDashboardListenersPrivacy reads the dashboard from an allowed peer
// in a test namespace: it lists none of this machine's unnamed servers
// (their processes, folders and titles are this machine's business) and
// no route folder, while a loopback client sees the dev server with its
// command line, folder and user.
func TestDashboardListenersPrivacy(t *testing.T) {
	n := setupNetns(t)
	app := startDiscoverHelper(t, "@acme/secret-project", "Private", "127.0.0.1:0")
	folder := t.TempDir()
	startCaddy(t, "{"+globals+"}\n"+
		"http://localhost:"+httpP+", http://*.localhost:"+httpP+" {\n"+
		"\tbind 127.0.0.1 "+n.hostV4.String()+"\n"+
		"\tlocaldev {\n\t\tother 1\n\t\tdir "+folder+"\n\t\tallow "+n.v4.String()+"\n\t}\n}\n")
	self := mustExecutable(t)

	type dash struct {
		Listeners []map[string]any `json:"listeners"`
	}
	// read returns the dev server's object in the dashboard JSON, waiting
	// for a scan that has it (the dashboard scans at most every 2 s).
	read := func(c *http.Client) map[string]any {
		t.Helper()
		var found map[string]any
		eventually(t, 20*time.Second, "the dev server in the dashboard JSON", func() error {
			res := fetch(t, c, "GET", httpURL("localhost", "/"), "Accept: application/json")
			if res.status != 200 {
				return fmt.Errorf("dashboard JSON: %d %s", res.status, res.body)
			}
			var d dash
			if err := json.Unmarshal([]byte(res.body), &d); err != nil {
				return fmt.Errorf("dashboard JSON %q: %v", res.body, err)
			}
			for _, l := range d.Listeners {
				if l["port"] == float64(app.port) {
					found = l
					return nil
				}
			}
			return fmt.Errorf("no port %d in %s", app.port, res.body)
		})
		if len(found) != len(discoverKeys) {
			t.Errorf("listener object %v, want the keys %v", found, discoverKeys)
		}
		return found
	}

	local := read(testClient("127.0.0.1"))
	if local["cwd"] != app.dir || local["command"] != self || local["user"] == "" {
		t.Errorf("loopback view: %v, want cwd %s, command %s, a user", local, app.dir, self)
	}

	remote := n.client(n.hostV4)
	res := fetch(t, remote, "GET", httpURL("localhost", "/"), "Accept: application/json")
	var d dash
	if err := json.Unmarshal([]byte(res.body), &d); res.status != 200 || err != nil || d.Listeners == nil || len(d.Listeners) != 0 {
		t.Errorf("an allowed remote peer's dashboard JSON: %d %s; want \"listeners\": []", res.status, res.body)
	}
	page := fetch(t, remote, "GET", httpURL("localhost", "/"), pagesBrowserAccept)
	if page.status != 200 {
		t.Fatalf("remote dashboard page: %d", page.status)
	}
	for _, secret := range []string{app.dir, self, folder, "secret-project", "Private"} {
		for _, body := range []string{page.body, res.body} {
			if strings.Contains(body, secret) || strings.Contains(body, strings.ReplaceAll(secret, "/", `\/`)) {
				t.Errorf("the remote dashboard shows %q", secret)
			}
		}
	}
	nf := fetch(t, remote, "GET", httpURL("nope.localhost", "/"), pagesBrowserAccept)
	if nf.status != 404 || strings.Contains(nf.body, folder) {
		t.Errorf("remote 404 page: %d, shows the route folder: %v", nf.status, strings.Contains(nf.body, folder))
	}
}

// TestRouteExposed routes to an app that listens on loopback and also on
// a test namespace's veth address: its route object says "exposed": true
// in the admin API and the dashboard JSON; a loopback-only app's does not
// carry the key.
func TestRouteExposed(t *testing.T) {
	n := setupNetns(t)
	port := startApp(t, "127.0.0.1:0", hello("open"))
	startApp(t, net.JoinHostPort(n.hostV4.String(), strconv.Itoa(port)), hello("open"))
	safe := startApp(t, "127.0.0.1:0", hello("safe"))
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n\topen %d\n\tsafe %d\n}", port, safe)))

	admin := adminclient.New("localhost:" + adminP)
	eventually(t, 10*time.Second, "open.localhost exposed in the admin API", func() error {
		list, err := admin.Routes(context.Background())
		if err != nil {
			return err
		}
		for _, r := range list {
			switch r.Name {
			case "open.localhost":
				if !r.Up || !r.Exposed {
					return fmt.Errorf("open.localhost: %+v, want up and exposed", r)
				}
			case "safe.localhost":
				if !r.Up || r.Exposed {
					return fmt.Errorf("safe.localhost: %+v, want up, not exposed", r)
				}
			}
		}
		return nil
	})
	page := fetch(t, testClient("127.0.0.1"), "GET", httpURL("localhost", "/"), pagesBrowserAccept)
	if n := strings.Count(page.body, `title="its port is also open beyond loopback: reachable from your network">up · exposed</span>`); n != 1 {
		t.Errorf("dashboard page: %d routes marked \"up · exposed\", want 1", n)
	}
	res := fetch(t, testClient("127.0.0.1"), "GET", httpURL("localhost", "/"), "Accept: application/json")
	var d struct {
		Routes []map[string]any `json:"routes"`
	}
	if err := json.Unmarshal([]byte(res.body), &d); err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Routes {
		exposed, has := r["exposed"]
		switch r["name"] {
		case "open.localhost":
			if exposed != true {
				t.Errorf("dashboard JSON open.localhost: %v, want \"exposed\": true", r)
			}
		case "safe.localhost":
			if has {
				t.Errorf("dashboard JSON safe.localhost carries exposed: %v", r)
			}
		}
	}
}
