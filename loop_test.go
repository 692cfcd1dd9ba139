package localdev

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/localdev/localdev/internal/routes"
)

// forwarder is an app that forwards every request, headers and all, to
// host through Caddy, as a dev server's proxy does, and counts them.
func forwarder(client *http.Client, host string, seen *atomic.Int64, marks chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if marks != nil {
			select {
			case marks <- r.Header.Get(hopHeader):
			default:
			}
		}
		req, _ := http.NewRequest(r.Method, httpURL(host, r.URL.Path), nil)
		req.Header = r.Header.Clone()
		res, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	})
}

// TestLoopsOfAnyLength runs real forwarding apps: A → B → A and
// A → B → C → A get 508 after one pass around the loop, while A → B
// (a dev server's proxy) and a chain through three routes stay 200. A
// client cannot forge the mark.
func TestLoopsOfAnyLength(t *testing.T) {
	client := testClient("127.0.0.1")
	var hits [5]atomic.Int64
	marks := make(chan string, 1)
	end := startApp(t, "127.0.0.1:0", hello("end"))
	a := startApp(t, "127.0.0.1:0", forwarder(client, "b.localhost", &hits[0], nil))
	b := startApp(t, "127.0.0.1:0", forwarder(client, "a.localhost", &hits[1], marks))
	x := startApp(t, "127.0.0.1:0", forwarder(client, "y.localhost", &hits[2], nil))
	y := startApp(t, "127.0.0.1:0", forwarder(client, "z.localhost", &hits[3], nil))
	z := startApp(t, "127.0.0.1:0", forwarder(client, "x.localhost", &hits[4], nil))
	chain := startApp(t, "127.0.0.1:0", forwarder(client, "end.localhost", new(atomic.Int64), nil))
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n a %d\n b %d\n x %d\n y %d\n z %d\n end %d\n front %d\n}", a, b, x, y, z, end, chain)))

	res := fetch(t, client, "GET", httpURL("a.localhost", "/"))
	if res.status != http.StatusLoopDetected || !strings.Contains(res.body, "a.localhost -> b.localhost -> a.localhost") {
		t.Fatalf("A → B → A: %d %q, want 508 naming the chain", res.status, res.body)
	}
	if hits[0].Load() != 1 || hits[1].Load() != 1 {
		t.Fatalf("A → B → A: the apps saw %d and %d requests, want 1 each", hits[0].Load(), hits[1].Load())
	}
	if mark := <-marks; mark != hopToken+" a.localhost b.localhost" {
		t.Errorf("B's app got the mark %q", mark)
	}
	res = fetch(t, client, "GET", httpURL("x.localhost", "/"), "Accept: text/html")
	if res.status != http.StatusLoopDetected || !strings.Contains(res.body, "came back to it") {
		t.Fatalf("X → Y → Z → X: %d %q", res.status, res.body)
	}
	if hits[2].Load() != 1 || hits[3].Load() != 1 || hits[4].Load() != 1 {
		t.Fatalf("X → Y → Z → X: the apps saw %d, %d, %d requests", hits[2].Load(), hits[3].Load(), hits[4].Load())
	}
	if res := fetch(t, client, "GET", httpURL("front.localhost", "/")); res.status != 200 || !strings.HasPrefix(res.body, "end ") {
		t.Fatalf("front → end: %d %q", res.status, res.body)
	}
	forged := "Localdev-Hop: " + strings.Repeat("A", len(hopToken)) + " end.localhost"
	if res := fetch(t, client, "GET", httpURL("end.localhost", "/"), forged); res.status != 200 {
		t.Fatalf("a forged mark counted: %d %q", res.status, res.body)
	}
	if res := fetch(t, client, "GET", httpURL("end.localhost", "/"), "Localdev-Hop: "+hopToken+"end.localhost"); res.status != 200 {
		t.Fatalf("a mark that only starts like ours counted: %d %q", res.status, res.body)
	}
}

