package routes

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func route(t testing.TB, name, target string, src Source) *Route {
	t.Helper()
	full, err := NormalizeName(name, DefaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	return NewRoute(full, tgt, src, "")
}

func TestLookupMostSpecificWins(t *testing.T) {
	tb := NewTable()
	tb.AddConfig([]*Route{
		route(t, "app", "1001", SourceConfig),
		route(t, "*.shop", "1002", SourceConfig),
		route(t, "*.eu.shop.localhost", "1003", SourceConfig),
		route(t, "exact.eu.shop.localhost", "1004", SourceConfig),
	})
	for host, want := range map[string]string{
		"app.localhost":            "1001",
		"x.shop.localhost":         "1002",
		"a.b.shop.localhost":       "1002",
		"x.eu.shop.localhost":      "1003",
		"a.b.eu.shop.localhost":    "1003",
		"eu.shop.localhost":        "1002",
		"exact.eu.shop.localhost":  "1004",
		"shop.localhost":           "",
		"x.app.localhost":          "",
		"localhost":                "",
		"app.localhost.evil.test":  "",
		"shop.localhost.localhost": "",
	} {
		got := ""
		if r := tb.Lookup(host); r != nil {
			got = r.Target.Raw
		}
		if got != want {
			t.Errorf("Lookup(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestConfigWinsAndNewestConfigWins(t *testing.T) {
	tb := NewTable()
	if _, err := tb.Put(route(t, "app", "2001", SourceAPI), true); err != nil {
		t.Fatal(err)
	}
	old := tb.AddConfig([]*Route{route(t, "app", "2002", SourceConfig)})
	if got := tb.Lookup("app.localhost").Target.Raw; got != "2002" {
		t.Fatalf("configured route should shadow the API one, got %s", got)
	}
	newer := tb.AddConfig([]*Route{route(t, "app", "2003", SourceConfig)})
	if got := tb.Lookup("app.localhost").Target.Raw; got != "2003" {
		t.Fatalf("newest configuration should win, got %s", got)
	}
	if got := tb.Lookup("app.localhost").Config; got != newer || newer == old || old == 0 {
		t.Fatalf("the configured route's owner is %d, want the newest configuration's %d (the old one is %d)", got, newer, old)
	}
	tb.RemoveConfig(old)
	if got := tb.Lookup("app.localhost").Target.Raw; got != "2003" {
		t.Fatalf("removing the old configuration changed the route to %s", got)
	}
	if _, err := tb.Put(route(t, "app", "2004", SourceAPI), true); !errors.Is(err, ErrConfigured) {
		t.Fatalf("API put over a configured name: %v, want ErrConfigured", err)
	}
	if _, err := tb.Delete("app.localhost", SourceAPI, Condition{}); err != nil {
		t.Fatalf("deleting the shadowed API route: %v", err)
	}
	tb.RemoveConfig(newer)
	if r := tb.Lookup("app.localhost"); r != nil {
		t.Fatalf("route left after everything was removed: %+v", r)
	}
}

func TestRuntimeSourcesConflict(t *testing.T) {
	tb := NewTable()
	dir := route(t, "web", "3001", SourceDir)
	dir.Origin = "/routes"
	if created, err := tb.Put(dir, true); err != nil || !created {
		t.Fatalf("Put folder route: %v, %v", created, err)
	}
	if _, err := tb.Put(route(t, "web", "3002", SourceAPI), true); !errors.Is(err, ErrClaimed) {
		t.Fatalf("API put over a folder route: %v, want ErrClaimed", err)
	}
	if _, err := tb.Delete("web.localhost", SourceAPI, Condition{}); !errors.Is(err, ErrClaimed) {
		t.Fatalf("API delete of a folder route: %v, want ErrClaimed", err)
	}
	if _, err := tb.Put(route(t, "api", "3003", SourceAPI), false); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Put(route(t, "api", "3004", SourceAPI), false); !errors.Is(err, ErrExists) {
		t.Fatalf("put without replace over an existing route: %v, want ErrExists", err)
	}
	if created, err := tb.Put(route(t, "api", "3004", SourceAPI), true); err != nil || created {
		t.Fatalf("replace: created=%v err=%v", created, err)
	}
	if _, err := tb.Delete("api.localhost", SourceAPI, Condition{Target: "3003"}); !errors.Is(err, ErrMoved) {
		t.Fatalf("conditional delete of a moved route: %v, want ErrMoved", err)
	}
	if _, err := tb.Delete("api.localhost", SourceAPI, Condition{Target: "3004"}); err != nil {
		t.Fatalf("conditional delete: %v", err)
	}
	if _, err := tb.Delete("api.localhost", SourceAPI, Condition{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of a missing route: %v, want ErrNotFound", err)
	}
}

func TestLiveStateSurvivesReplacement(t *testing.T) {
	tb := NewTable()
	a := route(t, "app", "4001", SourceAPI)
	if _, err := tb.Put(a, true); err != nil {
		t.Fatal(err)
	}
	a.Record(Request{Method: "GET", Path: "/", Status: 200})
	a.Count(OutcomeAppError)
	a.PreferDial(1)
	owner := tb.AddConfig([]*Route{route(t, "app", "4001", SourceConfig)})
	b := tb.Lookup("app.localhost")
	if b.Source != SourceConfig || len(b.Requests()) != 1 || b.Dial() != "[::1]:4001" {
		t.Fatalf("config route with the same target should keep the live state: %+v %v %s", b, b.Requests(), b.Dial())
	}
	tb.RemoveConfig(owner)
	c := route(t, "app", "4002", SourceAPI)
	if _, err := tb.Put(c, true); err != nil {
		t.Fatal(err)
	}
	if len(c.Requests()) != 1 || c.Dial() != "127.0.0.1:4002" {
		t.Fatalf("a new target keeps the inspector but not the dial preference: %v %s", c.Requests(), c.Dial())
	}
	if n := c.Counts()[OutcomeAppError]; n != 1 {
		t.Fatalf("a new target keeps the counts: app_error %d, want 1", n)
	}
}

func TestRetryAlternatesFamilies(t *testing.T) {
	r := route(t, "app", "5001", SourceConfig)
	if r.Dial() != "127.0.0.1:5001" || r.Preferred() != 0 {
		t.Fatalf("first dial %s", r.Dial())
	}
	next := r.NextDial(r.Preferred())
	if r.Target.Dials[next] != "[::1]:5001" || r.NextDial(next) != 0 {
		t.Fatalf("after a failed dial: %s", r.Target.Dials[next])
	}
	if r.Dial() != "127.0.0.1:5001" {
		t.Fatalf("a failed dial alone moved the preference to %s", r.Dial())
	}
	r.PreferDial(1)
	if r.Dial() != "[::1]:5001" || r.Preferred() != 1 {
		t.Fatalf("after PreferDial(1): %s", r.Dial())
	}
	single := route(t, "one", "[::1]:5002", SourceConfig)
	if single.NextDial(0) != 0 || single.Dial() != "[::1]:5002" {
		t.Fatal("a single-address target has nothing else to try")
	}
}

func TestRingKeepsNewestHundred(t *testing.T) {
	r := route(t, "app", "6001", SourceConfig)
	if r.Requests() != nil {
		t.Fatal("no ring before the first request")
	}
	for i := 0; i < 250; i++ {
		r.Record(Request{Path: fmt.Sprint("/", i), Status: 200})
	}
	got := r.Requests()
	if len(got) != RingSize || got[0].Path != "/249" || got[RingSize-1].Path != "/150" {
		t.Fatalf("ring holds %d, newest %q, oldest %q", len(got), got[0].Path, got[len(got)-1].Path)
	}
}

// TestConcurrentWriters checks under -race that readers see whole tables
// while eight writers add and remove routes.
func TestConcurrentWriters(t *testing.T) {
	tb := NewTable()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				for _, r := range tb.Routes() {
					_ = tb.Lookup(r.Name)
				}
			}
		}
	}()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("w%d-%d", w, i%10)
				r := route(t, name, fmt.Sprint(10000+i), SourceAPI)
				if _, err := tb.Put(r, true); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					_, _ = tb.Delete(r.Name, SourceAPI, Condition{})
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	for _, r := range tb.Routes() {
		if tb.Lookup(r.Name) != r {
			t.Fatalf("table inconsistent for %s", r.Name)
		}
	}
}

func TestHealthChecker(t *testing.T) {
	tb := NewTable()
	tb.AddConfig([]*Route{route(t, "up", listen(t), SourceConfig), route(t, "down", freePort(t), SourceConfig)})
	c := &Checker{Table: tb, Interval: 50 * time.Millisecond, Linger: time.Second}
	c.Watch(2 * time.Second)
	if h, _ := tb.Lookup("up.localhost").Health(); h != HealthUp {
		t.Errorf("listening app: health %v, want up", h)
	}
	if h, _ := tb.Lookup("down.localhost").Health(); h != HealthDown {
		t.Errorf("closed port: health %v, want down", h)
	}
}

func tableOf(n int) *Table {
	tb := NewTable()
	list := make([]*Route, 0, n)
	for i := 0; i < n; i++ {
		tgt, _ := ParseTarget(fmt.Sprint(20000 + i%40000))
		list = append(list, NewRoute(fmt.Sprintf("app%d.localhost", i), tgt, SourceConfig, ""))
	}
	tb.AddConfig(list)
	return tb
}

// BenchmarkLookup is the hot path: normalise a Host and find its route.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			tb := tableOf(n)
			b.ReportAllocs()
			for b.Loop() {
				host, _ := NormalizeHost("app0.localhost:8443")
				if tb.Lookup(host) == nil {
					b.Fatal("no route")
				}
			}
		})
	}
}

