package routes

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// downTable is a table of n routes whose port nothing listens on, plus
// those given.
func downTable(t *testing.T, n int, extra ...*Route) *Table {
	t.Helper()
	port := freePort(t)
	tb := NewTable()
	list := make([]*Route, 0, n+len(extra))
	for i := range n {
		list = append(list, route(t, fmt.Sprintf("app-%05d", i), port, SourceConfig))
	}
	tb.AddConfig(append(list, extra...))
	return tb
}

// checkedSince counts the routes checked at or after t.
func checkedSince(tb *Table, t time.Time) int {
	n := 0
	for _, r := range tb.Routes() {
		if h, at := r.Health(); h != HealthUnknown && !at.Before(t) {
			n++
		}
	}
	return n
}

// TestCheckerRate: with 10,000 routes, Watch checks a bounded number
// itself and the loop dials at most Rate a second, not the whole table.
func TestCheckerRate(t *testing.T) {
	tb := downTable(t, 10000)
	c := &Checker{Table: tb, Rate: 100, Linger: time.Minute}
	t.Cleanup(c.Stop)
	start := time.Now()
	c.Watch(2 * time.Second)
	if n := checkedSince(tb, start); n == 0 || n > maxWaitChecks {
		t.Errorf("Watch checked %d routes itself, want 1 to %d", n, maxWaitChecks)
	}
	time.Sleep(time.Second)
	elapsed := time.Since(start)
	n := checkedSince(tb, start)
	limit := maxWaitChecks + int(elapsed.Seconds()*100) + 10 // a tick of slack
	t.Logf("%d routes checked in %s", n, elapsed.Round(time.Millisecond))
	if n > limit {
		t.Errorf("%d routes checked in %s, want at most %d (100 a second)", n, elapsed, limit)
	}
	if n <= maxWaitChecks {
		t.Errorf("the loop checked nothing in %s", elapsed)
	}
}

// TestCheckerShownFirst: routes a page shows are checked again every
// Interval even among 10,000; the others wait their turn.
func TestCheckerShownFirst(t *testing.T) {
	up := route(t, "zz-shown-up", listen(t), SourceConfig)
	tb := downTable(t, 10000, up)
	c := &Checker{Table: tb, Rate: 100, Interval: 200 * time.Millisecond, Linger: time.Minute}
	t.Cleanup(c.Stop)
	shown := []*Route{up, tb.Get("app-09998.localhost"), tb.Get("app-09999.localhost")}
	c.Show(shown)
	c.Watch(2 * time.Second)
	for _, r := range shown {
		if h, _ := r.Health(); h == HealthUnknown {
			t.Errorf("%s not checked by Watch, though shown", r.Name)
		}
	}
	if h, _ := up.Health(); h != HealthUp {
		t.Errorf("%s: %v, want up", up.Name, h)
	}
	for round := range 3 {
		mark := time.Now()
		deadline := mark.Add(5 * time.Second)
		for checkedShown(shown, mark) < len(shown) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: shown routes not checked again within 5s", round)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func checkedShown(list []*Route, since time.Time) int {
	n := 0
	for _, r := range list {
		if _, at := r.Health(); !at.Before(since) {
			n++
		}
	}
	return n
}

// TestCheckerRoundCoversAll: with a few routes and a high rate, every
// route is checked every Interval, in turn.
func TestCheckerRoundCoversAll(t *testing.T) {
	tb := downTable(t, 300)
	c := &Checker{Table: tb, Rate: 1000, Interval: 100 * time.Millisecond, Linger: time.Minute}
	t.Cleanup(c.Stop)
	c.Watch(time.Second)
	mark := time.Now()
	deadline := mark.Add(10 * time.Second)
	for checkedSince(tb, mark) < 300 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 300 routes checked again in 10s", checkedSince(tb, mark))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCheckerStops: the loop ends by itself after Linger without a Watch,
// and at once on Stop; a Watch starts it again.
func TestCheckerStops(t *testing.T) {
	tb := downTable(t, 10)
	c := &Checker{Table: tb, Linger: 150 * time.Millisecond}
	running := c.Running
	c.Watch(time.Second)
	if !running() {
		t.Fatal("Watch did not start the loop")
	}
	deadline := time.Now().Add(5 * time.Second)
	for running() {
		if time.Now().After(deadline) {
			t.Fatal("the loop still runs 5s after the last Watch, with a Linger of 150ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Linger = time.Hour
	c.Watch(time.Second)
	if !running() {
		t.Fatal("a Watch after the loop ended did not start it again")
	}
	done := make(chan struct{})
	go func() { c.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return")
	}
	if running() {
		t.Error("the loop runs after Stop")
	}
	c.Stop() // twice is fine
}

// TestCheckerRecovers: a panic in a batch is reported and the loop goes on.
func TestCheckerRecovers(t *testing.T) {
	var got atomic.Value
	c := &Checker{Table: NewTable(), Panicked: func(v any, stack []byte) { got.Store(fmt.Sprint(v, "\n", string(stack))) }}
	c.safely(func() { panic("boom") })
	s, _ := got.Load().(string)
	if !strings.HasPrefix(s, "boom\n") || !strings.Contains(s, "TestCheckerRecovers") {
		t.Errorf("Panicked got %q, want the value and the stack", s)
	}
	(&Checker{Table: NewTable()}).safely(func() { panic("no one listens") }) // no Panicked: still recovered
}

// TestCheckerRecoversInEachCheck: a panic while checking one route, in
// the goroutines that check several at once too, is reported for each
// route, and the process carries on.
func TestCheckerRecoversInEachCheck(t *testing.T) {
	port := listen(t)
	tb := NewTable()
	tb.AddConfig([]*Route{route(t, "one", port, SourceConfig), route(t, "two", port, SourceConfig)})
	var reported atomic.Int32
	c := &Checker{
		Table:    tb,
		Exposure: func(context.Context, int) bool { panic("exposure check exploded") },
		Panicked: func(v any, _ []byte) {
			if v == "exposure check exploded" {
				reported.Add(1)
			}
		},
	}
	c.CheckAll(context.Background())
	if n := reported.Load(); n != 2 {
		t.Errorf("two checks panicked, %d reported", n)
	}
	c.checkRoutes(context.Background(), tb.Routes()[:1])
	if n := reported.Load(); n != 3 {
		t.Errorf("a lone check's panic not reported: %d reported in all", n)
	}
}

// TestCheckerProbe: Probe gives, for a bare port nothing listens on (both
// loopback families dialed), HealthDown with the refused dial's error and
// records it; for a port that answers, HealthUp and no error.
func TestCheckerProbe(t *testing.T) {
	c := &Checker{Table: NewTable()}
	down := route(t, "down", freePort(t), SourceConfig)
	h, err := c.Probe(context.Background(), down)
	if h != HealthDown || err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("nothing listening: %v, %v; want down and connection refused", h, err)
	}
	if got, _ := down.Health(); got != HealthDown {
		t.Fatalf("nothing listening: recorded %v", got)
	}
	up := route(t, "up", listen(t), SourceConfig)
	if h, err := c.Probe(context.Background(), up); h != HealthUp || err != nil {
		t.Fatalf("listening: %v, %v; want up and no error", h, err)
	}
}
