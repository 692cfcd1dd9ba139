package routes

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"
)

// Checker learns in the background whether each route's app answers, so
// that pages show up/down without dialing every route on every load. It
// runs only while someone looks (Watch), and it also teaches bare-port
// routes which loopback family their app listens on.
type Checker struct {
	Table    *Table
	Interval time.Duration // time between checks; default 2s
	Timeout  time.Duration // per dial; default 300ms
	Linger   time.Duration // how long checks go on after the last Watch; default 1m
	// Exposure, if set, reports whether a port is also open beyond
	// loopback; it is asked for apps that are up (see exposed.go).
	Exposure func(ctx context.Context, port int) bool

	mu       sync.Mutex
	running  bool
	wanted   time.Time
	lastDone time.Time
	done     chan struct{} // closed when the check in progress ends
}

// Watch says someone is looking at route health. It starts the background
// loop if needed and, if the routes have not been checked yet, waits up to
// maxWait for the first check.
func (c *Checker) Watch(maxWait time.Duration) {
	c.mu.Lock()
	c.wanted = time.Now()
	if !c.running {
		c.running = true
		c.done = make(chan struct{})
		go c.loop(c.done)
	}
	done, first := c.done, c.lastDone.IsZero()
	c.mu.Unlock()
	if !first {
		c.checkNew(maxWait)
		return
	}
	select {
	case <-done:
	case <-time.After(maxWait):
	}
}

// checkNew checks the routes added since the last round, waiting up to
// maxWait, so that a route added a moment ago is not shown as down
// before the background loop first gets to it.
func (c *Checker) checkNew(maxWait time.Duration) {
	var fresh []*Route
	for _, r := range c.Table.Routes() {
		if h, _ := r.Health(); h == HealthUnknown {
			fresh = append(fresh, r)
		}
	}
	if len(fresh) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxWait)
	defer cancel()
	c.checkRoutes(ctx, fresh)
}

func (c *Checker) loop(firstDone chan struct{}) {
	for {
		c.CheckAll(context.Background())
		c.mu.Lock()
		c.lastDone = time.Now()
		if firstDone != nil {
			close(firstDone)
			firstDone = nil
		}
		if time.Since(c.wanted) > orDefault(c.Linger, time.Minute) {
			c.running = false
			c.lastDone = time.Time{}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		time.Sleep(orDefault(c.Interval, 2*time.Second))
	}
}

// CheckAll dials every route's target once and records the results.
func (c *Checker) CheckAll(ctx context.Context) {
	c.checkRoutes(ctx, c.Table.Routes())
}

// checkRoutes checks routes, at most 32 at a time.
func (c *Checker) checkRoutes(ctx context.Context, list []*Route) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, r := range list {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.Check(ctx, r)
		}()
	}
	wg.Wait()
}

// Check dials one route's target and records whether it answered.
func (c *Checker) Check(ctx context.Context, r *Route) Health {
	timeout := orDefault(c.Timeout, 300*time.Millisecond)
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
			return HealthUp
		}
	}
	r.SetHealth(HealthDown, time.Now())
	return HealthDown
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
