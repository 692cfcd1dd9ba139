package routes

import (
	"context"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Checker learns in the background whether each route's app answers, so
// that pages show up/down without dialing every route on every load. It
// runs only while someone looks (Watch), and it also teaches bare-port
// routes which loopback family their app listens on.
//
// Its cost is bounded whatever the number of routes: it checks at most Rate
// routes a second, spread evenly (a few every tick): first the routes a
// page shows (Show) that are due or never checked, then the others that
// are due or never checked, taken in turn round the table. Watch itself
// checks a few routes never checked (new, or whose target changed). With
// up to Rate·Interval routes every route is checked every Interval; with
// 10,000 the routes on screen are checked every few seconds and the others
// come round every few minutes.
type Checker struct {
	Table    *Table
	Interval time.Duration // how old a check may get before the route is due again; default 2s
	Timeout  time.Duration // per dial; default 300ms
	Linger   time.Duration // how long checks go on after the last Watch; default 1m
	Rate     int           // most routes checked a second (one or two dials each); default 40
	// Panicked, when set, hears of a panic in the background loop, which
	// then carries on.
	Panicked func(v any, stack []byte)
	// Exposure, if set, reports whether a port is also open beyond
	// loopback; it is asked for apps that are up (see exposed.go).
	Exposure func(ctx context.Context, port int) bool

	mu     sync.Mutex
	cancel context.CancelFunc // stops the running loop; nil when none runs
	done   chan struct{}      // closed when the running loop has ended
	wanted time.Time          // the last Watch
	shown  map[string]bool    // route names a page shows, from the last Show
	next   string             // where the round of routes nobody shows goes on
}

// checkTick is how often the loop checks a batch: Rate/10 routes each time.
const checkTick = 100 * time.Millisecond

// maxWaitChecks bounds the routes Watch checks itself (those never
// checked, such as routes added a moment ago); the loop takes the rest.
const maxWaitChecks = 32

// Show says which routes a page shows: they are checked every Interval
// while someone looks, before the others. It replaces the previous set.
func (c *Checker) Show(list []*Route) {
	shown := make(map[string]bool, len(list))
	for _, r := range list {
		shown[r.Name] = true
	}
	c.mu.Lock()
	c.shown = shown
	c.mu.Unlock()
}

// Watch says someone is looking at route health. It starts the background
// loop if needed and checks, waiting up to maxWait, the routes never
// checked yet (up to maxWaitChecks of them, shown ones first), so that a
// route added a moment ago is not shown as down before the loop gets to it.
func (c *Checker) Watch(maxWait time.Duration) {
	c.mu.Lock()
	c.wanted = time.Now()
	if c.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel, c.done = cancel, make(chan struct{})
		go c.loop(ctx, c.done)
	}
	c.mu.Unlock()
	fresh := c.pick(time.Now(), maxWaitChecks, true)
	if len(fresh) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxWait)
	defer cancel()
	c.checkRoutes(ctx, fresh)
}

// Stop ends the background loop, if one runs, and waits for it. A later
// Watch starts it again.
func (c *Checker) Stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel = nil
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Running reports whether the background loop runs.
func (c *Checker) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancel != nil
}

func (c *Checker) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(checkTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done(): // Stop
			return
		case now := <-t.C:
			if c.idle(now, done) {
				return
			}
			c.safely(func() { c.checkRoutes(ctx, c.pick(now, c.batch(), false)) })
		}
	}
}

// idle reports, and records, that nobody has looked for Linger: the loop
// ends.
func (c *Checker) idle(now time.Time, done chan struct{}) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.wanted) <= orDefault(c.Linger, time.Minute) {
		return false
	}
	if c.done == done && c.cancel != nil {
		c.cancel()
		c.cancel = nil
		c.shown = nil
	}
	return true
}

// safely runs one batch; a panic in it is reported and the loop carries on.
func (c *Checker) safely(batch func()) {
	defer func() {
		if v := recover(); v != nil && c.Panicked != nil {
			c.Panicked(v, debug.Stack())
		}
	}()
	batch()
}

