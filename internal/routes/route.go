package routes

import (
	"sync"
	"sync/atomic"
	"time"
)

// Source says where a route came from.
type Source string

// The sources of routes, in order of authority: the configuration first,
// then whichever of the folder and the API claimed a name first.
const (
	SourceConfig Source = "config"
	SourceDir    Source = "dir"
	SourceAPI    Source = "api"
)

// Health is what the last check of a route's target found.
type Health uint32

// Health values.
const (
	HealthUnknown Health = iota
	HealthUp
	HealthDown
)

// Route maps one name to one target. Its name, target and source never
// change; the fields behind methods are live state, safe for concurrent
// use, and carried over when a route is replaced by one with the same name.
type Route struct {
	// Name is the full name, e.g. "app.localhost" or "*.shop.localhost".
	Name string
	// Target is where requests go.
	Target Target
	// Source is where the route came from.
	Source Source
	// Origin says more about the source: the folder of a folder route.
	Origin string
	// Owner is the token of whoever put an API route, if they gave one:
	// a conditional delete names it (see Condition).
	Owner string
	// Config is the ID of the configuration that set a configured route
	// (AddConfig's answer), 0 for other sources. Admission per block uses
	// it: an allowed range reaches only its own block's routes.
	Config uint64

	live *liveState
}

type liveState struct {
	preferIPv6 atomic.Bool
	health     atomic.Uint32
	checked    atomic.Int64 // unix nanoseconds of the last check
	requests   atomic.Pointer[Ring]
	exposed    atomic.Int64 // see exposed.go
	outcomes   [NumOutcomes]atomic.Uint64
	hopMark    atomic.Pointer[[]string]
}

// Outcome is what became of a request for a route, counted per route for
// the metrics.
type Outcome uint8

// Outcomes of a request for a known route.
const (
	// OutcomeProxied: the app answered.
	OutcomeProxied Outcome = iota
	// OutcomeAppDown: nothing accepted the connection at the target.
	OutcomeAppDown
	// OutcomeAppError: the app took the request and failed before or
	// while answering (closed the connection, reset it, timed out), or
	// the proxy's own limits (set by the user) turned the request away.
	OutcomeAppError
	// OutcomeLoop: the request came back to a route it had passed.
	OutcomeLoop
	// NumOutcomes is the number of outcomes.
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{"proxied", "app_down", "app_error", "loop"}

// String returns the outcome's metric label value.
func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// NewRoute returns a route with fresh live state.
func NewRoute(name string, target Target, source Source, origin string) *Route {
	return &Route{Name: name, Target: target, Source: source, Origin: origin, live: new(liveState)}
}

// Wildcard reports whether the route matches subdomains ("*.shop.localhost").
func (r *Route) Wildcard() bool { return len(r.Name) > 2 && r.Name[0] == '*' && r.Name[1] == '.' }

// Dial returns the address to try first. For a bare port that is whichever
// loopback family answered last; call Retry after it fails.
func (r *Route) Dial() string {
	if r.Target.BothFamilies() && r.live.preferIPv6.Load() {
		return r.Target.Dials[1]
	}
	return r.Target.Dials[0]
}

// Preferred returns the index in Target.Dials of the address to try
// first: for a bare port, the loopback family that answered last.
func (r *Route) Preferred() int {
	if r.Target.BothFamilies() && r.live.preferIPv6.Load() {
		return 1
	}
	return 0
}

// NextDial returns the index of the address to try after the one at i
// failed to connect: the other loopback family for a bare port, the same
// address otherwise. It changes nothing: the preference moves only when
// the other family answers (PreferDial).
func (r *Route) NextDial(i int) int {
	if r.Target.BothFamilies() {
		return 1 - i
	}
	return 0
}

// PreferDial records which of the target's dial addresses answered.
func (r *Route) PreferDial(i int) {
	if r.Target.BothFamilies() {
		r.live.preferIPv6.Store(i == 1)
	}
}

// HopMark returns the header value that marks a request as having passed
// this route and no other, built by build on first use and kept with the
// route, so that marking a request allocates nothing. The slice is shared:
// do not modify it.
func (r *Route) HopMark(build func(name string) []string) []string {
	if m := r.live.hopMark.Load(); m != nil {
		return *m
	}
	m := build(r.Name)
	r.live.hopMark.CompareAndSwap(nil, &m)
	return m
}

// Count counts one request with the given outcome.
func (r *Route) Count(o Outcome) {
	r.live.outcomes[o].Add(1)
}

// Counts returns how many requests ended with each outcome, carried over
// from the routes this one replaced.
func (r *Route) Counts() [NumOutcomes]uint64 {
	var out [NumOutcomes]uint64
	for i := range out {
		out[i] = r.live.outcomes[i].Load()
	}
	return out
}

// Health returns the last check's result and when it ran.
func (r *Route) Health() (Health, time.Time) {
	ns := r.live.checked.Load()
	if ns == 0 {
		return HealthUnknown, time.Time{}
	}
	return Health(r.live.health.Load()), time.Unix(0, ns)
}

// SetHealth records a check's result.
func (r *Route) SetHealth(h Health, at time.Time) {
	r.live.health.Store(uint32(h))
	r.live.checked.Store(at.UnixNano())
}

// Record adds a request to the route's inspector ring, allocating the ring
// on the first request.
func (r *Route) Record(req Request) {
	ring := r.live.requests.Load()
	if ring == nil {
		r.live.requests.CompareAndSwap(nil, new(Ring))
		ring = r.live.requests.Load()
	}
	ring.Add(req)
}

// Requests returns the most recent requests, newest first.
func (r *Route) Requests() []Request {
	ring := r.live.requests.Load()
	if ring == nil {
		return nil
	}
	return ring.Newest()
}

// inherit takes over the live state of the route it replaces.
func (r *Route) inherit(old *Route) {
	if old == nil {
		return
	}
	if old.Target.Raw == r.Target.Raw {
		r.live = old.live
		return
	}
	r.live.requests.Store(old.live.requests.Load())
	for i := range r.live.outcomes {
		r.live.outcomes[i].Store(old.live.outcomes[i].Load())
	}
}

// RingSize is how many requests a route's inspector keeps.
const RingSize = 100

// Request is one entry of the request inspector; it holds no bodies.
type Request struct {
	Method   string
	Path     string
	Status   int
	Duration time.Duration
	Time     time.Time
}

// Ring holds a route's last RingSize requests.
type Ring struct {
	mu   sync.Mutex
	buf  [RingSize]Request
	next int
	full bool
}

// Add records a request, dropping the oldest once the ring is full.
func (g *Ring) Add(req Request) {
	g.mu.Lock()
	g.buf[g.next] = req
	g.next++
	if g.next == RingSize {
		g.next, g.full = 0, true
	}
	g.mu.Unlock()
}

// Newest returns a copy of the recorded requests, newest first.
func (g *Ring) Newest() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.next
	if g.full {
		n = RingSize
	}
	out := make([]Request, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, g.buf[(g.next-i+RingSize)%RingSize])
	}
	return out
}