// BenchmarkRouteChange measures one API-style change in a 10,000-route table.
func BenchmarkRouteChange(b *testing.B) {
	tb := tableOf(10000)
	tgt, _ := ParseTarget("5173")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tb.Put(NewRoute("extra.localhost", tgt, SourceAPI, ""), true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecord measures the request inspector's cost per request.
func BenchmarkRecord(b *testing.B) {
	tgt, _ := ParseTarget("5173")
	r := NewRoute("app.localhost", tgt, SourceConfig, "")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r.Record(Request{Method: "GET", Path: "/", Status: 200, Duration: time.Millisecond, Time: now})
	}
}

// TestMemoryPerRoute keeps the table within 1 KiB per route.
func TestMemoryPerRoute(t *testing.T) {
	const n = 10000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb := tableOf(n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes per route", per)
	if per > 1024 {
		t.Errorf("%.0f bytes per route, want at most 1024", per)
	}
	runtime.KeepAlive(tb)
}

// FuzzLookup checks matching: whatever a Host is, the route found is its
// exact name or else the most specific wildcard above it, and nothing is
// found only when no route covers it.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"app.localhost", "x.shop.localhost", "a.b.eu.shop.localhost", "shop.localhost", "APP.localhost.:80", "localhost", "eu.shop.localhost", ".", "a..shop.localhost"} {
		f.Add(s)
	}
	names := []string{"app.localhost", "*.shop.localhost", "*.eu.shop.localhost", "exact.eu.shop.localhost"}
	tb := NewTable()
	var list []*Route
	for _, n := range names {
		tgt, _ := ParseTarget("5000")
		list = append(list, NewRoute(n, tgt, SourceConfig, ""))
	}
	tb.AddConfig(list)
	f.Fuzz(func(t *testing.T, raw string) {
		host, ok := NormalizeHost(raw)
		if !ok {
			return
		}
		got := ""
		if r := tb.Lookup(host); r != nil {
			got = r.Name
		}
		if want := mostSpecific(host, names); got != want {
			t.Fatalf("Lookup(%q) = %q, want %q", host, got, want)
		}
	})
}