// TestNextHop covers the mark's rules: names are added in order, a name
// already in it is a loop, a full mark is a loop, and a mark that is not
// this process's starts afresh.
func TestNextHop(t *testing.T) {
	if _, first, loop := nextHop("", "a.localhost"); loop || !first {
		t.Fatalf("first hop: first=%v loop=%v", first, loop)
	}
	mark := firstHop("a.localhost")[0]
	if mark != hopToken+" a.localhost" {
		t.Fatalf("first hop's mark %q", mark)
	}
	mark, first, loop := nextHop(mark, "b.localhost")
	if loop || first || mark != hopToken+" a.localhost b.localhost" {
		t.Fatalf("second hop: %q %v %v", mark, first, loop)
	}
	if _, _, loop := nextHop(mark, "a.localhost"); !loop {
		t.Fatal("A → B → A is not a loop")
	}
	if _, _, loop := nextHop(mark, "b.localhost"); !loop {
		t.Fatal("B → B is not a loop")
	}
	if _, _, loop := nextHop(mark, "a.localhos"); loop {
		t.Fatal("a prefix of a name counted as the name")
	}
	if got := hopRoutes(mark); len(got) != 2 || got[0] != "a.localhost" || got[1] != "b.localhost" {
		t.Fatalf("hopRoutes: %q", got)
	}
	full := hopToken
	for i := range maxHops {
		full += fmt.Sprintf(" r%d.localhost", i)
	}
	if _, _, loop := nextHop(full, "new.localhost"); !loop {
		t.Fatalf("a mark of %d routes took one more", maxHops)
	}
	for _, foreign := range []string{"other-token a.localhost", hopToken + "x a.localhost", "a.localhost " + hopToken} {
		if _, first, loop := nextHop(foreign, "a.localhost"); loop || !first {
			t.Errorf("foreign mark %q: first=%v loop=%v", foreign, first, loop)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = nextHop(mark, "a.localhost") }); n != 0 {
		t.Errorf("checking a mark allocates %.0f times", n)
	}
	route := routes.NewRoute("a.localhost", targetOf(t, "5173"), routes.SourceAPI, "")
	if m := route.HopMark(firstHop); len(m) != 1 || m[0] != hopToken+" a.localhost" {
		t.Fatalf("the route's mark: %q", m)
	}
	if n := testing.AllocsPerRun(100, func() { _ = route.HopMark(firstHop) }); n != 0 {
		t.Errorf("a route's mark allocates %.0f times once built", n)
	}
}

// FuzzNextHop feeds arbitrary marks (the header comes from apps and
// clients): nextHop never panics, a loop is reported only for a name the
// mark carries or a full mark, and a mark that goes on carries the name.
func FuzzNextHop(f *testing.F) {
	for _, s := range []string{
		"", hopToken, hopToken + " ", hopToken + " a.localhost", hopToken + "  a.localhost",
		hopToken + " a.localhost b.localhost", "x" + hopToken + " a.localhost", hopToken + "x a.localhost",
	} {
		f.Add(s, "a.localhost")
	}
	f.Fuzz(func(t *testing.T, mark, name string) {
		next, first, loop := nextHop(mark, name)
		passed := hopRoutes(mark)
		switch {
		case loop:
			if first || next != "" {
				t.Fatalf("loop with a mark: %q %v", next, first)
			}
			if !slices.Contains(passed, name) && len(passed) < maxHops {
				t.Fatalf("loop for %q, which %q does not carry", name, mark)
			}
		case first:
			if len(passed) != 0 && !strings.HasPrefix(mark, hopToken+" ") {
				t.Fatalf("fresh mark for a mark of ours: %q", mark)
			}
		default:
			if next != mark+" "+name || slices.Contains(passed, name) || len(passed) >= maxHops {
				t.Fatalf("mark %q + %q gave %q", mark, name, next)
			}
		}
	})
}