// batch is how many routes one tick dials.
func (c *Checker) batch() int {
	rate := c.Rate
	if rate <= 0 {
		rate = 40
	}
	return max(1, rate*int(checkTick)/int(time.Second))
}

// pick chooses up to n routes to check now: those a page shows that were
// never checked, then (unless onlyNew) those it shows that are due, then
// the others never checked (onlyNew) or never checked or due, going on
// round the table from where the last pick stopped.
func (c *Checker) pick(now time.Time, n int, onlyNew bool) []*Route {
	all := c.Table.Routes()
	due := now.Add(-orDefault(c.Interval, 2*time.Second))
	c.mu.Lock()
	shown, next := c.shown, c.next
	c.mu.Unlock()

	var fresh, shownDue []*Route
	for name := range shown {
		r := c.Table.Get(name)
		if r == nil {
			continue
		}
		switch h, at := r.Health(); {
		case h == HealthUnknown:
			fresh = append(fresh, r)
		case at.Before(due):
			shownDue = append(shownDue, r)
		}
	}
	out := make([]*Route, 0, n)
	out = append(out, fresh[:min(len(fresh), n)]...)
	if !onlyNew {
		out = append(out, shownDue[:min(len(shownDue), n-len(out))]...)
	}
	if onlyNew {
		for _, r := range all {
			if len(out) == n {
				break
			}
			if h, _ := r.Health(); h == HealthUnknown && !shown[r.Name] {
				out = append(out, r)
			}
		}
		return out
	}
	if len(out) == n || len(all) == 0 {
		return out
	}
	// The round: routes after next, by name, wrapping around once. In a
	// large table most are due, so this visits about n routes.
	start := searchName(all, next)
	for i := range len(all) {
		r := all[(start+i)%len(all)]
		if shown[r.Name] {
			continue
		}
		if h, at := r.Health(); h != HealthUnknown && !at.Before(due) {
			continue
		}
		out = append(out, r)
		next = r.Name + "\x00" // just after r
		if len(out) == n {
			break
		}
	}
	c.mu.Lock()
	c.next = next
	c.mu.Unlock()
	return out
}

// searchName returns the index of the first route whose name is at least
// name in the sorted list.
func searchName(list []*Route, name string) int {
	lo, hi := 0, len(list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if list[m].Name < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(list) {
		return 0
	}
	return lo
}

// CheckAll dials every route's target once and records the results.
func (c *Checker) CheckAll(ctx context.Context) {
	c.checkRoutes(ctx, c.Table.Routes())
}

// checkRoutes checks routes, at most 32 at a time. A panic in one check is
// reported (Panicked) and the others go on: checks of several routes run
// in goroutines of their own, where the loop's recover cannot reach.
func (c *Checker) checkRoutes(ctx context.Context, list []*Route) {
	if len(list) == 1 {
		c.safely(func() { c.Check(ctx, list[0]) })
		return
	}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, r := range list {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.safely(func() { c.Check(ctx, r) })
		}()
	}
	wg.Wait()
}

// Check dials one route's target and records whether it answered.
func (c *Checker) Check(ctx context.Context, r *Route) Health {
	h, _ := c.Probe(ctx, r)
	return h
}

// Probe is Check that also returns, for an app that is down, the error of
// the last dial that failed; nil otherwise.
func (c *Checker) Probe(ctx context.Context, r *Route) (Health, error) {
	timeout := orDefault(c.Timeout, 300*time.Millisecond)
	var last error
	for i, addr := range r.Target.Dials {
		network, address := "tcp", addr
		if path, ok := strings.CutPrefix(addr, "unix/"); ok {
			network, address = "unix", path
		}
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, network, address)
		if err == nil {
			_ = conn.Close()
			r.PreferDial(i)
			r.SetHealth(HealthUp, time.Now())
			c.checkExposure(ctx, r)
			return HealthUp, nil
		}
		if ctx.Err() != nil {
			return HealthUnknown, nil // stopped or out of time: nothing learnt
		}
		last = err
	}
	r.SetHealth(HealthDown, time.Now())
	return HealthDown, last
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