// mostSpecific is FuzzLookup's oracle: the exact name, else the wildcard
// with the longest base that host is under.
func mostSpecific(host string, names []string) string {
	best := ""
	for _, n := range names {
		if n == host {
			return n
		}
		base, wild := strings.CutPrefix(n, "*.")
		if wild && strings.HasSuffix(host, "."+base) && len(n) > len(best) {
			best = n
		}
	}
	return best
}

// TestSubscribeCoalescesChanges: a subscriber hears of every change, with
// one pending value for a burst, and nothing after it unsubscribes.
func TestSubscribeCoalescesChanges(t *testing.T) {
	tb := NewTable()
	changes, stop := tb.Subscribe()
	select {
	case <-changes:
		t.Fatal("a value before any change")
	default:
	}
	target, err := ParseTarget("3000")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.localhost", "b.localhost", "c.localhost"} {
		if _, err := tb.Put(NewRoute(name, target, SourceAPI, ""), false); err != nil {
			t.Fatal(err)
		}
	}
	owner := tb.AddConfig([]*Route{NewRoute("d.localhost", target, SourceConfig, "")})
	select {
	case <-changes:
	default:
		t.Fatal("no value after changes")
	}
	select {
	case <-changes:
		t.Fatal("a burst gave more than one pending value")
	default:
	}
	tb.RemoveConfig(owner)
	if _, ok := <-changes; !ok {
		t.Fatal("closed channel")
	}
	stop()
	if _, err := tb.Delete("a.localhost", SourceAPI, Condition{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
		t.Fatal("a value after unsubscribing")
	default:
	}
}

// TestDeleteCondition: a conditional delete removes a route only while it
// still has the target and owner asked for, and the refusal says who
// holds the name.
func TestDeleteCondition(t *testing.T) {
	tb := NewTable()
	first := route(t, "web", "5000", SourceAPI)
	first.Owner = "first"
	if _, err := tb.Put(first, true); err != nil {
		t.Fatal(err)
	}
	second := route(t, "web", "5000", SourceAPI)
	second.Owner = "second"
	if _, err := tb.Put(second, true); err != nil {
		t.Fatal(err)
	}
	_, err := tb.Delete("web.localhost", SourceAPI, Condition{Target: "5000", Owner: "first"})
	var c *ConflictError
	if !errors.As(err, &c) || !errors.Is(err, ErrMoved) || c.Holder != second {
		t.Fatalf("delete by the replaced owner: %v; want ErrMoved held by the second", err)
	}
	if tb.Get("web.localhost") != second {
		t.Fatal("the second owner's route is gone")
	}
	if _, err := tb.Delete("web.localhost", SourceAPI, Condition{Owner: "second"}); err != nil {
		t.Fatalf("delete by the owner: %v", err)
	}
}
